"""Calls that reshape, permute and join arrays: reshape, ravel, flatten, transpose, expand_dims,
concatenate, stack, len, and the array NumPy makes of a (nested) list or tuple (`as_array`)."""
from __future__ import annotations

import numpy as np

from ...ir.core import SUPPORTED_DTYPES, Const, IndexSlice
from ...rules import primitives as P
from ...rules.primitives import Sym
from .common import ListRows, Static, flat, normal_axes, sequence


def reshape(lo, a, *shape):
    x = lo.operand(a, lo.node)
    dims = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
    dims = [lo.integer(d, lo.node, "a dimension") for d in dims]
    if x.type.ndim == 0 or not dims:
        lo.refuse(lo.node, "reshaping to or from a scalar is not supported", "use x.ravel() or x.sum()")
    return P.reshape(x, *dims)


def ravel(lo, a):
    return flat(lo, lo.operand(a, lo.node))


def length(lo, a):
    """`len(x)`: the number of values of a tuple, the length of an array's first axis."""
    if isinstance(a, tuple):
        return Sym(len(a))
    if isinstance(a, ListRows):
        return P.dim(a.rows, axis=0)
    x = lo.operand(a, lo.node)
    if x.type.ndim == 0:
        lo.refuse(lo.node, "a scalar has no length", "use len() of an array or a tuple")
    return P.dim(x, axis=0)


def flatten(lo, a):
    """`x.flatten()`: always a new array (ravel may return a view)."""
    return P.fresh(ravel(lo, a))


def transpose(lo, a, *axes):
    x = lo.operand(a, lo.node)
    axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, Static)) else axes
    axes = lo.constant(axes, "axes") if axes else None
    if axes is None:
        return x.T if x.type.ndim <= 2 else P.permute(x, axes=tuple(reversed(range(x.type.ndim))))
    normal = normal_axes(lo, tuple(axes), x.type.ndim)
    if len(axes) != x.type.ndim or len(normal) != x.type.ndim:
        lo.refuse(lo.node, f"axes {axes} do not permute the {x.type.ndim} axes")
    return P.permute(x, axes=tuple(a % x.type.ndim for a in axes))


def expand_dims(lo, a, axis):
    x = lo.operand(a, lo.node)
    axis = lo.constant(axis, "axis")
    if not isinstance(axis, int) or not -x.type.ndim - 1 <= axis <= x.type.ndim:
        lo.refuse(lo.node, f"axis {axis} is out of range for np.expand_dims of a {x.type.ndim}-D array")
    return P.expand_dims(x, axis=axis % (x.type.ndim + 1))


def concatenate(lo, arrays, axis=0):
    if isinstance(arrays, ListRows):
        lo.refuse(lo.node, "np.concatenate of a list grown in a loop is not supported",
                  "np.stack it, then reshape: `np.stack(out).reshape(-1, ...)`")
    arrays = [as_array(lo, a) for a in sequence(lo, arrays)]
    ndim = arrays[0].type.ndim
    if ndim == 0 or any(a.type.ndim != ndim for a in arrays):
        lo.refuse(lo.node, "np.concatenate needs arrays of one rank, at least 1-D",
                  "give them one rank first (np.reshape, np.expand_dims, np.atleast_1d)")
    (axis,) = normal_axes(lo, axis, ndim)
    return _joined(arrays, axis)


def stack(lo, arrays, axis=0):
    if isinstance(arrays, ListRows):  # its rows are already stacked along axis 0
        if lo.constant(axis, "axis") != 0:
            lo.refuse(lo.node, "np.stack of a list grown in a loop takes axis=0 only", "transpose the result")
        return arrays.array()
    arrays = [as_array(lo, a) for a in sequence(lo, arrays)]
    ndim = arrays[0].type.ndim
    if any(a.type.ndim != ndim for a in arrays):
        lo.refuse(lo.node, "np.stack needs arrays of one rank")
    axis = lo.constant(axis, "axis")
    if not isinstance(axis, int) or not -ndim - 1 <= axis <= ndim:
        lo.refuse(lo.node, f"axis {axis} is out of range for np.stack of {ndim}-D arrays")
    axis %= ndim + 1
    return _joined([P.expand_dims(a, axis=axis) if ndim else P.reshape(a, Sym(1)) for a in arrays], axis)


def _joined(arrays, axis: int) -> Sym:
    """Concatenation along `axis`: each piece written into its slice of a new array (setitem, which
    emission does in place), so that the forward writes each element once and the backward reads
    back the slices of the gradient, keeping none of the pieces."""
    total = P.dim(arrays[0], axis=axis)
    for a in arrays[1:]:
        total = total + P.dim(a, axis=axis)
    dims = [total if i == axis else P.dim(arrays[0], axis=i) for i in range(arrays[0].type.ndim)]
    result = P.zeros(*dims, dtype=P.promote(*(a.type for a in arrays)).dtype)
    index = (IndexSlice(),) * axis + (IndexSlice(lower=True, upper=True),)
    offset = Sym(0)
    for a in arrays:
        end = offset + P.dim(a, axis=axis)
        result = P.setitem(result, a, offset, end, index=index)
        offset = end
    return result


# ---------------------------------------------------------------- arrays of sequences

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
        return stack(lo, tuple(_cast(item, common) for item in items))
    x = value.array() if isinstance(value, ListRows) else lo.operand(value, lo.node)
    return _cast(x, dtype or x.type.dtype)


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


CALLS = {np.reshape: reshape, np.ravel: ravel, np.transpose: transpose, np.expand_dims: expand_dims,
         np.concatenate: concatenate, np.stack: stack, flatten: flatten, len: length}
METHODS = {"reshape": np.reshape, "ravel": np.ravel, "flatten": flatten, "transpose": np.transpose}
