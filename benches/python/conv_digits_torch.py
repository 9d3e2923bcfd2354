#!/usr/bin/env python3
"""The digits convolutional network's loss and gradient in PyTorch, for
benches/conv_network.rs: the network of nets/digits_conv.sg without its
dropout, float64, one thread.

    conv2d(x / 16, K1, c1, padding 1), relu, conv2d(., K2, c2, padding 1),
    relu, max_pool2d 2, flatten, W3 @ . + b3, cross entropy (mean over the
    batch: symgrad's loss is the mean of the per-sample losses)

The Rust bench writes the batch and the weights as raw float64 files into
--data (x: [m, 1, 8, 8], y: one-hot [m, 10], K1, c1, K2, c2, W3, b3); this
script writes the loss and the gradients it computed back there
(grad_K1.f64, ...) so that the bench can check them before it trusts the
timings, then prints one line of JSON with the medians.
"""

import bench_common  # noqa: F401  (one thread, before torch loads)
from bench_common import median_seconds, read_f64, report_json, write_f64

import argparse  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)

SHAPES = {"K1": (16, 1, 3, 3), "c1": (16,), "K2": (32, 16, 3, 3), "c2": (32,), "W3": (10, 512), "b3": (10,)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the directory of NAME.f64 files the bench wrote")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    args = p.parse_args()
    m = args.batch
    x = torch.from_numpy(read_f64(args.data, "x", (m, 1, 8, 8)).copy())
    labels = torch.from_numpy(read_f64(args.data, "y", (m, 10)).argmax(axis=1))
    params = {k: torch.from_numpy(read_f64(args.data, k, s).copy()).requires_grad_(True) for k, s in SHAPES.items()}
    P = params

    def loss_of():
        h1 = F.relu(F.conv2d(x / 16, P["K1"], P["c1"], padding=1))
        h2 = F.relu(F.conv2d(h1, P["K2"], P["c2"], padding=1))
        p2 = F.max_pool2d(h2, 2)
        z3 = F.linear(p2.flatten(1), P["W3"], P["b3"])
        return F.cross_entropy(z3, labels)

    def step():
        for t in P.values():
            t.grad = None
        loss = loss_of()
        loss.backward()
        return loss

    def forward():
        with torch.no_grad():
            return loss_of()

    loss = step()
    write_f64(args.data, "loss", [loss.item()])
    for k, t in P.items():
        write_f64(args.data, "grad_" + k, t.grad.numpy())
    step_median, step_min, _ = median_seconds(step, args.repeats, args.warmup)
    fwd_median, fwd_min, _ = median_seconds(forward, args.repeats, args.warmup)
    report_json({
        "system": "pytorch", "version": torch.__version__, "dtype": "float64",
        "threads": torch.get_num_threads(), "batch": m, "repeats": args.repeats,
        "loss": loss.item(),
        "median_step_s": step_median, "min_step_s": step_min,
        "median_forward_s": fwd_median, "min_forward_s": fwd_min,
    })


if __name__ == "__main__":
    main()
