"""Arithmetic and elementwise calls that are compositions of primitives: np.dot, np.outer,
np.square, np.reciprocal, np.clip, casts and copies, and the builtins max and min of numbers."""
from __future__ import annotations

import numpy as np

from ...rules import primitives as P
from .common import dtype_name, flat, is_none


def dot(lo, a, b):
    return lo.matmul(lo.operand(a, lo.node), lo.operand(b, lo.node))


def outer(lo, a, b):
    a, b = (lo.operand(v, lo.node) for v in (a, b))
    a, b = (flat(lo, v) for v in (a, b))
    return P.outer(a, b)


def square(lo, x):
    x = lo.operand(x, lo.node)
    return x * x


def reciprocal(lo, x):
    x = lo.operand(x, lo.node)
    if not x.type.is_float:
        lo.refuse(lo.node, "np.reciprocal of integers is not supported", "use 1.0 / x")
    return 1.0 / x


def clip(lo, a, a_min, a_max):
    x = lo.operand(a, lo.node)
    if not is_none(a_min):
        x = P.maximum(x, lo.operand(a_min, lo.node))
    if not is_none(a_max):
        x = P.minimum(x, lo.operand(a_max, lo.node))
    return x


def _cast_to(dtype):
    def lowering(lo, x):
        return P.cast(lo.operand(x, lo.node), dtype=dtype)
    return lowering


def astype(lo, x, dtype):
    return P.cast(lo.operand(x, lo.node), dtype=dtype_name(lo, dtype, None))


def copy(lo, a):
    x = lo.operand(a, lo.node)
    return P.fresh(x) if x.type.ndim else x


def larger(lo, *values):
    """`max(a, b, ...)` of numbers (ties go to the later one, a subgradient as good as any)."""
    return _fold_scalars(lo, values, P.maximum, "max")


def smaller(lo, *values):
    """`min(a, b, ...)` of numbers."""
    return _fold_scalars(lo, values, P.minimum, "min")


def _fold_scalars(lo, values, prim, name):
    operands = [lo.operand(v, lo.node) for v in values]
    if len(operands) < 2 or any(o.type.ndim for o in operands):
        lo.refuse(lo.node, f"`{name}` of an array or of one value is not supported",
                  f"use np.{name} of an array, or {name}(a, b) of numbers")
    result = operands[0]
    for operand in operands[1:]:
        result = prim(result, operand)
    return result


CALLS = {np.dot: dot, np.outer: outer, np.square: square, np.reciprocal: reciprocal, np.clip: clip,
         np.copy: copy, float: _cast_to("float64"), np.float64: _cast_to("float64"),
         np.float32: _cast_to("float32"), astype: astype, max: larger, min: smaller}
METHODS = {"dot": np.dot, "copy": np.copy, "astype": astype, "clip": np.clip}
