"""Arrays made of Python values: np.array and np.asarray of (nested) lists and tuples of numbers,
scalars and arrays, and the list literals NumPy takes wherever it takes an array.

A sequence whose items are all numbers known when compiling is a captured constant array; any
other is the stack of its items (differentiable through them), each first cast to the dtype NumPy
gives the whole list (Python numbers count as float64, int64 or bool there, not as weak literals).
"""
from __future__ import annotations

import numpy as np

from ...ir.core import SUPPORTED_DTYPES, Const
from ...rules import primitives as P
from ...rules.primitives import Sym
from . import reductions, shapes
from .common import ListRows, Static, dtype_name, is_none


def array(lo, object, dtype=Static(None)):
    """`np.array(object)`: a new array (a copy of an array operand)."""
    x = as_array(lo, object, _dtype(lo, dtype))
    unchanged = isinstance(object, Sym) and x.operand is object.operand
    return P.copy(x) if unchanged and x.type.ndim else x


def asarray(lo, a, dtype=Static(None)):
    """`np.asarray(a)`: an array operand itself (cast where `dtype` differs)."""
    return as_array(lo, a, _dtype(lo, dtype))


def _dtype(lo, dtype):
    return None if is_none(dtype) else dtype_name(lo, dtype, None)


def as_array(lo, value, dtype: str | None = None) -> Sym:
    """`value` as NumPy makes an array of it: a (nested) tuple of numbers and arrays, or an operand
    (a Python number becomes a scalar of its default dtype)."""
    if isinstance(value, tuple):
        known = _known(value)
        if known is not None:
            return _constant(lo, np.array(known, dtype=dtype))
        if not value:
            lo.refuse(lo.node, "an empty list cannot be made an array here", "give the list its values")
        items = [as_array(lo, item) for item in value]
        if any(item.type.ndim != items[0].type.ndim for item in items):
            lo.refuse(lo.node, "the items of this list have different ranks, so NumPy cannot make an array of them",
                      "make every item a number, or every item an array of one shape")
        common = dtype or np.result_type(*(item.type.dtype for item in items)).name
        return shapes.stack(lo, tuple(_cast(item, common) for item in items))
    x = value.rows if isinstance(value, ListRows) else lo.operand(value, lo.node)
    return _cast(x, dtype or x.type.dtype)


def rows_of_lists(function, args) -> list:
    """`args` of a NumPy function, a list grown in a loop as the array of its rows (what NumPy makes
    of it), but for the joins, whose lowerings take such a list themselves."""
    if not (getattr(function, "__module__", None) or "").startswith("numpy") or function in (np.stack, np.concatenate):
        return args
    return [a.rows if isinstance(a, ListRows) else a for a in args]


def builtin_sum(lo, iterable, start=Sym(0)):
    """`sum(items)`: the items added in order (the rows of an array or of a list grown in a loop)."""
    if isinstance(iterable, tuple):
        total = start
        for item in iterable:
            total = total + lo.operand(item, lo.node)
        return total
    rows = iterable.rows if isinstance(iterable, ListRows) else lo.operand(iterable, lo.node)
    if rows.type.ndim == 0:
        lo.refuse(lo.node, "sum() of a scalar is not supported", "sum an array, a list or a tuple")
    return reductions.CALLS[np.sum](lo, rows, axis=Sym(0)) + start


def _cast(x: Sym, dtype: str) -> Sym:
    return x if x.type.dtype == dtype and not x.type.weak else P.cast(x, dtype=dtype)


def _known(value):
    """`value` as nested Python numbers when every item is a literal, else None."""
    if isinstance(value, tuple):
        items = [_known(v) for v in value]
        return None if any(i is None for i in items) else items
    if isinstance(value, Sym) and isinstance(value.operand, Const):
        return value.operand.value
    return None


def _constant(lo, constant: np.ndarray) -> Sym:
    if constant.dtype.name not in SUPPORTED_DTYPES:
        lo.refuse(lo.node, f"this list makes an array of dtype {constant.dtype}, which is not supported",
                  f"use numbers of one kind, or dtype= one of {', '.join(SUPPORTED_DTYPES)}")
    if constant.ndim == 0:
        return _cast(Sym(constant.item()), constant.dtype.name)
    constant.flags.writeable = False
    return lo.capture(constant, lo.node, "constant")


CALLS = {np.array: array, np.asarray: asarray, sum: builtin_sum}
