"""Random differentiable straight-line programs for adcompiler's property tests.

`generate(chooser)` builds one program: a module (NumPy, math, a float constant, global arrays,
helper functions) and a scalar-valued function `f` in it, together with the argument values it is
to be called with. Every intermediate is evaluated while the program is built (with Python's own
semantics, by `eval` in the module's namespace), so the generator knows every value and keeps the
program differentiable at those arguments:

* domains: logs, square roots, non-integer powers and divisions only see operands that are safely
  inside their domain (`np.log(1.0 + a * a)`, `b ** e` for b >= 0.2, ...);
* magnitudes: every intermediate stays within `BOUND`, so finite differences are well conditioned;
* kinks: `np.maximum`, `np.minimum`, `np.clip`, `np.abs`, masks of `np.where` and max/min
  reductions are only used where the operands are at least `MARGIN` from the kink (or exactly on
  it, a structural tie such as `np.maximum(a, a)`: the tests detect the non-smooth ones by
  comparing one-sided finite differences).

What a program holds (each a feature name in FEATURES, recorded in `Program.features`): scalar
and array parameters of shapes (), (n,), (m, n), (m, 1), (1, n) (scalars as Python floats, NumPy
scalars or 0-d arrays; sometimes an int parameter), arithmetic with broadcasting and Python
constants, negations in many positions, powers, np/math functions within their domains, maximum,
minimum, clip (with array bounds too), where with masks, reductions with axis/keepdims, @ / dot /
outer, transposes, reshapes, indexing (ints, slices, None, integer arrays, masks, indices computed
from shapes), concatenate/stack, creation functions, helper functions (called twice, returning
tuples, with keywords and defaults, calling each other, with names that clash with the caller's),
tuple unpacking and swaps, reassignment, augmented assignment (also of arrays that another name
shares, on lines marked SHARED), a module float constant C0 and global arrays. The result is a sum
of `np.sin(value) * W`-like terms with fixed global weights W of each value's shape.

`python tests/program_generator.py SEED` prints the program of a seed.

Choices are made through a `Chooser` (`integer(lo, hi)`), which the tests back with Hypothesis
(`data.draw(st.integers(lo, hi))`), so examples shrink: the first option of every choice is the
simplest. Features can be left out by name (`exclude`), which helps hunting for a second bug while a
first one is unfixed.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

SHARED = "# updates an array another name shares"   # marks an in-place update adcompiler may refuse
MARGIN = 1e-2   # distance kept from kinks (finite differences move intermediates by far less)
BOUND = 25.0    # largest magnitude of an intermediate
MAX_SIZE = 36   # largest number of elements of an intermediate

FEATURES = ("binary", "power", "neg", "unary", "math", "minmax", "where", "reduce", "matmul",
            "transpose", "reshape", "index", "fancy_index", "mask_index", "concat", "stack",
            "helper", "tuple", "augassign", "shape_unpack", "int_param", "global_array",
            "constant", "inline", "reassign", "annotated", "create", "int_index", "clip_arrays",
            "alias", "scalar_kinds", "keyword_call", "general", "sign", "helper_default",
            "numpy_constant")


class Chooser:
    """Where the choices come from: `integer(lo, hi)` (inclusive), shrinking towards `lo`."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, options):
        options = list(options)
        return options[self.integer(0, len(options) - 1)]

    def coin(self, percent: int) -> bool:
        """True with about `percent`% probability (False when shrunk)."""
        return self.integer(0, 99) >= 100 - percent


class RandomChooser(Chooser):
    """Choices from a NumPy generator (for scripts; the tests use Hypothesis)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def integer(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))


@dataclass
class Program:
    source: str                 # the whole module
    name: str                   # the function to differentiate
    args: list                  # the values to call it with
    wrt: tuple                  # positions of the float parameters
    features: set = field(default_factory=set)
    general: bool = False       # first call with another pattern of length-1 axes (so the checked
                                # call runs the specialisation that broadcasts at run time)

    def __repr__(self):
        return str(self)

    def call_text(self) -> str:
        return f"{self.name}({', '.join(literal(a) for a in self.args)})"

    def __str__(self):
        return f"{self.source}\n# called as {self.call_text()}, wrt={self.wrt}\n"


def literal(value) -> str:
    """Python source that evaluates to `value` exactly (floats by repr, arrays by np.array)."""
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, np.floating):
        return f"np.float64({float(value)!r})"
    return repr(value)


class Reject(Exception):
    """The candidate operation does not fit (shape, domain, magnitude or kink)."""


def _broadcast(*shapes):
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        return None
    return shape if len(shape) <= 2 and math.prod(shape) <= MAX_SIZE else None


def _matmul_shape(a, b):
    if len(a) == 0 or len(b) == 0:
        return None
    if len(a) == 1 and len(b) == 1:
        return () if a == b else None
    if len(a) == 2 and len(b) == 1:
        return (a[0],) if a[1] == b[0] else None
    if len(a) == 1 and len(b) == 2:
        return (b[1],) if a[0] == b[0] else None
    return (a[0], b[1]) if a[1] == b[0] else None


def _far_from_zero(d) -> bool:
    """Every element of `d` at least MARGIN from zero, or exactly zero (a structural tie)."""
    d = np.abs(np.asarray(d, dtype=np.float64))
    return bool(np.all((d >= MARGIN) | (d == 0.0)))


def _extremes_separated(x, axes) -> bool:
    """For max/min along `axes`: the largest and second largest (and the smallest and second
    smallest) of each reduced group are MARGIN apart, or exactly equal."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return True
    axes = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
    keep = [a for a in range(x.ndim) if a not in axes]
    groups = np.transpose(x, keep + list(axes)).reshape(int(np.prod([x.shape[a] for a in keep])), -1)
    s = np.sort(groups, axis=1)
    if s.shape[1] < 2:
        return True
    return _far_from_zero(s[:, -1] - s[:, -2]) and _far_from_zero(s[:, 1] - s[:, 0])


class Generator:
    """Builds one program from the choices of `chooser`."""

    def __init__(self, chooser: Chooser, exclude=(), max_statements=10, name="f"):
        self.c = chooser
        self.exclude = set(exclude)
        unknown = self.exclude - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        self.max_statements = max_statements
        self.name = name
        self.ns = {"np": np, "math": math}       # the module's namespace, with the locals of f
        self.module_lines = []                   # module-level statements after the imports
        self.lines = []                          # the body of f
        self.vars = {}                           # live float names of f: name -> value
        self.ints = {}                           # live int names: name -> value
        self.order = []                          # names by recency (last: most recent)
        self.protected = []                      # objects that must not be changed in place
        self.features = set()
        self.counter = 0
        self.inline = None                       # (expression, value) waiting to be used once
        self.helpers = []                        # dicts: name, params, results, default
        self.used = set()                        # names read by some operation
        self.arrays = 0                          # arrays of random values made so far

    # ------------------------------------------------------------ small utilities

    def on(self, feature) -> bool:
        return feature not in self.exclude

    def fresh(self, prefix="t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def evaluate(self, expression):
        with np.errstate(all="raise"):
            try:
                value = eval(expression, self.ns)
            except (FloatingPointError, ZeroDivisionError, OverflowError, ValueError) as error:
                raise Reject(str(error)) from None
        return self.checked(value)

    def checked(self, value):
        if isinstance(value, tuple):
            return tuple(self.checked(v) for v in value)
        array = np.asarray(value)
        if array.dtype.kind != "f" or array.ndim > 2 or array.size > MAX_SIZE or array.size == 0:
            raise Reject("not a small float array")
        if not np.all(np.isfinite(array)) or np.max(np.abs(array)) > BOUND:
            raise Reject("too large")
        return value

    def constant(self) -> str:
        if self.on("constant") and self.c.coin(40):
            self.features.add("constant")
            return "C0"
        return self.c.choice(["2.0", "0.5", "1.5", "-0.75", "3.0", "0.25", "-2.0"])

    def global_array(self, shape) -> str:
        """A module-level array of `shape` (hidden argument of the compiled code)."""
        name = f"G{len([k for k in self.ns if k.startswith('G')])}"
        value = self.rng_values(shape)
        self.module_lines.append(f"{name} = {literal(np.asarray(value))}")
        self.ns[name] = np.asarray(value)
        self.protected.append(self.ns[name])
        return name

    def rng_values(self, shape):
        """Values in [-1.5, 1.5] with six decimals, from a drawn seed (one choice per array keeps
        the choice sequence short; Hypothesis would also favour tiny values if drawn one by one)."""
        self.arrays += 1   # two arrays from one seed still differ
        rng = np.random.default_rng([self.c.integer(0, 2**32 - 1), self.arrays])
        return np.round(rng.uniform(-1.5, 1.5, size=shape), 6)

    # ------------------------------------------------------------ operands

    def names(self, predicate=lambda v: True):
        return [n for n in self.order if n in self.vars and predicate(self.vars[n])]

    def operand(self, predicate=lambda v: True, allow_inline=True):
        """(expression, value) of a live value (most recent first) or of the pending inline
        expression, satisfying `predicate`."""
        if allow_inline and self.inline is not None and predicate(self.inline[1]) and self.c.coin(60):
            expression, value = self.inline
            self.inline = None
            return f"({expression})", value
        names = self.names(predicate)
        unused = [n for n in names if n not in self.used]
        if unused and self.c.coin(50):
            names = unused   # let every value flow somewhere
        if self.on("global_array") and self.c.coin(5):
            shape = self.c.choice(self.shapes())
            value = self.ns[self.global_array(shape)]
            if predicate(value):
                self.features.add("global_array")
                return self.module_lines[-1].split(" = ")[0], value
        if not names:
            raise Reject("no operand")
        index = self.c.integer(0, len(names) - 1)
        name = names[len(names) - 1 - index]
        self.used.add(name)
        return name, self.vars[name]

    def shapes(self):
        m, n = self.m, self.n
        return [(n,), (m, n), (), (m, 1), (1, n), (m,)]

    def paren(self, expression):
        return expression if expression.replace("_", "").isalnum() or expression.startswith("(") \
            else f"({expression})"

    # ------------------------------------------------------------ the program

    def generate(self) -> Program:
        c = self.c
        self.m = c.choice([3, 2, 4, 1])
        self.n = c.choice([2, 3, 4, 1])
        if self.m == self.n:
            self.n = self.m + 1
        constant = c.integer(-999, 999) / 1000.0 or 0.5
        if self.on("numpy_constant") and c.coin(10):   # a NumPy scalar, as np.float64() or np.sum() give
            self.module_lines.append(f"C0 = np.float64({constant!r})")
            self.ns["C0"] = np.float64(constant)
            self.features.add("numpy_constant")
        else:
            self.module_lines.append(f"C0 = {constant!r}")
            self.ns["C0"] = constant
        self.make_helpers()

        params, args = [], []
        for k in range(c.integer(1, 4)):
            name = "xyzw"[k]
            shape = c.choice([(), (self.n,), (self.m, self.n), (self.m, 1), (1, self.n)])
            value = self.rng_values(shape)
            if c.coin(30):
                value = np.round(np.abs(value) + 0.2, 6)   # some positive arguments, for logs and powers
            if shape == ():
                value = float(value)
                if self.on("scalar_kinds") and c.coin(15):
                    value = c.choice([np.float64(value), np.array(value)])
                    self.features.add("scalar_kinds")
            params.append(name)
            args.append(value)
            self.vars[name] = value
            self.order.append(name)
            self.ns[name] = value
            self.protected.append(value)
        wrt = tuple(range(len(params)))
        if self.on("int_param") and c.coin(15):
            params.append("k")
            args.append(c.integer(1, 3))
            self.ints["k"] = args[-1]
            self.ns["k"] = args[-1]
            self.features.add("int_param")

        operations = [self.op_binary, self.op_unary, self.op_binary, self.op_power, self.op_reduce,
                      self.op_matmul, self.op_helper, self.op_index, self.op_binary, self.op_unary,
                      self.op_neg, self.op_math, self.op_minmax, self.op_where, self.op_reduce,
                      self.op_matmul, self.op_transpose, self.op_reshape, self.op_index, self.op_concat,
                      self.op_helper, self.op_tuple, self.op_augassign, self.op_shape_unpack,
                      self.op_create, self.op_int_index, self.op_clip_arrays, self.op_alias,
                      self.op_sign, self.op_sign]
        statements = c.integer(min(3, self.max_statements), self.max_statements)
        for _ in range(statements):
            for attempt in range(6):
                op = c.choice(operations)
                try:
                    op()
                    break
                except Reject:
                    continue
        self.inline = None
        self.lines.append(f"    return {self.final()}")
        header = ["import math", "", "import numpy as np", ""]
        source = "\n".join(header + self.module_lines + [""] + self.helper_source + [""]
                           + [f"def {self.name}({', '.join(params)}):"] + self.lines) + "\n"
        general = self.on("general") and c.coin(40)
        return Program(source, self.name, args, wrt, self.features, general)

    def emit(self, expression, value, feature, target=None):
        """Assign (or keep inline, to be used once by the next operation)."""
        self.features.add(feature)
        if target is None and self.on("inline") and self.inline is None and self.c.coin(20):
            self.inline = (expression, value)
            self.features.add("inline")
            return
        if target is None:
            target = self.fresh()
            if self.on("reassign") and self.c.coin(15):
                candidates = [n for n in self.order if n in self.vars]
                if candidates:
                    target = self.c.choice(candidates[::-1])
                    self.features.add("reassign")
        if self.on("annotated") and self.c.coin(3) and np.ndim(value) == 0:
            self.lines.append(f"    {target}: float = {expression}")
            self.features.add("annotated")
        else:
            self.lines.append(f"    {target} = {expression}")
        self.bind(target, value)

    def bind(self, target, value):
        if self.inline is not None and re.search(rf"\b{target}\b", self.inline[0]):
            self.inline = None   # it read the old value of `target`
        self.ns[target] = value
        self.vars[target] = value
        if target in self.order:
            self.order.remove(target)
        self.order.append(target)

    def final(self) -> str:
        """The scalar result: weighted sums of the last values and of values never used."""
        names = self.names()
        last = names[-1]
        chosen = [last] + [n for n in names[:-1][::-1] if n not in self.used][:3]
        terms = []
        for k, name in enumerate(chosen):
            value = self.vars[name]
            shape = np.shape(value)
            if shape == ():
                weight = self.c.choice(["0.83", "-1.3", "C0"])
            else:
                weight = self.global_array(shape)
                weight_value = self.ns[weight]
                weight_value += (weight_value == 0) * 0.5  # no zero weights
                self.module_lines[-1] = f"{weight} = {literal(weight_value)}"
            form = self.c.choice(["np.sum(np.sin({r}) * {w})", "np.sum({r} * {w})",
                                  "np.mean(np.cos({r}) * {w})", "(np.tanh({r}) * {w}).sum()"])
            if shape == ():
                form = self.c.choice(["np.sin({r}) * {w}", "{r} * {w}", "np.cos({r}) * {w}"])
            terms.append(form.format(r=name, w=weight))
        return " + ".join(terms)

    # ------------------------------------------------------------ helpers (inlined by adcompiler)

    SMOOTH = ["np.tanh({u}) * {v}", "{u} * {v} + C0", "np.sin({u}) - {v} / (1.0 + {u} * {u})",
              "np.exp(np.tanh({u})) * {v}", "np.log(1.0 + {u} * {u}) + {v}", "np.sqrt(1.0 + {v} * {v}) * {u}",
              "np.cos({u} - {v})", "np.arctan({u}) * 2.0 - {v}", "{u} ** 2 - {v}", "np.tanh({u} + {v})",
              "np.sum({u} * {v}, axis=-1, keepdims=True)", "np.mean({u}) * {v}", "{u} * GH - {v}",
              "-{u} * np.tanh({v})"]
    HELPER_PARAMS = [("u", "v"), ("x", "t1"), ("y", "x"), ("t2", "u")]   # some are the caller's names too
    HELPER_LOCALS = [[f"s{j}" for j in range(8)], ["t1", "t2", "t3", "x", "y", "t4", "t5", "t6"],
                     ["z", "k", "t3", "w", "n1", "t9", "a", "b"]]

    def make_helpers(self):
        """Helper functions: smooth for every input, one or two results, parameter and local names
        shared with the caller (inlining must keep them apart), some with a default, the second
        sometimes calling the first."""
        self.helper_source = []
        if not self.on("helper"):
            return
        for k in range(self.c.integer(0, 2)):
            name = f"h{k}"
            params = list(self.c.choice(self.HELPER_PARAMS))
            default = self.on("helper_default") and self.c.coin(25)
            fresh = iter(n for n in self.c.choice(self.HELPER_LOCALS) if n not in params)
            body, local = [], list(params)
            for j in range(self.c.integer(1, 3)):
                u, v = self.c.choice(local[::-1]), self.c.choice(local)
                if k > 0 and self.c.coin(30):   # a helper calling the previous helper
                    other = self.helpers[-1]
                    targets = [next(fresh) for _ in range(other["results"])]
                    body.append(f"    {', '.join(targets)} = {other['name']}({u}, {v})")
                    local += targets
                    continue
                form = self.c.choice(self.SMOOTH)
                if "GH" in form and "GH" not in self.ns:
                    self.module_lines.append("GH = np.array(0.7071)")   # a 0-d global array
                    self.ns["GH"] = np.array(0.7071)
                    self.protected.append(self.ns["GH"])
                target = next(fresh) if self.c.coin(80) else self.c.choice(local)   # or rebind a name
                body.append(f"    {target} = {form.format(u=u, v=v)}")
                if target in local:
                    local.remove(target)
                local.append(target)
            results = self.c.integer(1, 2)
            returned = local[-results:]
            if self.c.coin(20):
                returned = [f"np.sum({returned[0]})"] + returned[1:]
            signature = f"{params[0]}, {params[1]}=0.5" if default else ", ".join(params)
            self.helper_source += [f"def {name}({signature}):"] + body + \
                                  [f"    return {', '.join(returned)}", "", ""]
            exec("\n".join(self.helper_source), self.ns)
            self.helpers.append(dict(name=name, params=params, results=len(returned), default=default))
            if default:
                self.features.add("helper_default")

    def op_helper(self):
        if not self.helpers:
            raise Reject("no helper")
        helper = self.c.choice(self.helpers)
        name, (p0, p1), results = helper["name"], helper["params"], helper["results"]
        a, av = self.operand()
        b, bv = self.operand(lambda v: _broadcast(np.shape(av), np.shape(v)) is not None)
        arguments = f"{a}, {b}"
        if self.on("keyword_call") and self.c.coin(20):
            arguments = self.c.choice([f"{a}, {p1}={b}", f"{p1}={b}, {p0}={a}"])
            self.features.add("keyword_call")
        if helper["default"] and self.c.coin(40):
            arguments = self.c.choice([f"{a}", f"{p0}={a}"])
        expression = f"{name}({arguments})"
        if results == 2 and self.c.coin(25):
            expression += self.c.choice(["[0]", "[1]", "[-1]"])   # one result of the tuple
            results = 1
        value = self.evaluate(expression)
        if results == 1:
            return self.emit(expression, value, "helper")
        self.features.add("helper")
        targets = [self.fresh() for _ in value]
        self.lines.append(f"    {', '.join(targets)} = {expression}")
        for t, v in zip(targets, value):
            self.bind(t, v)

    # ------------------------------------------------------------ operations

    def op_binary(self):
        if not self.on("binary"):
            raise Reject("off")
        a, av = self.operand()
        op = self.c.choice(["+", "*", "-", "/"])
        if self.c.coin(25):
            if self.ints and self.c.coin(50):
                b = self.c.choice(list(self.ints))
                bv = self.ints[b]
            else:
                b = self.constant()
                bv = self.evaluate(b)
        else:
            b, bv = self.operand(lambda v: _broadcast(np.shape(av), np.shape(v)) is not None)
        if op == "/" and not np.all(np.abs(bv) >= 0.2):
            b = f"(1.0 + {self.paren(b)} * {self.paren(b)})"
        if self.c.coin(25):
            a, b = b, a
            if op == "/" and not np.all(np.abs(self.evaluate(b)) >= 0.2):
                b = f"(1.0 + {self.paren(b)} * {self.paren(b)})"
        if self.c.coin(10):
            function = {"+": "np.add", "*": "np.multiply", "-": "np.subtract", "/": "np.divide"}[op]
            expression = f"{function}({a}, {b})"
        else:
            expression = f"{self.paren(a)} {op} {self.paren(b)}"
        self.emit(expression, self.evaluate(expression), "binary")

    def op_neg(self):
        if not self.on("neg"):
            raise Reject("off")
        a, _ = self.operand()
        expression = self.c.choice([f"-{self.paren(a)}", f"np.negative({a})", f"-{self.paren(a)} * 2.0",
                                    f"-{self.paren(a)} ** 2", f"2.0 - -{self.paren(a)}"])
        self.emit(expression, self.evaluate(expression), "neg")

    UNARY = [  # (form, domain check)
        ("np.sin({a})", None), ("np.cos({a})", None), ("np.tanh({a})", None), ("np.arctan({a})", None),
        ("np.exp(np.tanh({a}))", None), ("np.log(1.0 + {a} * {a})", None), ("np.sqrt(1.0 + {a} * {a})", None),
        ("np.exp({a})", lambda v: np.max(v) <= 2.5), ("np.log({a})", lambda v: np.min(v) >= 0.2),
        ("np.sqrt({a})", lambda v: np.min(v) >= 0.2), ("np.log1p({a} * {a})", None),
        ("np.expm1({a})", lambda v: np.max(np.abs(v)) <= 2.5), ("np.sinh({a})", lambda v: np.max(np.abs(v)) <= 3),
        ("np.cosh({a})", lambda v: np.max(np.abs(v)) <= 3), ("np.arcsin(0.5 * np.tanh({a}))", None),
        ("np.arccos(0.5 * np.tanh({a}))", None), ("np.abs({a})", lambda v: _far_from_zero(v)),
        ("np.log2(1.0 + {a} * {a})", None), ("np.log10(2.0 + {a})", lambda v: np.min(v) >= -1.5),
        ("np.exp2(np.tanh({a}))", None), ("np.reciprocal(1.0 + {a} * {a})", None),
        ("np.tan(0.5 * np.tanh({a}))", None), ("np.square({a})", None), ("np.absolute({a})", lambda v: _far_from_zero(v)),
        ("np.sin({a}) * np.cos({a})", None), ("1.0 / (1.0 + np.exp(-{a}))", lambda v: np.max(np.abs(v)) <= 10),
    ]

    def op_unary(self):
        if not self.on("unary"):
            raise Reject("off")
        a, av = self.operand()
        form, domain = self.c.choice(self.UNARY)
        if domain is not None and not domain(np.asarray(av)):
            raise Reject("domain")
        expression = form.format(a=self.paren(a) if "{a} *" in form or "-{a}" in form else a)
        self.emit(expression, self.evaluate(expression), "unary")

    MATH = [("math.sin({a})", None), ("math.cos({a})", None), ("math.tanh({a})", None),
            ("math.exp(math.tanh({a}))", None), ("math.log(1.0 + {a} * {a})", None),
            ("math.sqrt(1.0 + {a} * {a})", None), ("math.atan({a})", None),
            ("abs({a})", lambda v: _far_from_zero(v)), ("math.fabs({a})", lambda v: _far_from_zero(v)),
            ("math.log({a})", lambda v: v >= 0.2), ("math.sqrt({a})", lambda v: v >= 0.2),
            ("math.exp({a})", lambda v: v <= 2.5), ("math.pow({a}, 2.0)", None),
            ("math.pow(1.0 + {a} * {a}, C0)", None), ("math.log1p({a} * {a})", None),
            ("math.expm1({a})", lambda v: abs(v) <= 2.5), ("math.asin(0.5 * math.tanh({a}))", None),
            ("math.acos(0.5 * math.tanh({a}))", None), ("math.sinh({a})", lambda v: abs(v) <= 3),
            ("math.cosh({a})", lambda v: abs(v) <= 3), ("math.log2(1.0 + {a} * {a})", None),
            ("math.log10(1.0 + {a} * {a})", None), ("math.tan(0.5 * math.tanh({a}))", None),
            ("float({a})", None)]

    def op_math(self):
        if not self.on("math"):
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) == 0)
        form, domain = self.c.choice(self.MATH)
        if domain is not None and not domain(float(av)):
            raise Reject("domain")
        expression = form.format(a=self.paren(a))
        self.emit(expression, self.evaluate(expression), "math")

    def op_power(self):
        if not self.on("power"):
            raise Reject("off")
        a, av = self.operand()
        kind = self.c.integer(0, 6)
        if kind == 0:
            expression = f"{self.paren(a)} ** {self.c.choice(['2', '3', '2.0', '1'])}"
        elif kind == 1:
            expression = f"np.power({a}, {self.c.choice(['2', '3.0'])})"
        elif kind == 2 and self.ints:
            expression = f"{self.paren(a)} ** {self.c.choice(list(self.ints))}"
        elif kind == 3 and np.all(np.abs(av) >= 0.3):
            expression = f"{self.paren(a)} ** {self.c.choice(['-1', '-2'])}"
        elif kind == 4:   # positive base, variable exponent
            e, ev = self.operand(lambda v: _broadcast(np.shape(av), np.shape(v)) is not None
                                 and np.max(np.abs(v)) <= 2.5)
            base = a if np.min(av) >= 0.2 else f"(1.0 + {self.paren(a)} * {self.paren(a)})"
            expression = self.c.choice([f"{self.paren(base)} ** {self.paren(e)}", f"np.power({base}, {e})"])
        elif kind == 5:   # constant exponent, positive base
            base = a if np.min(av) >= 0.2 else f"(1.0 + {self.paren(a)} * {self.paren(a)})"
            expression = f"{self.paren(base)} ** {self.c.choice(['0.5', '1.5', '-0.5', 'C0', '2.5'])}"
        else:             # constant base, variable exponent
            if np.max(np.abs(av)) > 2.5:
                raise Reject("exponent")
            expression = f"{self.c.choice(['2.0', '0.5', '1.7'])} ** {self.paren(a)}"
        self.emit(expression, self.evaluate(expression), "power")

    def op_minmax(self):
        if not self.on("minmax"):
            raise Reject("off")
        a, av = self.operand()
        kind = self.c.integer(0, 3)
        if kind <= 1:
            function = "np.maximum" if kind == 0 else "np.minimum"
            if self.c.coin(50):
                b, bv = self.operand(lambda v: _broadcast(np.shape(av), np.shape(v)) is not None)
            else:
                b = self.c.choice(["0.0", "0.5", "-0.3", "C0"])
                bv = self.evaluate(b)
            if not _far_from_zero(np.asarray(av) - np.asarray(bv)):
                raise Reject("kink")
            expression = f"{function}({a}, {b})" if self.c.coin(70) else f"{function}({b}, {a})"
        else:
            lo, hi = self.c.choice([(-0.5, 0.5), (0.0, 1.0), (-1.0, 0.25), (None, None)])
            if lo is None:   # bounds inside the data's range: some clipped, some not
                low, high = float(np.min(av)), float(np.max(av))
                lo, hi = round(low + 0.3 * (high - low), 2), round(low + 0.8 * (high - low), 2)
                if not lo < hi:
                    lo, hi = round(low - 0.5, 2), round(low + 0.5, 2)
            if not (_far_from_zero(np.asarray(av) - lo) and _far_from_zero(np.asarray(av) - hi)):
                raise Reject("kink")
            if kind == 2 or np.ndim(av) == 0 or a.startswith("("):
                expression = f"np.clip({a}, {lo}, {hi})"
            else:
                expression = f"{a}.clip({lo}, {hi})"
        self.emit(expression, self.evaluate(expression), "minmax")

    def op_where(self):
        if not self.on("where"):
            raise Reject("off")
        m, mv = self.operand(allow_inline=False)
        if self.c.coin(50):
            t = self.c.choice(["0.0", "0.5", "-0.25", "C0"])
            tv = self.evaluate(t)
        else:
            t, tv = self.operand(lambda v: _broadcast(np.shape(mv), np.shape(v)) is not None, allow_inline=False)
        if not _far_from_zero(np.asarray(mv) - np.asarray(tv)):
            raise Reject("kink")
        comparison = f"{m} {self.c.choice(['>', '<', '>=', '<='])} {t}"
        mask_shape = np.broadcast_shapes(np.shape(mv), np.shape(tv))
        a, av = self.operand(lambda v: _broadcast(mask_shape, np.shape(v)) is not None)
        if self.c.coin(30):
            b, bv = self.c.choice(["0.0", "1.0", "C0"]), None
            bv = self.evaluate(b)
        else:
            b, bv = self.operand(lambda v: _broadcast(mask_shape, np.shape(av), np.shape(v)) is not None)
        if np.ndim(np.broadcast_to(0.0, np.broadcast_shapes(mask_shape, np.shape(av), np.shape(bv)))) == 0:
            raise Reject("scalar where")
        if self.c.coin(20):
            expression = f"({comparison}) * {self.paren(a)}"
        else:
            expression = f"np.where({comparison}, {a}, {b})"
        self.emit(expression, self.evaluate(expression), "where")

    def op_reduce(self):
        if not self.on("reduce"):
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) >= 1)
        ndim = np.ndim(av)
        function = self.c.choice(["sum", "mean", "max", "min", "prod"])
        axis = self.c.choice([None, 0, -1] + ([1, (0, 1), (-2, -1), (1,)] if ndim == 2 else [(0,)]))
        keepdims = self.c.coin(35)
        if function in ("max", "min"):
            if not _extremes_separated(av, None if axis is None else axis if isinstance(axis, tuple) else (axis,)):
                raise Reject("ties")
        arguments = ([] if axis is None else [f"axis={axis}"]) + (["keepdims=True"] if keepdims else [])
        if arguments and not keepdims and self.c.coin(20):
            arguments = [f"{axis}"]   # positional axis
        if self.c.coin(35):
            expression = f"{a}.{function}({', '.join(arguments)})"
        else:
            name = {"max": "np.amax", "min": "np.amin"}.get(function, f"np.{function}") \
                if self.c.coin(15) else f"np.{function}"
            expression = f"{name}({', '.join([a] + arguments)})"
        self.emit(expression, self.evaluate(expression), "reduce")

    def op_matmul(self):
        if not self.on("matmul"):
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) >= 1)
        sa = np.shape(av)
        forms = []
        for name in self.names(lambda v: np.ndim(v) >= 1):
            sb = np.shape(self.vars[name])
            if _matmul_shape(sa, sb) is not None:
                forms += [f"{self.paren(a)} @ {name}", f"np.dot({a}, {name})", f"np.matmul({a}, {name})",
                          f"-{self.paren(a)} @ {name}", f"-({self.paren(a)} @ -{name})"]
                if not a.startswith("("):
                    forms.append(f"{a}.dot({name})")
            if len(sa) == 2 and _matmul_shape(sa[::-1], sb) is not None:
                forms.append(f"{self.paren(a)}.T @ {name}")
            if len(sb) == 2 and _matmul_shape(sa, sb[::-1]) is not None:
                forms.append(f"{self.paren(a)} @ {name}.T")
            if len(sa) == 1 and len(sb) == 1 and len(sa) * len(sb) <= MAX_SIZE and self.c.coin(20):
                forms.append(f"np.outer({a}, {name})")
        if not forms:
            raise Reject("no partner")
        expression = self.c.choice(forms)
        self.emit(expression, self.evaluate(expression), "matmul")

    def op_transpose(self):
        if not self.on("transpose"):
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) >= 1)
        forms = [f"{self.paren(a)}.T", f"np.transpose({a})", f"{self.paren(a)}.transpose()"]
        self.emit(self.c.choice(forms), self.evaluate(f"np.transpose({a})"), "transpose")

    def op_reshape(self):
        if not self.on("reshape"):
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) >= 1)
        shape = np.shape(av)
        size = math.prod(shape)
        p = self.paren(a)
        if len(shape) == 2:
            forms = [f"{p}.reshape({shape[1]}, {shape[0]})", f"{p}.reshape(-1)", f"{p}.ravel()",
                     f"np.reshape({a}, ({size},))", f"{p}.flatten()", f"{p}.reshape({size}, 1)",
                     f"{p}.reshape(1, -1)", f"np.ravel({a})", f"{p}.reshape(({shape[1]}, -1))"]
        else:
            forms = [f"{p}.reshape(1, {size})", f"{p}.reshape({size}, 1)", f"{p}.reshape(-1, 1)",
                     f"np.expand_dims({a}, 0)", f"np.expand_dims({a}, axis=1)", f"np.reshape({a}, (1, -1))"]
            if size in (4, 6):
                forms.append(f"{p}.reshape(2, {size // 2})")
        expression = self.c.choice(forms)
        self.emit(expression, self.evaluate(expression), "reshape")

    def op_index(self):
        a, av = self.operand(lambda v: np.ndim(v) >= 1)
        shape = np.shape(av)
        p = self.paren(a)
        c = self.c
        kind = "index"
        if len(shape) == 1:
            k = shape[0]
            forms = [f"{p}[{c.integer(-k, k - 1)}]", f"{p}[1:]", f"{p}[:-1]", f"{p}[::2]", f"{p}[::-1]",
                     f"{p}[None, :]", f"{p}[:, None]", f"{p}[None]", f"{p}[{c.integer(0, k - 1)}:]"]
            if self.on("fancy_index") and c.coin(25):
                index = np.array([c.integer(0, k - 1) for _ in range(c.integer(1, 5))])
                name = f"I{self.counter}"
                self.counter += 1
                self.module_lines.append(f"{name} = {literal(index)}")
                self.ns[name] = index
                forms = [f"{p}[{name}]"]
                kind = "fancy_index"
        else:
            r, q = shape
            i, j = c.integer(-r, r - 1), c.integer(-q, q - 1)
            forms = [f"{p}[{i}]", f"{p}[{i}, {j}]", f"{p}[:, {j}]", f"{p}[1:, :]", f"{p}[:, 1:]",
                     f"{p}[::2, ::-1]", f"{p}[{i}, 1:]", f"{p}[:, {j}, None]", f"{p}[None, {i}]",
                     f"{p}[{i}:, :{q - 1 if q > 1 else 1}]"]
        if self.on("mask_index") and c.coin(10):
            t = c.choice(["0.0", "0.5", "C0"])
            if not _far_from_zero(np.asarray(av) - self.evaluate(t)) or not np.any(np.asarray(av) > self.evaluate(t)):
                raise Reject("kink")
            forms = [f"np.sum({p}[{a} > {t}])"]
            kind = "mask_index"
        if not self.on(kind):
            raise Reject("off")
        expression = c.choice(forms)
        self.emit(expression, self.evaluate(expression), kind)

    def op_concat(self):
        a, av = self.operand(lambda v: np.ndim(v) <= 2)
        sa = np.shape(av)
        if self.c.coin(30) and len(sa) <= 1:   # np.stack of equal shapes
            if not self.on("stack"):
                raise Reject("off")
            others = self.names(lambda v: np.shape(v) == sa)
            if not others:
                raise Reject("no partner")
            b = self.c.choice(others[::-1])
            axis = self.c.choice([0, -1, 1] if len(sa) == 1 else [0])
            expression = f"np.stack([{a}, {b}]{'' if axis == 0 else f', axis={axis}'})"
            return self.emit(expression, self.evaluate(expression), "stack")
        if not self.on("concat") or len(sa) == 0:
            raise Reject("off")
        axis = self.c.choice([0, -1, 1] if len(sa) == 2 else [0])
        ax = axis % len(sa)

        def fits(v):
            s = np.shape(v)
            return len(s) == len(sa) and all(x == y for d, (x, y) in enumerate(zip(s, sa)) if d != ax)

        partners = self.names(fits)
        if not partners:
            raise Reject("no partner")
        b = self.c.choice(partners[::-1])
        items = [a, b] if self.c.coin(70) else [a, b, a]
        bracket = "[{}]" if self.c.coin(70) else "({})"
        argument = bracket.format(", ".join(items))
        expression = f"np.concatenate({argument}{'' if axis == 0 and self.c.coin(50) else f', axis={axis}'})"
        self.emit(expression, self.evaluate(expression), "concat")

    def op_tuple(self):
        if not self.on("tuple"):
            raise Reject("off")
        names = self.names()
        if len(names) >= 2 and self.c.coin(30):   # swap
            a, b = self.c.choice(names[::-1]), self.c.choice(names)
            if a == b:
                raise Reject("same")
            self.lines.append(f"    {a}, {b} = {b}, {a}")
            av, bv = self.vars[a], self.vars[b]
            self.bind(a, bv)
            self.bind(b, av)
            self.features.add("tuple")
            return
        # two expressions at once: record what two operations emit, then join them
        saved = len(self.lines)
        self.inline = None
        first = self.c.choice([self.op_binary, self.op_unary, self.op_neg, self.op_reduce])
        second = self.c.choice([self.op_binary, self.op_unary, self.op_power, self.op_transpose])
        before = dict(self.vars), list(self.order), dict(self.ns)
        try:
            first()
            second()
        except Reject:
            self.vars, self.order, self.ns = before[0], before[1], before[2]
            del self.lines[saved:]
            self.inline = None
            raise
        made = self.lines[saved:]
        if len(made) != 2 or any(":" in line.split("=")[0] or "," in line.split("=")[0] for line in made):
            return  # one was kept inline or had special form: keep them as they are
        (t1, e1), (t2, e2) = (line.strip().split(" = ", 1) for line in made)
        if t1 == t2 or t1 in e2:
            return
        del self.lines[saved:]
        self.lines.append(f"    {t1}, {t2} = {e1}, {e2}")
        self.features.add("tuple")

    def owned(self, name, scalars=True):
        """Whether `name`'s array can be updated in place without changing any other live name, an
        argument or a global (so Python's in-place update and rebinding agree)."""
        value = self.vars[name]
        if not isinstance(value, np.ndarray):
            return scalars and isinstance(value, (float, np.floating))
        if value.base is not None:
            return False
        others = [self.vars[n] for n in self.vars if n != name] + self.protected
        return not any(isinstance(o, np.ndarray) and np.shares_memory(value, o) for o in others)

    def op_augassign(self):
        if not self.on("augassign"):
            raise Reject("off")
        targets = [n for n in self.names() if self.owned(n)]
        if not targets:
            raise Reject("no target")
        t = self.c.choice(targets[::-1])
        tv = self.vars[t]
        b, bv = self.operand(lambda v: _broadcast(np.shape(tv), np.shape(v)) == np.shape(tv))
        op = self.c.choice(["+=", "*=", "-=", "/="])
        if op == "/=" and not np.all(np.abs(bv) >= 0.2):
            raise Reject("division")
        symbol = op[0]
        value = self.evaluate(f"{t} {symbol} {self.paren(b)}")
        self.lines.append(f"    {t} {op} {b}")
        if isinstance(tv, np.ndarray):  # what Python does: update in place
            with np.errstate(all="raise"):
                exec(f"{t} {op} {b}", self.ns)
            value = self.ns[t]
        self.bind(t, value)
        self.features.add("augassign")

    def op_shape_unpack(self):
        if not self.on("shape_unpack"):
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) == 2, allow_inline=False)
        r, q = self.fresh("n"), self.fresh("n")
        self.lines.append(f"    {r}, {q} = {a}.shape")
        self.ints[r], self.ints[q] = np.shape(av)
        self.ns[r], self.ns[q] = np.shape(av)
        self.features.add("shape_unpack")

    SIGNS = ["-(-{a})", "-({a} - {b})", "-{a} / {d}", "{a} / -{d}", "-({a} * -{b})", "np.negative(-{a})",
             "0.0 - {a}", "{a} * -1.0", "-{a} - -{b}", "-(-{a} * {b})", "-({a} / {d})", "{a} - (-{b} * {a})",
             "-{a} * -{b}", "-(-{a} - {b})", "-{a} + {b}", "{b} - -{a} * 2.0", "-({a} + {b}) * -{b}",
             "-(-{a} / -{d})", "{b} * -(-{a})", "-(0.5 - {a}) * {b}", "-{a} * C0", "-({a} - {b}) / -{d}"]

    def op_sign(self):
        """Negations in many positions (adcompiler canonicalises signs)."""
        if not self.on("sign"):
            raise Reject("off")
        a, av = self.operand()
        b, bv = self.operand(lambda v: _broadcast(np.shape(av), np.shape(v)) is not None)
        a, b = self.paren(a), self.paren(b)
        d = b if np.all(np.abs(bv) >= 0.2) else f"(1.0 + {b} * {b})"
        expression = self.c.choice(self.SIGNS).format(a=a, b=b, d=d)
        self.emit(expression, self.evaluate(expression), "sign")

    def op_alias(self):
        """An in-place update seen through another name: `b = a` (or a view of a), then `a += c`
        (or `b += c`). NumPy updates the shared array, so both names see the change; adcompiler
        refuses such an update (docs/supported.md), which the tests accept on lines marked SHARED."""
        if not self.on("alias"):
            raise Reject("off")
        targets = [n for n in self.names() if self.owned(n, scalars=False) and np.ndim(self.vars[n]) >= 1]
        if not targets:
            raise Reject("no target")
        t = self.c.choice(targets[::-1])
        shape = np.shape(self.vars[t])
        views = [f"{t}", f"{t}[1:]" if shape[0] > 1 else f"{t}[:]", f"{t}.T", f"{t}.reshape(-1)",
                 f"{t}[None]" if len(shape) == 1 else f"{t}[0]"]
        view = self.c.choice(views)
        alias = self.fresh()
        self.ns[alias] = eval(view, self.ns)
        updated = self.c.choice([t, alias])
        ushape = np.shape(self.ns[updated])
        b, bv = self.operand(lambda v: _broadcast(ushape, np.shape(v)) == ushape, allow_inline=False)
        if b in (t, alias):
            raise Reject("self update")
        op = self.c.choice(["+=", "*=", "-="])
        with np.errstate(all="raise"):
            try:
                exec(f"{updated} {op} {b}", self.ns)
            except FloatingPointError:
                raise Reject("overflow") from None
        self.checked(self.ns[t])
        self.lines.append(f"    {alias} = {view}")
        self.lines.append(f"    {updated} {op} {b}  {SHARED}")
        self.bind(alias, self.ns[alias])
        self.bind(t, self.ns[t])
        self.features.add("alias")

    def op_create(self):
        """Creation functions combined with a value: broadcast copies, identity matrices, ranges."""
        if not self.on("create"):
            raise Reject("off")
        a, av = self.operand()
        shape = np.shape(av)
        p = self.paren(a)
        forms = [f"np.zeros_like({a}) + {p}", f"np.ones_like({a}) * {p}", f"np.copy({a})"]
        if shape:
            forms += [f"np.full({p}.shape, C0) * {p}", f"{p}.copy()", f"np.zeros({p}.shape) - {p}", f"{p}.astype(np.float64)",
                      f"np.eye({shape[0]}).T @ {p}" if len(shape) <= 2 else f"np.copy({a})",
                      f"np.arange({shape[-1]}) * {p}", f"np.linspace(0.0, 1.0, {shape[-1]}) * {p}"]
        if len(shape) == 0:
            forms.append(f"np.ones({self.n}) * {p}")
        elif len(shape) == 1:
            forms.append(f"np.ones(({self.m}, {shape[0]})) * {p}")
        elif 1 in shape:
            full = tuple(self.m if d == 1 else d for d in shape)
            forms.append(f"{p} * np.ones({full})")
        expression = self.c.choice(forms)
        self.emit(expression, self.evaluate(expression), "create")

    def op_int_index(self):
        """Indices and slice bounds computed from integers (shapes, the int parameter)."""
        if not self.on("int_index") or not self.ints:
            raise Reject("off")
        name = self.c.choice(list(self.ints))
        k = self.ints[name]
        a, av = self.operand(lambda v: np.ndim(v) >= 1 and np.shape(v)[0] >= k)
        p = self.paren(a)
        forms = [f"{p}[{name} - 1]", f"{p}[:{name}]", f"{p}[{name} - 1:]", f"{p}[-{name}]"]
        expression = self.c.choice(forms)
        self.emit(expression, self.evaluate(expression), "int_index")

    def op_clip_arrays(self):
        """np.clip with array bounds: the gradient flows into the bounds where they clip."""
        if not self.on("clip_arrays"):
            raise Reject("off")
        a, av = self.operand()
        b, bv = self.operand(lambda v: _broadcast(np.shape(av), np.shape(v)) is not None)
        width = self.c.choice([0.5, 0.25, 1.0])
        lo, hi = np.asarray(bv) - width, np.asarray(bv) + width
        if not (_far_from_zero(np.asarray(av) - lo) and _far_from_zero(np.asarray(av) - hi)):
            raise Reject("kink")
        q = self.paren(b)
        expression = f"np.clip({a}, {q} - {width}, {q} + {width})"
        self.emit(expression, self.evaluate(expression), "clip_arrays")


def generate(chooser: Chooser, exclude=(), max_statements=10) -> Program:
    return Generator(chooser, exclude, max_statements).generate()


if __name__ == "__main__":
    import sys

    print(generate(RandomChooser(int(sys.argv[1]) if len(sys.argv) > 1 else 0), max_statements=14))
