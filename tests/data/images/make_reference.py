#!/usr/bin/env python3
"""PyTorch's values and gradients of convolution and pooling, for
crates/symgrad-core/tests/images_reference.rs.

Each case builds, in float64 with fixed seeded inputs,
    L = sum(w * op(x, ...))
for one of F.conv2d (with and without bias, several strides and paddings),
F.max_pool2d and F.avg_pool2d (kernel k, stride k), and records the inputs,
the output, L and dL/d(every input) by autograd. Run with a Python that has
torch (it was made with torch 2.15):

    python3 tests/data/images/make_reference.py > tests/data/images/reference.json
"""

import json

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
gen = torch.Generator().manual_seed(2026)


def rand(*shape):
    return (torch.rand(*shape, generator=gen) * 2 - 1).requires_grad_(True)


def flat(t):
    return t.detach().reshape(-1).tolist()


cases = []
for (n, c, h, w, f, kh, kw, stride, padding, bias) in [
    (1, 1, 5, 5, 2, 3, 3, 1, 0, False),
    (2, 3, 6, 5, 4, 3, 2, 2, 1, True),
    (2, 2, 7, 7, 3, 5, 5, 3, 2, True),
    (1, 16, 8, 8, 16, 3, 3, 1, 1, True),
]:
    x, k = rand(n, c, h, w), rand(f, c, kh, kw)
    b = rand(f) if bias else None
    y = F.conv2d(x, k, b, stride=stride, padding=padding)
    wt = torch.rand(y.shape, generator=gen) * 2 - 1
    loss = (wt * y).sum()
    loss.backward()
    cases.append({
        "op": "conv2d", "stride": stride, "padding": padding,
        "x_shape": list(x.shape), "k_shape": list(k.shape),
        "x": flat(x), "k": flat(k), "b": flat(b) if bias else None,
        "w": flat(wt), "y": flat(y), "loss": loss.item(),
        "dx": flat(x.grad), "dk": flat(k.grad), "db": flat(b.grad) if bias else None,
    })

for (op, shape, kk) in [
    ("maxpool", (2, 3, 4, 4), 2),
    ("maxpool", (1, 2, 7, 5), 2),
    ("avgpool", (2, 3, 6, 6), 3),
    ("avgpool", (1, 2, 5, 7), 2),
]:
    x = rand(*shape)
    y = F.max_pool2d(x, kk) if op == "maxpool" else F.avg_pool2d(x, kk)
    wt = torch.rand(y.shape, generator=gen) * 2 - 1
    loss = (wt * y).sum()
    loss.backward()
    cases.append({
        "op": op, "k": kk, "x_shape": list(x.shape),
        "x": flat(x), "w": flat(wt), "y": flat(y), "loss": loss.item(), "dx": flat(x.grad),
    })

json.dump({"torch": torch.__version__, "cases": cases}, __import__("sys").stdout)
