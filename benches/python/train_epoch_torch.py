#!/usr/bin/env python3
"""Seconds per epoch of a plain PyTorch training loop on the digits.

64-H-10 (H = 32), sigmoid hidden layer, softmax with cross-entropy
(nn.CrossEntropyLoss on the logits), float64, one thread, mini-batches of 32
drawn from a fresh permutation each epoch, torch.optim.SGD (lr 0.1) or
torch.optim.Adam (lr 0.01). No DataLoader: the batches are index slices, the
fastest loop PyTorch offers here. Prints one JSON object (benches/python/
README.md):

    python3 benches/python/train_epoch_torch.py --optimizer adam --epochs 30
"""

import time

_START = time.perf_counter()

import bench_common  # noqa: E402  (sets the thread counts first)

import torch  # noqa: E402


def main():
    args = bench_common.arguments(__doc__.splitlines()[0], {"sgd": 0.1, "adam": 0.01})
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    x_np, y_np = bench_common.digits(args.data, args.rows)
    x = torch.tensor(x_np, dtype=torch.float64)
    y = torch.tensor(y_np)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], args.hidden),
        torch.nn.Sigmoid(),
        torch.nn.Linear(args.hidden, 10),
    ).to(torch.float64)
    loss_fn = torch.nn.CrossEntropyLoss()
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n = len(x)
    epoch_seconds, losses = [], []
    loop_start = time.perf_counter()
    startup = loop_start - _START
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n)
        total = 0.0
        for s in range(0, n, args.batch_size):
            idx = order[s:s + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        epoch_seconds.append(time.perf_counter() - t0)
        losses.append(total / -(-n // args.batch_size))
    loop = time.perf_counter() - loop_start
    bench_common.report({
        "system": "pytorch",
        "version": torch.__version__,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "rows": n,
        "batch_size": args.batch_size,
        "hidden": args.hidden,
        "dtype": "float64",
        "threads": torch.get_num_threads(),
        "final_train_loss": losses[-1],
    }, epoch_seconds, loop, startup)


if __name__ == "__main__":
    main()
