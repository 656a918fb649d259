"""Arrays made of Python values: np.array and np.asarray of (nested) lists and tuples of numbers,
scalars and arrays, and the list literals NumPy takes wherever it takes an array.

A sequence whose items are all numbers known when compiling is a captured constant array; any
other is the stack of its items (differentiable through them), each first cast to the dtype NumPy
gives the whole list (Python numbers count as float64, int64 or bool there, not as weak literals).
"""
from __future__ import annotations

import numpy as np

from ...rules import primitives as P
from ...rules.primitives import Sym
from . import reductions
from .shapes import as_array
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


def rows_of_lists(function, args) -> list:
    """`args` of a NumPy function, a list grown in a loop as the array of its rows (what NumPy makes
    of it), but for the joins, whose lowerings take such a list themselves."""
    if not (getattr(function, "__module__", None) or "").startswith("numpy") or function in (np.stack, np.concatenate):
        return args
    return [a.array() if isinstance(a, ListRows) else a for a in args]


def builtin_sum(lo, iterable, start=Sym(0)):
    """`sum(items)`: the items added in order (the rows of an array or of a list grown in a loop)."""
    if isinstance(iterable, tuple):
        total = start
        for item in iterable:
            total = total + lo.operand(item, lo.node)
        return total
    rows = iterable.array() if isinstance(iterable, ListRows) else lo.operand(iterable, lo.node)
    if rows.type.ndim == 0:
        lo.refuse(lo.node, "sum() of a scalar is not supported", "sum an array, a list or a tuple")
    return reductions.CALLS[np.sum](lo, rows, axis=Sym(0)) + start


CALLS = {np.array: array, np.asarray: asarray, sum: builtin_sum}
