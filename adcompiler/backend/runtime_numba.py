"""The Numba twins of runtime.py's helpers: `numba.extending.overload`s, each named as the NumPy
helper it specialises on the operands' ranks, and the njit functions they call. Importing this
module imports Numba and registers the twins; compile.py does so before it compiles any code.
"""
from __future__ import annotations

import numba
import numba.typed
import numpy as np
from numba import types
from numba.extending import overload
from numba.np.unsafe.ndarray import to_fixed_tuple

from . import runtime


@numba.njit(cache=True)
def _sum_to_shape_of(g, like):
    """`g` summed into a new array of `like`'s shape (each axis of `like` is 1 or g's)."""
    shape = like.shape
    out = np.zeros(shape, g.dtype)
    flat = out.reshape(-1)
    lead = g.ndim - len(shape)
    for index in np.ndindex(g.shape):
        k = 0
        for axis in range(len(shape)):
            n = shape[axis]
            k = k * n + (index[lead + axis] if n != 1 else 0)
        flat[k] += g[index]
    return out


@overload(runtime.unbroadcast)
def unbroadcast(g, like):
    if not isinstance(like, types.Array):
        return (lambda g, like: np.sum(g)) if isinstance(g, types.Array) else (lambda g, like: g)
    if g.ndim > like.ndim:
        return lambda g, like: _sum_to_shape_of(g, like)

    def same_rank(g, like):
        if g.shape == like.shape:
            return g
        return _sum_to_shape_of(g, like)

    return same_rank


@overload(runtime.broadcast_like)
def broadcast_like(g, like):
    if not isinstance(like, types.Array):
        return lambda g, like: g
    if isinstance(g, types.Array):
        return lambda g, like: np.broadcast_to(g, like.shape).copy()
    return lambda g, like: np.full(like.shape, g)


# ---------------------------------------------------------------- reductions along one axis
# These twins loop over a (before, along, after) view of the array. The axis is an ordinary integer
# argument, so one compilation serves every axis of a given array type.


@numba.njit(inline="always")
def _shape_with(shape, axis, size, ndim):
    """`shape` with its `axis` set to `size` (dropped when `size` is -1), as an array of `ndim`
    dimensions (for `to_fixed_tuple` with a constant length)."""
    dims = np.empty(ndim, np.int64)
    j = 0
    for i in range(len(shape)):
        if i != axis:
            dims[j] = shape[i]
            j += 1
        elif size >= 0:
            dims[j] = size
            j += 1
    return dims


_as_three_axes = numba.njit(inline="always")(runtime._as_three_axes)


def _axis_reductions(name: str, combine, initial=None, finish=None) -> None:
    """Register the twins of runtime.<name>_axis and <name>_axis_keepdims, which fold `combine`
    along the axis from `initial` (from the first element when None: an empty axis is then an
    error, as in NumPy) and apply `finish(acc, n)` if given."""
    combine = numba.njit(inline="always")(combine)
    finish = numba.njit(inline="always")(finish or (lambda acc, n: acc))
    for keepdims in (False, True):
        helper = getattr(runtime, f"{name}_axis" + ("_keepdims" if keepdims else ""))
        overload(helper)(_axis_reduction(name, combine, finish, initial, keepdims))


def _axis_reduction(name, combine, finish, initial, keepdims):
    first = 1 if initial is None else 0

    def twin(x, axis):
        ndim = x.ndim if keepdims else x.ndim - 1
        kind = x.dtype if isinstance(x.dtype, types.Float) else (
            types.float64 if name == "mean" else x.dtype if initial is None else types.int64)
        dtype = numba.np.numpy_support.as_dtype(kind)

        def impl(x, axis):
            y = _as_three_axes(x, axis)
            before, n, after = y.shape
            if first and n == 0:
                raise ValueError("zero-size array to reduction operation which has no identity")
            out = np.empty((before, after), dtype)
            for i in range(before):
                for k in range(after):
                    acc = y[i, 0, k] if first else initial
                    for j in range(first, n):
                        acc = combine(acc, y[i, j, k])
                    out[i, k] = finish(acc, n)
            dims = _shape_with(x.shape, axis, 1 if keepdims else -1, ndim)
            return out.reshape(to_fixed_tuple(dims, ndim))

        return impl

    return twin


def _larger(acc, value):
    return value if value > acc or value != value else acc  # NaN wins, as in np.max


def _smaller(acc, value):
    return value if value < acc or value != value else acc


_axis_reductions("sum", lambda acc, value: acc + value, initial=0)
_axis_reductions("mean", lambda acc, value: acc + value, initial=0.0, finish=lambda acc, n: acc / n)
_axis_reductions("prod", lambda acc, value: acc * value, initial=1)
_axis_reductions("max", _larger)
_axis_reductions("min", _smaller)


# ---------------------------------------------------------------- shapes


@overload(runtime.expand_dims)
def expand_dims(x, axis):
    ndim = x.ndim + 1

    def impl(x, axis):
        dims = np.ones(ndim, np.int64)
        j = 0
        for i in range(ndim):
            if i != axis:
                dims[i] = x.shape[j]
                j += 1
        return np.ascontiguousarray(x).reshape(to_fixed_tuple(dims, ndim))

    return impl


@overload(runtime.squeeze)
def squeeze(x, axis):
    ndim = x.ndim - 1
    if ndim == 0:
        return lambda x, axis: x.reshape(-1)[0]
    return lambda x, axis: np.ascontiguousarray(x).reshape(
        to_fixed_tuple(_shape_with(x.shape, axis, -1, ndim), ndim))


@overload(runtime.reshape)
def reshape(x, shape):
    if not isinstance(x, types.Array):
        return lambda x, shape: np.full(shape, x)
    return lambda x, shape: np.ascontiguousarray(x).reshape(shape)


# ---------------------------------------------------------------- gradients of indexing and products


@overload(runtime.index_add)
def index_add(like, g, index):
    dtype = g.dtype if isinstance(g, types.Array) else g
    items = index.types if isinstance(index, types.BaseTuple) else (index,)
    gathers = [item for item in items if isinstance(item, types.Array)]
    if not gathers:
        def basic(like, g, index):
            out = np.zeros(like.shape, dtype)
            out[index] += g
            return out
        return basic
    if len(items) != 1:
        raise numba.core.errors.TypingError("an integer or boolean array index must be the only index")
    if isinstance(gathers[0].dtype, types.Boolean):
        def masked(like, g, index):
            out = np.zeros(like.shape, dtype)
            flat = out.reshape(-1)
            mask = np.ascontiguousarray(index[0]).reshape(-1)
            k = 0
            for i in range(mask.size):
                if mask[i]:
                    flat[i] += g[k]
                    k += 1
            return out
        return masked

    def gathered(like, g, index):
        out = np.zeros(like.shape, dtype)
        rows = index[0]
        for k in range(rows.shape[0]):
            out[rows[k]] += g[k]
        return out
    return gathered


@numba.njit
def _products_of_others(y):
    out = np.empty_like(y)
    before, n, after = y.shape
    for i in range(before):
        for k in range(after):
            acc = 1
            for j in range(n):
                out[i, j, k] = acc
                acc *= y[i, j, k]
            acc = 1
            for j in range(n - 1, -1, -1):
                out[i, j, k] *= acc
                acc *= y[i, j, k]
    return out


@overload(runtime.prod_others)
def prod_others(x, axis):
    return lambda x, axis: _products_of_others(_as_three_axes(x, axis)).reshape(x.shape)


@overload(runtime.prod_others_all)
def prod_others_all(x):
    return lambda x: _products_of_others(np.ascontiguousarray(x).reshape((1, x.size, 1))).reshape(x.shape)


# ---------------------------------------------------------------- stacks of matrices


@overload(runtime.matmul)
def matmul(a, b):
    if a.ndim <= 2 and b.ndim <= 2:  # BLAS wants contiguous operands: copy a strided one (a slice)
        if a.layout == "A" and b.layout == "A":
            return lambda a, b: np.ascontiguousarray(a) @ np.ascontiguousarray(b)
        if a.layout == "A":
            return lambda a, b: np.ascontiguousarray(a) @ b
        if b.layout == "A":
            return lambda a, b: a @ np.ascontiguousarray(b)
        return lambda a, b: a @ b
    if a.ndim == 3 and b.ndim == 3:
        def stacks(a, b):
            if a.shape[0] != b.shape[0]:
                raise ValueError("matmul: stacks of different lengths")
            out = np.empty((a.shape[0], a.shape[1], b.shape[2]), a.dtype)
            for i in range(a.shape[0]):
                out[i] = np.ascontiguousarray(a[i]) @ np.ascontiguousarray(b[i])
            return out
        return stacks
    if a.ndim == 3:
        def stack_by_matrix(a, b):
            out = np.empty((a.shape[0], a.shape[1], b.shape[1]), a.dtype)
            for i in range(a.shape[0]):
                out[i] = np.ascontiguousarray(a[i]) @ b
            return out
        return stack_by_matrix

    def matrix_by_stack(a, b):
        out = np.empty((b.shape[0], a.shape[0], b.shape[2]), a.dtype)
        for i in range(b.shape[0]):
            out[i] = a @ np.ascontiguousarray(b[i])
        return out
    return matrix_by_stack


@overload(runtime.empty_list)
def empty_list(item):
    def impl(item):
        items = [item]
        items.pop()
        return items
    return impl


def _as_typed(item_type):
    return types.ListType(_as_typed(item_type.dtype)) if isinstance(item_type, types.List) else item_type


@overload(runtime.typed_list)
def typed_list(items):
    if not isinstance(items, types.List):
        return lambda items: items  # an item of the innermost list
    item_type = _as_typed(items.dtype)

    def impl(items):
        out = numba.typed.List.empty_list(item_type)
        for item in items:
            out.append(runtime.typed_list(item))
        return out
    return impl


# ---------------------------------------------------------------- gathers and scatters (rules/arrays.py)


@overload(runtime.checked_index)
def checked_index(index, n):
    if not isinstance(index, types.Array):
        def number(index, n):
            if index < -n or index >= n:
                raise IndexError("index out of bounds")
            return np.int64(index + n if index < 0 else index)
        return number

    def array(index, n):
        flat = np.ascontiguousarray(index).reshape(-1)
        out = np.empty(flat.size, np.int64)
        for k in range(flat.size):
            i = flat[k]
            if i < -n or i >= n:
                raise IndexError("index out of bounds")
            out[k] = i + n if i < 0 else i
        return out.reshape(index.shape)
    return array


@overload(runtime.scatter_add)
def scatter_add(like, g, flat):
    def impl(like, g, flat):
        out = np.zeros(like.shape, g.dtype)
        for i in range(g.shape[0]):
            for k in range(flat.shape[0]):
                out[i, flat[k], :] += g[i, k, :]
        return out
    return impl


@overload(runtime.checked_length)
def checked_length(n, expected):
    def impl(n, expected):
        if n != expected:
            raise ValueError("incompatible dimensions for cross product (the vectors must have 3 components)")
        return n
    return impl
