#!/usr/bin/env python3
"""Generate tests/data/reference.jsonl: reference values, gradients and
Hessians of formulas in symgrad's formula syntax, computed by SymPy.

Usage (from the repository root):  python3 tests/data/make_reference.py

Deterministic: fixed random seed, no network, PYTHONHASHSEED pinned (the
script re-executes itself with PYTHONHASHSEED=0 if it is not set).

Every case pairs a formula written in OUR syntax with a SymPy expression
that was NOT obtained by parsing that text:
  * hand-written cases: the SymPy expression is written by hand next to the
    formula text (table HAND below);
  * random cases: one Python expression tree is printed in our syntax by
    `print_tree` and converted to SymPy by `tree_to_sympy`.
Derivatives are taken with sympy.diff and evaluated with evalf at 30 digits.

As a consistency check only (never as the source of the data), a small
independent reader of our syntax (`CheckParser`) parses every formula text
and its value at the chosen point must agree with the SymPy expression's.
It also counts which syntax features the hand-written cases use, and the
script fails unless every function and operator appears at least 3 times.
"""

import json
import math
import os
import random
import sys
from collections import Counter

if os.environ.get("PYTHONHASHSEED") != "0":
    env = dict(os.environ, PYTHONHASHSEED="0")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import sympy as sp  # noqa: E402

SEED = 20261122
N_RANDOM = 200
DIGITS = 30
LIMIT = 1e8  # |value|, |gradient|, |Hessian| entries must stay below this
INTER_LIMIT = 1e6  # |intermediate values| of random trees
KINK = 0.1  # distance from kinks (abs, relu, max, min) and poles (division)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "reference.jsonl")

FUNCS1 = ["sin", "cos", "tan", "exp", "ln", "log", "sqrt", "tanh", "sinh",
          "cosh", "asin", "acos", "atan", "abs", "sigmoid", "σ", "relu",
          "softplus"]
FUNCS2 = ["max", "min", "pow"]
# Functions added later (issue 10). The random trees draw from FUNCS1 only,
# so that adding these left the earlier cases unchanged; they are covered by
# the hand-written cases of HAND_FUNCTIONS, which come after the random ones.
NEW_FUNCS = ["asinh", "acosh", "atanh", "log10", "log2", "exp2", "cbrt", "sec",
             "csc", "cot", "erf", "erfc", "sign", "step", "floor", "ceil",
             "atan2", "hypot", "log/2"]
# Other spellings of the same functions: parsed to the same node, so one
# case each is enough.
ALIASES = ["arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
           "arctan2", "heaviside"]
CONSTS = {"pi": sp.pi, "π": sp.pi, "e": sp.E}

_SYMS = {}


def sym(name):
    if name not in _SYMS:
        _SYMS[name] = sp.Symbol(name, real=True)
    return _SYMS[name]


# ---------------------------------------------------------------------------
# Our semantics, in SymPy terms.

def sig(t):
    return 1 / (1 + sp.exp(-t))


def relu(t):
    return sp.Max(t, 0)


def softplus(t):
    return sp.log(1 + sp.exp(t))


SP_FUNCS1 = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp,
    "ln": sp.log, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh,
    "sinh": sp.sinh, "cosh": sp.cosh, "asin": sp.asin, "acos": sp.acos,
    "atan": sp.atan, "abs": sp.Abs, "sigmoid": sig, "σ": sig, "relu": relu,
    "softplus": softplus,
}
SP_FUNCS1.update({
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan,
    "asinh": sp.asinh, "arcsinh": sp.asinh, "acosh": sp.acosh,
    "arccosh": sp.acosh, "atanh": sp.atanh, "arctanh": sp.atanh,
    "log10": lambda t: sp.log(t, 10), "log2": lambda t: sp.log(t, 2),
    "exp2": lambda t: 2 ** t,
    # the real cube root (SymPy's cbrt is the principal, complex one for t < 0)
    "cbrt": lambda t: sp.sign(t) * sp.Abs(t) ** sp.Rational(1, 3),
    "sec": sp.sec, "csc": sp.csc, "cot": sp.cot, "erf": sp.erf,
    "erfc": sp.erfc, "sign": sp.sign, "step": sp.Heaviside,
    "heaviside": sp.Heaviside, "floor": sp.floor, "ceil": sp.ceiling,
})
SP_FUNCS2 = {"max": sp.Max, "min": sp.Min, "pow": lambda a, b: a ** b,
             "atan2": sp.atan2, "arctan2": sp.atan2,
             "hypot": lambda a, b: sp.sqrt(a ** 2 + b ** 2),
             "log": lambda a, b: sp.log(a, b)}

# ---------------------------------------------------------------------------
# Tokenizer and check parser for our syntax (consistency check only).

SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5",
                "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9", "⁻": "-"}
ASCII_DIGITS = "0123456789"


class Tok:
    def __init__(self, kind, text, space_before):
        self.kind = kind  # num ident sup op nl end
        self.text = text
        self.space = space_before

    def __repr__(self):
        return f"Tok({self.kind},{self.text!r})"


def tokenize(src):
    toks = []
    i = 0
    space = False
    while i < len(src):
        c = src[i]
        if c in " \t\r":
            space = True
            i += 1
            continue
        if c == "\n":
            toks.append(Tok("nl", c, space))
            space = False
            i += 1
            continue
        if c in ASCII_DIGITS:
            j = i
            while j < len(src) and src[j] in ASCII_DIGITS:
                j += 1
            if j < len(src) and src[j] == "." and j + 1 < len(src) and src[j + 1] in ASCII_DIGITS:
                j += 1
                while j < len(src) and src[j] in ASCII_DIGITS:
                    j += 1
            if j < len(src) and src[j] in "eE":
                k = j + 1
                if k < len(src) and src[k] in "+-":
                    k += 1
                if k < len(src) and src[k] in ASCII_DIGITS:
                    while k < len(src) and src[k] in ASCII_DIGITS:
                        k += 1
                    j = k
            toks.append(Tok("num", src[i:j], space))
        elif c.isalpha() or c == "_":
            j = i
            while j < len(src) and (src[j].isalpha() or src[j] in ASCII_DIGITS or src[j] == "_"):
                j += 1
            toks.append(Tok("ident", src[i:j], space))
        elif c in SUPERSCRIPTS:
            j = i
            while j < len(src) and src[j] in SUPERSCRIPTS:
                j += 1
            toks.append(Tok("sup", "".join(SUPERSCRIPTS[ch] for ch in src[i:j]), space))
        elif src.startswith("**", i):
            j = i + 2
            toks.append(Tok("op", "**", space))
        elif c in "+-−*·×/^(),;=":
            j = i + 1
            toks.append(Tok("op", c, space))
        else:
            raise ValueError(f"unexpected character {c!r} in {src!r}")
        space = False
        i = j
    toks.append(Tok("end", "", space))
    return toks


class CheckParser:
    """Recursive-descent reader of the formula syntax, straight from the
    contract.  Returns a SymPy expression and records the features used."""

    def __init__(self, src):
        self.src = src
        self.toks = tokenize(src)
        self.i = 0
        self.env = {}
        self.feat = Counter()
        self.vars = []

    def peek(self, k=0):
        return self.toks[self.i + k]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, text):
        t = self.next()
        if t.text != text:
            raise ValueError(f"expected {text!r}, got {t!r} in {self.src!r}")

    def program(self):
        result = None
        while True:
            while self.peek().kind == "nl":
                self.next()
            t = self.peek()
            if t.kind == "ident" and self.peek(1).text == "=":
                self.next()
                self.next()
                self.env[t.text] = self.expr()
                sep = self.next()
                if sep.text == ";":
                    self.feat["let ;"] += 1
                elif sep.kind == "nl":
                    self.feat["let newline"] += 1
                else:
                    raise ValueError(f"binding not followed by ; or newline in {self.src!r}")
                continue
            result = self.expr()
            while self.peek().kind == "nl":
                self.next()
            if self.peek().kind != "end":
                raise ValueError(f"trailing input {self.peek()!r} in {self.src!r}")
            return result

    def expr(self):
        lhs = self.term()
        while self.peek().text in ("+", "-", "−"):
            op = self.next().text
            rhs = self.term()
            self.feat["binary " + op] += 1
            lhs = lhs + rhs if op == "+" else lhs - rhs
        return lhs

    def starts_factor(self, t):
        return t.kind in ("num", "ident") or t.text == "("

    def term(self):
        lhs = self.unary()
        while True:
            t = self.peek()
            if t.text in ("*", "·", "×", "/"):
                self.next()
                rhs = self.unary()
                self.feat[t.text] += 1
                lhs = lhs / rhs if t.text == "/" else lhs * rhs
                continue
            prev = self.toks[self.i - 1]
            if self.starts_factor(t) and (prev.kind in ("num", "sup") or prev.text == ")"
                                          or (prev.kind == "ident" and t.space)):
                if prev.kind == "num":
                    self.feat["implicit after number"] += 1
                elif prev.kind == "sup":
                    self.feat["implicit after superscript"] += 1
                elif prev.text == ")":
                    self.feat["implicit after )"] += 1
                else:
                    self.feat["implicit between spaced factors"] += 1
                rhs = self.power()
                lhs = lhs * rhs
                continue
            return lhs

    def unary(self):
        if self.peek().text in ("-", "−"):
            op = self.next().text
            self.feat["unary " + op] += 1
            return -self.unary()
        return self.power()

    def power(self):
        base = self.postfix()
        if self.peek().text in ("^", "**"):
            op = self.next().text
            self.feat[op] += 1
            ex = self.unary()  # right-associative
            return base ** ex
        return base

    def postfix(self):
        base = self.primary()
        while self.peek().kind == "sup":
            n = int(self.next().text)
            self.feat["superscript"] += 1
            base = base ** n
        return base

    def primary(self):
        t = self.next()
        if t.kind == "num":
            return sp.Rational(t.text)
        if t.text == "(":
            e = self.expr()
            self.expect(")")
            return e
        if t.kind == "ident":
            name = t.text
            if self.peek().text == "(" and not self.peek().space and (
                    name in SP_FUNCS1 or name in SP_FUNCS2):
                self.next()
                args = [self.expr()]
                while self.peek().text == ",":
                    self.next()
                    args.append(self.expr())
                self.expect(")")
                if len(args) == 1 and name in SP_FUNCS1:
                    self.feat["fn " + name] += 1
                    return SP_FUNCS1[name](args[0])
                if len(args) == 2 and name in SP_FUNCS2:
                    self.feat["fn " + name + ("/2" if name in SP_FUNCS1 else "")] += 1
                    return SP_FUNCS2[name](*args)
                raise ValueError(f"{name} with {len(args)} arguments in {self.src!r}")
            if self.peek().text == "(" and not self.peek().space:
                raise ValueError(f"unknown function {name!r} in {self.src!r}")
            if name in CONSTS:
                self.feat["const " + name] += 1
                return CONSTS[name]
            if name in self.env:
                return self.env[name]
            if any(ord(ch) > 127 for ch in name):
                self.feat["unicode identifier"] += 1
            if name not in self.vars:
                self.vars.append(name)
            return sym(name)
        raise ValueError(f"unexpected {t!r} in {self.src!r}")


def free_vars_in_order(src):
    """Free variables in order of first appearance (our parser's order)."""
    p = CheckParser(src)
    p.program()
    return p.vars


# ---------------------------------------------------------------------------
# Hand-written cases: (formula in our syntax, SymPy expression written by
# hand, fixed points or None for drawn points).

x, y, z, w, a, b, c, v, θ, α = [sym(n) for n in "x y z w a b c v θ α".split()]
x1, x2, x3, x4, x5 = [sym(f"x{i}") for i in range(1, 6)]
xy, x_1, y_2, a1 = sym("xy"), sym("x_1"), sym("y_2"), sym("a1")
S = sp.sin
C = sp.cos
E = sp.exp
L = sp.log
R = sp.Rational


def rosen(xs):
    return sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2
               for i in range(len(xs) - 1))


HAND = [
    # seed examples
    ("x²y+y+2", x**2*y + y + 2, [{"x": 3, "y": 4}]),
    ("x²y+y+2", x**2*y + y + 2, None),
    ("cos(w²)", C(w**2), None),
    ("cos(w²)", C(w**2), [{"w": R("1.5")}]),
    ("sigmoid(sigmoid(sigmoid(x)))", sig(sig(sig(x))), None),
    ("σ(v σ(w x + b) + c)", sig(v*sig(w*x + b) + c), None),
    ("(1-x1)^2 + 100(x2-x1^2)^2", (1 - x1)**2 + 100*(x2 - x1**2)**2,
     [{"x1": 1, "x2": 1}, {"x1": R("-1.2"), "x2": 1}]),
    ("100(x2 - x1²)² + (1 - x1)² + 100(x3 - x2²)² + (1 - x2)²", rosen([x1, x2, x3]),
     [{"x2": 1, "x1": 1, "x3": 1}, None]),
    ("100*(x2 - x1**2)**2 + (1 - x1)**2 + 100*(x3 - x2**2)**2 + (1 - x2)**2"
     " + 100*(x4 - x3**2)**2 + (1 - x3)**2 + 100*(x5 - x4**2)**2 + (1 - x4)**2",
     rosen([x1, x2, x3, x4, x5]), None),
    ("(1 − x1)² + 100·(x2 − x1²)² + (1 − x2)² + 100·(x3 − x2²)² + (1 − x3)² + 100·(x4 − x3²)²"
     " + (1 − x4)² + 100·(x5 − x4²)²",
     rosen([x1, x2, x3, x4, x5]), None),
    ("ln(exp(a)+exp(b)+exp(c))", L(E(a) + E(b) + E(c)), None),
    ("ln(exp(a)+exp(b)+exp(c))", L(E(a) + E(b) + E(c)), [{"a": 1, "b": 2, "c": 3}]),
    ("log(exp(a) + exp(b))", L(E(a) + E(b)), None),
    # + - * / and associativity
    ("x + y - z", x + y - z, None),
    ("x - y - z", x - y - z, None),
    ("x / y / z", x / y / z, None),
    ("x*y/z + 1", x*y/z + 1, None),
    ("x - (y - z)*w", x - (y - z)*w, None),
    ("(x + y)^2 / (x - y)", (x + y)**2 / (x - y), None),
    # powers: ^, **, right associativity, binding tighter than unary minus
    ("2^3^x", 2**(3**x), None),
    ("x^y^z", x**(y**z), None),
    ("x**y**2", x**(y**2), None),
    ("x**2 + y**3 - 2**x", x**2 + y**3 - 2**x, None),
    ("-x^2 + y", -(x**2) + y, [{"x": 3, "y": 1}, None]),
    ("-x**2 - y^2", -(x**2) - y**2, None),
    ("−x^2 + 3y", -(x**2) + 3*y, None),
    ("-(x + y)^2", -((x + y)**2), None),
    ("-2^2 + x", -4 + x, None),
    ("x^(-2) + y^(-1)", x**-2 + 1/y, None),
    ("-(-x)*y", x*y, None),
    # Unicode superscripts
    ("x⁻¹ + y", 1/x + y, None),
    ("x¹⁰ - y²", x**10 - y**2, None),
    ("x³ - 3x", x**3 - 3*x, None),
    ("2x² + 3y²", 2*x**2 + 3*y**2, None),
    ("θ² + α²", θ**2 + α**2, None),
    ("(x + 1)²(y - 1)", (x + 1)**2*(y - 1), None),
    ("x²y²z", x**2*y**2*z, None),
    ("x⁻² y", x**-2*y, None),
    ("-x² + y³", -(x**2) + y**3, None),
    # implicit multiplication
    ("2x + 3y", 2*x + 3*y, None),
    ("(x+1)(y-1)", (x + 1)*(y - 1), None),
    ("x y + y z", x*y + y*z, None),
    ("2x y", 2*x*y, None),
    ("3(x + y)^2", 3*(x + y)**2, None),
    ("(x - y)(x + y) z", (x - y)*(x + y)*z, None),
    ("sin(x) cos(y)", S(x)*C(y), None),
    ("x y^2", x*y**2, None),
    ("2x^2", 2*x**2, None),
    ("3.5x - 1e-3 y", R("3.5")*x - R("1e-3")*y, None),
    ("1e-3*x^2 + 2.5y", R("1e-3")*x**2 + R("2.5")*y, None),
    # · × −
    ("x·y + y·z", x*y + y*z, None),
    ("x × y − z", x*y - z, None),
    ("2·x×y − 3", 2*x*y - 3, None),
    ("a − b − c", a - b - c, None),
    ("sin(x)·cos(y) − x×y", S(x)*C(y) - x*y, None),
    ("−x + y·y", -x + y*y, None),
    ("exp(−x y) − y", E(-x*y) - y, None),
    # functions
    ("sin(x)", S(x), None),
    ("sin(x y)", S(x*y), None),
    ("sin(x)^2 + cos(x)^2", S(x)**2 + C(x)**2, None),
    ("cos(x + y)", C(x + y), None),
    ("tan(x)", sp.tan(x), None),
    ("tan(x y)", sp.tan(x*y), None),
    ("tan(x)^2 + 1", sp.tan(x)**2 + 1, None),
    ("exp(x)", E(x), None),
    ("exp(-x^2 - y^2)", E(-(x**2) - y**2), None),
    ("ln(x)", L(x), None),
    ("ln(1 + x²)", L(1 + x**2), None),
    ("ln(x y)", L(x*y), None),
    ("log(x)", L(x), None),
    ("log(x^2 + y^2)", L(x**2 + y**2), None),
    ("log(sigmoid(x))", L(sig(x)), None),
    ("sqrt(x)", sp.sqrt(x), None),
    ("sqrt(x^2 + y^2)", sp.sqrt(x**2 + y**2), None),
    ("sqrt(1 + exp(x))", sp.sqrt(1 + E(x)), None),
    ("sqrt(x² + y² + z²)", sp.sqrt(x**2 + y**2 + z**2), None),
    ("tanh(x)", sp.tanh(x), None),
    ("tanh(x y + 1)", sp.tanh(x*y + 1), None),
    ("1 - tanh(x)^2", 1 - sp.tanh(x)**2, None),
    ("sinh(x)", sp.sinh(x), None),
    ("sinh(x) cosh(y)", sp.sinh(x)*sp.cosh(y), None),
    ("sinh(x^2)", sp.sinh(x**2), None),
    ("cosh(x)", sp.cosh(x), None),
    ("ln(cosh(x))", L(sp.cosh(x)), None),
    ("cosh(x)^2 - sinh(x)^2", sp.cosh(x)**2 - sp.sinh(x)**2, None),
    ("asin(x/2)", sp.asin(x/2), None),
    ("asin(x y / 4)", sp.asin(x*y/4), None),
    ("asin(sin(x)/2)", sp.asin(S(x)/2), None),
    ("acos(x/2)", sp.acos(x/2), None),
    ("acos(x y/3)", sp.acos(x*y/3), None),
    ("acos(tanh(x))", sp.acos(sp.tanh(x)), None),
    ("atan(x)", sp.atan(x), None),
    ("atan(x/y)", sp.atan(x/y), None),
    ("atan(x) + atan(y)", sp.atan(x) + sp.atan(y), None),
    ("abs(x)", sp.Abs(x), [{"x": R("-1.3")}, {"x": R("0.8")}]),
    ("abs(x - y)", sp.Abs(x - y), [{"x": 1, "y": 2}, {"x": 2, "y": 1}]),
    ("abs(sin(x)) + y", sp.Abs(S(x)) + y, None),
    ("sigmoid(x)", sig(x), None),
    ("sigmoid(2x - 1)", sig(2*x - 1), None),
    ("σ(x y)", sig(x*y), None),
    ("σ(θ)", sig(θ), None),
    ("relu(x)", relu(x), [{"x": R("-1.3")}, {"x": R("0.8")}]),
    ("relu(x y - 1)", relu(x*y - 1), [{"x": 2, "y": 1}, {"x": 1, "y": R("0.5")}]),
    ("relu(sin(x)) + relu(y)", relu(S(x)) + relu(y), None),
    ("softplus(x)", softplus(x), None),
    ("softplus(x - y)", softplus(x - y), None),
    ("softplus(-x^2)", softplus(-(x**2)), None),
    ("max(x, y)", sp.Max(x, y), [{"x": 1, "y": -1}, {"x": -1, "y": 1}]),
    ("max(x^2, y)", sp.Max(x**2, y), None),
    ("max(sin(x), cos(y))", sp.Max(S(x), C(y)), None),
    ("min(x, y)", sp.Min(x, y), [{"x": 1, "y": -1}, {"x": -1, "y": 1}]),
    ("min(x, y) + max(y, z)", sp.Min(x, y) + sp.Max(y, z), None),
    ("min(exp(x), 2)", sp.Min(E(x), 2), [{"x": R("0.2")}, {"x": 1}]),
    ("pow(x, y)", x**y, None),
    ("pow(x, 3)", x**3, [{"x": R("-1.5")}, {"x": 2}]),
    ("pow(2, x)", 2**x, None),
    ("pow(sin(x) + 2, y)", (S(x) + 2)**y, None),
    # constants
    ("pi*x", sp.pi*x, None),
    ("sin(pi x)", S(sp.pi*x), None),
    ("pi x^2 + y", sp.pi*x**2 + y, None),
    ("π x²", sp.pi*x**2, None),
    ("cos(π x / 4)", C(sp.pi*x/4), None),
    ("2π x", 2*sp.pi*x, None),
    ("e^x", E(x), None),
    ("e*x + y", sp.E*x + y, None),
    ("ln(e) + x", 1 + x, None),
    ("e^(-x^2)", E(-(x**2)), None),
    # Greek variable names
    ("sin(θ) cos(α)", S(θ)*C(α), None),
    ("θ² + α θ", θ**2 + α*θ, None),
    ("exp(-α θ)", E(-α*θ), None),
    # let-style bindings
    ("u = x*y; sin(u) + u^2", S(x*y) + (x*y)**2, None),
    ("u = x*y\nsin(u) + u^2", S(x*y) + (x*y)**2, None),
    ("s = x + y; t = s*s; t - s", (x + y)**2 - (x + y), None),
    ("h = σ(w x + b)\nh^2 + h", sig(w*x + b)**2 + sig(w*x + b), None),
    ("v = y + 1; q = x*v; q^2", (x*(y + 1))**2, None),
    ("a1 = x*y\na2 = a1 + z\na2^2 + a1", (x*y + z)**2 + x*y, None),
    ("r = sqrt(x^2 + y^2); atan(y/x) + r", sp.atan(y/x) + sp.sqrt(x**2 + y**2), None),
    # identifiers and other edge cases
    ("x - x + y", y, None),
    ("xy + x", xy + x, None),
    ("x1 + x2*x1", x1 + x2*x1, None),
    ("x_1^2 + y_2", x_1**2 + y_2, None),
]

# The functions of NEW_FUNCS and their aliases, 3 cases each (1 for an
# alias), with SymPy's own functions written by hand.
SG = sp.sign
H = sp.Heaviside
HAND_FUNCTIONS = [
    ("asinh(x)", sp.asinh(x), None),
    ("asinh(x y) + y", sp.asinh(x*y) + y, None),
    ("asinh(x^2 + 1)", sp.asinh(x**2 + 1), None),
    ("arcsinh(2x)", sp.asinh(2*x), None),
    ("acosh(x^2 + 2)", sp.acosh(x**2 + 2), None),
    ("acosh(exp(x) + 1)", sp.acosh(E(x) + 1), None),
    ("acosh(x)", sp.acosh(x), [{"x": R("1.5")}, {"x": 3}]),
    ("arccosh(y^2 + 1.5)", sp.acosh(y**2 + R("1.5")), None),
    ("atanh(x/3)", sp.atanh(x/3), None),
    ("atanh(x y/5)", sp.atanh(x*y/5), None),
    ("atanh(tanh(x)/2)", sp.atanh(sp.tanh(x)/2), None),
    ("arctanh(sin(x)/2)", sp.atanh(S(x)/2), None),
    ("log10(x^2 + 1)", sp.log(x**2 + 1, 10), None),
    ("log10(x y)", sp.log(x*y, 10), [{"x": 2, "y": 3}, {"x": R("0.5"), "y": 7}]),
    ("log10(exp(x) + y^2)", sp.log(E(x) + y**2, 10), None),
    ("log2(x^2 + 1)", sp.log(x**2 + 1, 2), None),
    ("log2(1 + exp(x y))", sp.log(1 + E(x*y), 2), None),
    ("log2(x)", sp.log(x, 2), [{"x": R("0.3")}, {"x": 8}]),
    ("log(x^2 + 1, 10)", sp.log(x**2 + 1, 10), None),
    ("log(x^2 + 2, y^2 + 2)", sp.log(x**2 + 2)/sp.log(y**2 + 2), None),
    ("log(exp(x) + 1, 3)", sp.log(E(x) + 1, 3), None),
    ("exp2(x)", 2**x, None),
    ("exp2(x y) - y", 2**(x*y) - y, None),
    ("exp2(sin(x))", 2**S(x), None),
    ("cbrt(x)", -(-x)**R(1, 3), [{"x": R("-2.5")}, {"x": R("-0.4")}]),
    ("cbrt(x)", x**R(1, 3), [{"x": R("0.7")}, {"x": 8}]),
    ("cbrt(x^2 + y)", (x**2 + y)**R(1, 3), [{"x": R("0.5"), "y": 2}]),
    ("cbrt(x - 3)", -(3 - x)**R(1, 3), [{"x": R("0.5")}]),
    ("sec(x)", sp.sec(x), [{"x": R("0.3")}, {"x": R("-1.2")}]),
    ("sec(x y)", sp.sec(x*y), [{"x": R("0.5"), "y": R("0.6")}]),
    ("sec(x)^2 - x tan(x)", sp.sec(x)**2 - x*sp.tan(x), [{"x": R("0.9")}]),
    ("csc(x)", sp.csc(x), [{"x": R("0.3")}, {"x": 2}]),
    ("csc(x + y)", sp.csc(x + y), [{"x": R("0.5"), "y": R("0.6")}]),
    ("x csc(x^2)", x*sp.csc(x**2), [{"x": R("1.1")}]),
    ("cot(x)", sp.cot(x), [{"x": R("0.3")}, {"x": 2}]),
    ("cot(x y)", sp.cot(x*y), [{"x": R("0.5"), "y": R("1.6")}]),
    ("cot(x)^2 + 1", sp.cot(x)**2 + 1, [{"x": R("-1.1")}]),
    ("erf(x)", sp.erf(x), None),
    ("erf(x y) + erf(y)", sp.erf(x*y) + sp.erf(y), None),
    ("erf(x/sqrt(2))/2 + 1/2", sp.erf(x/sp.sqrt(2))/2 + R(1, 2), None),
    ("erfc(x)", sp.erfc(x), [{"x": R("0.4")}, {"x": 4}]),
    ("erfc(x^2 - y)", sp.erfc(x**2 - y), None),
    ("ln(erfc(x))", L(sp.erfc(x)), [{"x": R("0.5")}]),
    ("sign(x) x^2", SG(x)*x**2, [{"x": R("-1.5")}, {"x": R("0.7")}]),
    ("sign(x - y) + x y", SG(x - y) + x*y, [{"x": 1, "y": 2}]),
    ("sign(sin(x)) cos(x)", SG(S(x))*C(x), [{"x": R("-1")}]),
    ("step(x) x", H(x)*x, [{"x": R("-1.5")}, {"x": R("0.7")}]),
    ("step(x y - 1) exp(x)", H(x*y - 1)*E(x), [{"x": 2, "y": 1}]),
    ("heaviside(x) sin(x)", H(x)*S(x), [{"x": R("0.4")}, {"x": R("-0.4")}]),
    ("x^2 step(1 - x)", x**2*H(1 - x), [{"x": R("0.5")}]),
    ("floor(x) x", sp.floor(x)*x, [{"x": R("2.5")}, {"x": R("-1.3")}]),
    ("floor(x y) + y^2", sp.floor(x*y) + y**2, [{"x": R("1.5"), "y": R("1.5")}]),
    ("floor(2x)^2 + x", sp.floor(2*x)**2 + x, [{"x": R("0.7")}]),
    ("ceil(x) x", sp.ceiling(x)*x, [{"x": R("2.5")}, {"x": R("-1.3")}]),
    ("ceil(x + y) y", sp.ceiling(x + y)*y, [{"x": R("1.5"), "y": R("0.2")}]),
    ("ceil(x/2) + x^3", sp.ceiling(x/2) + x**3, [{"x": R("0.7")}]),
    ("atan2(y, x)", sp.atan2(y, x), [{"y": 1, "x": 2}, {"y": R("0.5"), "x": R("-1.5")},
                                     {"y": R("-0.5"), "x": R("-1.5")}]),
    ("atan2(x y, x + y)", sp.atan2(x*y, x + y), None),
    ("atan2(sin(x), cos(y))", sp.atan2(S(x), C(y)), None),
    ("arctan2(y^2 + 1, x)", sp.atan2(y**2 + 1, x), None),
    ("hypot(x, y)", sp.sqrt(x**2 + y**2), None),
    ("hypot(x y, 1)", sp.sqrt((x*y)**2 + 1), None),
    ("hypot(sin(x), z)", sp.sqrt(S(x)**2 + z**2), None),
    ("arcsin(x/2)", sp.asin(x/2), None),
    ("arccos(x/3)", sp.acos(x/3), None),
    ("arctan(x y)", sp.atan(x*y), None),
]

REQUIRED = (["binary +", "binary -", "binary −", "*", "/", "^", "**", "unary -",
             "unary −", "superscript", "implicit after number", "implicit after )",
             "implicit after superscript", "implicit between spaced factors", "·", "×",
             "const pi", "const π", "const e", "unicode identifier", "let ;",
             "let newline"]
            + ["fn " + f for f in FUNCS1 + FUNCS2])
REQUIRED_FUNCTIONS = [("fn " + f, 3) for f in NEW_FUNCS] + [("fn " + f, 1) for f in ALIASES]

# ---------------------------------------------------------------------------
# Random expression trees.
# Nodes: ("var", name) ("num", text) ("const", name) ("neg", t)
#        ("bin", op, t1, t2)  op in + - * /
#        ("powi", t, n)       constant integer exponent
#        ("pow", t1, t2)      general power
#        ("f1", name, t) ("f2", name, t1, t2)  name in max, min

VAR_POOLS = [["x", "y", "z", "w"], ["a", "b", "c", "d"], ["θ", "α", "β", "γ"],
             ["x1", "x2", "x3", "x4"], ["u_1", "u_2", "v_1", "v_2"]]
NUMS = ["2", "3", "0.5", "1.5", "2.5", "0.25", "4", "1"]


def gen_tree(rng, names, depth):
    if depth == 0 or rng.random() < 0.12:
        r = rng.random()
        if r < 0.72:
            return ("var", rng.choice(names))
        if r < 0.93:
            return ("num", rng.choice(NUMS))
        return ("const", rng.choice(["pi", "π", "e"]))
    r = rng.random()
    d = depth - 1
    if r < 0.40:
        op = rng.choice("++--**/")
        return ("bin", op, gen_tree(rng, names, d), gen_tree(rng, names, d))
    if r < 0.45:
        return ("neg", gen_tree(rng, names, d))
    if r < 0.55:
        return ("powi", gen_tree(rng, names, d), rng.choice([2, 2, 2, 3, 3, -1, -2, 4]))
    if r < 0.58:
        return ("pow", gen_tree(rng, names, d), gen_tree(rng, names, d))
    if r < 0.93:
        return ("f1", rng.choice(FUNCS1), gen_tree(rng, names, d))
    return ("f2", rng.choice(["max", "min"]), gen_tree(rng, names, d), gen_tree(rng, names, d))


def tree_vars(t):
    if t[0] == "var":
        return {t[1]}
    return set().union(*[tree_vars(s) for s in t[1:] if isinstance(s, tuple)])


def tree_size(t):
    return 1 + sum(tree_size(s) for s in t[1:] if isinstance(s, tuple))


def tree_to_sympy(t):
    k = t[0]
    if k == "var":
        return sym(t[1])
    if k == "num":
        return sp.Rational(t[1])
    if k == "const":
        return CONSTS[t[1]]
    if k == "neg":
        return -tree_to_sympy(t[1])
    if k == "bin":
        p, q = tree_to_sympy(t[2]), tree_to_sympy(t[3])
        return {"+": p + q, "-": p - q, "*": p * q, "/": p / q}[t[1]]
    if k == "powi":
        return tree_to_sympy(t[1]) ** sp.Integer(t[2])
    if k == "pow":
        return tree_to_sympy(t[1]) ** tree_to_sympy(t[2])
    if k == "f1":
        return SP_FUNCS1[t[1]](tree_to_sympy(t[2]))
    if k == "f2":
        return SP_FUNCS2[t[1]](tree_to_sympy(t[2]), tree_to_sympy(t[3]))
    raise AssertionError(t)


def sup_text(n):
    inv = {v: k for k, v in SUPERSCRIPTS.items()}
    return "".join(inv[ch] for ch in str(n))


def print_tree(rng, t):
    """Return (text, kind).  kind: 'atom' (identifier/constant), 'num',
    'call' (f(...)), 'group' (parenthesized), 'sup' (atom or group followed by
    a superscript, unparenthesized)."""
    k = t[0]
    if k == "var":
        return t[1], "atom"
    if k == "const":
        return t[1], "atom"
    if k == "num":
        return t[1], "num"

    def operand(sub, allow_sup=True):
        s, kind = print_tree(rng, sub)
        if kind == "sup" and not allow_sup:
            return "(" + s + ")", "group"
        return s, kind

    def inner(sub):  # as the whole argument of a call or a group
        s, kind = print_tree(rng, sub)
        return s[1:-1] if kind == "group" else s

    sp_ = rng.choice([" ", ""])
    if k == "neg":
        s, _ = operand(t[1], allow_sup=False)
        return "(" + rng.choice(["-", "-", "−"]) + s + ")", "group"
    if k == "bin":
        op = t[1]
        ls, lk = operand(t[2])
        rs, rk = operand(t[3])
        if op == "+":
            return "(" + ls + sp_ + "+" + sp_ + rs + ")", "group"
        if op == "-":
            return "(" + ls + sp_ + rng.choice(["-", "-", "−"]) + sp_ + rs + ")", "group"
        if op == "/":
            return "(" + ls + sp_ + "/" + sp_ + rs + ")", "group"
        # multiplication: explicit or, where the contract allows it, implicit
        implicit = None
        r_starts_e = rs.startswith("e")
        if lk == "num" and rk in ("atom", "call", "group") and not r_starts_e:
            implicit = rng.choice(["", " "])
        elif lk == "group" and rk == "group":
            implicit = ""
        elif lk == "atom" and rk in ("atom", "call"):
            implicit = " "
        elif lk == "sup" and rk == "atom":
            implicit = rng.choice(["", " "])
        choices = ["*", "·", "×"] + ([None, None] if implicit is not None else [])
        m = rng.choice(choices)
        if m is None:
            return "(" + ls + implicit + rs + ")", "group"
        return "(" + ls + sp_ + m + sp_ + rs + ")", "group"
    if k == "powi":
        n = t[2]
        bs, bk = operand(t[1], allow_sup=False)
        style = rng.choice(["^", "**", "sup", "sup", "pow"])
        if style == "sup" and bk in ("atom", "group"):
            return bs + sup_text(n), "sup"
        if style == "pow":
            return "pow(" + inner(t[1]) + ", " + str(n) + ")", "call"
        ns = str(n) if n > 0 else "(" + str(n) + ")"
        return "(" + bs + rng.choice(["^", "**"]) + ns + ")", "group"
    if k == "pow":
        if rng.random() < 0.5:
            return "pow(" + inner(t[1]) + ", " + inner(t[2]) + ")", "call"
        bs, _ = operand(t[1], allow_sup=False)
        es, _ = operand(t[2], allow_sup=False)
        return "(" + bs + rng.choice(["^", "**"]) + es + ")", "group"
    if k == "f1":
        return t[1] + "(" + inner(t[2]) + ")", "call"
    if k == "f2":
        return t[1] + "(" + inner(t[2]) + ", " + inner(t[3]) + ")", "call"
    raise AssertionError(t)


class Reject(Exception):
    pass


def mp_eval_tree(t, pt):
    """Evaluate a tree at 30 digits, enforcing domain margins and the bound on
    intermediate values (what a float evaluator will go through)."""
    k = t[0]
    if k in ("var", "num", "const"):
        val = tree_to_sympy(t).evalf(DIGITS, subs=pt)
    else:
        args = [mp_eval_tree(s, pt) for s in t[1:] if isinstance(s, tuple)]
        if k == "bin" and t[1] == "/" and abs(args[1]) <= KINK:
            raise Reject("division near 0")
        if k == "powi" and t[2] < 0 and abs(args[0]) <= KINK:
            raise Reject("negative power near 0")
        if k == "pow" and args[0] <= KINK:
            raise Reject("pow base not positive")
        if k == "f1":
            name, u = t[1], args[0]
            if name in ("ln", "log", "sqrt") and u <= KINK:
                raise Reject(name + " domain")
            if name in ("asin", "acos") and abs(u) >= 0.9:
                raise Reject(name + " domain")
            if name == "tan" and abs(sp.cos(u)) <= KINK:
                raise Reject("tan pole")
            if name in ("abs", "relu") and abs(u) <= KINK:
                raise Reject(name + " kink")
        if k == "f2" and abs(args[0] - args[1]) <= KINK:
            raise Reject("max/min kink")
        val = tree_to_sympy(t).evalf(DIGITS, subs=pt)
    if not (val.is_real and val.is_finite) or abs(val) > INTER_LIMIT:
        raise Reject("intermediate value")
    return val


# ---------------------------------------------------------------------------
# Checks on a SymPy expression, localization of non-smooth functions,
# evaluation.

def num(e, pt):
    val = sp.sympify(e).evalf(DIGITS, subs=pt)
    if not val.is_number or val.has(sp.I, sp.zoo, sp.oo, sp.nan) or not val.is_real:
        raise Reject("not real")
    return val


def check_domains(expr, pt):
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow):
            base, ex = node.args
            bv = num(base, pt)
            if ex.is_Integer:
                if ex < 0 and abs(bv) <= KINK:
                    raise Reject("negative power near 0")
            elif bv <= KINK:
                raise Reject("non-integer power of non-positive base")
        elif isinstance(node, sp.log):
            if num(node.args[0], pt) <= KINK:
                raise Reject("log domain")
        elif isinstance(node, (sp.asin, sp.acos)):
            if abs(num(node.args[0], pt)) >= 0.9:
                raise Reject("asin/acos domain")
        elif isinstance(node, (sp.tan, sp.sec)):
            if abs(num(sp.cos(node.args[0]), pt)) <= KINK:
                raise Reject("tan/sec pole")
        elif isinstance(node, (sp.cot, sp.csc)):
            if abs(num(sp.sin(node.args[0]), pt)) <= KINK:
                raise Reject("cot/csc pole")
        elif isinstance(node, sp.acosh):
            if num(node.args[0], pt) <= 1 + KINK:
                raise Reject("acosh domain")
        elif isinstance(node, sp.atanh):
            if abs(num(node.args[0], pt)) >= 0.9:
                raise Reject("atanh domain")
        elif isinstance(node, sp.atan2):
            if abs(num(node.args[0], pt)) <= KINK and num(node.args[1], pt) <= KINK:
                raise Reject("atan2 branch cut")


def localize(expr, pt, notes):
    """Replace Abs, Max, Min by the branch that is active at pt, after
    checking that pt is more than KINK away from the kink.  Near pt the
    result equals expr, so its derivatives are the classical ones."""
    if not expr.args:
        return expr
    args = [localize(arg, pt, notes) for arg in expr.args]
    if isinstance(expr, sp.Abs):
        u = num(args[0], pt)
        if abs(u) <= KINK:
            raise Reject("abs kink")
        notes.add("Abs")
        return args[0] if u > 0 else -args[0]
    if isinstance(expr, (sp.Max, sp.Min)):
        vals = sorted(((num(arg, pt), i) for i, arg in enumerate(args)),
                      reverse=isinstance(expr, sp.Max))
        if abs(vals[0][0] - vals[1][0]) <= KINK:
            raise Reject("max/min kink")
        notes.add(type(expr).__name__)
        return args[vals[0][1]]
    if isinstance(expr, (sp.sign, sp.Heaviside, sp.floor, sp.ceiling)):
        # Piecewise constant: near pt it is its value at pt, once pt is more
        # than KINK from a jump (0 for sign and step, the integers for
        # floor and ceil).
        u = float(num(args[0], pt))
        if isinstance(expr, (sp.sign, sp.Heaviside)):
            if abs(u) <= KINK:
                raise Reject("step kink")
        elif abs(u - round(u)) <= KINK:
            raise Reject("floor/ceil jump")
        notes.add(type(expr).__name__)
        if isinstance(expr, sp.sign):
            return sp.Integer(1 if u > 0 else -1)
        if isinstance(expr, sp.Heaviside):
            return sp.Integer(1 if u > 0 else 0)
        return sp.Integer(math.floor(u) if isinstance(expr, sp.floor) else math.ceil(u))
    if isinstance(expr, (sp.DiracDelta, sp.Piecewise)):
        raise AssertionError(f"unexpected {type(expr).__name__} in {expr}")
    return expr.func(*args)


def to_float(e, pt):
    # Points are rationals, so an exact zero (the Rosenbrock value and
    # gradient at (1, 1)) is recognized exactly; evalf would return noise
    # such as 1e-229 for it.
    if sp.sympify(e).subs(pt).is_zero:
        return 0.0
    val = num(e, pt)
    f = float(val)
    if f != f or abs(f) > LIMIT:
        raise Reject("too large or NaN")
    if isinstance(val, sp.Float) and val._prec < 60:
        # evalf found no significant digit: it could only bound |val| (by
        # 1e-160 or less in practice), which is what it returns for exact
        # zeros such as the Rosenbrock gradient at (1, 1).  Real tiny values
        # (e.g. 1e-144 from sech^2 of a large argument) keep full precision.
        if abs(val) > 1e-100:
            raise AssertionError(f"evalf lost precision: {val!r}")
        return 0.0
    return f


def compute(formula, expr, names, point):
    """point: name -> Rational.  Returns the JSON record (without id) or
    raises Reject."""
    pt = {sym(n): point[n] for n in names}
    check_domains(expr, pt)
    notes = set()
    local = localize(expr, pt, notes)
    syms = [sym(n) for n in names]
    value = to_float(local, pt)
    grads = [sp.diff(local, s) for s in syms]
    gradient = [to_float(g, pt) for g in grads]
    hessian = [[to_float(sp.diff(g, s), pt) for s in syms] for g in grads]
    for i in range(len(syms)):
        for j in range(i):
            hi, hj = hessian[i][j], hessian[j][i]
            if abs(hi - hj) > 1e-12 * max(1.0, abs(hi)):
                raise AssertionError(f"asymmetric Hessian for {formula}")
    # consistency: an independent reading of the text gives the same value
    p = CheckParser(formula)
    check_expr = p.program()
    if p.vars != names:
        raise AssertionError(f"vars {p.vars} != {names} for {formula!r}")
    cv = float(num(localize(check_expr, pt, set()), pt))
    if abs(cv - value) > 1e-12 * max(1.0, abs(value)):
        raise AssertionError(f"check parser disagrees on {formula!r}: {cv} vs {value}")
    return {
        "formula": formula,
        "vars": names,
        "point": {n: float(point[n]) for n in names},
        "value": value,
        "gradient": gradient,
        "hessian": hessian,
        "sympy": str(expr),
    }


def draw_point(rng, names):
    pt = {}
    for n in names:
        k = 0
        while abs(k) < 5:
            k = rng.randint(-200, 200)
        pt[n] = sp.Rational(k, 100)
    return pt


def hand_cases(cases, rng, records, seen, feat):
    """Appends the records of hand-written cases, drawing the points of
    those without fixed ones from rng."""
    for formula, expr, points in cases:
        names = free_vars_in_order(formula)
        p = CheckParser(formula)
        p.program()
        feat.update(p.feat)
        for fixed in (points or [None]):
            for attempt in range(2000):
                if fixed is not None:
                    point = {n: sp.Rational(fixed[n]) for n in names}
                else:
                    point = draw_point(rng, names)
                try:
                    rec = compute(formula, expr, names, point)
                    break
                except Reject as r:
                    if fixed is not None:
                        raise AssertionError(f"fixed point rejected for {formula!r}: {r}")
            else:
                raise AssertionError(f"no valid point found for {formula!r}")
            rec["kind"] = "hand"
            records.append(rec)
            seen.add((formula, json.dumps(rec["point"])))


def main():
    rng = random.Random(SEED)
    records = []
    seen = set()
    feat = Counter()

    # hand-written cases
    hand_cases(HAND, rng, records, seen, feat)

    missing = [f"{r} ({feat[r]})" for r in REQUIRED if feat[r] < 3]
    if missing:
        raise SystemExit("hand-written coverage below 3 for: " + ", ".join(missing))
    n_hand = len(records)

    # random cases
    rejects = Counter()
    n_random = 0
    while n_random < N_RANDOM:
        pool = rng.choice(VAR_POOLS)
        nv = 1 + n_random % 4  # equal shares of 1, 2, 3 and 4 variables
        names_pool = pool[:nv]
        depth = rng.choice([2, 3, 3, 4, 4, 5, 5])
        tree = gen_tree(rng, names_pool, depth)
        if tree_size(tree) < 3:
            rejects["fewer than 3 nodes"] += 1
            continue
        if tree_vars(tree) != set(names_pool):
            rejects["does not use all chosen variables"] += 1
            continue
        text, kind = print_tree(rng, tree)
        if kind == "group":
            text = text[1:-1]
        try:
            expr = tree_to_sympy(tree)
            names = free_vars_in_order(text)
        except (ValueError, TypeError):
            # e.g. Max(acos(-5/2), x): SymPy refuses a non-real constant
            rejects["SymPy refused a constant subexpression"] += 1
            continue
        if not names:
            rejects["no variables"] += 1
            continue
        if not expr.free_symbols:
            rejects["constant after sympy evaluation"] += 1
            continue
        if sp.count_ops(expr) > 80:
            rejects["too large"] += 1
            continue
        rec = None
        for attempt in range(40):
            point = draw_point(rng, names)
            pt = {sym(n): point[n] for n in names}
            try:
                mp_eval_tree(tree, pt)
                rec = compute(text, expr, names, point)
                break
            except Reject as r:
                rejects[str(r)] += 1
        if rec is None:
            rejects["formula redrawn"] += 1
            continue
        key = (text, json.dumps(rec["point"]))
        if key in seen:
            continue
        seen.add(key)
        rec["kind"] = "random"
        records.append(rec)
        n_random += 1

    # hand-written cases of the functions added later, after the random ones
    # so that the earlier cases keep their ids and points
    n_before = len(records)
    feat_new = Counter()
    hand_cases(HAND_FUNCTIONS, rng, records, seen, feat_new)
    missing = [f"{r} ({feat_new[r]})" for r, k in REQUIRED_FUNCTIONS if feat_new[r] < k]
    if missing:
        raise SystemExit("coverage of the later functions too low for: " + ", ".join(missing))
    n_hand += len(records) - n_before

    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for i, rec in enumerate(records):
            out = {"id": i}
            out.update(rec)
            f.write(json.dumps(out, ensure_ascii=False, allow_nan=False) + "\n")

    print(f"wrote {len(records)} cases ({n_hand} hand-written, {n_random} random) to {OUT}")
    print("hand-written feature coverage (occurrences):")
    for r in REQUIRED:
        print(f"  {r:36s} {feat[r]}")
    print("random rejections:", dict(sorted(rejects.items())))


if __name__ == "__main__":
    main()
