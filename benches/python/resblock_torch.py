#!/usr/bin/env python3
"""One AlphaGo Zero residual block at full size in PyTorch, forward and
backward, for benches/conv_network.rs: float64, one thread.

    h1  = relu(batch_norm(conv2d(x, K1, padding 1), g1, c1))
    h2  = batch_norm(conv2d(h1, K2, padding 1), g2, c2)
    out = relu(h2 + x)
    loss = sum(out) / m          (the mean over the batch of each sample's sum)

x is [m, 256, 19, 19] (m = 8), K1 and K2 [256, 256, 3, 3], no convolution
bias (batch norm's shift makes it redundant, as in AlphaGo Zero); batch norm
in training mode (per channel over the batch and the board, biased variance,
eps 1e-5, running statistics updated with momentum 0.1). The gradient is
taken with respect to the six parameters (K1, g1, c1, K2, g2, c2), not x.

The Rust bench writes x and the parameters as raw float64 files into
--data; this script writes the loss and the gradients back (grad_K1.f64,
...) for the bench to compare, then prints one line of JSON with the median
of the timed forward-and-backward passes.
"""

import bench_common  # noqa: F401  (one thread, before torch loads)
from bench_common import median_seconds, read_f64, report_json, write_f64

import argparse  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the directory of NAME.f64 files the bench wrote")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--filters", type=int, default=256)
    p.add_argument("--board", type=int, default=19)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    m, f, b = args.batch, args.filters, args.board
    x = torch.from_numpy(read_f64(args.data, "x", (m, f, b, b)).copy())
    shapes = {"K1": (f, f, 3, 3), "g1": (f,), "c1": (f,), "K2": (f, f, 3, 3), "g2": (f,), "c2": (f,)}
    P = {k: torch.from_numpy(read_f64(args.data, k, s).copy()).requires_grad_(True) for k, s in shapes.items()}
    running = [torch.zeros(f, dtype=torch.float64), torch.ones(f, dtype=torch.float64),
               torch.zeros(f, dtype=torch.float64), torch.ones(f, dtype=torch.float64)]

    def step():
        for t in P.values():
            t.grad = None
        h = F.conv2d(x, P["K1"], padding=1)
        h = F.relu(F.batch_norm(h, running[0], running[1], P["g1"], P["c1"], training=True, momentum=0.1, eps=1e-5))
        h = F.conv2d(h, P["K2"], padding=1)
        h = F.batch_norm(h, running[2], running[3], P["g2"], P["c2"], training=True, momentum=0.1, eps=1e-5)
        loss = F.relu(h + x).sum() / m
        loss.backward()
        return loss

    loss = step()
    write_f64(args.data, "loss", [loss.item()])
    for k, t in P.items():
        write_f64(args.data, "grad_" + k, t.grad.numpy())
    median, fastest, times = median_seconds(step, args.repeats, args.warmup)
    report_json({
        "system": "pytorch", "version": torch.__version__, "dtype": "float64",
        "threads": torch.get_num_threads(), "batch": m, "filters": f, "board": b,
        "repeats": args.repeats, "loss": loss.item(),
        "median_step_s": median, "min_step_s": fastest, "step_s": times,
    })


if __name__ == "__main__":
    main()
