"""Random differentiable programs, with control flow, for adcompiler's property tests.

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
  comparing one-sided finite differences);
* branches: every data-dependent condition compares a scalar with a threshold, and every time it
  is evaluated (in every iteration of a loop, in every call of a helper) its scalar is at least
  `COND_MARGIN` from the threshold, so finite differences never cross it. Thresholds are chosen
  from the values: `np.sum(x) > 0.372` where np.sum(x) is 0.072 or 0.672 (either branch), and for a
  `break`, `continue`, `return` or a `while` test from the values the condition's scalar takes in a
  trial run of the loop, so that the jump happens in some iteration (or in none).

Control flow is generated with the same machinery: a compound statement's body is made of the
same operations (a loop's body without kinks and domain edges, which would have to be checked in
every iteration), its code is run once for real (by `exec`, with every condition wrapped in a
probe that records its distance from the threshold), and the names it leaves are those Python
leaves: a name bound in only some branches of an `if` is not read after it, a loop's values are
those after its last iteration. Constructs: if/elif/else, conditional expressions, and/or/not and
bool variables, conditions on the loop index, `for` over `range(a, b, step)` (bounds from literals,
shapes, `len`, the int parameter or an outer loop's index), over an array's rows (also with
`enumerate`), `while` loops with an int counter cap (the cap alone, in the test with a condition,
or `while True` with a `break`), nested loops, `break`, `continue`, `return` inside loops and early
`return` in branches, loop-carried scalars and arrays, element and slice assignment (`y[i] = v`,
`y[i, j] += v`, `y[1:3] = v`, `Y[:, j] *= v`, recurrences `y[i] = y[i - 1] * 0.5 + v`) into
arrays the function made and no other name shares (`np.zeros(n)`, `x.copy()`, arithmetic), and
helpers with branches and loops. Loops run at most 4 times (nested: 16), and values stay bounded.

In-place stress (`inplace` > 0; nothing of it is drawn at 0, so the default programs are as
before): more element and slice updates, of loop-carried arrays most of all, an element update and
a rebinding of one carried array in one iteration (`y[0, :] -= r; y = np.tanh(y)`, either order),
lists grown by `for` loops (`out = []`, one `out.append(v)` per iteration, `v` most often an array
itself, which NumPy's list then holds: a later update of it is refused by adcompiler, "list_alias"),
read after the loop (`np.stack(out)`, `sum(out)`, `out[-1]`, ...), copies captured before updates
and read after them (`c = y * 1.0`, `c = -(-y)`: new arrays in NumPy that adcompiler may fold to `y`),
and updates through aliases and views inside loops (refused, on lines marked SHARED).

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

import contextlib
import math
import re
import textwrap
from dataclasses import dataclass, field

import numpy as np

SHARED = "# updates an array another name shares"   # marks an in-place update adcompiler may refuse
MARGIN = 1e-2   # distance kept from kinks (finite differences move intermediates by far less)
COND_MARGIN = 5e-2   # distance of a branch condition's scalar from its threshold, at every evaluation
BOUND = 25.0    # largest magnitude of an intermediate
MAX_SIZE = 36   # largest number of elements of an intermediate
MAX_DEPTH = 2   # nesting of compound statements (an if or loop in the body of another)
MAX_TRIPS = 4   # iterations of one loop

FEATURES = ("binary", "power", "neg", "unary", "math", "minmax", "where", "reduce", "matmul",
            "transpose", "reshape", "index", "fancy_index", "mask_index", "concat", "stack",
            "helper", "tuple", "augassign", "shape_unpack", "int_param", "global_array",
            "constant", "inline", "reassign", "annotated", "create", "int_index", "clip_arrays",
            "alias", "scalar_kinds", "keyword_call", "general", "sign", "helper_default",
            "numpy_constant",
            # control flow
            "branch", "elif", "boolop", "bool_variable", "int_condition", "ifexp", "early_return",
            "for_range", "for_rows", "nested_loop", "while", "break", "continue", "loop_return",
            "loop_carried", "loop_index", "setitem", "slice_setitem", "recurrence", "helper_control",
            "read_after_jump",
            # in-place stress (only with `inplace` > 0)
            "list_append", "list_alias", "list_shapes", "update_then_rebind", "captured")
CONTROL_FEATURES = FEATURES[FEATURES.index("branch"):FEATURES.index("list_append")]
INPLACE_FEATURES = FEATURES[FEATURES.index("list_append"):]


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
    decisions: set = field(default_factory=set)   # (condition, outcome) pairs seen while generating

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


class _Ret(Exception):
    """`return value` in a block of f run by `exec` (where `return` cannot be written)."""

    def __init__(self, value):
        super().__init__()
        self.value = value


_MISSING = object()
_TOKEN = re.compile(r"@C(\d+)@")                 # a condition in the text of the program
_MODULE_NAME = re.compile(r"^(G\d+|I\d+|GH)$")  # module-level names made while f is generated
_COMPARE = {">": lambda a, b: a > b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b,
            "<=": lambda a, b: a <= b}


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

    def __init__(self, chooser: Chooser, exclude=(), max_statements=10, name="f", control=1, inplace=0):
        self.c = chooser
        self.exclude = set(exclude)
        unknown = self.exclude - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        self.max_statements = max_statements
        self.control = control                   # weight of control-flow statements
        self.inplace = inplace                   # weight of in-place updates, list tapes, captures
        self.appending = False                   # the loop being made grows a list (no jumps out of it)
        self.budget = max_statements              # statements still to make (in blocks too)
        self.name = name
        self.ns = {"np": np, "math": math}       # the module's namespace, with the locals of f
        self.module_lines = []                   # module-level statements after the imports
        self.lines = []                          # the body of f
        self.vars = {}                           # live float names of f: name -> value
        self.ints = {}                           # live int names: name -> value
        self.order = []                          # names by recency (last: most recent)
        self.protected = []                      # objects that must not be changed in place
        self.iterated = []                       # ... nor those whose rows a loop reads later (refused)
        self.features = set()
        self.counter = 0
        self.inline = None                       # (expression, value) waiting to be used once
        self.helpers = []                        # dicts: name, params, results, default
        self.used = set()                        # names read by some operation
        self.arrays = 0                          # arrays of random values made so far
        # control flow
        self.indent = "    "                     # of the next line of f
        self.depth = 0                           # compound statements around the next line
        self.loop_depth = 0                      # loops around the next line
        self.loopvars = {}                       # int names that take several values: name -> values
        self.written = []                        # per enclosing loop: names written in place in it
        self.conds = {}                          # condition number -> dict(lhs, op, rhs, default)
        self.margins = []                        # distances from thresholds seen by the probes
        self.trace = {}                          # condition number -> values of its scalar (trial runs)
        self.decisions = set()                   # (condition number, outcome) seen by the probes
        self.returned = False                    # f has returned at the arguments (the rest is dead)
        self.tainted = set()                     # names that may share an array on another path
        self.ns.update(_cmp=self.probe, _trace=self.traced, _Ret=_Ret)

    # ------------------------------------------------------------ small utilities

    def on(self, feature) -> bool:
        return feature not in self.exclude

    def line(self, text):
        self.lines.append(self.indent + text)

    def fresh(self, prefix="t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def evaluate(self, expression):
        return self.checked(self.run_expression(expression))

    def run_expression(self, expression):
        """The value of `expression` (conditions in it probed: each at least COND_MARGIN from its
        threshold)."""
        self.margins.clear()
        with np.errstate(all="raise"):
            try:
                value = eval(self.render(expression), self.ns)
            except (FloatingPointError, ZeroDivisionError, OverflowError, ValueError, IndexError, TypeError) as error:
                raise Reject(str(error)) from None
        self.check_margins()
        return value

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

        self.budget = c.integer(min(3, self.max_statements), self.max_statements)
        while self.budget > 0:
            self.statements(1)
        self.inline = None
        self.line(f"return {self.final()}")
        header = ["import math", "", "import numpy as np", ""]
        source = "\n".join(header + self.module_lines + [""] + self.helper_source + [""]
                           + [f"def {self.name}({', '.join(params)}):"] + self.lines) + "\n"
        general = self.on("general") and c.coin(40)
        return Program(self.render(source, plain=True), self.name, args, wrt, self.features, general,
                       self.decisions)

    KINKS = ("op_minmax", "op_where", "op_clip_arrays", "op_alias")   # not in loop bodies

    def operations(self):
        """The operations a statement is drawn from, here (a loop's body has no kinks; compound
        statements nest MAX_DEPTH deep)."""
        operations = [self.op_binary, self.op_unary, self.op_binary, self.op_power, self.op_reduce,
                      self.op_matmul, self.op_helper, self.op_index, self.op_binary, self.op_unary,
                      self.op_neg, self.op_math, self.op_minmax, self.op_where, self.op_reduce,
                      self.op_matmul, self.op_transpose, self.op_reshape, self.op_index, self.op_concat,
                      self.op_helper, self.op_tuple, self.op_augassign, self.op_shape_unpack,
                      self.op_create, self.op_int_index, self.op_clip_arrays, self.op_alias,
                      self.op_sign, self.op_sign]
        if self.loop_depth:
            operations = [op for op in operations if op.__name__ not in self.KINKS] + [self.op_loop_index] * 4 + \
                [self.op_alias] * self.inplace   # refused: NumPy would change the other name, in later iterations too
        control = [self.op_setitem, self.op_setitem, self.op_ifexp] + [self.op_setitem, self.op_capture] * self.inplace
        if self.depth < MAX_DEPTH:
            control += [self.op_if, self.op_if, self.op_for, self.op_for, self.op_rows, self.op_while]
        return operations + control * self.control

    def statements(self, count):
        """`count` statements (each the first of six drawn operations that fits); each counts
        against the program's budget of statements (those in compound statements too)."""
        operations = self.operations()
        if self.depth and self.budget <= 0:
            count = min(count, 1)   # the budget is spent: a body still needs a statement
        for _ in range(count):
            self.budget -= 1
            for attempt in range(6):
                try:
                    self.c.choice(operations)()
                    break
                except Reject:
                    continue

    def emit(self, expression, value, feature, target=None):
        """Assign (or keep inline, to be used once by the next operation)."""
        self.no_view_of_written(value)
        self.features.add(feature)
        if target is None and self.on("inline") and self.inline is None and self.c.coin(20):
            self.inline = (expression, value)
            self.features.add("inline")
            return
        if target is None:
            target = self.fresh()
            if self.on("reassign") and self.c.coin(15):
                candidates = [n for n in self.order if n in self.vars and
                              (self.depth == 0 or np.ndim(self.vars[n]) == np.ndim(value))]
                if candidates:
                    target = self.c.choice(candidates[::-1])
                    self.features.add("reassign")
        if self.on("annotated") and self.c.coin(3) and np.ndim(value) == 0:
            self.line(f"{target}: float = {expression}")
            self.features.add("annotated")
        else:
            self.line(f"{target} = {expression}")
        self.bind(target, value)

    def bind(self, target, value):
        if self.inline is not None and re.search(rf"\b{target}\b", self.inline[0]):
            self.inline = None   # it read the old value of `target`
        self.ns[target] = value
        self.vars[target] = value
        self.tainted.discard(target)
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

    # helpers with control flow: (body, condition (scalar, operator, threshold)); the conditions
    # are probed at every call, like those of f
    CONTROL_HELPERS = [
        (["    if {c}:", "        return np.tanh({u}) * {v}", "    return {v} - np.sin({u})"],
         ("np.sum({u})", ">", "0.0")),
        (["    s = {u} * 0.5 + {v} * 0.0", "    for j in range(3):", "        s = np.tanh(s + {v} * j)",
          "    return s"], None),
        (["    r = {v} + 0.0 * {u}", "    j = 0", "    while j < 3 and {c}:", "        r = r * 0.5 + np.sin({u})",
          "        j += 1", "    return r"], ("np.sum(r * r)", "<", "4.0")),
        (["    return {u} * {v} if {c} else {u} - {v}"], ("np.mean({u})", ">", "0.0")),
        (["    s = 0.0", "    for j in range(4):", "        s = s + np.sum(np.sin({u} * (j + 1))) * 0.25",
          "        if {c}:", "            break", "    return s * {v}"], ("s", ">", "0.5")),
        (["    y = np.zeros(3)", "    y[0] = np.sum({u}) if {c} else 0.5", "    y[1:] += np.mean({v})",
          "    return np.sum(y * y) + {u} * {v}"], ("np.sum({v})", "<", "1.0")),
    ]

    def make_helpers(self):
        """Helper functions: smooth for every input, one or two results, parameter and local names
        shared with the caller (inlining must keep them apart), some with a default, the second
        sometimes calling the first; some with branches and loops (one result)."""
        self.helper_source = []
        if not self.on("helper"):
            return
        for k in range(self.c.integer(0, 2)):
            name = f"h{k}"
            params = list(self.c.choice(self.HELPER_PARAMS))
            default = self.on("helper_default") and self.c.coin(25)
            if self.on("helper_control") and self.c.coin(35):
                template, condition = self.c.choice(self.CONTROL_HELPERS)
                u, v = params
                token = "" if condition is None else \
                    self.new_condition(condition[0].format(u=u, v=v), condition[1], condition[2])
                signature = f"{u}, {v}=0.5" if default else f"{u}, {v}"
                self.helper_source += [f"def {name}({signature}):"] + \
                    [line.format(u=u, v=v, c=token) for line in template] + ["", ""]
                exec(self.render("\n".join(self.helper_source)), self.ns)
                self.helpers.append(dict(name=name, params=params, results=1, default=default, control=True))
                continue
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
            exec(self.render("\n".join(self.helper_source)), self.ns)
            self.helpers.append(dict(name=name, params=params, results=len(returned), default=default))
            if default:
                self.features.add("helper_default")

    def op_helper(self):
        if not self.helpers:
            raise Reject("no helper")
        helper = self.c.choice(self.helpers)
        name, (p0, p1), results = helper["name"], helper["params"], helper["results"]
        if helper.get("control"):
            self.features.add("helper_control")
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
        for v in value:
            self.no_view_of_written(v)
        self.features.add("helper")
        targets = [self.fresh() for _ in value]
        self.line(f"{', '.join(targets)} = {expression}")
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
        if op == "/" and (self.loop_depth or not np.all(np.abs(bv) >= 0.2)):
            b = f"(1.0 + {self.paren(b)} * {self.paren(b)})"
        if self.c.coin(25):
            a, b = b, a
            if op == "/" and (self.loop_depth or not np.all(np.abs(self.evaluate(b)) >= 0.2)):
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
        if domain is not None and (self.loop_depth or not domain(np.asarray(av))):
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
        if domain is not None and (self.loop_depth or not domain(float(av))):
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
        elif kind == 3 and np.all(np.abs(av) >= 0.3) and not self.loop_depth:
            expression = f"{self.paren(a)} ** {self.c.choice(['-1', '-2'])}"
        elif kind == 4:   # positive base, variable exponent
            e, ev = self.operand(lambda v: _broadcast(np.shape(av), np.shape(v)) is not None
                                 and np.max(np.abs(v)) <= 2.5)
            base = a if np.min(av) >= 0.2 and not self.loop_depth else f"(1.0 + {self.paren(a)} * {self.paren(a)})"
            expression = self.c.choice([f"{self.paren(base)} ** {self.paren(e)}", f"np.power({base}, {e})"])
        elif kind == 5:   # constant exponent, positive base
            base = a if np.min(av) >= 0.2 and not self.loop_depth else f"(1.0 + {self.paren(a)} * {self.paren(a)})"
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
            if self.loop_depth:
                raise Reject("kink in a loop")
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
        if self.on("mask_index") and not self.loop_depth and c.coin(10):
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
            if a == b or (self.depth and np.ndim(self.vars[a]) != np.ndim(self.vars[b])):
                raise Reject("same")
            self.line(f"{a}, {b} = {b}, {a}")
            av, bv = self.vars[a], self.vars[b]
            self.bind(a, bv)
            self.bind(b, av)
            if self.loop_depth:   # each may be the other's array of an earlier iteration (adcompiler assumes so)
                self.tainted |= {a, b}
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
        self.line(f"{t1}, {t2} = {e1}, {e2}")
        self.features.add("tuple")

    def owned(self, name, scalars=True):
        """Whether `name`'s array can be updated in place without changing any other live name, an
        argument or a global (so Python's in-place update and rebinding agree)."""
        value = self.vars[name]
        if not isinstance(value, np.ndarray):
            return scalars and isinstance(value, (float, np.floating))
        if value.base is not None or name in self.tainted:
            return False
        others = [self.vars[n] for n in self.vars if n != name] + self.protected + self.iterated
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
        if op == "/=" and (self.loop_depth or not np.all(np.abs(bv) >= 0.2)):
            raise Reject("division")
        symbol = op[0]
        value = self.evaluate(f"{t} {symbol} {self.paren(b)}")
        self.line(f"{t} {op} {b}")
        if isinstance(tv, np.ndarray):  # what Python does: update in place
            with np.errstate(all="raise"):
                exec(self.render(f"{t} {op} {b}"), self.ns)
            value = self.ns[t]
            self.wrote(t)
        self.bind(t, value)
        self.features.add("augassign")

    def op_shape_unpack(self):
        if not self.on("shape_unpack"):
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) == 2, allow_inline=False)
        r, q = self.fresh("n"), self.fresh("n")
        self.line(f"{r}, {q} = {a}.shape")
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
        d = b if np.all(np.abs(bv) >= 0.2) and not self.loop_depth else f"(1.0 + {b} * {b})"
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
        self.line(f"{alias} = {view}")
        self.line(f"{updated} {op} {b}  {SHARED}")
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
        values = self.loopvars.get(name, [self.ints[name]])
        a, av = self.operand(lambda v: np.ndim(v) >= 1 and np.shape(v)[0] >= max(values) and min(values) >= 1)
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

    # ------------------------------------------------------------ control flow: machinery

    def probe(self, k, a, op, b):
        """`a op b` for condition k, recording the distance of a from its threshold b."""
        a = float(a) if np.ndim(a) == 0 else a
        result = _COMPARE[op](a, b)
        self.margins.append(abs(float(a) - float(b)))
        self.decisions.add((k, bool(result)))
        return result

    def traced(self, k, a, default):
        """Condition k in a trial run: its scalar recorded, the outcome `default`."""
        self.trace.setdefault(k, []).append(float(a))
        return default

    def check_margins(self):
        if self.margins and min(self.margins) < COND_MARGIN:
            raise Reject("a condition is too close to its threshold")

    def render(self, text, plain=False):
        """`text` with its conditions written out: plainly (the program), or probed (to be run
        here); a condition whose threshold is not chosen yet is traced."""
        def condition(match):
            k = int(match.group(1))
            cond = self.conds[k]
            if plain:
                assert cond["rhs"] is not None, f"condition {k} has no threshold"
                return f"{cond['lhs']} {cond['op']} {cond['rhs']}"
            if cond["rhs"] is None:
                return f"_trace({k}, {cond['lhs']}, {cond['default']})"
            return f"_cmp({k}, {cond['lhs']}, {cond['op']!r}, {cond['rhs']})"
        return _TOKEN.sub(condition, text)

    def new_condition(self, lhs, op, rhs, default=None) -> str:
        k = len(self.conds)
        self.conds[k] = dict(lhs=lhs, op=op, rhs=rhs, default=default)
        return f"@C{k}@"

    def run_block(self, start) -> bool:
        """Run lines[start:] (one compound statement, with what it needs before it) as Python
        does; True if it returned from f."""
        text = textwrap.dedent(self.render("\n".join(self.lines[start:])))
        text = re.sub(r"(?m)^(\s*)return (.*)$", r"\1raise _Ret(\2)", text)
        self.margins.clear()
        self.trace.clear()
        returned = False
        with np.errstate(all="raise"):
            try:
                exec(text, self.ns)
            except _Ret:
                returned = True
            except Exception as error:  # noqa: BLE001 - an error in some iteration: does not fit
                raise Reject(f"the block fails: {error!r}") from None
        self.check_margins()
        return returned

    def snapshot(self) -> dict:
        arrays = {}
        for v in list(self.ns.values()) + list(self.vars.values()):
            if isinstance(v, np.ndarray) and v.flags.writeable and id(v) not in arrays:
                arrays[id(v)] = (v, v.copy())
        return dict(ns=dict(self.ns), vars=dict(self.vars), order=list(self.order), ints=dict(self.ints),
                    loopvars=dict(self.loopvars), used=set(self.used), features=set(self.features),
                    arrays=arrays, lines=len(self.lines), returned=self.returned, iterated=list(self.iterated))

    def restore(self, saved, lines=False):
        """The state of `saved` (arrays changed in place are set back; module-level names made since
        stay); with `lines`, the lines written since are dropped too."""
        for array, content in saved["arrays"].values():
            array[...] = content
        made = {k: v for k, v in self.ns.items() if k not in saved["ns"] and _MODULE_NAME.match(k)}
        self.ns.clear()
        self.ns.update(saved["ns"], **made)
        self.vars, self.order = dict(saved["vars"]), list(saved["order"])
        self.ints, self.loopvars = dict(saved["ints"]), dict(saved["loopvars"])
        self.used = set(saved["used"])
        self.returned = saved["returned"]   # (self.tainted only grows: what may share, on any path)
        self.iterated = list(saved["iterated"])
        self.inline = None
        if lines:
            del self.lines[saved["lines"]:]
            self.features = set(saved["features"])

    @contextlib.contextmanager
    def nested(self, loop=False):
        """The body of a compound statement: indented, no inline expression crossing its edges."""
        self.inline = None
        self.indent += "    "
        self.depth += 1
        self.loop_depth += loop
        if loop:
            self.written.append(set())
        start = len(self.lines)
        try:
            yield
            if len(self.lines) == start:
                self.line("pass")
        finally:
            self.inline = None
            self.indent = self.indent[:-4]
            self.depth -= 1
            self.loop_depth -= loop
            if loop:
                self.written.pop()

    def wrote(self, name):
        """`name`'s array was updated in place: in a loop, no other name may share it at the end
        of an iteration (NumPy would change both; adcompiler refuses that as documented)."""
        for names in self.written:
            names.add(name)

    def no_view_of_written(self, value):
        if not self.written or not isinstance(value, np.ndarray):
            return
        for name in set().union(*self.written):
            other = self.vars.get(name)
            if isinstance(other, np.ndarray) and np.shares_memory(value, other):
                raise Reject("a view of an array written in the loop")

    def int_values(self) -> dict:
        """Int names and every value each takes here (loop indices: all their values)."""
        return {n: self.loopvars.get(n, [v]) for n, v in self.ints.items()}

    def index_choices(self, length):
        """(text, values) of int expressions that are valid indices into an axis of `length`."""
        out = []
        for name, values in self.int_values().items():
            for text, vs in ((name, values), (f"{name} - 1", [v - 1 for v in values])):
                if vs and all(-length <= v < length for v in vs):
                    out.append((text, vs))
        return out

    def index_text(self, length, loop_first=True) -> str:
        """An int index into an axis of `length`: an int name (a loop index most often) or a literal."""
        choices = self.index_choices(length)
        if choices and (loop_first and self.loopvars and self.c.coin(80) or self.c.coin(40)):
            looping = [t for t, vs in choices if len(set(vs)) > 1]
            return self.c.choice(looping if looping and self.c.coin(80) else [t for t, _ in choices])
        return str(self.c.integer(-length, length - 1))

    def scalar_term(self):
        """(expression, value) of a scalar made from a live value."""
        a, av = self.operand()
        if np.ndim(av) == 0:
            return a, av
        p = self.paren(a)
        shape = np.shape(av)
        forms = [f"np.sum({a})", f"np.mean({a})", f"{p}.sum()", f"np.sum({p} * {p}) * 0.5"]
        index = ", ".join(self.index_text(n) for n in shape)
        forms += [f"{p}[{index}]"] * 3
        expression = self.c.choice(forms)
        return expression, self.evaluate(expression)

    def term_for(self, shape):
        """(expression, value) that broadcasts to `shape` without changing it."""
        if shape and self.c.coin(60):
            try:
                return self.operand(lambda v: _broadcast(shape, np.shape(v)) == shape and np.ndim(v) > 0)
            except Reject:
                pass
        return self.scalar_term()

    def statement(self, text, targets, feature):
        """Run `text` (assignments to `targets`, maybe in place), write it, bind its targets."""
        before = {t: self.ns[t].copy() for t in targets if isinstance(self.ns.get(t), np.ndarray)}
        self.margins.clear()
        try:
            with np.errstate(all="raise"):
                try:
                    exec(self.render(text), self.ns)
                except Exception as error:  # noqa: BLE001
                    raise Reject(f"fails: {error!r}") from None
            self.check_margins()
            values = [self.checked(self.ns[t]) for t in targets]
        except Reject:
            for t, content in before.items():
                self.ns[t][...] = content
            for t in targets:
                if t in self.vars:
                    self.ns[t] = self.vars[t]
            raise
        self.line(text)
        for t, v in zip(targets, values):
            self.bind(t, v)
        self.features.add(feature)

    # ------------------------------------------------------------ conditions

    def atom(self):
        """One comparison (text with its token) that holds or not at the current values, its scalar
        at least 2 * COND_MARGIN from the threshold; or a comparison of a loop index."""
        c = self.c
        if self.loopvars and self.on("int_condition") and c.coin(15):
            name = c.choice(list(self.loopvars))
            value = c.choice(self.loopvars[name])
            self.features.add("int_condition")
            return f"{name} {c.choice(['==', '>', '<', '!=', '>=', '<='])} {value}"
        lhs, e = self.condition_scalar()
        op = c.choice([">", "<", ">=", "<="])
        kind = c.integer(0, 9)
        rhs = None
        if kind < 2 and abs(e) >= 2 * COND_MARGIN:
            rhs = "0.0"
        elif kind < 4:
            others = [n for n in self.names(lambda v: np.ndim(v) == 0 and abs(float(v) - e) >= 2 * COND_MARGIN)
                      if n != lhs]
            if others:
                rhs = c.choice(others[::-1])
        elif kind < 5 and self.on("constant") and abs(float(self.ns["C0"]) - e) >= 2 * COND_MARGIN:
            rhs = "C0"
        if rhs is None:
            d = c.choice([0.1, 0.2, 0.3, 0.5, 1.0, 2.0]) * c.choice([1, -1])
            rhs = repr(round(e + d, 3))
        return self.new_condition(lhs, op, rhs)

    def condition_scalar(self, prefer=()):
        """(expression, value) of a scalar to branch on: an element, sum or mean of a live array,
        a live scalar, ... (of a name in `prefer`, if there are any)."""
        c = self.c
        names = [n for n in prefer if n in self.vars]
        if names and c.coin(80):
            a = c.choice(names)
            av = self.vars[a]
            self.used.add(a)
        else:
            a, av = self.operand(allow_inline=False)
        p = self.paren(a)
        if np.ndim(av) == 0:
            forms = [a, a, f"np.tanh({a})", f"{p} * {p}"]
        else:
            index = ", ".join(self.index_text(n) for n in np.shape(av))
            forms = [f"np.sum({a})", f"np.mean({a})", f"{p}[{index}]", f"{p}[{index}]", f"np.sum({p} * {p})",
                     f"{p}.sum()", f"np.max({a})"]
            if np.ndim(av) == 1:
                forms.append(f"{p} @ {p}")
        lhs = c.choice(forms)
        return lhs, float(self.run_expression(lhs))

    def condition(self):
        """(text, truth) of a condition at the current values: a comparison, `not`, `and`, `or`,
        maybe stored in a bool variable first."""
        c = self.c
        text = self.atom()
        if self.on("boolop") and c.coin(30):
            form = c.choice(["not {a}", "{a} and {b}", "{a} or {b}", "not ({a} or {b})", "{a} and not {b}"])
            text = form.format(a=text, b=self.atom() if "{b}" in form else "")
            self.features.add("boolop")
        truth = bool(self.run_expression(text))
        if self.on("bool_variable") and c.coin(10):
            flag = self.fresh("c")
            self.line(f"{flag} = {text}")
            self.ns[flag] = truth
            self.features.add("bool_variable")
            return flag, truth
        return text, truth

    def resolve(self, k, first=0):
        """Choose the threshold of condition k from the values its scalar took in a trial run: its
        outcome differs from its default first at some evaluation m >= `first` (or never), and each
        value up to m is at least COND_MARGIN from it."""
        c = self.c
        cond = self.conds[k]
        values = self.trace.get(k, [])
        above = cond["op"] in (">", ">=")
        below = above != cond["default"]  # values before the change are below the threshold
        m_ = COND_MARGIN * 1.5
        options = []
        for m in range(first, len(values)):
            before = values[:m]
            if below:
                lo, hi = (max(before) + m_ if before else values[m] - 3.0), values[m] - m_
            else:
                lo, hi = values[m] + m_, (min(before) - m_ if before else values[m] + 3.0)
            if hi - lo > 1e-3:
                options.append((lo, hi))
        if options and c.coin(75):
            lo, hi = c.choice(options)
            threshold = round(lo + (hi - lo) * c.choice([0.5, 0.25, 0.75]), 4)
        elif values:   # never changes
            d = c.choice([0.2, 0.5, 1.0])
            threshold = round(max(values) + d if below else min(values) - d, 4)
        else:
            threshold = c.choice([0.5, -0.5])
        cond["rhs"] = repr(threshold)

    # ------------------------------------------------------------ control flow: statements

    def block(self, build):
        """A compound statement made by `build(snapshot, start)`; undone when it does not fit."""
        if self.depth >= MAX_DEPTH:
            raise Reject("too deep")
        saved = self.snapshot()
        start = len(self.lines)
        self.inline = None
        try:
            build(saved, start)
        except Reject:
            self.restore(saved, lines=True)
            raise

    def live_after(self, saved, candidates, returned, dropped=()):
        """Bind, after a block was run for real, the names Python leaves that the program may read:
        the names live before, and of `candidates` (name -> value in the simulation) those bound."""
        ints = {n: self.ns[n] for n in saved["ints"] if isinstance(self.ns.get(n), int)}
        vars_ = {}
        for name, simulated in candidates.items():
            if name in dropped:
                continue
            if name in self.ns and not isinstance(self.ns[name], (bool, np.bool_)):
                value = self.ns[name]
            elif returned or name in saved["vars"]:
                value = simulated   # the rest of f is dead, or the name kept its value
            else:
                continue
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                ints[name] = int(value)
                continue
            vars_[name] = self.checked(value)
        self.vars = {n: v for n, v in self.vars.items() if n in saved["vars"]}
        self.order = [n for n in self.order if n in saved["vars"]]
        self.ints = ints
        self.loopvars = dict(saved["loopvars"])
        tainted = set(self.tainted)   # a name that may have shared an array before still may
        for name, value in vars_.items():
            self.bind(name, value)
        self.tainted |= tainted
        if returned:
            self.returned = True

    def bound_arrays(self) -> dict:
        """The arrays bound to names now, also those the program may not read any more (bound in
        one branch only, or after a jump): adcompiler still knows them."""
        return {n: v for n, v in self.ns.items() if isinstance(v, np.ndarray)}

    def taint(self, states, names):
        """After an if or a loop: a name bound in it that shares an array with another name (or an
        argument or global) in one of the `states` (name -> array) it may end in, may share it
        (adcompiler assumes so, and refuses in-place updates of both, as documented): neither is
        updated in place."""
        for state in states:
            arrays = [(n, v) for n, v in state.items() if isinstance(v, np.ndarray)] + \
                     [(None, p) for p in self.protected + self.iterated]
            for name in names:
                value = state.get(name)
                if not isinstance(value, np.ndarray):
                    continue
                for other, v in arrays:
                    if other != name and np.shares_memory(value, v):
                        self.tainted.add(name)
                        if other is not None:
                            self.tainted.add(other)

    def op_if(self):
        """if / elif / else on data-dependent conditions; some branch may return."""
        if not self.on("branch"):
            raise Reject("off")
        self.block(self._if)

    def _if(self, saved, start):
        c = self.c
        tainted = set(self.tainted)   # an arm that rebinds a name must not clear it for the others
        tests = [self.condition()]
        if self.on("elif") and c.coin(30):
            tests.append(self.condition())
            self.features.add("elif")
        has_else = c.coin(70)
        arms = len(tests) + has_else
        returning = c.integer(0, arms - 1) if self.on("early_return") and not self.appending and c.coin(20) and \
            (arms > 1 or not has_else) else None
        merge, rank = (self.fresh(), None) if c.coin(70) else (None, None)
        results = []    # the names bound at the end of each arm that goes on
        ends = []       # ... and of every arm (for ranks)
        states = []     # all arrays bound at the end of each arm that goes on
        for arm in range(arms):
            self.restore(saved)
            if arm == 0:
                self.line(f"if {tests[0][0]}:")
            elif arm < len(tests):
                self.line(f"elif {tests[arm][0]}:")
            else:
                self.line("else:")
            with self.nested():
                self.statements(c.integer(1, 2))
                if arm == returning:
                    self.line(f"return {self.final()}")
                    self.features.add("early_return" if self.loop_depth == 0 else "loop_return")
                elif merge is not None:
                    rank = self.merge_assignment(merge, rank)
            ends.append(dict(self.vars))
            if arm != returning:
                results.append(dict(self.vars))
                states.append(self.bound_arrays())
        if not has_else:
            results.append(dict(saved["vars"]))
            ends.append(dict(saved["vars"]))
            states.append({n: v for n, v in saved["ns"].items() if isinstance(v, np.ndarray)})
        # a name keeps one rank on every path (adcompiler refuses different ranks, as documented)
        for name in set().union(*ends):
            if len({np.ndim(e[name]) for e in ends if name in e}) > 1 and (
                    name in saved["vars"] or all(name in e for e in ends)):
                raise Reject("ranks differ")
        candidates = {n: v for n, v in results[0].items() if all(n in r for r in results)} if results else {}
        self.restore(saved)
        returned = self.run_block(start)
        self.live_after(saved, candidates, returned)
        self.tainted |= tainted
        self.taint(states, candidates)
        self.features.add("branch")

    def merge_assignment(self, target, rank):
        """`target = ...` at the end of a branch, of the rank the other branches gave it."""
        if rank is None:
            a, av = self.operand(allow_inline=False)
        else:
            try:
                a, av = self.operand(lambda v: np.ndim(v) == rank, allow_inline=False)
            except Reject:
                if rank != 0:
                    raise
                a, av = self.operand(allow_inline=False)
                a = f"np.sum({a})"
        p = self.paren(a)
        forms = [f"np.tanh({a})", f"{p} * 2.0", f"np.sin({a}) + {p}", f"-{p}", f"{p} + 1.0"]
        if np.ndim(av) == 0 and not a.startswith("np."):
            forms.append(a)   # a plain name (of an array it would be an alias)
        expression = self.c.choice(forms)
        self.emit(expression, self.evaluate(expression), "branch", target=target)
        return np.ndim(self.vars[target])

    def op_ifexp(self):
        """A conditional expression `a if c else b` (operands of one rank)."""
        if not self.on("ifexp"):
            raise Reject("off")
        a, av = self.operand()
        b, bv = self.operand(lambda v: np.ndim(v) == np.ndim(av))
        # a bare name of an array would make the result maybe an alias of it (adcompiler refuses
        # in-place updates of such values, as documented)
        forms = ["{x}" if np.ndim(av) == 0 else "{q} * 1.0", "np.tanh({x})", "{q} * 2.0", "-{q}", "np.sin({x}) + 1.0"]
        first = self.c.choice(forms).format(x=a, q=self.paren(a))
        second = self.c.choice(forms).format(x=b, q=self.paren(b))
        test, _ = self.condition()
        self.evaluate(first)
        self.evaluate(second)
        expression = f"{first} if {test} else {second}"
        self.emit(expression, self.evaluate(expression), "ifexp")

    # ------------------------------------------------------------ loops

    def op_for(self):
        if not self.on("for_range"):
            raise Reject("off")
        self.block(lambda saved, start: self._loop(saved, start, "for"))

    def op_rows(self):
        if not self.on("for_rows"):
            raise Reject("off")
        self.block(lambda saved, start: self._loop(saved, start, "rows"))

    def op_while(self):
        if not self.on("while"):
            raise Reject("off")
        self.block(lambda saved, start: self._loop(saved, start, "while"))

    def range_header(self):
        """(range text, the values of the index, all of them over every enclosing iteration)."""
        c = self.c
        lengths = [(str(n), [n]) for n in range(1, MAX_TRIPS + 1)]
        for name in self.names(lambda v: np.ndim(v) >= 1)[-4:]:
            shape = np.shape(self.vars[name])
            lengths += [(f"{name}.shape[0]", [shape[0]]), (f"len({name})", [shape[0]])]
            if len(shape) == 2:
                lengths.append((f"{name}.shape[1]", [shape[1]]))
        for name, values in self.int_values().items():
            lengths.append((name, values))
            if name in self.loopvars:
                lengths.append((f"{name} + 1", [v + 1 for v in values]))   # triangular loops
        text, ls = c.choice(lengths)
        patterns = [("range({L})", lambda n: range(n)), ("range({L})", lambda n: range(n)),
                    ("range(1, {L})", lambda n: range(1, n)), ("range({L} - 1, -1, -1)", lambda n: range(n - 1, -1, -1)),
                    ("range(0, {L}, 2)", lambda n: range(0, n, 2)), ("range({L} - 1, 0, -2)", lambda n: range(n - 1, 0, -2))]
        pattern, make = c.choice(patterns)
        runs = [list(make(n)) for n in ls]
        values = sorted(set().union(*runs))
        if not values or max(len(r) for r in runs) > MAX_TRIPS:
            raise Reject("trips")
        return pattern.format(L=text), values

    def carried_setup(self):
        """Values the loop carries, made before it: a scalar and an array (both maybe)."""
        c = self.c
        carried = []
        if c.coin(70):
            s = self.fresh("s")
            forms = ["0.0", "0.0", "1.0"]
            scalars = self.names(lambda v: np.ndim(v) == 0)
            if scalars:
                forms.append(f"{c.choice(scalars[::-1])} * 0.5")
            arrays = self.names(lambda v: np.ndim(v) >= 1)
            if arrays:
                forms.append(f"np.sum({c.choice(arrays[::-1])}) * 0.25")
            expression = c.choice(forms)
            self.emit(expression, self.evaluate(expression), "loop_carried", target=s)
            carried.append(s)
        if self.on("setitem") and c.coin(60):
            carried.append(self.new_array())
        elif self.on("setitem"):
            owned = [n for n in self.names(lambda v: isinstance(v, np.ndarray) and v.ndim >= 1)
                     if self.owned(n, scalars=False)]
            if owned and c.coin(50):
                carried.append(c.choice(owned[::-1]))
        return carried

    def new_array(self) -> str:
        """`y = np.zeros(...)`, `y = x.copy()`, ...: an array no other name shares."""
        c = self.c
        a, av = self.operand(lambda v: np.ndim(v) >= 1, allow_inline=False)
        shape = np.shape(av)
        p = self.paren(a)
        literal_shape = str(shape[0]) if len(shape) == 1 else str(shape)
        forms = [f"np.zeros({literal_shape})", f"np.zeros_like({a})", f"{p}.copy()", f"np.copy({a})",
                 f"{p} * 1.0", f"np.ones({literal_shape}) * 0.5", f"np.full({literal_shape}, C0)"]
        y = self.fresh("y")
        expression = c.choice(forms)
        value = self.evaluate(expression)
        if not isinstance(value, np.ndarray) or value.base is not None:
            raise Reject("not a new array")
        self.emit(expression, value, "setitem", target=y)
        return y

    def _loop(self, saved, start, kind):
        c = self.c
        if self.loop_depth:
            self.features.add("nested_loop")
        carried = self.carried_setup()
        grown = None        # a list the loop grows: `out = []` just before it, one append per iteration
        # (not after a `return` in a loop or branch: adcompiler refuses the list then, see the report)
        if self.inplace and kind != "while" and self.on("list_append") and c.coin(40) and \
                not any(line.strip().startswith("return") for line in self.lines):
            grown = self.fresh("out")
            self.line(f"{grown} = []")
            self.ns[grown] = []
        appending = self.appending
        self.appending = appending or grown is not None
        header_vars = dict(self.vars)
        header_arrays = self.bound_arrays()
        pending = []        # (condition, first evaluation at which its outcome may change)
        form = None
        if kind == "for":
            header, values = self.range_header()
            if grown is not None and re.search(r"shape|len\(", header):
                # another pattern of length-1 axes may run it no time: an empty grown list is not
                # NumPy's (tests/test_found_wrong.py, known wrong)
                raise Reject("a grown list's loop whose trip count depends on a shape")
            index = self.fresh("i")
            self.line(f"for {index} in {header}:")
            bindings = {index: values}
            self.features.add("for_range")
        elif kind == "rows":
            X, Xv = self.operand(lambda v: np.ndim(v) == 2, allow_inline=False)
            row = self.fresh("r")
            bindings = {}
            if c.coin(40):
                index = self.fresh("i")
                self.line(f"for {index}, {row} in enumerate({X}):")
                bindings[index] = list(range(np.shape(Xv)[0]))
            else:
                self.line(f"for {row} in {X}:")
            self.features.add("for_rows")
        else:
            counter = self.fresh("j")
            cap = c.integer(2, MAX_TRIPS)
            self.line(f"{counter} = 0")
            form = c.choice(["cap", "test", "test", "true"])
            if form == "test":
                lhs, _ = self.condition_scalar(prefer=carried)
                token = self.new_condition(lhs, c.choice([">", "<"]), None, default=True)
                pending.append((int(_TOKEN.search(token).group(1)), 1))
                self.line(c.choice([f"while {counter} < {cap} and {token}:", f"while {token} and {counter} < {cap}:"]))
            else:
                self.line(f"while {counter} < {cap}:" if form == "cap" else "while True:")
            bindings = {counter: list(range(1, cap + 1))}
            self.features.add("while")
        jump_names = None   # the names live where the jump is
        with self.nested(loop=True):
            for name, values in bindings.items():
                self.ints[name] = values[0]
                self.ns[name] = values[0]
                self.loopvars[name] = values
            if kind == "rows":
                self.bind(row, self.ns[X][0])
                self.iterated.append(self.ns[X])
            if kind == "while":   # the counter first: a `continue` cannot skip it
                self.line(c.choice([f"{counter} += 1", f"{counter} = {counter} + 1"]))
            items = ["op"] * (c.integer(0, 2) if self.budget > 0 else 0) + ["update"] * max(len(carried), 1) + ["op"]
            if self.inplace:   # more updates of the carried values (adcompiler writes them in place)
                items += ["update"] * c.integer(0, self.inplace)
            jumps = [j for j in ("break", "continue", "return") if self.on({"return": "loop_return"}.get(j, j))
                     and not (j == "continue" and form == "true")   # it would skip the loop's exit
                     and not (j == "return" and self.appending)]    # (an enclosing loop grows a list)
            jump = c.choice(jumps) if jumps and form != "test" and grown is None and c.coin(35) else None
            if jump is not None:
                items.insert(c.integer(0, len(items)), "jump")
            if grown is not None:
                items.insert(c.integer(0, len(items)), "append")
            for item in items:
                if item == "op":
                    self.statements(1)
                elif item == "update":
                    try:
                        self.carried_update(carried)
                    except Reject:
                        self.statements(1)
                elif item == "append":
                    self.list_append(grown, carried)
                else:
                    lhs, _ = self.condition_scalar(prefer=carried)
                    token = self.new_condition(lhs, c.choice([">", "<"]), None, default=False)
                    pending.append((int(_TOKEN.search(token).group(1)), 0))
                    self.line(f"if {token}:")
                    with self.nested():
                        self.line(f"return {self.final()}" if jump == "return" else jump)
                    self.features.add({"return": "loop_return"}.get(jump, jump))
                    jump_names = set(self.vars)
            if form == "true":
                lhs, _ = self.condition_scalar(prefer=carried)
                token = self.new_condition(lhs, c.choice([">", "<"]), None, default=False)
                pending.append((int(_TOKEN.search(token).group(1)), 0))
                self.line(f"if {counter} >= {cap} or {token}:")
                with self.nested():
                    self.line("break")
                self.features.add("break")
            written = set(self.written[-1])
            self.appending = appending
            simulated = dict(self.vars)
            simulated_arrays = self.bound_arrays()
            if kind == "rows":
                self.iterated.pop()
        # ranks stay as they were before the loop (adcompiler refuses a change, as documented)
        for name, value in simulated.items():
            if name in header_vars and np.ndim(value) != np.ndim(header_vars[name]):
                raise Reject("rank changes in the loop")
        if pending:   # a trial run (no jumps; while tests true) gives the thresholds
            self.restore(saved)
            self.run_block(start)
            for k, first in pending:
                self.resolve(k, first)
        self.restore(saved)
        returned = self.run_block(start)
        dropped = set()
        if jump_names is not None and self.on("read_after_jump") and c.coin(50):
            self.features.add("read_after_jump")   # names first bound after the jump, read later
        elif jump_names is not None:
            dropped = {n for n in simulated if n not in jump_names and n not in header_vars}
        candidates = dict(simulated)
        candidates.update((n, self.ns[n]) for n in bindings if n in self.ns)
        self.live_after(saved, candidates, returned, dropped)
        self.taint([header_arrays, simulated_arrays, self.bound_arrays()], candidates)
        # no name shares an array the loop writes into, at the end of an iteration (in the first
        # one, as simulated, or in the last one)
        for state in (simulated_arrays, self.bound_arrays()):
            others = list(state.items()) + [(None, p) for p in self.protected]
            for name in written:
                value = state.get(name)
                if isinstance(value, np.ndarray) and any(
                        n != name and np.shares_memory(value, v) for n, v in others):
                    raise Reject("a name shares an array written in the loop")
        if written & self.tainted:   # a name bound in a branch not taken here may share it (adcompiler assumes so)
            raise Reject("a name may share an array written in the loop")
        if grown is not None:
            self.read_list(grown)

    def list_append(self, grown, carried):
        """`out.append(v)`: of a live value itself most often (NumPy's list then holds that array,
        which a later update of it changes: adcompiler refuses such an update, "list_alias"), of a
        carried array first, or of a new value made from one."""
        c = self.c
        arrays = [n for n in carried if isinstance(self.vars.get(n), np.ndarray)]
        if arrays and c.coin(60):
            a = c.choice(arrays)
            av = self.vars[a]
            self.used.add(a)
        else:
            a, av = self.operand(allow_inline=False)
        p = self.paren(a)
        forms = [a, a, a, f"np.tanh({a})", f"{p} * 2.0", f"{p}.copy()"]
        item = c.choice(forms)
        if item == a and isinstance(av, np.ndarray):
            self.features.add("list_alias")
        self.statement(f"{grown}.append({item})", [], "list_append")

    def read_list(self, grown):
        """A value read from the list the loop grew (NumPy reads the arrays it holds now)."""
        c = self.c
        items = self.ns[grown]
        if not items:
            raise Reject("no items")
        if len({np.shape(item) for item in items}) > 1:
            if not self.on("list_shapes"):
                raise Reject("items of different shapes")
            self.features.add("list_shapes")
        forms = [f"np.stack({grown})", f"np.array({grown})", f"sum({grown})", f"{grown}[-1] * 1.0",
                 f"{grown}[0] + {grown}[-1]", f"np.stack({grown}) * 0.5"]
        if np.ndim(items[0]) == 0:
            forms.append(f"np.sum(np.array({grown}))")
        else:
            forms.append(f"np.sum(np.stack({grown}), axis=0)")
        if np.ndim(items[0]) <= 1:
            forms.append(f"np.mean(np.array({grown}), axis=0)")
        expression = c.choice(forms)
        value = self.evaluate(expression)
        if np.ndim(value) > 2:
            raise Reject("rank 3")
        self.emit(expression, value, "list_append", target=self.fresh())
        self.used.discard(self.order[-1])   # let it reach the result

    def carried_update(self, carried):
        """An update of a loop-carried value: `s = 0.5 * s + ...`, `y[i] = ...`, `y += ...`."""
        c = self.c
        if not carried:
            raise Reject("nothing carried")
        name = c.choice(carried)
        value = self.vars.get(name)
        if value is None:
            raise Reject("gone")
        if np.ndim(value) == 0:
            e, _ = self.scalar_term()
            e = self.paren(e)
            forms = [f"{name} = {name} + {e}", f"{name} += {e}", f"{name} = 0.5 * {name} + {e}",
                     f"{name} = np.tanh({name}) + {e}", f"{name} = {name} * 0.8 - {e}"]
            looping = [n for n in self.loopvars if n in self.ints]
            if looping:
                forms.append(f"{name} = {name} + {e} * ({c.choice(looping)} + 1)")
            self.statement(c.choice(forms), [name], "loop_carried")
            return
        if not self.owned(name, scalars=False):
            raise Reject("shared")
        if self.inplace and c.coin(40):   # both, in either order (the found bug's pattern)
            first, second = c.choice([(self.op_setitem, self.rebind), (self.rebind, self.op_setitem)])
            first(target=name)
            if self.owned(name, scalars=False):
                second(target=name)
                self.features.add("update_then_rebind")
            return
        if c.coin(65):
            return self.op_setitem(target=name)
        return self.rebind(target=name)

    def rebind(self, target):
        """`y = y * 0.5 + v`, `y += v`, ...: the carried array `target` made anew from itself."""
        c = self.c
        name, value = target, self.vars[target]
        v, _ = self.term_for(np.shape(value))
        if v == name:
            raise Reject("itself")
        v = self.paren(v)
        form = c.choice([f"{name} = {name} * 0.5 + {v}", f"{name} += {v}", f"{name} = np.tanh({name} + {v})",
                         f"{name} -= {v} * 0.5"])
        if "+=" in form or "-=" in form:
            self.wrote(name)
        self.statement(form, [name], "loop_carried")

    def op_capture(self):
        """A copy of an array that may be updated in place later, read after the update: `c = y.copy()`,
        `c = y * 1.0`, `c = -(-y)` (new arrays in NumPy; adcompiler folds some to `y` itself, so
        writing `y` in place would change them)."""
        if not self.on("captured"):
            raise Reject("off")
        targets = [n for n in self.names(lambda v: isinstance(v, np.ndarray) and v.ndim >= 1)
                   if self.owned(n, scalars=False)]
        if not targets:
            raise Reject("no target")
        t = self.c.choice(targets[::-1])
        forms = [f"{t}.copy()", f"{t} * 1.0", f"-(-{t})", f"{t} + 0.0", f"np.copy({t})", f"{t}[0] * 1.0",
                 f"+{t}", f"{t}.T.T * 1.0", f"{t} - 0.0", f"np.array({t})"]
        expression = self.c.choice(forms)
        value = self.evaluate(expression)
        if not isinstance(value, np.ndarray) or value.base is not None:
            raise Reject("not a new array")
        self.emit(expression, value, "captured", target=self.fresh("cap"))
        self.used.discard(self.order[-1])   # read at the end, after the updates

    def op_loop_index(self):
        """An element, row or column read with a loop index: `x[i]`, `A[i, :]`, `A[:, j]`, `A[i, j]`."""
        if not self.on("loop_index") or not self.loopvars:
            raise Reject("off")
        a, av = self.operand(lambda v: np.ndim(v) >= 1 and any(
            len(set(vs)) > 1 for _, vs in self.index_choices(np.shape(v)[0])))
        shape = np.shape(av)
        p = self.paren(a)
        first = self.index_text(shape[0])
        if len(shape) == 1:
            forms = [f"{p}[{first}]"] * 3 + [f"{p}[{first}] * {self.c.choice(list(self.loopvars))}"]
        else:
            second = self.index_text(shape[1])
            forms = [f"{p}[{first}]", f"{p}[{first}, :]", f"{p}[:, {second}]", f"{p}[{first}, {second}]",
                     f"{p}[{first}, {second}] * 2.0"]
        expression = self.c.choice(forms)
        self.emit(expression, self.evaluate(expression), "loop_index")

    # ------------------------------------------------------------ element and slice assignment

    def op_setitem(self, target=None):
        """`y[i] = v`, `y[i, j] += v`, `y[1:3] = v`, `y[:, j] *= v`, `y[i] = y[i - 1] * 0.5 + v`
        into an array of f that no other name shares."""
        if not self.on("setitem"):
            raise Reject("off")
        c = self.c
        if target is None:
            targets = [n for n in self.names(lambda v: isinstance(v, np.ndarray) and v.ndim >= 1)
                       if self.owned(n, scalars=False)]
            target = c.choice(targets[::-1]) if targets and c.coin(60) else self.new_array()
        y = self.vars[target]
        shape = y.shape
        indices = [t for t, vs in self.index_choices(shape[0]) if t in self.loopvars and len(set(vs)) > 1]
        if len(shape) == 1 and indices and self.on("recurrence") and c.coin(30):
            i = c.choice(indices)
            e, _ = self.scalar_term()
            self.wrote(target)
            self.statement(f"{target}[{i}] = {target}[{i} - 1] * 0.5 + {self.paren(e)}", [target], "recurrence")
            self.features.add("setitem")
            return
        parts = []
        for length in shape:
            kind = c.integer(0, 9)
            if kind < 6:
                parts.append(self.index_text(length))
            elif kind < 7 or length == 1:
                parts.append(":")
            else:
                lo = c.integer(0, length - 1)
                hi = c.integer(lo + 1, length)
                parts.append(c.choice([f"{lo}:{hi}", f"{lo}:", f":{hi}", "::2", "::-1"]))
        if len(shape) == 2 and c.coin(30) and parts[1] == ":":
            parts = parts[:1]   # y[i] of a matrix: a row
        index = ", ".join(parts)
        region = np.shape(self.run_expression(f"{target}[{index}]"))
        if region and math.prod(region) == 0:
            raise Reject("empty")
        v, _ = self.term_for(region) if region else self.scalar_term()
        if v == target:
            raise Reject("itself")
        op = c.choice(["=", "=", "+=", "-=", "*="])
        text = f"{target}[{index}] {op} {v}"
        self.wrote(target)
        self.statement(text, [target], "slice_setitem" if ":" in index else "setitem")
        self.features.add("setitem")


def generate(chooser: Chooser, exclude=(), max_statements=10, control=1, inplace=0) -> Program:
    """One program; `control` weighs the control-flow statements (if, loops, element assignment),
    `inplace` the in-place stress (more element updates of carried arrays, updates and rebinding in
    one iteration, lists grown by loops, copies captured before updates); 0 draws none of them."""
    return Generator(chooser, exclude, max_statements, control=control, inplace=inplace).generate()


if __name__ == "__main__":
    import sys

    print(generate(RandomChooser(int(sys.argv[1]) if len(sys.argv) > 1 else 0), max_statements=14,
                   inplace=int(sys.argv[2]) if len(sys.argv) > 2 else 0))
