#!/usr/bin/env python3
"""PyTorch's loss and gradients of a row-by-row recurrent network on the
digits, for crates/symgrad-nn/tests/rnn_reference.rs.

torch.nn.RNN(8, 12, nonlinearity='tanh') reads the first 16 digits of
tests/data/digits.csv as 8 steps of 8 pixels (scaled by 1/16), from h0 = 0;
a linear layer classifies the last state; the loss is the mean
cross-entropy. float64, fixed seeded weights. symgrad's network file
(rnn.sg beside this script) writes the same network with one bias b: PyTorch
adds b_ih and b_hh, so b = b_ih + b_hh and its gradient is that of either.
Run with a Python that has torch (made with torch 2.15):

    python3 tests/data/rnn/make_reference.py > tests/data/rnn/reference.json
"""

import json
import os
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
torch.manual_seed(7)
here = os.path.dirname(os.path.abspath(__file__))
table = np.loadtxt(os.path.join(here, "..", "digits.csv"), delimiter=",", skiprows=1)[:16]
x = torch.tensor(table[:, :64] / 16.0).reshape(16, 8, 8)  # [batch, steps, features]
labels = torch.tensor(table[:, 64].astype(np.int64))

rnn = torch.nn.RNN(8, 12, nonlinearity="tanh", batch_first=True)
out = torch.nn.Linear(12, 10)
with torch.no_grad():
    for p in list(rnn.parameters()) + list(out.parameters()):
        p.uniform_(-0.5, 0.5)
_, h_last = rnn(x)
logits = out(h_last[0])
loss = torch.nn.functional.cross_entropy(logits, labels)
loss.backward()


def flat(t):
    return t.detach().reshape(-1).tolist()


json.dump({
    "torch": torch.__version__,
    "rows": 16,
    "params": {
        "Win": flat(rnn.weight_ih_l0), "Wrec": flat(rnn.weight_hh_l0),
        "b": flat(rnn.bias_ih_l0 + rnn.bias_hh_l0),
        "Wout": flat(out.weight), "c": flat(out.bias),
    },
    "loss": loss.item(),
    "grads": {
        "Win": flat(rnn.weight_ih_l0.grad), "Wrec": flat(rnn.weight_hh_l0.grad),
        "b": flat(rnn.bias_ih_l0.grad), "Wout": flat(out.weight.grad), "c": flat(out.bias.grad),
    },
}, sys.stdout)
