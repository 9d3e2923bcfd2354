#!/usr/bin/env python3
"""PyTorch's BatchNorm2d after a convolution, for
crates/symgrad-nn/tests/batchnorm2d_reference.rs (network: batchnorm2d.sg).

A batch of 5 seeded 2x3x3 images, F.conv2d by a fixed 2x2x2x2 kernel, then
nn.BatchNorm2d(2) with a fixed weight and bias in training mode (statistics
over the batch and the 2x2 positions, biased variance, eps 1e-5), the mean
squared error against seeded targets; the loss and the gradients of the
kernel, weight and bias; the running mean and variance after that step
(momentum 0.1, unbiased variance over the 5*2*2 = 20 entries of a
channel); then the inference-mode output for the same batch. float64.

    python3 tests/data/images/make_batchnorm2d.py > tests/data/images/batchnorm2d.json
"""

import json
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
gen = torch.Generator().manual_seed(11)
x = torch.rand(5, 2, 3, 3, generator=gen) * 2 - 1
y = torch.rand(5, 8, generator=gen) * 2 - 1
k = (torch.rand(2, 2, 2, 2, generator=gen) - 0.5).requires_grad_(True)
bn = torch.nn.BatchNorm2d(2)
with torch.no_grad():
    bn.weight.copy_(torch.tensor([1.5, 0.7]))
    bn.bias.copy_(torch.tensor([0.2, -0.3]))
bn.train()
out = bn(F.conv2d(x, k))
loss = F.mse_loss(out.reshape(5, 8), y)
loss.backward()
bn.eval()
with torch.no_grad():
    pred = bn(F.conv2d(x, k)).reshape(5, 8)


def flat(t):
    return t.detach().reshape(-1).tolist()


json.dump({
    "torch": torch.__version__,
    "x": flat(x), "y": flat(y),
    "params": {"K": flat(k), "g": flat(bn.weight), "b": flat(bn.bias)},
    "loss": loss.item(),
    "grads": {"K": flat(k.grad), "g": flat(bn.weight.grad), "b": flat(bn.bias.grad)},
    "running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var),
    "prediction": flat(pred),
}, sys.stdout)
