#!/usr/bin/env python3
"""Measure symgrad's first derivatives against SymPy's on a public corpus.

Usage (from the repository root, with SymPy 1.14 in the interpreter and the
CLI built with `cargo build -p symgrad-cli`):

    python3 tests/data/sympy_corpus/make_counts.py [--symgrad PATH] [--fresh]

SymPy's side (the derivatives, their simplified forms, counts and values)
is taken from the existing `reference.json` for every formula whose text and
given point are unchanged, unless `--fresh` is given; symgrad's side is
always measured anew. A fresh run takes about 2 minutes.

Reads `corpus.csv` (formulas from public sources, written in the common
subset of symgrad's and SymPy's syntax) and writes `reference.json` beside
it. For every formula and every variable it records

  * SymPy's derivative (`sympy.diff`), its value at the formula's point
    (30 digits, then rounded to a double) and its operation count;
  * the operation count of `sympy.simplify` of that derivative;
  * symgrad's printed derivative (from `symgrad diff --format json` in
    reverse mode) and its operation count; the derivatives that forward or
    path mode print differently go to `mode_differences.csv`.

Counting rule (the same for all three): `sympy.count_ops(expr)` of a SymPy
expression. symgrad's text is read by SymPy's `parse_expr` (`^` is a power,
`ln` the natural log) after inlining its bindings: `t1 = u; t2 = v; w` is
`w` with `t2` and then `t1` replaced by their expressions, so a shared
subexpression is counted at every use, as it is in SymPy's tree. Parsing
evaluates (SymPy's automatic canonicalization: it folds numbers, merges
like terms and equal factors, and does no expansion, factoring or
cancellation of sums). Decimals in the corpus are read as exact rationals
(symgrad reads them so too), and every symbol is real.

The formula text is never read by symgrad's parser here except through the
CLI; SymPy reads it with its own parser, so the reference is independent.
The point of each formula is `point` in the corpus where given; the other
coordinates are drawn from [0.6, 1.4] by a generator seeded with the name
(two decimals), redrawn until the value and every derivative are finite and
real there.

Deterministic: re-executes itself with PYTHONHASHSEED=0.
"""

import csv
import json
import math
import os
import random
import re
import subprocess
import sys
import time

if os.environ.get("PYTHONHASHSEED") != "0":
    env = dict(os.environ, PYTHONHASHSEED="0")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import sympy as sp  # noqa: E402
from sympy.parsing.sympy_parser import (  # noqa: E402
    parse_expr,
    rationalize,
    standard_transformations,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CORPUS = os.path.join(HERE, "corpus.csv")
OUT = os.path.join(HERE, "reference.json")
MODE_DIFFERENCES = os.path.join(HERE, "mode_differences.csv")
MODES = ["reverse", "forward", "paths"]
DIGITS = 30

FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin,
    "acos": sp.acos, "atan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh,
    "tanh": sp.tanh, "abs": sp.Abs, "sign": sp.sign, "erf": sp.erf,
    "erfc": sp.erfc, "sec": sp.sec, "csc": sp.csc, "cot": sp.cot,
    "atan2": sp.atan2, "pi": sp.pi,
}
TRANSFORMS = standard_transformations + (rationalize,)
# A number (with its exponent, so that `1e5` names no variable) or a name.
TOKEN = re.compile(r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|([A-Za-z_][A-Za-z0-9_]*)")


def variables(formula):
    """Free variables in order of first appearance (symgrad's order)."""
    out = []
    for name in TOKEN.findall(formula):
        if name and name not in FUNCTIONS and name not in out:
            out.append(name)
    return out


def sympy_of(text, names):
    local = dict(FUNCTIONS)
    local.update(names)
    return parse_expr(text, local_dict=local, transformations=TRANSFORMS)


def symgrad_text_to_sympy(text, symbols):
    """symgrad's printed derivative with its bindings inlined."""
    parts = [p.strip() for p in text.split(";")]
    bound = {}
    names = dict(symbols)
    for part in parts[:-1]:
        name, rhs = part.split("=", 1)
        name = name.strip()
        value = sympy_of(rhs.replace("^", "**"), names)
        bound[name] = value
        names[name] = value  # later bindings and the result see it inlined
    return sympy_of(parts[-1].replace("^", "**"), names)


def to_double(x):
    v = sp.N(x, DIGITS)
    if not v.is_real:
        raise ValueError(f"not real: {v}")
    if v == 0:
        return 0.0
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"not finite: {v}")
    return f


def choose_point(name, names, given, f, derivs):
    rng = random.Random(name)
    for _ in range(100):
        point = {}
        for n in names:
            point[n] = given[n] if n in given else round(rng.uniform(0.6, 1.4), 2)
        subs = {sp.Symbol(n, real=True): sp.Rational(str(point[n])) for n in names}
        try:
            to_double(f.subs(subs))
            values = [to_double(d.subs(subs)) for d in derivs]
        except (ValueError, TypeError, ZeroDivisionError):
            continue
        return point, subs, values
    raise SystemExit(f"{name}: no point where the derivatives are finite and real")


def run_symgrad(binary, formula, mode):
    out = subprocess.run(
        [binary, "diff", formula, "--mode", mode, "--format", "json"],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"symgrad failed on {formula!r}: {out.stderr}")
    data = json.loads(out.stdout)
    return {g["wrt"]: g["expr"] for g in data["gradient"]}


def geometric_mean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main():
    binary = os.path.join(ROOT, "target", "debug", "symgrad")
    if "--symgrad" in sys.argv:
        binary = sys.argv[sys.argv.index("--symgrad") + 1]
    with open(CORPUS, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cached = {}
    if "--fresh" not in sys.argv and os.path.exists(OUT):
        with open(OUT, encoding="utf-8") as fh:
            for e in json.load(fh)["formulas"]:
                cached[(e["formula"], e["given"])] = e
    entries = []
    differ = []
    started = time.time()
    for row in rows:
        name, formula = row["name"], row["formula"]
        names = variables(formula)
        symbols = {n: sp.Symbol(n, real=True) for n in names}
        given = {}
        if row["point"]:
            for item in row["point"].split(";"):
                k, v = item.split("=")
                given[k.strip()] = float(v)
        old = cached.get((formula, row["point"]))
        if old is None:
            f = sympy_of(formula, symbols)
            derivs = [sp.diff(f, symbols[n]) for n in names]
            point, subs, values = choose_point(name, names, given, f, derivs)
            sympy_side = []
            for d, value in zip(derivs, values):
                simple = sp.simplify(d)
                sympy_side.append({
                    "value": value,
                    "sympy_diff": str(d),
                    "sympy_diff_ops": int(sp.count_ops(d)),
                    "sympy_simplify": str(simple),
                    "sympy_simplify_ops": int(sp.count_ops(simple)),
                })
        else:
            point = old["point"]
            subs = {symbols[n]: sp.Rational(str(point[n])) for n in names}
            sympy_side = [{k: v for k, v in d.items() if k.startswith("sympy") or k == "value"}
                          for d in old["derivatives"]]
        printed = [run_symgrad(binary, formula, m) for m in MODES]
        for n in names:
            if any(p[n] != printed[0][n] for p in printed[1:]):
                # Recorded in mode_differences.csv, which the Rust test
                # keeps exact.
                differ.append((name, n))
        derivatives = []
        for n, theirs in zip(names, sympy_side):
            value = theirs["value"]
            ours_text = printed[0][n]
            ours = symgrad_text_to_sympy(ours_text, symbols)
            ours_value = to_double(ours.subs(subs))
            if abs(ours_value - value) > 1e-9 * max(1.0, abs(value)):
                raise SystemExit(f"{name} d/d{n}: symgrad's {ours_text} is {ours_value}, "
                                 f"SymPy's {theirs['sympy_diff']} is {value}")
            derivatives.append(dict(wrt=n, **theirs, symgrad=ours_text,
                                    symgrad_ops=int(sp.count_ops(ours))))
        entries.append({
            "name": name, "category": row["category"], "source": row["source"],
            "formula": formula, "given": row["point"], "vars": names, "point": point,
            "derivatives": derivatives,
        })
        print(f"{name}: {[(d['symgrad_ops'], d['sympy_simplify_ops'], d['sympy_diff_ops']) for d in derivatives]}",
              file=sys.stderr)
    all_d = [d for e in entries for d in e["derivatives"]]
    summary = {
        "formulas": len(entries),
        "derivatives": len(all_d),
        "geometric_mean_plus_one": {
            "symgrad": geometric_mean([1 + d["symgrad_ops"] for d in all_d]),
            "sympy_simplify": geometric_mean([1 + d["sympy_simplify_ops"] for d in all_d]),
            "sympy_diff": geometric_mean([1 + d["sympy_diff_ops"] for d in all_d]),
        },
        "sympy": sp.__version__,
    }
    with open(MODE_DIFFERENCES, "w", encoding="utf-8") as fh:
        fh.write("name,wrt\n")
        for name, n in differ:
            fh.write(f"{name},{n}\n")
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump({"summary": summary, "formulas": entries}, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(json.dumps(summary, indent=1), file=sys.stderr)
    print(f"{time.time() - started:.0f} s", file=sys.stderr)
    print(table(entries))


def table(entries):
    """The README's table: geometric means by category, then the worst cases."""
    cats = ["optimization", "physics", "statistics", None]
    lines = ["| formulas | first derivatives | symgrad | SymPy `simplify` | SymPy `diff` "
             "| symgrad no longer than `simplify` | over 1.5x `simplify` |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for cat in cats:
        es = [e for e in entries if cat is None or e["category"] == cat]
        ds = [d for e in es for d in e["derivatives"]]
        gm = {k: geometric_mean([1 + d[k] for d in ds])
              for k in ["symgrad_ops", "sympy_simplify_ops", "sympy_diff_ops"]}
        shorter = sum(1 for d in ds if d["symgrad_ops"] <= d["sympy_simplify_ops"])
        over = sum(1 for d in ds if d["symgrad_ops"] > 1.5 * d["sympy_simplify_ops"])
        label = f"{cat} ({len(es)})" if cat else f"**all ({len(es)})**"
        lines.append(f"| {label} | {len(ds)} | {gm['symgrad_ops']:.3f} | "
                     f"{gm['sympy_simplify_ops']:.3f} | {gm['sympy_diff_ops']:.3f} | "
                     f"{shorter} | {over} |")
    rows = [(d["symgrad_ops"] / max(d["sympy_simplify_ops"], 1), e["name"], d)
            for e in entries for d in e["derivatives"]]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]["wrt"]))
    lines += ["", "| worst cases | symgrad | SymPy `simplify` | SymPy `diff` |",
              "| --- | ---: | ---: | ---: |"]
    for ratio, name, d in rows[:8]:
        lines.append(f"| `{name}` ∂/∂{d['wrt']} | {d['symgrad_ops']} | "
                     f"{d['sympy_simplify_ops']} | {d['sympy_diff_ops']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
