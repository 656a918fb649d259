"""The record of a primitive: everything about one operation of the IR, declared in one block.

    arctan = Primitive("arctan", 1, "np.arctan(_0)", floating, memory=NEW, binds=(np.arctan, math.atan),
                       ufunc=True, vjps=(lambda g, x, out: g / (1 + x * x),))

- `template` is the Python it emits, with operands `_0`, `_1`, ... (a callable template receives
  the operand types and the params and returns that text; `rt.<name>(...)` calls a runtime helper).
- `type_rule(*operand types, **params)` gives the result type (raising TypeRuleError to refuse).
- `memory` (required: a wrong guess gives silently wrong answers) says what the result is in
  memory (`Memory`, declared with the may-alias relation in ir/alias.py): a new value, a buffer to be
  filled, a view of operand 0, operand 0 itself, a new array that is operand 0 in the generated code,
  or operand 0 updated in place; a callable of the params where that depends on them.
- `kernel_template`, where set, is how a kernel (a region compiled by Numba) spells the primitive
  of float operands: `rt.vector_exp(_0)`, the vectorisable function of backend/vmath.py; NumPy
  regions keep `template` (and so do kernels with $ADCOMPILER_VECTOR_MATH=0, emit.vector_math).
- `binds` are the NumPy and `math` functions that are this primitive when user code calls them
  (SciPy's by name, `"scipy.special.erf"`: bound once the user's code imports the module).
- `recompute` says where a loop's backward repeats it instead of reading it from a tape (a
  callable of the params where that depends on them).
- `rewrite(builder, args, params, hint)` returns an equivalent value made otherwise (a negation
  moved or cancelled), or None to make the op as it is.
- `vjps` holds one derivative rule per operand, `rule(g, *operands, out, **params)`, returning that
  operand's share of the gradient; None marks an operand without gradient (an exact zero). With no
  rules at all, a differentiated operand is refused (`refusal` gives the message and hint, a
  callable of the params where they depend on them).
- `lengths(*operands, **params)` gives the result's axis lengths from the operands' (`Type.lengths`,
  known where a specialisation fixes shapes) and literal operands' values, None where unknown; without
  it the type rule's lengths hold (unknown, but where it passes on an operand's type of the same shape).
  Rules are written with primitives (through `Sym` operators), so what they build is IR again.
- `batch` is the batching rule (transforms/batch.py), `rule(*operands, batched, **params)`: the
  operands as symbols, those flagged in `batched` with a leading batch axis of length k; it returns
  the result with that axis (or `Unbatched(value)` for what is the same across the batch, a size).
  ELEMENTWISE (derived for ufuncs and broadcasting primitives) is rank alignment: a batched operand
  of logical rank r, in an op whose result has rank R, is reshaped to (k, 1.., *shape) and the op
  applied as it is. None: a batched value reaching the primitive is refused.
  A rule wrapped in `WithLength` also gets `length=`, k as a symbol (for an array it makes from
  unbatched lengths where a batched operand may be empty: a placeholder).
- `jvps` holds the forward rules: one per operand, `rule(t, *operands, out, **params)`, returning
  the contribution of that operand's tangent `t` to the output's tangent (None: none); the sum of
  the contributions is the output's tangent. Two markers derive them where the maths allows:
  `DIAGONAL` (the default of ufuncs: an elementwise primitive's Jacobian is diagonal, so its vjp
  rule evaluated at g = t is the contribution, broadcast to the output's shape) and `LINEAR` (the
  primitive is linear in its operands that have vjp rules, together, the others held: shapes,
  indices, masks; its tangent is the primitive applied to their tangents, zeros where they have
  none; `Linear(positions)` names the operands of a primitive without vjp rules, a tape's list
  ops). A primitive whose vjps are all None (`ZERO`) passes no tangent. Every primitive with vjps
  has forward rules (tests/test_forward.py checks the table); a tangent reaching one without is
  refused as a gradient is.
- `elements` is the elements rule (transforms/scalarise.py), `rule(*operands, **params)`: each
  operand an object array of its elements as symbols of numbers (a literal, 0-d: its `Sym`), the
  result the same of the op's result, made with primitives of numbers (`+` of two elements is an
  `add` of numbers). Derived for elementwise primitives (the primitive applied to each element,
  broadcast); None: no such rule (the op keeps its function whole). A rule raises `NoElements`
  where the operands do not say (an index that is not a literal).
"""
from __future__ import annotations

import enum
from dataclasses import KW_ONLY, dataclass, field
from typing import Callable, Optional, Union

import numpy as np

from ..ir.alias import Memory
from ..ir.builder import current_builder
from ..ir.core import Const, Type, Value


class Recompute(enum.Flag):
    """Where a loop's backward repeats the op rather than taping its result: one pass, no
    transcendental function, cheaper than a tape's copy."""

    NEVER = 0
    NUMBER = enum.auto()  # where the result is a number
    ARRAY = enum.auto()   # where the result is an array
    ALWAYS = NUMBER | ARRAY


NEW, BUFFER, VIEW, IDENTITY, FRESH, UPDATE = Memory
# `vjps=ZERO`: every operand gets an exact zero gradient (masks, sizes, arrays made from shapes).
# The default, no rules at all, means that a gradient reaching the primitive is refused.
ZERO = (None,)


# `batch=ELEMENTWISE`: the op acts on each element alone (derived for ufuncs and broadcasting ones).
ELEMENTWISE = "elementwise"


@dataclass(frozen=True)
class Unbatched:
    """What a batching rule returns for a result that is the same for every item of the batch."""

    value: "Sym"


class _Diagonal:
    """`jvps=DIAGONAL`: elementwise, so the vjp rule at g = t is the tangent's contribution."""

    def __repr__(self):
        return "DIAGONAL"


DIAGONAL = _Diagonal()


@dataclass(frozen=True)
class Linear:
    """`jvps=LINEAR`: linear in the operands at `positions` together (None: those with vjp rules),
    the others held; the tangent is the primitive applied to those operands' tangents."""

    positions: Optional[tuple] = None


LINEAR = Linear()


OPERATORS: dict = {}  # Python operator spelling (`"+"`, `"T"`) -> what `Sym` calls for it


class WithLength:
    """A batching rule that also takes the batch's length (`length=`, a symbol)."""

    def __init__(self, rule: Callable):
        self.rule = rule

    def __call__(self, *operands, **params):
        return self.rule(*operands, **params)


@dataclass(eq=False)
class Primitive:
    """One operation of the IR (see the module docstring for each field)."""

    name: str
    arity: Optional[int]  # None: variadic
    template: Union[str, Callable[..., str]]
    type_rule: Callable[..., Type]
    _: KW_ONLY
    memory: Union[Memory, Callable[..., Memory]]
    binds: tuple = ()
    recompute: Union[Recompute, Callable[..., Recompute]] = Recompute.NEVER
    rewrite: Optional[Callable] = None
    operator: str = ""  # the Python operator that stands for it on symbols (`"+"`)
    broadcasts: bool | tuple = False  # True, or the positions of the operands that broadcast
    fold: Optional[Callable] = None
    ufunc: bool = False  # an operator or NumPy ufunc: emission may nest it in its consumer's expression
    kernel_template: str = ""  # how kernels spell it of float operands (vector math), if not as `template`
    vjps: tuple = field(default=())
    jvps: Union[tuple, _Diagonal, Linear, None] = None  # None: DIAGONAL for a ufunc, else none given
    refusal: Union[tuple, Callable[..., tuple]] = ()  # (message, hint) when a differentiated value reaches
    # a primitive without rules; a callable of the params where that depends on them
    batch: Union[Callable, str, None] = None  # the batching rule, ELEMENTWISE, or None (derived)
    lengths: Optional[Callable[..., tuple]] = None
    elements: Optional[Callable] = None  # the elements rule, or None (derived where elementwise)

    def __post_init__(self):
        if self.operator:
            OPERATORS[self.operator] = self

    def memory_of(self, params: dict) -> Memory:
        return self.memory(**params) if callable(self.memory) else self.memory

    def refusal_of(self, params: dict) -> tuple:
        return self.refusal(**params) if callable(self.refusal) else self.refusal

    @property
    def updates(self) -> bool:
        """Whether the template is a statement that changes operand 0 (whatever the params)."""
        return self.memory is UPDATE

    @property
    def identity(self) -> bool:
        """Whether the template is `_0`: operand 0 itself in the generated code."""
        return self.memory in (IDENTITY, FRESH)

    def recomputed(self, result: Type, params: dict) -> bool:
        """Whether a loop's backward repeats this op, whose result has type `result`."""
        cheap = self.recompute(**params) if callable(self.recompute) else self.recompute
        return bool(cheap & (Recompute.ARRAY if result.ndim else Recompute.NUMBER))

    def infer_type(self, args, **params) -> Type:
        """The type of the result on the operands `args` (Values and Consts)."""
        result = self.type_rule(*(a.type for a in args), **params)
        if self.lengths is None or not result.ndim:
            return result
        return result.with_lengths(self.lengths(*args, **params))

    def python(self, types, params) -> str:
        return self.template if isinstance(self.template, str) else self.template(types, **params)

    def defvjp(self, *rules) -> None:
        """One rule per operand; a variadic primitive (arity None) gives rules for its leading
        operands, and the operands after them get no gradient (shapes, indices)."""
        assert self.arity is None or len(rules) == self.arity, f"{self.name}: one rule per operand"
        self.vjps = rules

    @property
    def elementwise(self) -> bool:
        """Whether the op acts on each element alone, so that rank alignment batches it."""
        return self.batch == ELEMENTWISE or (self.batch is None and (self.ufunc or self.broadcasts is True))

    def defbatch(self, rule: Callable) -> None:
        """The batching rule (see the module docstring)."""
        self.batch = rule

    def elements_of(self, *operands, **params) -> Optional[np.ndarray]:
        """The elements of the result (see `elements`) of operands given as object arrays of their
        elements; None where the primitive has no elements rule."""
        if self.elements is not None:
            return as_elements(self.elements(*operands, **params))
        if not self.elementwise or self.batch == ELEMENTWISE:  # an explicit ELEMENTWISE is not a ufunc
            return None
        each = np.frompyfunc(lambda *numbers: self(*numbers, **params), len(operands), 1)
        return as_elements(each(*operands))

    def defelements(self, rule: Callable) -> None:
        """The elements rule (see the module docstring)."""
        self.elements = rule

    def defjvp(self, *rules) -> None:
        """One forward rule per operand, as `defvjp` (None: that operand's tangent adds nothing)."""
        assert self.arity is None or len(rules) == self.arity, f"{self.name}: one rule per operand"
        self.jvps = rules

    @property
    def forward_rules(self):
        """The forward rules as declared or derived: a tuple of rules, DIAGONAL or a `Linear`
        (with its positions); `ZERO` where every vjp is None; () where there are none."""
        if self.jvps is None:
            if self.vjps and all(rule is None for rule in self.vjps):
                return ZERO
            return DIAGONAL if self.ufunc and self.vjps else ()
        if self.jvps is DIAGONAL and not self.vjps:
            return ()  # derived from vjp rules that are not there
        if isinstance(self.jvps, Linear) and self.jvps.positions is None:
            return Linear(tuple(i for i, rule in enumerate(self.vjps) if rule is not None))
        return self.jvps

    def passes_tangent(self, position: int) -> bool:
        """Whether the tangent of operand `position` contributes to the output's tangent."""
        rules = self.forward_rules
        if isinstance(rules, Linear):
            return position in rules.positions
        if rules is DIAGONAL:
            return self.rule(position) is not None
        return position < len(rules) and rules[position] is not None

    def broadcasts_operand(self, position: int) -> bool:
        return self.broadcasts is True or position in (self.broadcasts or ())

    def rule(self, position: int):
        """The derivative rule of operand `position`, or None when it gets no gradient."""
        return self.vjps[position] if position < len(self.vjps) else None

    def __call__(self, *args, hint: str = "", **params) -> "Sym":
        operands = [as_operand(a) for a in args]
        return Sym(current_builder().emit(self, operands, params, hint))

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class NoElements(Exception):
    """An elements rule cannot give the result's elements from these operands (the reason)."""


def as_elements(x) -> np.ndarray:
    """`x` (an array of symbols and Python numbers, or one of them) as an object array of `Sym`s."""
    array = x if isinstance(x, np.ndarray) else None
    out = np.empty(() if array is None else array.shape, object)
    for index in np.ndindex(out.shape):
        out[index] = Sym(x if array is None else array[index])
    return out


def numbers(elements: np.ndarray):
    """Elements to assign into an object array: a 0-d array as its one element."""
    return elements[()] if isinstance(elements, np.ndarray) and elements.ndim == 0 else elements


def filled_elements(shape: tuple, value) -> np.ndarray:
    """The elements of an array of `shape` filled with the literal `value` (a Python number)."""
    return np.full(shape, Sym(value), dtype=object)


def literal(elements: np.ndarray):
    """The Python value of a literal operand given as elements (0-d); NoElements if it is not one."""
    operand = elements[()].operand if elements.ndim == 0 else None
    if not isinstance(operand, Const):
        raise NoElements("an index or a size that is not a literal")
    return operand.value


def as_operand(x):
    if isinstance(x, Sym):
        return x.operand
    if isinstance(x, (Value, Const)):
        return x
    if isinstance(x, (bool, int, float)):
        return Const(x)
    raise TypeError(f"not an operand: {x!r}")


def _operator(symbol: str, reflected: bool = False):
    if reflected:
        return lambda self, other: OPERATORS[symbol](other, self)
    return lambda self, other: OPERATORS[symbol](self, other)


class Sym:
    """A symbolic operand for writing rules and lowering as maths: `g * (1 - out * out)`."""

    __slots__ = ("operand",)

    def __init__(self, operand):
        self.operand = as_operand(operand)

    @property
    def type(self) -> Type:
        return self.operand.type

    @property
    def T(self) -> "Sym":
        return OPERATORS["T"](self)

    __add__, __radd__ = _operator("+"), _operator("+", True)
    __sub__, __rsub__ = _operator("-"), _operator("-", True)
    __mul__, __rmul__ = _operator("*"), _operator("*", True)
    __truediv__, __rtruediv__ = _operator("/"), _operator("/", True)
    __pow__, __rpow__ = _operator("**"), _operator("**", True)
    __matmul__ = _operator("@")
    __gt__, __lt__ = _operator(">"), _operator("<")
    __ge__, __le__ = _operator(">="), _operator("<=")

    def __neg__(self):
        return OPERATORS["unary -"](self)


def is_const(x: Sym, value=None) -> bool:
    return isinstance(x.operand, Const) and (value is None or x.operand.value == value)


# ---------------------------------------------------------------- type rules shared by the families

_KIND_ORDER = {"bool": 0, "int64": 1, "float32": 2, "float64": 2}
_WEAK_SAMPLE = {"bool": True, "int64": 0, "float64": 0.0}


def promote(*types: Type) -> Type:
    """NumPy 2 promotion (NEP 50: literals are weak) with broadcasting of shapes."""
    units, lengths = broadcast_units(*types), broadcast_lengths(*types)
    strong = [np.dtype(t.dtype) for t in types if not t.weak]
    if not strong:  # Python numbers with Python numbers give a Python number
        kind = max((t.dtype for t in types), key=_KIND_ORDER.__getitem__)
        return Type(kind, len(units), not units, units, 0, lengths)
    weak = [_WEAK_SAMPLE[t.dtype] for t in types if t.weak]
    return Type(str(np.result_type(*strong, *weak)), len(units), False, units, 0, lengths)


def join(a: Type, b: Type):
    """The type of one variable that holds values of types `a` and `b` (a name assigned in two
    branches, or before and in a loop): None when their ranks differ."""
    if a.ndim != b.ndim or a.listed != b.listed:
        return None
    dtype = promote(a, b).dtype
    units = tuple(u if u == v else None for u, v in zip(a.units, b.units))
    lengths = tuple(n if n == m else None for n, m in zip(a.lengths, b.lengths))
    return Type(dtype, a.ndim, a.weak and b.weak, units, a.listed, lengths)


def broadcast_units(*types: Type) -> tuple:
    """Which axes of the broadcast of `types` have length 1: an axis is 1 where every operand's is
    (a missing axis counts as 1), not 1 where some operand's is not 1, and unknown otherwise."""
    ndim = max(t.ndim for t in types)
    padded = [(True,) * (ndim - t.ndim) + t.units for t in types]
    return tuple(False if False in axis else True if all(axis) else None for axis in zip(*padded))


def literal_lengths(*dims, **_) -> tuple:
    """The lengths that operands `dims` (Consts or Values) give a shape: each literal's value,
    None for the others (and for a negative literal, as `-1` of a reshape)."""
    return tuple(d.value if isinstance(d, Const) and d.value >= 0 else None for d in dims)


def broadcast_lengths(*types: Type) -> tuple:
    """The lengths of the broadcast of `types`: an axis is as long as an operand's known length
    other than 1 (broadcasting fails at run time otherwise), 1 where every operand's is 1, and
    unknown otherwise."""
    ndim = max(t.ndim for t in types)
    padded = [(1,) * (ndim - t.ndim) + t.lengths for t in types]
    return tuple(max(known) if (known := [n for n in axis if n not in (None, 1)]) else 1 if all(n == 1 for n in axis)
                 else None for axis in zip(*padded))


def floating(t: Type) -> Type:
    """The type of a float function of `t`: ints and bools become float64 (weak stays weak)."""
    return Type(t.dtype if t.is_float else "float64", t.ndim, t.weak, t.units, 0, t.lengths)


def same_type(t: Type, **_) -> Type:
    """The type of a result of the operand's dtype and shape."""
    return Type(t.dtype, t.ndim, t.weak, t.units, 0, t.lengths)
