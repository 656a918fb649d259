"""The typed SSA IR: values, constants, ops, blocks and functions, with a printer and a verifier.

Invariants (checked by `verify`): every value is defined once, by a block argument or an op, before
it is used; every op's result type is what its primitive's type rule gives for its arguments; every
block ends in a terminator. Values compare by identity; their `hint` is only a name for printing.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .errors import CompileError, Loc

if TYPE_CHECKING:
    from .primitives import Primitive

FLOAT_DTYPES = ("float32", "float64")
SUPPORTED_DTYPES = ("float64", "float32", "int64", "bool")


@dataclass(frozen=True)
class Type:
    """The static type of a value: dtype and rank. `weak` marks a Python literal, which takes the
    dtype of whatever it meets (NumPy's NEP 50 rule), so `x32 * 2.0` stays float32."""

    dtype: str
    ndim: int = 0
    weak: bool = False
    units: tuple = None  # per axis: True (length 1), False (not 1) or None (unknown); None: all unknown

    def __post_init__(self):
        if self.units is None:
            object.__setattr__(self, "units", (None,) * self.ndim)
        assert len(self.units) == self.ndim, (self.units, self.ndim)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def with_dtype(self, dtype: str) -> "Type":
        """The same shape with another dtype (never weak)."""
        return Type(dtype, self.ndim, False, self.units)

    def __str__(self) -> str:
        short = _SHORT_DTYPES[self.dtype]
        if self.weak:
            return f"weak {short}"
        axes = ",".join({True: "1", False: "n", None: "?"}[u] for u in self.units)
        return short if self.ndim == 0 else f"{short}[{axes}]"

    def describe(self) -> str:
        """In words, as NumPy says it: `a float64 scalar`, `a 2-D float32 array`."""
        return f"a {self.dtype} scalar" if self.ndim == 0 else f"a {self.ndim}-D {self.dtype} array"

    @property
    def tag(self) -> str:
        """A name-safe spelling, such as `f64_2d`."""
        return _SHORT_DTYPES[self.dtype] + (f"_{self.ndim}d" if self.ndim else "")


_SHORT_DTYPES = {"float64": "f64", "float32": "f32", "int64": "i64", "bool": "bool"}


@dataclass(eq=False)
class Value:
    """An SSA value. `hint` is the user's variable name (empty for a temporary, printed `t`), never
    an identity."""

    type: Type
    hint: str = ""

    def __repr__(self) -> str:
        return f"Value({self.hint}: {self.type})"


@dataclass(frozen=True)
class Const:
    """A literal operand, written inline where it is used."""

    value: Union[float, int, bool]

    @property
    def type(self) -> Type:
        kind = {bool: "bool", int: "int64", float: "float64"}[type(self.value)]
        return Type(kind, 0, weak=True)


Operand = Union[Value, Const]


@dataclass(eq=False)
class Op:
    """`result = prim(*args, **params)`, made at `loc` in the user's source."""

    prim: "Primitive"
    args: tuple
    result: Value
    loc: Loc
    params: tuple = ()  # sorted (name, value) pairs; hashable, so ops can be compared for CSE

    @property
    def param_dict(self) -> dict:
        return dict(self.params)


@dataclass(eq=False)
class Return:
    """Terminator: return these operands (a tuple when several)."""

    values: tuple
    loc: Loc


@dataclass(eq=False)
class Block:
    args: list
    ops: list = field(default_factory=list)
    terminator: Return | None = None


@dataclass(eq=False)
class Function:
    """A function of the IR. `params` are the entry block's arguments; the last `len(captured)` of
    them are bound to `captured`, arrays read from the user's globals or closure at compile time.
    `assumptions` are the (scope, name, object) reads of globals and closure cells the function was
    lowered with (`still_valid` tells whether they still hold)."""

    name: str
    blocks: list
    loc: Loc
    captured: tuple = ()
    assumptions: tuple = ()

    @property
    def params(self) -> list:
        return self.blocks[0].args

    @property
    def entry(self) -> Block:
        return self.blocks[0]


RESERVED_NAMES = frozenset({"np", "rt", "jit", "math"}) | frozenset(keyword.kwlist)


class Namer:
    """Deterministic, readable, unique names: the hint itself first, then `hint_1`, `hint_2`, ..."""

    def __init__(self, taken=()):
        self.names: dict[int, str] = {}
        self.keep: list = []  # the named values, kept alive so that their ids stay unique
        self.used = set(RESERVED_NAMES) | set(taken)

    def alias(self, value: Value, same_as: Value) -> None:
        """Give `value` the name of `same_as` (a residual parameter and the forward value it holds)."""
        self.names[id(value)] = self(same_as)

    def __call__(self, value: Value) -> str:
        key = id(value)
        if key not in self.names:
            base = value.hint or "t"
            name, n = base, 0
            while name in self.used:
                n += 1
                name = f"{base}_{n}"
            self.used.add(name)
            self.names[key] = name
            self.keep.append(value)
        return self.names[key]


def format_operand(operand: Operand, name: Namer) -> str:
    return repr(operand.value) if isinstance(operand, Const) else "%" + name(operand)


def print_function(fn: Function, name: Namer | None = None) -> str:
    """Stable text of `fn`: one op a line, with its type and the user's file:line. Passes that
    share a `name`r print shared values under one name (a residual as in the forward)."""
    name = name or Namer()
    params = ", ".join(f"%{name(p)}: {p.type}" for p in fn.params)
    lines = [f"func {fn.name}({params}) {{"]
    for block in fn.blocks:
        for op in block.ops:
            args = ", ".join(format_operand(a, name) for a in op.args)
            params_text = "".join(f", {k}={v!r}" for k, v in op.params)
            text = f"  %{name(op.result)} = {op.prim.name} {args}{params_text} : {op.result.type}"
            lines.append(f"{text:<60} # {op.loc.short}")
        values = ", ".join(format_operand(v, name) for v in block.terminator.values)
        lines.append(f"  return {values}")
    lines.append("}")
    return "\n".join(lines)


def verify(fn: Function) -> Function:
    """Check the IR's invariants; raise CompileError naming the broken one. Returns `fn`."""
    defined: set[int] = set()

    def fail(message, loc):
        raise CompileError(f"IR verification failed in {fn.name}: {message}", loc)

    def define(value, loc):
        if not isinstance(value, Value):
            fail(f"{value!r} is defined but is not a Value", loc)
        if id(value) in defined:
            fail(f"%{value.hint or 't'} is defined twice", loc)
        defined.add(id(value))

    def use(operand, loc):
        if not isinstance(operand, (Value, Const)):
            fail(f"{operand!r} is an operand but neither a Value nor a Const", loc)
        if isinstance(operand, Value) and id(operand) not in defined:
            fail(f"%{operand.hint or 't'} is used before it is defined", loc)

    for block in fn.blocks:
        for arg in block.args:
            define(arg, fn.loc)
        for op in block.ops:
            if op.prim.arity is not None and len(op.args) != op.prim.arity:
                fail(f"{op.prim.name} takes {op.prim.arity} operand(s), got {len(op.args)}", op.loc)
            for arg in op.args:
                use(arg, op.loc)
            expected = op.prim.infer_type(*(a.type for a in op.args), **op.param_dict)
            if expected != op.result.type:
                fail(f"{op.prim.name} gives {expected}, but %{op.result.hint or 't'} is {op.result.type}", op.loc)
            define(op.result, op.loc)
        if not isinstance(block.terminator, Return):
            fail("a block has no terminator", fn.loc)
        for value in block.terminator.values:
            use(value, block.terminator.loc)
    return fn
