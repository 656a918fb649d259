"""Runtime helpers that generated code calls as `rt.<name>`: NumPy functions, what plain Python
runs. Each has a Numba twin of the same name in runtime_numba.py (`numba.extending.overload`,
specialised on the operands' ranks), registered only when code is compiled for Numba, so this
module imports no Numba; compiled code calls them through cached njit functions (`HELPERS`,
compile.py).

Invariants: results are fresh arrays or the operand itself, never views that alias and are later
written; `unbroadcast(g, like)` has `like`'s shape, `broadcast_like(g, like)` has `like`'s shape.
"""
from __future__ import annotations

import numpy as np


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


# ---------------------------------------------------------------- reductions along one axis
# Numba compiles neither `keepdims=` nor np.max/np.min/np.mean with `axis` (the twins loop instead,
# runtime_numba.py); keepdims is in the helper's name, since it decides the rank of the result.


def _axis_reductions(name: str) -> list:
    """`<name>_axis(x, axis)` and `<name>_axis_keepdims(x, axis)`: np.<name> along one axis."""
    return [_axis_reduction(name, keepdims) for keepdims in (False, True)]


def _axis_reduction(name: str, keepdims: bool):
    numpy_function = getattr(np, name)

    def reduction(x, axis):
        return numpy_function(x, axis=axis, keepdims=keepdims)

    reduction.__name__ = reduction.__qualname__ = f"{name}_axis" + ("_keepdims" if keepdims else "")
    reduction.__doc__ = f"np.{name}(x, axis=axis, keepdims={keepdims}), with a Numba twin."
    return reduction


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


sum_axis, sum_axis_keepdims = _axis_reductions("sum")
mean_axis, mean_axis_keepdims = _axis_reductions("mean")
prod_axis, prod_axis_keepdims = _axis_reductions("prod")
max_axis, max_axis_keepdims = _axis_reductions("max")
min_axis, min_axis_keepdims = _axis_reductions("min")


# ---------------------------------------------------------------- shapes


def expand_dims(x, axis):
    """np.expand_dims(x, axis) for one axis."""
    return np.expand_dims(x, axis)


def squeeze(x, axis):
    """np.squeeze(x, axis) for one axis (of length 1)."""
    return np.squeeze(x, axis)


def reshape(x, shape):
    """np.reshape; the Numba twin first makes `x` contiguous, which Numba's reshape requires."""
    return np.reshape(x, shape)


# ---------------------------------------------------------------- gradients of indexing and products


def index_add(like, g, index):
    """A new array of `like`'s shape, zero but for `g` added at `index` (repeated integer indices
    accumulate, as np.add.at does)."""
    out = np.zeros(np.shape(like), np.result_type(g))
    if any(isinstance(item, np.ndarray) for item in index):
        np.add.at(out, index, g)
    else:  # basic indexing reaches each element once: no repeats to accumulate, and 10x faster
        out[index] += g
    return out


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


# ---------------------------------------------------------------- stacks of matrices


def matmul(a, b):
    """np.matmul, also for stacks of matrices (3-D with 2-D or 3-D), which Numba's `@` does not take."""
    return np.matmul(a, b)


def empty_list(item):
    """An empty list of values like `item` (a tape no iteration wrote to; Numba must know its type)."""
    return []


def typed_list(items):
    """`items` (a tape: a list, maybe of lists) as Numba's typed list, which a vjp's forward returns
    and its backward takes back at the cost of a reference (a reflected list is unboxed element by
    element, and one of lists not at all). Python: `items`."""
    return items


# ---------------------------------------------------------------- gathers and scatters (rules/arrays.py)


def checked_index(index, n):
    """Integer positions `index` along an axis of length `n`, negative ones counted from the end;
    IndexError where one is out of [-n, n), as NumPy's indexing raises."""
    index = np.asarray(index)
    if np.any((index < -n) | (index >= n)):
        raise IndexError(f"index out of bounds for an axis of length {n}")
    wrapped = np.where(index < 0, index + n, index).astype(np.int64)
    return wrapped if wrapped.ndim else np.int64(wrapped)


def checked_length(n, expected):
    """`n`, which must equal `expected` (the length of the vectors of np.cross): ValueError otherwise."""
    if n != expected:
        raise ValueError("incompatible dimensions for cross product (the vectors must have 3 components)")
    return n


def scatter_add(like, g, flat):
    """A new array of the 3-D `like`'s shape, zero but for `g[:, k]` added at `[:, flat[k]]`
    (repeated positions accumulate)."""
    before, n, after = np.shape(like)
    g = np.asarray(g)
    positions = (np.arange(before)[:, None, None] * n + flat[None, :, None]) * after + np.arange(after)
    out = np.bincount(positions.reshape(-1), weights=g.reshape(-1), minlength=before * n * after)
    return out.reshape(before, n, after).astype(g.dtype, copy=False)  # (np.add.at: 10x slower)


# What generated code calls. Under Numba each becomes an njit(cache=True) function of its own
# (compile.py), compiled once per signature and kept on disk for every function that calls it.
HELPERS = ("unbroadcast", "broadcast_like", "expand_dims", "squeeze", "reshape", "index_add", "prod_others",
           "prod_others_all", "matmul", "empty_list", "typed_list",
           "checked_index", "checked_length", "scatter_add") + tuple(f"{name}_axis{keepdims}" for name in ("sum", "mean", "prod", "max", "min")
                                             for keepdims in ("", "_keepdims"))
