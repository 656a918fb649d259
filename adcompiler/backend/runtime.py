"""Runtime helpers that generated code calls as `rt.<name>`: each is a NumPy function (what plain
Python runs) with a Numba twin specialised on the operands' ranks (`numba.extending.overload`);
compiled code calls them through cached njit functions (`HELPERS`, compile.py).

Invariants: results are fresh arrays or the operand itself, never views that alias and are later
written; `unbroadcast(g, like)` has `like`'s shape, `broadcast_like(g, like)` has `like`'s shape.
"""
from __future__ import annotations

import numba
import numba.typed
import numpy as np
from numba import types
from numba.extending import overload
from numba.np.unsafe.ndarray import to_fixed_tuple


def unbroadcast(g, like):
    """`g` summed over the axes that broadcasting added to (or stretched in) `like`'s shape."""
    shape = np.shape(like)
    if np.ndim(like) == 0:
        return np.sum(g)
    g = np.asarray(g)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def broadcast_like(g, like):
    """A fresh array of `like`'s shape holding `g` broadcast to it (`g` itself for a scalar `like`)."""
    if np.ndim(like) == 0:
        return g
    return np.broadcast_to(g, np.shape(like)).copy()


@numba.njit(cache=True)
def _sum_to_shape_of(g, like):
    """Numba: `g` summed into a new array of `like`'s shape (each axis of `like` is 1 or g's)."""
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


@overload(unbroadcast)
def _unbroadcast_numba(g, like):
    if not isinstance(like, types.Array):
        return (lambda g, like: np.sum(g)) if isinstance(g, types.Array) else (lambda g, like: g)
    if g.ndim > like.ndim:
        return lambda g, like: _sum_to_shape_of(g, like)

    def same_rank(g, like):
        if g.shape == like.shape:
            return g
        return _sum_to_shape_of(g, like)

    return same_rank


@overload(broadcast_like)
def _broadcast_like_numba(g, like):
    if not isinstance(like, types.Array):
        return lambda g, like: g
    if isinstance(g, types.Array):
        return lambda g, like: np.broadcast_to(g, like.shape).copy()
    return lambda g, like: np.full(like.shape, g)


# ---------------------------------------------------------------- reductions along one axis
# Numba compiles neither `keepdims=` nor np.max/np.min/np.mean with `axis`. These helpers loop over
# a (before, along, after) view of the array. The axis is an ordinary integer argument, so one
# compilation serves every axis of a given array type; keepdims is in the helper's name, since it
# decides the rank of the result.


@numba.njit(inline="always")
def _shape_with_numba(shape, axis, size, ndim):
    """Numba: `shape` with its `axis` set to `size` (dropped when `size` is -1), as an array of
    `ndim` dimensions (for `to_fixed_tuple` with a constant length)."""
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


def _as_three_axes(x, axis):
    """A contiguous (before, along, after) view of `x` around `axis`."""
    shape = x.shape
    before = 1
    for i in range(axis):
        before *= shape[i]
    after = 1
    for i in range(axis + 1, len(shape)):
        after *= shape[i]
    return np.ascontiguousarray(x).reshape((before, shape[axis], after))


_as_three_axes_numba = numba.njit(inline="always")(_as_three_axes)


def _axis_reduction(name: str, combine, initial=None, finish=None):
    """Define `<name>_axis(x, axis)` and `<name>_axis_keepdims(x, axis)` (NumPy's np.<name>) with
    Numba twins that fold `combine` along the axis from `initial` (from the first element when
    None: an empty axis is then an error, as in NumPy) and apply `finish(acc, n)` if given."""
    numpy_function = getattr(np, name)
    combine = numba.njit(inline="always")(combine)
    finish = numba.njit(inline="always")(finish or (lambda acc, n: acc))
    return [_axis_reduction_helper(name, numpy_function, combine, finish, initial, keepdims)
            for keepdims in (False, True)]


def _axis_reduction_helper(name, numpy_function, combine, finish, initial, keepdims):
    first = 1 if initial is None else 0

    def reference(x, axis):
        return numpy_function(x, axis=axis, keepdims=keepdims)

    reference.__name__ = reference.__qualname__ = f"{name}_axis" + ("_keepdims" if keepdims else "")
    reference.__doc__ = f"np.{name}(x, axis=axis, keepdims={keepdims}), with a Numba twin."

    @overload(reference)
    def _numba(x, axis):
        ndim = x.ndim if keepdims else x.ndim - 1
        kind = x.dtype if isinstance(x.dtype, types.Float) else (
            types.float64 if name == "mean" else x.dtype if initial is None else types.int64)
        dtype = numba.np.numpy_support.as_dtype(kind)

        def impl(x, axis):
            y = _as_three_axes_numba(x, axis)
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
            dims = _shape_with_numba(x.shape, axis, 1 if keepdims else -1, ndim)
            return out.reshape(to_fixed_tuple(dims, ndim))

        return impl

    return reference


def _larger(acc, value):
    return value if value > acc or value != value else acc  # NaN wins, as in np.max


def _smaller(acc, value):
    return value if value < acc or value != value else acc


sum_axis, sum_axis_keepdims = _axis_reduction("sum", lambda acc, value: acc + value, initial=0)
mean_axis, mean_axis_keepdims = _axis_reduction("mean", lambda acc, value: acc + value, initial=0.0,
                                                finish=lambda acc, n: acc / n)
prod_axis, prod_axis_keepdims = _axis_reduction("prod", lambda acc, value: acc * value, initial=1)
max_axis, max_axis_keepdims = _axis_reduction("max", _larger)
min_axis, min_axis_keepdims = _axis_reduction("min", _smaller)


# ---------------------------------------------------------------- shapes


def expand_dims(x, axis):
    """np.expand_dims(x, axis) for one axis."""
    return np.expand_dims(x, axis)


@overload(expand_dims)
def _expand_dims_numba(x, axis):
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


def squeeze(x, axis):
    """np.squeeze(x, axis) for one axis (of length 1)."""
    return np.squeeze(x, axis)


@overload(squeeze)
def _squeeze_numba(x, axis):
    ndim = x.ndim - 1
    if ndim == 0:
        return lambda x, axis: x.reshape(-1)[0]
    return lambda x, axis: np.ascontiguousarray(x).reshape(
        to_fixed_tuple(_shape_with_numba(x.shape, axis, -1, ndim), ndim))


def reshape(x, shape):
    """np.reshape; the Numba twin first makes `x` contiguous, which Numba's reshape requires."""
    return np.reshape(x, shape)


@overload(reshape)
def _reshape_numba(x, shape):
    if not isinstance(x, types.Array):
        return lambda x, shape: np.full(shape, x)
    return lambda x, shape: np.ascontiguousarray(x).reshape(shape)


# ---------------------------------------------------------------- gradients of indexing and products


def index_add(like, g, index):
    """A new array of `like`'s shape, zero but for `g` added at `index` (repeated integer indices
    accumulate, as np.add.at does)."""
    out = np.zeros(np.shape(like), np.result_type(g))
    np.add.at(out, index, g)
    return out


@overload(index_add)
def _index_add_numba(like, g, index):
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


def prod_others(x, axis):
    """For each element, the product of the other elements along `axis`: the gradient of np.prod,
    right also where `x` has zeros."""
    y = _as_three_axes(np.asarray(x), axis)
    if y.shape[1] == 0:
        return np.zeros_like(x)
    ones = np.ones_like(y[:, :1, :])
    before = np.cumprod(np.concatenate([ones, y[:, :-1, :]], axis=1), axis=1)
    after = np.cumprod(np.concatenate([ones, y[:, :0:-1, :]], axis=1), axis=1)[:, ::-1, :]
    return (before * after).reshape(np.shape(x))


def prod_others_all(x):
    """prod_others over all of `x`: the gradient of np.prod without an axis."""
    return prod_others(np.reshape(x, -1), 0).reshape(np.shape(x))


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


@overload(prod_others)
def _prod_others_numba(x, axis):
    return lambda x, axis: _products_of_others(_as_three_axes_numba(x, axis)).reshape(x.shape)


@overload(prod_others_all)
def _prod_others_all_numba(x):
    return lambda x: _products_of_others(np.ascontiguousarray(x).reshape((1, x.size, 1))).reshape(x.shape)


# ---------------------------------------------------------------- stacks of matrices


def matmul(a, b):
    """np.matmul, also for stacks of matrices (3-D with 2-D or 3-D), which Numba's `@` does not take."""
    return np.matmul(a, b)


@overload(matmul)
def _matmul_numba(a, b):
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


def empty_list(item):
    """An empty list of values like `item` (a tape no iteration wrote to; Numba must know its type)."""
    return []


@overload(empty_list)
def _empty_list_numba(item):
    def impl(item):
        items = [item]
        items.pop()
        return items
    return impl


def typed_list(items):
    """`items` (a tape: a list, maybe of lists) as Numba's typed list, which a vjp's forward returns
    and its backward takes back at the cost of a reference (a reflected list is unboxed element by
    element, and one of lists not at all). Python: `items`."""
    return items


def _as_typed(item_type):
    return types.ListType(_as_typed(item_type.dtype)) if isinstance(item_type, types.List) else item_type


@overload(typed_list)
def _typed_list_numba(items):
    if not isinstance(items, types.List):
        return lambda items: items  # an item of the innermost list
    item_type = _as_typed(items.dtype)

    def impl(items):
        out = numba.typed.List.empty_list(item_type)
        for item in items:
            out.append(typed_list(item))
        return out
    return impl


# What generated code calls. Under Numba each becomes an njit(cache=True) function of its own
# (compile.py), compiled once per signature and kept on disk for every function that calls it.
HELPERS = ("unbroadcast", "broadcast_like", "expand_dims", "squeeze", "reshape", "index_add", "prod_others",
           "prod_others_all", "matmul", "empty_list", "typed_list") + tuple(f"{name}_axis{keepdims}" for name in ("sum", "mean", "prod", "max", "min")
                                             for keepdims in ("", "_keepdims"))
