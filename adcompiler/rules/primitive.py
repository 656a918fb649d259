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
- `binds` are the NumPy and `math` functions that are this primitive when user code calls them.
- `recompute` says where a loop's backward repeats it instead of reading it from a tape (a
  callable of the params where that depends on them).
- `rewrite(builder, args, params, hint)` returns an equivalent value made otherwise (a negation
  moved or cancelled), or None to make the op as it is.
- `vjps` holds one derivative rule per operand, `rule(g, *operands, out, **params)`, returning that
  operand's share of the gradient; None marks an operand without gradient (an exact zero). With no
  rules at all, a differentiated operand is refused (`refusal` gives the message and hint, a
  callable of the params where they depend on them).
  Rules are written with primitives (through `Sym` operators), so what they build is IR again.
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


OPERATORS: dict = {}  # Python operator spelling (`"+"`, `"T"`) -> what `Sym` calls for it


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
    refusal: Union[tuple, Callable[..., tuple]] = ()  # (message, hint) when a differentiated value reaches
    # a primitive without rules; a callable of the params where that depends on them

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

    def infer_type(self, *types: Type, **params) -> Type:
        return self.type_rule(*types, **params)

    def python(self, types, params) -> str:
        return self.template if isinstance(self.template, str) else self.template(types, **params)

    def defvjp(self, *rules) -> None:
        """One rule per operand; a variadic primitive (arity None) gives rules for its leading
        operands, and the operands after them get no gradient (shapes, indices)."""
        assert self.arity is None or len(rules) == self.arity, f"{self.name}: one rule per operand"
        self.vjps = rules

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
    units = broadcast_units(*types)
    strong = [np.dtype(t.dtype) for t in types if not t.weak]
    if not strong:  # Python numbers with Python numbers give a Python number
        kind = max((t.dtype for t in types), key=_KIND_ORDER.__getitem__)
        return Type(kind, len(units), not units, units)
    weak = [_WEAK_SAMPLE[t.dtype] for t in types if t.weak]
    return Type(str(np.result_type(*strong, *weak)), len(units), False, units)


def join(a: Type, b: Type):
    """The type of one variable that holds values of types `a` and `b` (a name assigned in two
    branches, or before and in a loop): None when their ranks differ."""
    if a.ndim != b.ndim or a.listed != b.listed:
        return None
    dtype = promote(a, b).dtype
    units = tuple(u if u == v else None for u, v in zip(a.units, b.units))
    return Type(dtype, a.ndim, a.weak and b.weak, units, a.listed)


def broadcast_units(*types: Type) -> tuple:
    """Which axes of the broadcast of `types` have length 1: an axis is 1 where every operand's is
    (a missing axis counts as 1), not 1 where some operand's is not 1, and unknown otherwise."""
    ndim = max(t.ndim for t in types)
    padded = [(True,) * (ndim - t.ndim) + t.units for t in types]
    return tuple(False if False in axis else True if all(axis) else None for axis in zip(*padded))


def floating(t: Type) -> Type:
    """The type of a float function of `t`: ints and bools become float64 (weak stays weak)."""
    return Type(t.dtype if t.is_float else "float64", t.ndim, t.weak, t.units)


def same_type(t: Type, **_) -> Type:
    return Type(t.dtype, t.ndim, t.weak, t.units)
