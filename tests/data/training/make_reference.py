#!/usr/bin/env python3
"""Reference training runs for `symgrad train` (DESIGN.md, "Contract: training").

Trains the network of ref.sg on the 30 iris rows of ref_data.csv, 3 epochs in
batches of 8 rows taken in file order (8, 8, 8, then 6: the last batch of an
epoch is smaller), once per case: every optimizer, both penalties, both
clippings, both decays and some combinations. Gradients are PyTorch autograd
(float64) of each batch's mean loss; the updates are the contract's formulas,
written out below one by one. Where torch.optim implements the same formula
(SGD, momentum at a constant rate, AdaGrad, RMSprop, Adadelta, Adam), the case
is trained a second time with torch.optim and both must agree to 1e-12, which
checks the formulas here against an implementation nobody here wrote.

Writes ref_data.csv (from ../shared/data/iris.csv when that file exists) and
reference.json next to this script. See README.md for the format.

    python3 tests/data/training/make_reference.py
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
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
IRIS = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "iris.csv"))
NET = os.path.join(HERE, "ref.sg")
DATA = os.path.join(HERE, "ref_data.csv")
OUT = os.path.join(HERE, "reference.json")

EPOCHS = 3
BATCH = 8
# Agreement of the contract formulas here with torch.optim (normwise,
# relative, per parameter, final values and the distance travelled).
TORCH_TOLERANCE = 1e-12

# The parameters of ref.sg: the exact line in the file, the shape, and the
# same index formula in Python (math.sin/math.cos are the platform libm, as
# Rust's f64::sin/cos on Linux).
PARAMS = [
    ("W1", "param  W1[7, 4] = sin(i + 2*j + 1) / 2", (7, 4), lambda i, j: math.sin(i + 2 * j + 1) / 2),
    ("b1", "param  b1[7]    = cos(3*i + 1) / 4", (7,), lambda i, j: math.cos(3 * i + 1) / 4),
    ("W2", "param  W2[3, 7] = cos(2*i + j + 1) / 2", (3, 7), lambda i, j: math.cos(2 * i + j + 1) / 2),
    ("b2", "param  b2[3]    = sin(i + 1) / 5", (3,), lambda i, j: math.sin(i + 1) / 5),
]
NAMES = [p[0] for p in PARAMS]


def initial_params():
    out = []
    for _, _, shape, f in PARAMS:
        if len(shape) == 2:
            a = np.array([[f(i, j) for j in range(shape[1])] for i in range(shape[0])])
        else:
            a = np.array([f(i, 0) for i in range(shape[0])])
        out.append(a)
    return out


def check_network_file():
    """ref.sg must declare what this script computes."""
    lines = [l.rstrip() for l in open(NET, encoding="utf-8")]
    expected = [
        "input  x[4]",
        "target y[3]",
        *[p[1] for p in PARAMS],
        "z1 = W1 @ (x / 4) + b1",
        "a1 = tanh(z1)",
        "z2 = W2 @ a1 + b2",
        "p = softmax(z2)",
        "loss = cross_entropy(p, y)",
    ]
    for e in expected:
        assert e in lines, f"ref.sg has no line {e!r}"
    code = [l for l in lines if l and not l.startswith("#")]
    assert code == expected, f"ref.sg declares more than the script knows: {code}"


def write_or_read_data():
    """Rows k, 50 + k, 100 + k of iris for k = 0..9 (the classes interleave,
    so every batch holds all three), copied verbatim; read back as floats."""
    if os.path.exists(IRIS):
        src = open(IRIS, encoding="utf-8").read().splitlines()
        header, rows = src[0], src[1:]
        assert len(rows) == 150
        picked = [rows[c * 50 + k] for k in range(10) for c in range(3)]
        with open(DATA, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join([header, *picked]) + "\n")
    lines = open(DATA, encoding="utf-8").read().splitlines()
    values = np.array([[float(v) for v in l.split(",")] for l in lines[1:]])
    x = values[:, :4]
    labels = values[:, 4].astype(np.int64)
    assert np.all(values[:, 4] == labels) and set(labels) == {0, 1, 2}
    return x, labels


def torch_loss(params, x, labels):
    """The mean over the rows of ref.sg's per-sample loss."""
    w1, b1, w2, b2 = params
    z1 = (x / 4) @ w1.T + b1
    a1 = torch.tanh(z1)
    z2 = a1 @ w2.T + b2
    # cross_entropy(softmax(z2), one-hot y) = logsumexp(z2) - z2[label].
    return F.cross_entropy(z2, labels, reduction="mean")


def loss_and_gradient(theta, x, labels):
    ps = [torch.tensor(t, dtype=torch.float64, requires_grad=True) for t in theta]
    loss = torch_loss(ps, torch.tensor(x), torch.tensor(labels))
    loss.backward()
    return loss.item(), [p.grad.numpy().copy() for p in ps]


def check_gradient_by_finite_differences(theta, x, labels):
    """Autograd against a fourth-order central difference, every entry."""

    def loss_at(params):
        with torch.no_grad():
            ps = [torch.tensor(p) for p in params]
            return torch_loss(ps, torch.tensor(x), torch.tensor(labels)).item()

    _, grad = loss_and_gradient(theta, x, labels)
    h = 2.0**-12
    worst = 0.0
    for k, t in enumerate(theta):
        for idx in np.ndindex(t.shape):

            def shifted(d):
                ps = [p.copy() for p in theta]
                ps[k][idx] += d
                return loss_at(ps)

            fd = (-shifted(2 * h) + 8 * shifted(h) - 8 * shifted(-h) + shifted(-2 * h)) / (12 * h)
            g = grad[k][idx]
            worst = max(worst, abs(g - fd) / max(abs(g), abs(fd), 1e-3))
    assert worst < 1e-8, f"autograd and finite differences differ by {worst}"
    return worst


def batches(n):
    return [(s, min(s + BATCH, n)) for s in range(0, n, BATCH)]


def rate(h, epoch):
    """The contract's schedule: the rate of epoch `epoch`, from 0."""
    lr, decay = h["lr"], h.get("decay")
    if decay is None:
        return lr
    kind, k = decay
    if kind == "exp":
        return lr * math.exp(-k * epoch)
    assert kind == "inverse"
    return lr / (1 + k * epoch)


def clip(g, h):
    """--clip-value clamps each entry; --clip-norm scales by min(1, c/‖g‖₂),
    the norm over all parameters together. Returns (g, how many entries it
    changed)."""
    if "clip_value" in h:
        c = h["clip_value"]
        clipped = [np.clip(x, -c, c) for x in g]
        return clipped, sum(int(np.sum(a != b)) for a, b in zip(clipped, g))
    if "clip_norm" in h:
        c = h["clip_norm"]
        norm = math.sqrt(math.fsum(float(np.sum(x * x)) for x in g))
        scale = min(1.0, c / norm)
        return [x * scale for x in g], sum(x.size for x in g) if scale < 1.0 else 0
    return g, 0


def penalize(g, theta, h):
    """--l2 λ: g += λθ; --l1 λ: g += λ sign(θ); parameters of rank >= 2 only."""
    out = []
    for gi, th in zip(g, theta):
        if th.ndim >= 2:
            if "l2" in h:
                gi = gi + h["l2"] * th
            if "l1" in h:
                gi = gi + h["l1"] * np.sign(th)
        out.append(gi)
    return out


def train_contract(case, theta0, x, labels):
    """The contract's training loop, its formulas as DESIGN.md writes them."""
    opt, h = case["optimizer"], case["h"]
    theta = [t.copy() for t in theta0]
    zeros = lambda: [np.zeros_like(t) for t in theta]
    v, a, d, m = zeros(), zeros(), zeros(), zeros()
    t = 0
    epoch_loss, clipped_steps, clipped_entries = [], 0, 0
    for epoch in range(EPOCHS):
        alpha = rate(h, epoch)
        losses = []
        for s, e in batches(len(x)):
            t += 1
            if opt == "nesterov":
                # g is taken at θ + β v.
                at = [th + h["momentum"] * vi for th, vi in zip(theta, v)]
            else:
                at = theta
            loss, g = loss_and_gradient(at, x[s:e], labels[s:e])
            losses.append(loss)
            g, changed = clip(g, h)
            clipped_steps += changed > 0
            clipped_entries += changed
            g = penalize(g, theta, h)
            for k in range(len(theta)):
                gk = g[k]
                if opt == "sgd":
                    theta[k] = theta[k] - alpha * gk
                elif opt in ("momentum", "nesterov"):
                    v[k] = h["momentum"] * v[k] - alpha * gk
                    theta[k] = theta[k] + v[k]
                elif opt == "adagrad":
                    a[k] = a[k] + gk**2
                    theta[k] = theta[k] - alpha * gk / (np.sqrt(a[k]) + h["eps"])
                elif opt == "rmsprop":
                    rho = h["rho"]
                    a[k] = rho * a[k] + (1 - rho) * gk**2
                    theta[k] = theta[k] - alpha * gk / (np.sqrt(a[k]) + h["eps"])
                elif opt == "adadelta":
                    rho, eps = h["rho"], h["eps"]
                    a[k] = rho * a[k] + (1 - rho) * gk**2
                    delta = -(np.sqrt(d[k] + eps) / np.sqrt(a[k] + eps)) * gk
                    d[k] = rho * d[k] + (1 - rho) * delta**2
                    theta[k] = theta[k] + alpha * delta
                elif opt in ("adam", "nadam"):
                    b1, b2, eps = h["beta1"], h["beta2"], h["eps"]
                    m[k] = b1 * m[k] + (1 - b1) * gk
                    v[k] = b2 * v[k] + (1 - b2) * gk**2
                    denom = np.sqrt(v[k] / (1 - b2**t)) + eps
                    if opt == "adam":
                        step = m[k] / (1 - b1**t)
                    else:
                        step = b1 * m[k] / (1 - b1 ** (t + 1)) + (1 - b1) * gk / (1 - b1**t)
                    theta[k] = theta[k] - alpha * step / denom
                else:
                    raise ValueError(opt)
        epoch_loss.append(sum(losses) / len(losses))
    return theta, epoch_loss, (clipped_steps, clipped_entries)


def torch_optim_applies(case):
    """torch.optim's update is the contract's for these (momentum only at a
    constant rate: torch keeps buf = β buf + g and steps by -α buf, which is
    the contract's v = -α buf only while α does not change)."""
    opt, h = case["optimizer"], case["h"]
    if "l1" in h:
        return False
    if opt == "momentum":
        return h.get("decay") is None
    return opt in ("sgd", "adagrad", "rmsprop", "adadelta", "adam")


def train_torch_optim(case, theta0, x, labels):
    opt, h = case["optimizer"], case["h"]
    ps = [torch.nn.Parameter(torch.tensor(t.copy())) for t in theta0]
    # The contract's L2 penalty is torch's weight_decay (g += λθ, added inside
    # step(), so after the clipping done before it), but on matrices only.
    l2 = h.get("l2", 0.0)
    groups = [
        {"params": [p for p in ps if p.ndim >= 2], "weight_decay": l2},
        {"params": [p for p in ps if p.ndim < 2], "weight_decay": 0.0},
    ]
    common = {"lr": h["lr"], "foreach": False}
    if opt == "sgd":
        o = torch.optim.SGD(groups, **common)
    elif opt == "momentum":
        o = torch.optim.SGD(groups, momentum=h["momentum"], **common)
    elif opt == "adagrad":
        o = torch.optim.Adagrad(groups, eps=h["eps"], **common)
    elif opt == "rmsprop":
        o = torch.optim.RMSprop(groups, alpha=h["rho"], eps=h["eps"], **common)
    elif opt == "adadelta":
        o = torch.optim.Adadelta(groups, rho=h["rho"], eps=h["eps"], **common)
    elif opt == "adam":
        o = torch.optim.Adam(groups, betas=(h["beta1"], h["beta2"]), eps=h["eps"], **common)
    else:
        raise ValueError(opt)
    xt, lt = torch.tensor(x), torch.tensor(labels)
    epoch_loss = []
    for epoch in range(EPOCHS):
        for group in o.param_groups:
            group["lr"] = rate(h, epoch)
        losses = []
        for s, e in batches(len(x)):
            o.zero_grad()
            loss = torch_loss(ps, xt[s:e], lt[s:e])
            loss.backward()
            losses.append(loss.item())
            if "clip_value" in h:
                torch.nn.utils.clip_grad_value_(ps, h["clip_value"])
            if "clip_norm" in h:
                # Not clip_grad_norm_: it divides by ‖g‖ + 1e-6.
                norm = torch.sqrt(sum((p.grad**2).sum() for p in ps))
                scale = min(1.0, h["clip_norm"] / norm.item())
                for p in ps:
                    p.grad.mul_(scale)
            o.step()
        epoch_loss.append(sum(losses) / len(losses))
    return [p.detach().numpy().copy() for p in ps], epoch_loss


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def flag_number(v):
    """A number as a flag: repr, the shortest text that reads back as v."""
    return repr(float(v))


def case(name, optimizer, lr, note, **h):
    h["lr"] = lr
    flags = ["--optimizer", optimizer, "--lr", flag_number(lr)]
    for key in ("momentum", "rho", "beta1", "beta2", "eps", "l2", "l1", "clip_value", "clip_norm"):
        if key in h:
            flags += ["--" + key.replace("_", "-"), flag_number(h[key])]
    if "decay" in h:
        kind, k = h["decay"]
        flags += ["--decay", f"{kind}:{flag_number(k)}"]
    flags += ["--epochs", str(EPOCHS), "--batch-size", str(BATCH)]
    return {"name": name, "optimizer": optimizer, "note": note, "h": h, "flags": flags}


# Every hyperparameter is passed explicitly: the contract fixes the formulas,
# not the defaults.
CASES = [
    case("sgd", "sgd", 0.5, "plain gradient descent"),
    case("sgd_l2", "sgd", 0.5, "L2 on W1, W2 only", l2=0.01),
    case("sgd_l1", "sgd", 0.5, "L1 on W1, W2 only", l1=0.005),
    case("sgd_clip_value", "sgd", 0.5, "entries clamped", clip_value=0.02),
    case("sgd_clip_norm", "sgd", 0.5, "global norm clipping", clip_norm=0.4),
    case("sgd_decay_exp", "sgd", 0.5, "rate 0.5 e^(-0.7 e)", decay=("exp", 0.7)),
    case("sgd_decay_inverse", "sgd", 0.5, "rate 0.5 / (1 + 2 e)", decay=("inverse", 2.0)),
    case("momentum", "momentum", 0.1, "classical momentum", momentum=0.9),
    case("momentum_l1_decay", "momentum", 0.1, "momentum with a changing rate", momentum=0.8, l1=0.002, decay=("inverse", 0.5)),
    case("nesterov", "nesterov", 0.1, "look-ahead gradient", momentum=0.9),
    case("nesterov_clip_decay", "nesterov", 0.1, "look-ahead, clipped, decayed", momentum=0.7, clip_norm=0.4, decay=("exp", 0.3)),
    case("adagrad", "adagrad", 0.1, "torch's default eps", eps=1e-10),
    case("adagrad_l2_clip", "adagrad", 0.05, "with L2 and clamping", eps=1e-8, l2=0.001, clip_value=0.03),
    case("rmsprop", "rmsprop", 0.01, "rho 0.99", rho=0.99, eps=1e-8),
    case("rmsprop_decay", "rmsprop", 0.003, "rho 0.8, large eps, decayed", rho=0.8, eps=1e-6, decay=("exp", 0.2)),
    case("adadelta", "adadelta", 1.0, "rho 0.9", rho=0.9, eps=1e-6),
    case("adadelta_decay", "adadelta", 0.5, "rho 0.5, large eps, decayed", rho=0.5, eps=1e-4, decay=("inverse", 0.5)),
    case("adam", "adam", 0.01, "the usual betas", beta1=0.9, beta2=0.999, eps=1e-8),
    case("adam_combo", "adam", 0.02, "other betas, L2, norm clipping, decay", beta1=0.5, beta2=0.9, eps=1e-6, l2=0.01, clip_norm=0.4, decay=("exp", 0.1)),
    case("nadam", "nadam", 0.01, "the usual betas", beta1=0.9, beta2=0.999, eps=1e-8),
    case("nadam_combo", "nadam", 0.02, "other betas, L1, clamping, decay", beta1=0.8, beta2=0.99, eps=1e-7, l1=0.001, clip_value=0.03, decay=("inverse", 0.25)),
    case("sgd_combo", "sgd", 0.5, "clamping, L2 and decay", clip_value=0.05, l2=0.02, decay=("inverse", 1.0)),
    case("momentum_clip_norm_l2", "momentum", 0.05, "momentum, norm clipping, L2", momentum=0.5, clip_norm=0.4, l2=0.005),
]


def as_json_params(theta):
    return {n: {"shape": list(t.shape), "data": [float(v) for v in t.ravel()]} for n, t in zip(NAMES, theta)}


def main():
    torch.set_num_threads(1)
    check_network_file()
    x, labels = write_or_read_data()
    theta0 = initial_params()
    fd_worst = check_gradient_by_finite_differences(theta0, x, labels)
    n_steps = EPOCHS * len(batches(len(x)))
    first_loss, first_grad = loss_and_gradient(theta0, x[:BATCH], labels[:BATCH])

    cases = []
    for c in CASES:
        theta, epoch_loss, (clipped, clamped) = train_contract(c, theta0, x, labels)
        h = c["h"]
        n_entries = n_steps * sum(t.size for t in theta0)
        # The clipping must act on some steps (clip-norm) or entries
        # (clip-value), and leave others alone.
        if "clip_norm" in h:
            assert 0 < clipped < n_steps, f"{c['name']}: clipped {clipped} of {n_steps} steps"
        if "clip_value" in h:
            assert 0 < clamped < n_entries, f"{c['name']}: clamped {clamped} of {n_entries}"
        moved = {n: rel(t, t0) for n, t, t0 in zip(NAMES, theta, theta0)}
        assert min(moved.values()) > 1e-3, f"{c['name']}: training hardly moves {moved}"
        out = {
            "name": c["name"],
            "optimizer": c["optimizer"],
            "note": c["note"],
            "flags": c["flags"],
            "epoch_loss": epoch_loss,
            "epoch_lr": [rate(h, e) for e in range(EPOCHS)],
            "steps": n_steps,
            "clipped_steps": int(clipped),
            "clamped_entries": int(clamped) if "clip_value" in h else 0,
            "gradient_entries": n_entries,
            "relative_change": moved,
            "params": as_json_params(theta),
        }
        if torch_optim_applies(c):
            t_theta, t_loss = train_torch_optim(c, theta0, x, labels)
            final = max(rel(a, b) for a, b in zip(theta, t_theta))
            travel = max(rel(a - a0, b - a0) for a, b, a0 in zip(theta, t_theta, theta0))
            loss_diff = max(abs(a - b) / abs(b) for a, b in zip(epoch_loss, t_loss))
            assert final < TORCH_TOLERANCE and travel < TORCH_TOLERANCE, (c["name"], final, travel)
            assert loss_diff < TORCH_TOLERANCE, (c["name"], loss_diff)
            out["torch_optim"] = {"final_rel": final, "travel_rel": travel, "epoch_loss_rel": loss_diff}
        else:
            out["torch_optim"] = None
        cases.append(out)
        tag = "torch.optim agrees" if out["torch_optim"] else "contract formulas only"
        clip_note = ""
        if "clip_norm" in h:
            clip_note = f"norm-clipped {clipped}/{n_steps} steps"
        if "clip_value" in h:
            clip_note = f"clamped {clamped}/{n_entries} entries"
        print(f"{c['name']:24} loss {epoch_loss[-1]:.6f}  {clip_note:32} {tag}")

    result = {
        "generator": "tests/data/training/make_reference.py",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": f"{platform.system()} {platform.machine()}",
        },
        "network": "ref.sg",
        "data": "ref_data.csv",
        "rows": len(x),
        "batch_size": BATCH,
        "epochs": EPOCHS,
        "batch_rows": [e - s for s, e in batches(len(x))],
        "epoch_loss_is": "the mean over the epoch's batches of the batch's mean loss, before the batch's step (for nesterov, at the look-ahead point where the gradient is taken); penalties not included",
        "torch_tolerance": TORCH_TOLERANCE,
        "checks": {"finite_differences_worst_rel": fd_worst},
        "initial_params": as_json_params(theta0),
        # The starting point, separately: the first batch's mean loss and
        # gradient at the initial parameters (symgrad net grad --rows 0..8).
        "first_batch": {
            "rows": f"0..{BATCH}",
            "loss": first_loss,
            "gradient": as_json_params(first_grad),
        },
        "cases": cases,
    }
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(cases)} cases, "
          f"{sum(c['torch_optim'] is not None for c in cases)} checked against torch.optim")


if __name__ == "__main__":
    sys.exit(main())
