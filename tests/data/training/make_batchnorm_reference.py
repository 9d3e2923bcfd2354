#!/usr/bin/env python3
"""Reference for batch norm in training and inference mode (issue 8:
"Batch norm's running statistics and inference output against PyTorch's
BatchNorm1d in eval mode after a few training steps, to 1e-9").

The network of bn.sg, written with torch.nn.BatchNorm1d (eps 1e-5, momentum
0.1, affine: gamma = weight, beta = bias; running mean from 0, running
variance from 1), is trained in training mode for 8 plain SGD steps
(θ -= lr g, lr 0.5) on the 30 rows of ref_data.csv in batches of 8, 8, 8, 6,
twice over; gradients by autograd in float64. Then, in eval mode: the
running statistics, the predictions (softmax outputs) for all rows at once
and for single rows, and the mean loss over all rows.

Writes batchnorm_reference.json next to this script (format in README.md).

    python3 tests/data/training/make_batchnorm_reference.py
"""

import json
import math
import os
import platform
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
NET = os.path.join(HERE, "bn.sg")
DATA = os.path.join(HERE, "ref_data.csv")
OUT = os.path.join(HERE, "batchnorm_reference.json")

LR = 0.5
BATCH = 8
EPOCHS = 2
SINGLE_ROWS = [0, 13, 29]

# The parameters of bn.sg: the exact line, the shape, the index formula.
PARAMS = [
    ("W1", "param  W1[6, 4] = sin(i + 2*j + 1) / 2", (6, 4), lambda i, j: math.sin(i + 2 * j + 1) / 2),
    ("b1", "param  b1[6]    = cos(3*i + 1) / 4", (6,), lambda i, j: math.cos(3 * i + 1) / 4),
    ("g1", "param  g1[6]    = 1 + sin(2*i + 1) / 4", (6,), lambda i, j: 1 + math.sin(2 * i + 1) / 4),
    ("be1", "param  be1[6]   = cos(i + 2) / 5", (6,), lambda i, j: math.cos(i + 2) / 5),
    ("W2", "param  W2[3, 6] = cos(2*i + j + 1) / 2", (3, 6), lambda i, j: math.cos(2 * i + j + 1) / 2),
    ("b2", "param  b2[3]    = sin(i + 1) / 5", (3,), lambda i, j: math.sin(i + 1) / 5),
    ("g2", "param  g2[3]    = 1 + cos(i + 1) / 4", (3,), lambda i, j: 1 + math.cos(i + 1) / 4),
    ("be2", "param  be2[3]   = sin(2*i + 1) / 5", (3,), lambda i, j: math.sin(2 * i + 1) / 5),
]
EQUATIONS = [
    "z1 = W1 @ (x / 4) + b1",
    "h1 = batchnorm(z1, g1, be1)",
    "a1 = tanh(h1)",
    "z2 = W2 @ a1 + b2",
    "h2 = batchnorm(z2, g2, be2)",
    "p = softmax(h2)",
    "loss = cross_entropy(p, y)",
]


def value(shape, f):
    if len(shape) == 2:
        return np.array([[f(i, j) for j in range(shape[1])] for i in range(shape[0])])
    return np.array([f(i, 0) for i in range(shape[0])])


def check_network_file():
    lines = [l.rstrip() for l in open(NET, encoding="utf-8")]
    code = [l for l in lines if l and not l.startswith("#")]
    expected = ["input  x[4]", "target y[3]", *[p[1] for p in PARAMS], *EQUATIONS]
    assert code == expected, f"bn.sg is not what the script computes: {code}"


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        init = {name: torch.tensor(value(shape, f)) for name, _, shape, f in PARAMS}
        self.w1 = torch.nn.Parameter(init["W1"])
        self.b1 = torch.nn.Parameter(init["b1"])
        self.w2 = torch.nn.Parameter(init["W2"])
        self.b2 = torch.nn.Parameter(init["b2"])
        self.bn1 = torch.nn.BatchNorm1d(6, eps=1e-5, momentum=0.1, dtype=torch.float64)
        self.bn2 = torch.nn.BatchNorm1d(3, eps=1e-5, momentum=0.1, dtype=torch.float64)
        with torch.no_grad():
            self.bn1.weight.copy_(init["g1"])
            self.bn1.bias.copy_(init["be1"])
            self.bn2.weight.copy_(init["g2"])
            self.bn2.bias.copy_(init["be2"])

    def ordered(self):
        """The parameters in bn.sg's order."""
        return [self.w1, self.b1, self.bn1.weight, self.bn1.bias,
                self.w2, self.b2, self.bn2.weight, self.bn2.bias]

    def forward(self, x):
        z1 = (x / 4) @ self.w1.T + self.b1
        a1 = torch.tanh(self.bn1(z1))
        z2 = a1 @ self.w2.T + self.b2
        return self.bn2(z2)  # h2, the logits of p = softmax(h2)


def rows_of(tensors):
    return [float(v) for v in tensors.detach().numpy().ravel()]


def params_json(net):
    return {name: {"shape": list(p.shape), "data": rows_of(p)} for (name, *_), p in zip(PARAMS, net.ordered())}


def state_json(net):
    """In the order of the network file's batch norms: mean, then variance."""
    return [
        {"batchnorm": 1, "of": "z1", "running_mean": rows_of(net.bn1.running_mean), "running_var": rows_of(net.bn1.running_var)},
        {"batchnorm": 2, "of": "z2", "running_mean": rows_of(net.bn2.running_mean), "running_var": rows_of(net.bn2.running_var)},
    ]


def main():
    torch.set_num_threads(1)
    check_network_file()
    lines = open(DATA, encoding="utf-8").read().splitlines()
    values = np.array([[float(v) for v in l.split(",")] for l in lines[1:]])
    x = torch.tensor(values[:, :4])
    labels = torch.tensor(values[:, 4].astype(np.int64))
    n = len(x)

    net = Net()
    initial = params_json(net)
    net.train()
    steps = []
    for _ in range(EPOCHS):
        for s in range(0, n, BATCH):
            e = min(s + BATCH, n)
            for p in net.ordered():
                p.grad = None
            loss = F.cross_entropy(net(x[s:e]), labels[s:e], reduction="mean")
            loss.backward()
            steps.append({
                "rows": [s, e],
                "loss": loss.item(),
                "gradient": {name: {"shape": list(p.shape), "data": rows_of(p.grad)}
                             for (name, *_), p in zip(PARAMS, net.ordered())},
            })
            with torch.no_grad():
                for p in net.ordered():
                    p -= LR * p.grad

    net.eval()
    with torch.no_grad():
        h2 = net(x)
        predictions = torch.softmax(h2, dim=1)
        eval_loss = F.cross_entropy(h2, labels, reduction="mean").item()
        singles = [{"row": r, "prediction": rows_of(torch.softmax(net(x[r:r + 1]), dim=1))} for r in SINGLE_ROWS]
    # No row is near a tie, so the predicted class is well defined.
    top2 = torch.topk(predictions, 2, dim=1).values
    assert float((top2[:, 0] - top2[:, 1]).min()) > 1e-3
    # Eval mode must not be batch statistics: the same rows one at a time
    # give the same outputs as all at once.
    for s in singles:
        assert np.allclose(s["prediction"], predictions[s["row"]].numpy(), rtol=1e-14, atol=0)

    result = {
        "generator": "tests/data/training/make_batchnorm_reference.py",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": f"{platform.system()} {platform.machine()}",
        },
        "network": "bn.sg",
        "data": "ref_data.csv",
        "batchnorm": {"eps": net.bn1.eps, "momentum": net.bn1.momentum,
                      "running_mean_start": 0.0, "running_var_start": 1.0,
                      "running_var_is": "the unbiased batch variance (m/(m-1) times the biased one), as PyTorch; normalizing uses the biased one"},
        "lr": LR,
        "x": [[float(v) for v in row] for row in values[:, :4]],
        "labels": [int(v) for v in values[:, 4]],
        "param_names": [p[0] for p in PARAMS],
        "initial_params": initial,
        "steps": steps,
        "params": params_json(net),
        "state": state_json(net),
        "eval": {
            "loss": eval_loss,
            "predictions": [rows_of(row) for row in predictions],
            "single_rows": singles,
        },
    }
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)}: {len(steps)} steps, final training loss {steps[-1]['loss']:.6f}, eval loss {eval_loss:.6f}")


if __name__ == "__main__":
    sys.exit(main())
