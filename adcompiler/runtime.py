"""Runtime helpers that generated code calls as `rt.<name>`: each is a NumPy function (what plain
Python runs) with a Numba twin specialised on the operands' ranks (`numba.extending.overload`).

Invariants: results are fresh arrays or the operand itself, never views that alias and are later
written; `unbroadcast(g, like)` has `like`'s shape, `broadcast_like(g, like)` has `like`'s shape.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import overload


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
