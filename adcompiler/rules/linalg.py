"""Linear algebra: `@` (1-D and 2-D operands and stacks of matrices) and outer products."""
from __future__ import annotations

import numpy as np

from ..ir.builder import TypeRuleError
from ..ir.core import Type
from .primitive import NEW, Primitive, Sym, promote
from .reductions import sum_axes
from .shapes import permute


def _matmul_type(a: Type, b: Type) -> Type:
    batched = 3 in (a.ndim, b.ndim)
    if not (1 <= a.ndim <= 3 and 1 <= b.ndim <= 3) or (batched and 1 in (a.ndim, b.ndim)):
        raise TypeRuleError(f"`@` of a {a.ndim}-D and a {b.ndim}-D operand is not supported",
                            "use 1-D or 2-D operands, or 3-D stacks of matrices with 2-D or 3-D ones")
    if a.dtype != b.dtype or not a.is_float:
        raise TypeRuleError(f"`@` needs two float operands of one dtype, got {a} and {b}")
    if batched:
        batch = (a if a.ndim == 3 else b).units[:1]
        units = batch + a.units[-2:-1] + b.units[-1:]
    else:
        units = a.units[:-1] + (b.units[-1:] if b.ndim == 2 else ())
    return Type(a.dtype, len(units), False, units)


def _swap_last(x: Sym) -> Sym:
    """The matrices of a 2-D or 3-D array transposed."""
    return x.T if x.type.ndim == 2 else permute(x, axes=(0, 2, 1))


def _matmul_left_vjp(g, a, b, out):
    if b.type.ndim == 1:
        return outer(g, b) if a.type.ndim == 2 else g * b
    if a.type.ndim == 1:
        return b @ g
    share = g @ _swap_last(b)
    return sum_axes(share, axes=(0,), keepdims=False) if share.type.ndim > a.type.ndim else share


def _matmul_right_vjp(g, a, b, out):
    if a.type.ndim == 1:
        return outer(a, g) if b.type.ndim == 2 else g * a
    if b.type.ndim == 1:
        return g @ a
    share = _swap_last(a) @ g
    return sum_axes(share, axes=(0,), keepdims=False) if share.type.ndim > b.type.ndim else share


# Numba's `@` stops at 2-D; stacks of matrices go through the runtime's loop over the stack. All go
# through the runtime, whose compiled `@` is cached across functions.
matmul = Primitive("matmul", 2, "rt.matmul(_0, _1)", _matmul_type, memory=NEW, binds=(np.matmul,), operator="@")
matmul.defvjp(_matmul_left_vjp, _matmul_right_vjp)


def _outer_type(a: Type, b: Type) -> Type:
    return Type(promote(Type(a.dtype), Type(b.dtype)).dtype, 2, False, a.units + b.units)


# Not np.outer: Numba takes about 2 s to compile it, and 0.3 s to compile this.
outer = Primitive("outer", 2, "_0[:, None] * _1[None, :]", _outer_type, memory=NEW)
outer.defvjp(lambda g, a, b, out: g @ b, lambda g, a, b, out: a @ g)
