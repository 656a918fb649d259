"""How NumPy calls that are not one primitive each are lowered: one function per NumPy function,
with NumPy's own parameter names, so `inspect.signature` checks a call's arguments before it is
lowered. Axes, `keepdims` and dtypes must be compile-time constants; shapes may be computed
(`np.zeros(X.shape[0])`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rules import primitives as P
from ..ir.core import SUPPORTED_DTYPES, IndexSlice
from ..rules.primitives import Sym


@dataclass(frozen=True)
class Static:
    """A Python object known at compile time (a module, a function, a dtype, None)."""

    obj: object


@dataclass(frozen=True)
class Method:
    """`receiver.name`, waiting to be called."""

    receiver: Sym
    name: str


# ---------------------------------------------------------------- reductions

FULL_REDUCTIONS = {"sum": P.total, "mean": P.mean, "max": P.amax, "min": P.amin, "prod": P.prod}
AXIS_REDUCTIONS = {"sum": P.sum_axes, "mean": P.mean_axes, "max": P.max_axes, "min": P.min_axes,
                   "prod": P.prod_axes}


def _reduction(name):
    def lowering(lo, a, axis=None, keepdims=False):
        x = lo.operand(a, lo.node)
        axes = _axes(lo, axis, x.type.ndim)
        keepdims = bool(lo.constant(keepdims, "keepdims"))
        if x.type.ndim == 0:
            return P.cast(x, dtype=P.floating(x.type).dtype) if name == "mean" else x
        if len(axes) == x.type.ndim and not keepdims:
            return FULL_REDUCTIONS[name](x)
        if name != "prod":
            return AXIS_REDUCTIONS[name](x, axes=axes, keepdims=keepdims)
        for axis in reversed(axes):  # from the last, so the other axes keep their numbers
            x = P.prod_axes(x, axes=(axis,), keepdims=keepdims)
        return x
    lowering.__name__ = name
    return lowering


def _axes(lo, axis, ndim: int) -> tuple:
    """`axis` (None, an int or a tuple of ints) as sorted non-negative axes of an `ndim`-D array."""
    axis = lo.constant(axis, "axis")
    axes = tuple(range(ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    normal = []
    for a in axes:
        if not isinstance(a, int) or not -max(ndim, 1) <= a < max(ndim, 1):
            lo.refuse(lo.node, f"axis {a} is out of range for a {ndim}-D array")
        normal.append(a % ndim if ndim else 0)
    if len(set(normal)) != len(normal):
        lo.refuse(lo.node, f"axis {axis} repeats an axis")
    return tuple(sorted(normal)) if ndim else ()


# ---------------------------------------------------------------- arithmetic and elementwise

def dot(lo, a, b):
    return lo.matmul(lo.operand(a, lo.node), lo.operand(b, lo.node))


def outer(lo, a, b):
    a, b = (lo.operand(v, lo.node) for v in (a, b))
    a, b = (_flat(lo, v) for v in (a, b))
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
    if not _is_none(a_min):
        x = P.maximum(x, lo.operand(a_min, lo.node))
    if not _is_none(a_max):
        x = P.minimum(x, lo.operand(a_max, lo.node))
    return x


def _cast_to(dtype_name):
    def lowering(lo, x):
        return P.cast(lo.operand(x, lo.node), dtype=dtype_name)
    return lowering


def astype(lo, x, dtype):
    return P.cast(lo.operand(x, lo.node), dtype=_dtype(lo, dtype, None))


def copy(lo, a):
    x = lo.operand(a, lo.node)
    return P.fresh(x) if x.type.ndim else x


# ---------------------------------------------------------------- shapes

def reshape(lo, a, *shape):
    x = lo.operand(a, lo.node)
    dims = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
    dims = [lo.integer(d, lo.node, "a dimension") for d in dims]
    if x.type.ndim == 0 or not dims:
        lo.refuse(lo.node, "reshaping to or from a scalar is not supported", "use x.ravel() or x.sum()")
    return P.reshape(x, *dims)


def ravel(lo, a):
    return _flat(lo, lo.operand(a, lo.node))


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


def length(lo, a):
    """`len(x)`: the number of values of a tuple, the length of an array's first axis."""
    if isinstance(a, tuple):
        return Sym(len(a))
    x = lo.operand(a, lo.node)
    if x.type.ndim == 0:
        lo.refuse(lo.node, "a scalar has no length", "use len() of an array or a tuple")
    return P.dim(x, axis=0)


def flatten(lo, a):
    """`x.flatten()`: always a new array (ravel may return a view)."""
    return P.fresh(ravel(lo, a))


def _flat(lo, x: Sym) -> Sym:
    if x.type.ndim == 0:
        lo.refuse(lo.node, "a scalar cannot be flattened", "use a 1-D array")
    return x if x.type.ndim == 1 else P.reshape(x, Sym(-1))


def transpose(lo, a, *axes):
    x = lo.operand(a, lo.node)
    axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, Static)) else axes
    axes = lo.constant(axes, "axes") if axes else None
    if axes is None:
        return x.T if x.type.ndim <= 2 else P.permute(x, axes=tuple(reversed(range(x.type.ndim))))
    normal = _axes(lo, tuple(axes), x.type.ndim)
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
    arrays = [lo.operand(a, lo.node) for a in _sequence(lo, arrays)]
    ndim = arrays[0].type.ndim
    if ndim == 0 or any(a.type.ndim != ndim for a in arrays):
        lo.refuse(lo.node, "np.concatenate needs arrays of one rank, at least 1-D")
    (axis,) = _axes(lo, axis, ndim)
    return _joined(arrays, axis)


def stack(lo, arrays, axis=0):
    arrays = [lo.operand(a, lo.node) for a in _sequence(lo, arrays)]
    ndim = arrays[0].type.ndim
    if any(a.type.ndim != ndim for a in arrays):
        lo.refuse(lo.node, "np.stack needs arrays of one rank")
    axis = lo.constant(axis, "axis")
    if not isinstance(axis, int) or not -ndim - 1 <= axis <= ndim:
        lo.refuse(lo.node, f"axis {axis} is out of range for np.stack of {ndim}-D arrays")
    axis %= ndim + 1
    return _joined([P.expand_dims(a, axis=axis) if ndim else P.reshape(a, Sym(1)) for a in arrays], axis)


def _joined(arrays, axis: int) -> Sym:
    """Concatenation along `axis` as a sum of zero-padded pieces, each a differentiable index_add."""
    total = P.dim(arrays[0], axis=axis)
    for a in arrays[1:]:
        total = total + P.dim(a, axis=axis)
    like_dims = [total if i == axis else P.dim(arrays[0], axis=i) for i in range(arrays[0].type.ndim)]
    dtype = P.promote(*(a.type for a in arrays)).dtype
    like = P.zeros(*like_dims, dtype=dtype)
    result, offset = None, Sym(0)
    for a in arrays:
        end = offset + P.dim(a, axis=axis)
        index = (IndexSlice(),) * axis + (IndexSlice(lower=True, upper=True),)
        piece = P.index_add(like, a, offset, end, index=index)
        result = piece if result is None else result + piece
        offset = end
    return result


def _sequence(lo, arrays) -> tuple:
    if not isinstance(arrays, tuple) or not arrays:
        lo.refuse(lo.node, "pass the arrays as a list or tuple written in the call, such as [a, b]")
    return arrays


# ---------------------------------------------------------------- creation

def _dtype(lo, dtype, default):
    if _is_none(dtype):
        return default
    name = np.dtype(lo.constant(dtype, "dtype")).name
    if name not in SUPPORTED_DTYPES:
        lo.refuse(lo.node, f"dtype {name} is not supported", f"use one of {', '.join(SUPPORTED_DTYPES)}")
    return name


def _shape(lo, shape) -> list:
    dims = shape if isinstance(shape, tuple) else (shape,)
    return [lo.integer(d, lo.node, "a dimension") for d in dims]


def zeros(lo, shape, dtype=Static(None)):
    return P.zeros(*_shape(lo, shape), dtype=_dtype(lo, dtype, "float64"))


def ones(lo, shape, dtype=Static(None)):
    return P.ones(*_shape(lo, shape), dtype=_dtype(lo, dtype, "float64"))


def full(lo, shape, fill_value, dtype=Static(None)):
    fill = lo.operand(fill_value, lo.node)
    if fill.type.ndim:
        lo.refuse(lo.node, "np.full needs a scalar fill value")
    default = fill.type.dtype if not fill.type.weak else P.promote(fill.type).dtype
    return P.full(fill, *_shape(lo, shape), dtype=_dtype(lo, dtype, default))


def zeros_like(lo, a, dtype=Static(None)):
    return _filled_like(lo, a, dtype, P.zeros_like, 0.0)


def ones_like(lo, a, dtype=Static(None)):
    return _filled_like(lo, a, dtype, P.ones_like, 1.0)


def _filled_like(lo, a, dtype, prim, scalar: float) -> Sym:
    x = lo.operand(a, lo.node)
    dtype = _dtype(lo, dtype, x.type.dtype)
    made = prim(x) if x.type.ndim else Sym(scalar)
    return made if made.type.dtype == dtype and not made.type.weak else P.cast(made, dtype=dtype)


def eye(lo, N, dtype=Static(None)):
    return P.eye(lo.integer(N, lo.node, "a dimension"), dtype=_dtype(lo, dtype, "float64"))


def arange(lo, start, stop=Static(None), step=Sym(1)):
    start, stop = (Sym(0), start) if _is_none(stop) else (start, stop)
    return P.arange(*(lo.operand(v, lo.node) for v in (start, stop, step)))


def linspace(lo, start, stop, num=Sym(50)):
    return P.linspace(*(lo.operand(v, lo.node) for v in (start, stop)), lo.integer(num, lo.node, "a number of points"))


def _is_none(value) -> bool:
    return isinstance(value, Static) and value.obj is None


CALLS = {
    np.sum: _reduction("sum"), np.mean: _reduction("mean"), np.max: _reduction("max"),
    np.amax: _reduction("max"), np.min: _reduction("min"), np.amin: _reduction("min"),
    np.prod: _reduction("prod"), np.dot: dot, np.outer: outer, np.square: square,
    np.reciprocal: reciprocal, np.clip: clip, np.reshape: reshape, np.ravel: ravel,
    np.transpose: transpose, np.expand_dims: expand_dims, np.concatenate: concatenate,
    np.stack: stack, np.zeros: zeros, np.ones: ones, np.full: full, np.zeros_like: zeros_like,
    np.ones_like: ones_like, np.eye: eye, np.arange: arange, np.linspace: linspace, np.copy: copy,
    float: _cast_to("float64"), np.float64: _cast_to("float64"), np.float32: _cast_to("float32"),
}
# x.name(...) is lowered as the NumPy function with the receiver first.
METHODS = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod, "dot": np.dot,
    "reshape": np.reshape, "ravel": np.ravel, "flatten": flatten, "transpose": np.transpose,
    "copy": np.copy, "astype": astype, "clip": np.clip,
}
CALLS[astype] = astype  # reached only as methods
CALLS[flatten] = flatten
CALLS[len] = length
CALLS[max] = larger
CALLS[min] = smaller


def hashable(obj) -> bool:
    """Whether `obj` can be looked up in a table of functions."""
    try:
        hash(obj)
    except TypeError:
        return False
    return True
