#!/usr/bin/env python3
"""Reference loss and gradients for workloads W3 and W3b of WORKLOADS.md,
computed with NumPy (float64) by hand-written matrix backpropagation.

Usage (from the repository root):

    python3 tests/data/networks/make_w3_reference.py

Writes, next to this script:
  w3_reference.json   loss and gradient summaries of W3 and W3b
  w3_data.csv         W3's mini-batch: 10 rows, x0..x783 then y0..y9 (one-hot)
  w3b_data.csv        W3b's mini-batch: 32 rows, x0..x63 then label (= k % 10)

It also reads w3.sg and w3b.sg (the same networks written as symgrad network
files) and checks that their declarations and `param` index formulas give
exactly the arrays used here, so the .sg files, the CSV files and the JSON
describe one computation.

The script is deterministic (fixed seed for choosing which entries the
finite-difference check visits; no network access); two runs give
byte-identical files.

Verification of the reference itself, printed and stored under "checks":
  * central finite differences (4th-order stencil, evaluated in extended
    precision, np.longdouble) on about 300 randomly chosen gradient entries
    per workload, compared with the float64 backprop gradient;
  * a per-sample (loop over the batch, vector form) backprop compared with
    the batched matrix form;
  * the whole backprop repeated in np.longdouble, to show how much float64
    rounding there is in the reported numbers.
"""

import json
import math
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_JSON = os.path.join(HERE, "w3_reference.json")
SEED = 20240604
PARAMS = ("W1", "b1", "W2", "b2")

# The two workloads, exactly as WORKLOADS.md defines them.
WORKLOADS = {
    "W3": {
        "sizes": (784, 30, 10),
        "m": 10,
        "output": "sigmoid",        # a2 = sigmoid(W2 a1 + b2)
        "cost": "quadratic",        # C = (1/(2m)) sum_k ||a2_k - y_k||^2
        "net": "w3.sg",
        "data": "w3_data.csv",
    },
    "W3b": {
        "sizes": (64, 32, 10),
        "m": 32,
        "output": "softmax",        # p = softmax(W2 a1 + b2)
        "cost": "cross_entropy",    # C = -(1/m) sum_k log p_k[y_k]
        "net": "w3b.sg",
        "data": "w3b_data.csv",
    },
}


# ---------------------------------------------------------------------------
# Deterministic weights and data (index formulas of WORKLOADS.md).
#
# Weights use Python's math.sin / math.cos (the platform libm, the same one
# Rust's f64::sin / f64::cos call on Linux), one scalar call per entry, so no
# vectorized approximation of sin enters the reference.

def make_params(sizes):
    n_in, n_hid, n_out = sizes
    W1 = np.array([[0.01 * math.sin(i * n_in + j + 1) for j in range(n_in)]
                   for i in range(n_hid)], dtype=np.float64)
    b1 = np.array([0.01 * math.cos(i + 1) for i in range(n_hid)],
                  dtype=np.float64)
    W2 = np.array([[0.1 * math.sin(i * n_hid + j + 1) for j in range(n_hid)]
                   for i in range(n_out)], dtype=np.float64)
    b2 = np.array([0.1 * math.cos(i + 1) for i in range(n_out)],
                  dtype=np.float64)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def make_data(sizes, m):
    """X[k, j] is input j of sample k (row k = sample k, the leading batch
    axis); labels[k] = k % 10; Y[k] is one-hot at labels[k]."""
    n_in, _, n_out = sizes
    # Integer arithmetic first, then one correctly rounded division by 255.
    X = np.array([[(((k * n_in + j) * 7919) % 256) / 255 for j in range(n_in)]
                  for k in range(m)], dtype=np.float64)
    labels = [k % 10 for k in range(m)]
    Y = np.zeros((m, n_out), dtype=np.float64)
    for k, c in enumerate(labels):
        Y[k, c] = 1.0
    return X, labels, Y


# ---------------------------------------------------------------------------
# The networks.  Batch layout: X is [m, n_in], so the per-sample equation
# z1 = W1 @ x + b1 becomes Z1 = X @ W1.T + b1 (row k of Z1 is z1 of sample k).

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logsumexp_rows(z):
    mx = np.max(z, axis=1, keepdims=True)
    return mx[:, 0] + np.log(np.sum(np.exp(z - mx), axis=1))


def softmax_rows(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def loss_only(wl, P, X, Y, labels):
    m = X.shape[0]
    A1 = sigmoid(X @ P["W1"].T + P["b1"])
    Z2 = A1 @ P["W2"].T + P["b2"]
    if wl["cost"] == "quadratic":
        A2 = sigmoid(Z2)
        return np.sum((A2 - Y) ** 2) / (2 * m)
    # -log softmax(z)[c] = logsumexp(z) - z[c]   (shifted by the max)
    rows = np.arange(m)
    return np.sum(logsumexp_rows(Z2) - Z2[rows, labels]) / m


def backprop(wl, P, X, Y, labels):
    """Loss and gradient, matrix form of the four backprop equations:
    delta2 = dC/dZ2, delta1 = (delta2 @ W2) * sigmoid'(Z1),
    dC/dW_l = delta_l.T @ A_{l-1}, dC/db_l = sum over the batch of delta_l."""
    m = X.shape[0]
    Z1 = X @ P["W1"].T + P["b1"]                  # [m, n_hid]
    A1 = sigmoid(Z1)
    Z2 = A1 @ P["W2"].T + P["b2"]                 # [m, n_out]
    if wl["cost"] == "quadratic":
        A2 = sigmoid(Z2)
        loss = np.sum((A2 - Y) ** 2) / (2 * m)
        delta2 = (A2 - Y) * A2 * (1 - A2) / m     # dC/dZ2
    else:
        rows = np.arange(m)
        loss = np.sum(logsumexp_rows(Z2) - Z2[rows, labels]) / m
        delta2 = (softmax_rows(Z2) - Y) / m       # dC/dZ2
    delta1 = (delta2 @ P["W2"]) * A1 * (1 - A1)   # dC/dZ1
    grads = {
        "W1": delta1.T @ X,                       # [n_hid, n_in]
        "b1": np.sum(delta1, axis=0),
        "W2": delta2.T @ A1,                      # [n_out, n_hid]
        "b2": np.sum(delta2, axis=0),
    }
    return loss, grads


def backprop_per_sample(wl, P, X, Y, labels):
    """The same gradient, one sample at a time (vector form, as in Nielsen's
    code), averaged over the batch.  Used only as a cross-check."""
    m = X.shape[0]
    total = 0.0
    G = {k: np.zeros_like(v) for k, v in P.items()}
    for k in range(m):
        x, y = X[k], Y[k]
        z1 = P["W1"] @ x + P["b1"]
        a1 = sigmoid(z1)
        z2 = P["W2"] @ a1 + P["b2"]
        if wl["cost"] == "quadratic":
            a2 = sigmoid(z2)
            total += 0.5 * float(np.dot(a2 - y, a2 - y))
            d2 = (a2 - y) * a2 * (1 - a2)
        else:
            mx = np.max(z2)
            lse = mx + math.log(float(np.sum(np.exp(z2 - mx))))
            total += lse - z2[labels[k]]
            d2 = np.exp(z2 - lse) - y
        d1 = (P["W2"].T @ d2) * a1 * (1 - a1)
        G["W1"] += np.outer(d1, x)
        G["b1"] += d1
        G["W2"] += np.outer(d2, a1)
        G["b2"] += d2
    return total / m, {k: v / m for k, v in G.items()}


# ---------------------------------------------------------------------------
# Checks.

def rel_err(a, b):
    a, b = float(a), float(b)
    d = abs(a - b)
    return 0.0 if d == 0 else d / max(abs(a), abs(b))


def finite_difference_check(wl, P, X, Y, labels, grads, rng):
    """Compare the float64 gradient with central differences of the loss.
    Stencil (-f(+2h) + 8 f(+h) - 8 f(-h) + f(-2h)) / (12 h), error O(h^4),
    with the loss evaluated in np.longdouble so that rounding in the
    differences stays far below the tolerance.  h is a power of two, so the
    perturbed parameters are exact."""
    ext = np.longdouble
    Pe = {k: v.astype(ext) for k, v in P.items()}
    Xe, Ye = X.astype(ext), Y.astype(ext)
    h = ext(2.0) ** -10
    # Which entries: all of b1 and b2, random ones of W1 and W2.
    picks = []
    for name, count in (("W1", 160), ("b1", None), ("W2", 100), ("b2", None)):
        size = P[name].size
        flat = (np.arange(size) if count is None
                else np.sort(rng.choice(size, size=count, replace=False)))
        picks += [(name, int(f)) for f in flat]
    worst = (0.0, None)
    worst_abs = 0.0
    for name, f in picks:
        idx = np.unravel_index(f, P[name].shape)
        orig = Pe[name][idx]
        vals = {}
        for s in (-2, -1, 1, 2):
            Pe[name][idx] = orig + s * h
            vals[s] = loss_only(wl, Pe, Xe, Ye, labels)
        Pe[name][idx] = orig
        fd = (-vals[2] + 8 * vals[1] - 8 * vals[-1] + vals[-2]) / (12 * h)
        g = grads[name][idx]
        e = rel_err(g, fd)
        worst_abs = max(worst_abs, abs(float(g) - float(fd)))
        if e >= worst[0]:
            where = "%s[%s]" % (name, ", ".join(str(int(i)) for i in idx))
            worst = (e, {"entry": where, "backprop": float(g),
                         "finite_difference": float(fd)})
    return {
        "entries_checked": len(picks),
        "h": float(h),
        "worst_relative_error": worst[0],
        "worst_absolute_error": worst_abs,
        "worst_entry": worst[1],
    }


def max_rel_diff(ga, gb):
    """Largest |a - b| / max|b| over the entries of each parameter."""
    out = 0.0
    for k in PARAMS:
        a = np.asarray(ga[k], dtype=np.float64)
        b = np.asarray(gb[k], dtype=np.float64)
        out = max(out, float(np.max(np.abs(a - b)) / np.max(np.abs(b))))
    return out


# ---------------------------------------------------------------------------
# Consistency of the .sg files with the arrays used here.

SG_DECL = re.compile(
    r"^(input|target|param)\s+(\w+)\s*\[([\d,\s]+)\]\s*(?:=\s*(.+))?$")


def check_sg(path, wl, P):
    """Each `param NAME[shape] = FORMULA` line, with i the row index and j the
    column index, must reproduce P[NAME] exactly; input/target shapes must
    match the sizes.  The formulas use only numbers, + * and sin/cos, so
    Python evaluates them with the same meaning."""
    n_in, _, n_out = wl["sizes"]
    seen = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            mt = SG_DECL.match(line)
            if not mt:
                continue
            kind, name, shape, init = mt.groups()
            shape = tuple(int(s) for s in shape.split(","))
            seen[name] = (kind, shape)
            if kind != "param":
                continue
            assert shape == P[name].shape, (path, name, shape)
            code = compile(init, path, "eval")
            env = {"__builtins__": {}, "sin": math.sin, "cos": math.cos}
            if len(shape) == 2:
                arr = np.array([[eval(code, env, {"i": i, "j": j})
                                 for j in range(shape[1])]
                                for i in range(shape[0])], dtype=np.float64)
            else:
                arr = np.array([eval(code, env, {"i": i})
                                for i in range(shape[0])], dtype=np.float64)
            assert np.array_equal(arr, P[name]), (path, name)
    assert seen.get("x") == ("input", (n_in,)), (path, seen.get("x"))
    assert seen.get("y") == ("target", (n_out,)), (path, seen.get("y"))
    assert all(seen.get(k, ("",))[0] == "param" for k in PARAMS), path


# ---------------------------------------------------------------------------
# Output.

def summary(g):
    flat = [float(v) for v in np.asarray(g, dtype=np.float64).ravel()]
    return {
        "shape": list(g.shape),
        "sum": math.fsum(flat),
        "abs_sum": math.fsum(abs(v) for v in flat),
        "sum_sq": math.fsum(v * v for v in flat),
        "first5": flat[:5],
    }


def write_csv(path, wl, X, Y, labels):
    n_in, _, n_out = wl["sizes"]
    lines = []
    if wl["cost"] == "quadratic":
        lines.append(",".join(["x%d" % j for j in range(n_in)] +
                              ["y%d" % c for c in range(n_out)]))
        for k in range(X.shape[0]):
            lines.append(",".join([repr(float(v)) for v in X[k]] +
                                  [str(int(v)) for v in Y[k]]))
    else:
        lines.append(",".join(["x%d" % j for j in range(n_in)] + ["label"]))
        for k in range(X.shape[0]):
            lines.append(",".join([repr(float(v)) for v in X[k]] +
                                  [str(labels[k])]))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def read_csv_back(path, n_in):
    """Re-read a CSV written above: the inputs must round-trip exactly."""
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split(",") for line in f]
    return np.array([[float(v) for v in r[:n_in]] for r in rows[1:]])


def run(name, wl, rng):
    P = make_params(wl["sizes"])
    X, labels, Y = make_data(wl["sizes"], wl["m"])
    check_sg(os.path.join(HERE, wl["net"]), wl, P)
    csv_path = os.path.join(HERE, wl["data"])
    write_csv(csv_path, wl, X, Y, labels)
    assert np.array_equal(read_csv_back(csv_path, wl["sizes"][0]), X)

    loss, grads = backprop(wl, P, X, Y, labels)
    loss = float(loss)
    assert loss == float(loss_only(wl, P, X, Y, labels))

    # Cross-check 1: per-sample vector-form backprop.
    loss_ps, grads_ps = backprop_per_sample(wl, P, X, Y, labels)
    ps_diff = max(rel_err(loss, loss_ps), max_rel_diff(grads_ps, grads))

    # Cross-check 2: the same matrix backprop in extended precision.
    ext = np.longdouble
    loss_x, grads_x = backprop(wl, {k: v.astype(ext) for k, v in P.items()},
                               X.astype(ext), Y.astype(ext), labels)
    total_x = sum(np.sum(grads_x[k]) for k in PARAMS)
    total_sq_x = sum(np.sum(grads_x[k] ** 2) for k in PARAMS)

    # Cross-check 3: finite differences.
    fd = finite_difference_check(wl, P, X, Y, labels, grads, rng)

    gsum = {k: summary(grads[k]) for k in PARAMS}
    flat_all = [float(v) for k in PARAMS for v in grads[k].ravel()]
    total = math.fsum(flat_all)
    total_sq = math.fsum(v * v for v in flat_all)
    total_abs = math.fsum(abs(v) for v in flat_all)

    checks = {
        "finite_differences": fd,
        "per_sample_vs_matrix_max_rel_diff": ps_diff,
        "float64_vs_longdouble_rel_diff": {
            "loss": rel_err(loss, loss_x),
            "total_sum": rel_err(total, total_x),
            "total_sum_sq": rel_err(total_sq, total_sq_x),
            "max_entry": max_rel_diff(grads, grads_x),
        },
    }
    # The reference must hold to far better than the 1e-9 it is used at.
    assert fd["worst_relative_error"] < 1e-7, fd
    assert ps_diff < 1e-12, ps_diff
    assert max(checks["float64_vs_longdouble_rel_diff"].values()) < 1e-12

    n_in, n_hid, n_out = wl["sizes"]
    return {
        "net": wl["net"],
        "data": wl["data"],
        "sizes": [n_in, n_hid, n_out],
        "batch": wl["m"],
        "output": wl["output"],
        "cost": wl["cost"],
        "loss": loss,
        "gradient": gsum,
        "total_sum": total,
        "total_abs_sum": total_abs,
        "total_sum_sq": total_sq,
        "checks": checks,
    }


def main():
    rng = np.random.default_rng(SEED)
    out = {
        "generator": "tests/data/networks/make_w3_reference.py",
        "numpy": np.__version__,
        "dtype": "float64",
    }
    for name, wl in WORKLOADS.items():
        r = run(name, wl, rng)
        out[name] = r
        fd = r["checks"]["finite_differences"]
        print("%s: loss %r, total gradient sum %r, total sum of squares %r"
              % (name, r["loss"], r["total_sum"], r["total_sum_sq"]))
        print("    finite differences on %d entries: worst relative error "
              "%.3g (%s), worst absolute %.3g"
              % (fd["entries_checked"], fd["worst_relative_error"],
                 fd["worst_entry"]["entry"], fd["worst_absolute_error"]))
        print("    per-sample vs matrix backprop: %.3g; float64 vs "
              "longdouble: %s" % (
                  r["checks"]["per_sample_vs_matrix_max_rel_diff"],
                  ", ".join("%s %.3g" % kv for kv in
                            r["checks"]["float64_vs_longdouble_rel_diff"]
                            .items())))
    with open(OUT_JSON, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(out, indent=1, allow_nan=False) + "\n")
    print("wrote", os.path.relpath(OUT_JSON))
    return 0


if __name__ == "__main__":
    sys.exit(main())
