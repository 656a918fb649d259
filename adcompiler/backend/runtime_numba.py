"""The Numba twins of runtime.py's helpers: `numba.extending.overload`s, each named as the NumPy
helper it specialises on the operands' ranks, and the njit functions they call. Importing this
module imports Numba and registers the twins; compile.py does so before it compiles any code.
"""
from __future__ import annotations

import functools
import math

import numba
import numba.typed
import numpy as np
from numba import types
from numba.extending import overload, register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from . import runtime, vmath


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


@overload(runtime.repeated)
def repeated(x, n):
    if isinstance(x, types.Array):
        return lambda x, n: np.broadcast_to(x, (n,) + x.shape)
    return lambda x, n: np.full(n, x)


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


@overload(runtime.assign_into)
def assign_into(region, value):
    return _into(region, value, "=")


@overload(runtime.add_into)
def add_into(region, value):
    return _into(region, value, "+=")


def _into(region, value, operator: str):
    """`region[...] <operator> value` as one loop an axis of region, value read at the index times
    its step along each axis (1, or 0 where it has length 1); from a copy where the two overlap.
    Where value is not an array of at most region's rank, as Numba spells it."""
    arrays = isinstance(region, types.Array) and isinstance(value, types.Array) and 1 <= value.ndim <= region.ndim
    return _into_function(region.ndim if arrays else None, value.ndim if arrays else None, operator)


@functools.lru_cache(maxsize=None)
def _into_function(rank, value_rank, operator: str):
    if rank is None:
        lines = ["def into(region, value):", f"    region[...] {operator} value"]
    else:
        offset = rank - value_rank
        indices = [f"i{axis}" for axis in range(rank)]
        read = ", ".join(f"{indices[offset + axis]} * steps[{axis}]" for axis in range(value_rank))
        lines = ["def into(region, value):",
                 "    for axis in range(value.ndim):",
                 f"        if value.shape[axis] != 1 and value.shape[axis] != region.shape[{offset} + axis]:",
                 "            raise ValueError('the array assigned to a region of an array does not broadcast to its shape')",
                 "    if _overlap(region, value):",
                 "        value = value.copy()",
                 f"    steps = ({''.join(f'int(value.shape[{axis}] != 1), ' for axis in range(value_rank))})"]
        lines += [f"{'    ' * (axis + 1)}for {index} in range(region.shape[{axis}]):" for axis, index in enumerate(indices)]
        lines.append(f"{'    ' * (rank + 1)}region[{', '.join(indices)}] {operator} value[{read}]")
    namespace = {"_overlap": _overlap}
    exec("\n".join(lines), namespace)
    return register_jitable(namespace["into"])


@register_jitable
def _extent(a):
    """The addresses [low, high) that array `a` (not empty) reads."""
    low = high = a.ctypes.data
    for axis in range(a.ndim):
        span = a.strides[axis] * (a.shape[axis] - 1)
        if span < 0:
            low += span
        else:
            high += span
    return low, high + a.itemsize


@register_jitable
def _overlap(a, b):
    """Whether arrays `a` and `b` may share memory (their extents meet)."""
    if a.size == 0 or b.size == 0:
        return False
    a_low, a_high = _extent(a)
    b_low, b_high = _extent(b)
    return a_low < b_high and b_low < a_high


@overload(runtime.index_add)
def index_add(like, g, index):
    dtype = g.dtype if isinstance(g, types.Array) else g
    items = index.types if isinstance(index, types.BaseTuple) else (index,)
    gathers = [item for item in items if isinstance(item, types.Array)]
    if not gathers:
        region_rank = like.ndim - sum(isinstance(item, types.Integer) for item in items) \
            if isinstance(like, types.Array) else 0
        if isinstance(g, types.Array) and 1 <= g.ndim <= region_rank:  # (each element once: assigned)
            into = _into_function(region_rank, g.ndim, "=")

            def basic_of_an_array(like, g, index):
                out = np.zeros(like.shape, dtype)
                into(out[index], g)
                return out
            return basic_of_an_array

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


@numba.njit
def _tangents_of_products_of_others(y, u):
    """prod_others' tangent: the products before and after each element with their tangents."""
    out = np.empty_like(y)
    products = np.empty(y.shape[1], y.dtype)  # of the elements before j, along one lane
    before, n, after = y.shape
    for i in range(before):
        for k in range(after):
            acc, d_acc = 1.0, 0.0
            for j in range(n):
                products[j], out[i, j, k] = acc, d_acc
                acc, d_acc = acc * y[i, j, k], d_acc * y[i, j, k] + acc * u[i, j, k]
            acc, d_acc = 1.0, 0.0
            for j in range(n - 1, -1, -1):
                out[i, j, k] = out[i, j, k] * acc + products[j] * d_acc
                acc, d_acc = acc * y[i, j, k], d_acc * y[i, j, k] + acc * u[i, j, k]
    return out


@overload(runtime.prod_others_tangent)
def prod_others_tangent(x, t, axis):
    return lambda x, t, axis: _tangents_of_products_of_others(
        _as_three_axes(x, axis), _as_three_axes(np.ascontiguousarray(np.broadcast_to(t, x.shape)), axis)).reshape(x.shape)


@overload(runtime.prod_others_all)
def prod_others_all(x):
    return lambda x: _products_of_others(np.ascontiguousarray(x).reshape((1, x.size, 1))).reshape(x.shape)


# ---------------------------------------------------------------- stacks of matrices


# Small products (at most 512 multiplications: a 4 x 4 or 3 x 3 transform, one matrix of a stack of
# them) are loops: BLAS's call and the copies it needs cost more than the product. Measured
# (bench/small_matmul.py): 4 x 4 by 4 x 4 1.3x faster than by BLAS, stacks of 26 of them 2x to 3x.
@numba.njit(inline="always")
def _few_products(a, b):
    return a.shape[0] * a.shape[1] * b.shape[1] <= 512


@numba.njit
def _product_into(out, a, b):
    """out = a @ b for matrices: by loops where the product is small, else by BLAS."""
    if a.shape[1] != b.shape[0]:
        raise ValueError("matmul: the inner lengths of the matrices differ")
    if not _few_products(a, b):
        np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b), out)  # (BLAS writes into out)
        return
    for r in range(a.shape[0]):
        for c in range(b.shape[1]):
            total = 0.0
            for k in range(a.shape[1]):
                total += a[r, k] * b[k, c]
            out[r, c] = total


@overload(runtime.matmul)
def matmul(a, b):
    if a.dtype != b.dtype:  # (as Numba's `@`: BLAS takes one dtype)
        raise numba.core.errors.TypingError("matmul: operands of different dtypes")
    if a.ndim == 2 and b.ndim == 2:
        def matrices(a, b):
            if a.shape[1] == b.shape[0] and not _few_products(a, b):
                return np.ascontiguousarray(a) @ np.ascontiguousarray(b)  # (no copy of its result)
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
            _product_into(out, a, b)
            return out
        return matrices
    if a.ndim <= 2 and b.ndim <= 2:  # a vector: BLAS wants contiguous operands, copy a strided one (a slice)
        return lambda a, b: np.ascontiguousarray(a) @ np.ascontiguousarray(b)
    if a.ndim == 3 and b.ndim == 3:
        def stacks(a, b):
            if a.shape[0] != b.shape[0]:
                raise ValueError("matmul: stacks of different lengths")
            out = np.empty((a.shape[0], a.shape[1], b.shape[2]), a.dtype)
            for i in range(a.shape[0]):
                _product_into(out[i], a[i], b[i])
            return out
        return stacks
    if a.ndim == 3:
        def stack_by_matrix(a, b):
            out = np.empty((a.shape[0], a.shape[1], b.shape[1]), a.dtype)
            for i in range(a.shape[0]):
                _product_into(out[i], a[i], b)
            return out
        return stack_by_matrix

    def matrix_by_stack(a, b):
        out = np.empty((b.shape[0], a.shape[0], b.shape[2]), a.dtype)
        for i in range(b.shape[0]):
            _product_into(out[i], a, b[i])
        return out
    return matrix_by_stack


register_jitable(runtime.tape_push)
register_jitable(runtime.tape_row)
register_jitable(runtime.refilled)
register_jitable(runtime.longest)
register_jitable(runtime.select)
register_jitable(runtime.tape_push_rows)


@numba.njit(inline="always")
def _wrapped_row(row, n):
    """runtime._wrapped of one row."""
    return row + n if row < 0 else row


@numba.njit(inline="always")
def _own_row(row, n):
    """runtime.own_rows of one row."""
    row = _wrapped_row(row, n)
    return row if 0 <= row < n else -1


@overload(runtime.item_rows_add)
def item_rows_add(like, g, rows):
    def impl(like, g, rows):
        out = np.zeros(like.shape, g.dtype)
        for b in range(out.shape[0]):
            row = _own_row(rows[b], out.shape[1])
            if row >= 0:
                out[b, row] += g[b]
        return out
    return impl


@overload(runtime.item_rows_set)
def item_rows_set(x, v, rows):
    def impl(x, v, rows):
        for b in range(x.shape[0]):
            row = _own_row(rows[b], x.shape[1])
            if row >= 0:
                x[b, row] = v[b]
        return x
    return impl


@overload(runtime.item_rows)
def item_rows(x, rows):
    def impl(x, rows):
        if x.shape[0] != rows.shape[0]:  # the rows of a variable no item has assigned yet: still none
            return np.empty((0,) + x.shape[2:], x.dtype)
        out = np.empty((x.shape[0],) + x.shape[2:], x.dtype)
        for b in range(x.shape[0]):
            out[b] = x[b, min(max(_wrapped_row(rows[b], x.shape[1]), 0), x.shape[1] - 1)]
        return out
    return impl


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


# ---------------------------------------------------------------- Python values

register_jitable(runtime.grown_rows)
register_jitable(runtime.nonempty_rows)


@overload(runtime.unpacked)
def unpacked(x, n):
    def impl(x, n):
        if x.shape[0] != n:
            raise ValueError("an array unpacked into names must have as many rows (its first axis) as there are names")
        return x
    return impl


# ---------------------------------------------------------------- special functions
# Scalar kernels in float64 (the result is cast to the operand's float dtype, as SciPy's float32
# loops give), applied to numbers or looped over the elements of arrays (any layout; binary
# kernels over the broadcast of their operands).

_PI = np.pi
_HALF_LOG_TWO_PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_HALF = np.sqrt(0.5)


def _float_dtype(*operands):
    """The NumPy float dtype of a kernel's result: float32 when every float operand is float32."""
    kinds = [t.dtype if isinstance(t, types.Array) else t for t in operands]
    floats = [k for k in kinds if isinstance(k, types.Float)]
    single = floats and all(k == types.float32 for k in floats)
    return np.dtype(np.float32 if single else np.float64)


# Vector math's twins (vmath.py) are forced inline into their caller and divide as NumPy does
# (error_model="numpy": no check of each division), so that the caller's loop can be vectorised.
_INLINED = {"error_model": "numpy", "forceinline": True}


def _unary_twin(helper, kernel, branch_free=None, bound=math.inf, inlined=False):
    """`helper`'s twin: `kernel` (of a float64) of a number and of each element of an array, cast
    to the operand's float dtype. With `branch_free` (right for |x| < `bound` only), an array whose
    elements are all within `bound` (checked in one pass; NaN is not) is looped over with it instead."""
    kernel = numba.njit(inline="always")(kernel)
    checked = branch_free is not None
    elementwise = numba.njit(inline="always")(branch_free) if checked else kernel

    def twin(x):
        dtype = _float_dtype(x)
        cast = dtype.type
        if not isinstance(x, types.Array):
            return lambda x: cast(kernel(np.float64(x)))

        def on_array(x):
            flat = np.ascontiguousarray(x).reshape(-1)
            out = np.empty(flat.size, dtype)
            in_range = True
            if checked:
                for i in range(flat.size):
                    in_range &= abs(np.float64(flat[i])) < bound
            if in_range:
                for i in range(flat.size):
                    out[i] = elementwise(np.float64(flat[i]))
            else:
                for i in range(flat.size):
                    out[i] = kernel(np.float64(flat[i]))
            return out.reshape(x.shape)
        return on_array

    overload(helper, jit_options=_INLINED if inlined else {})(twin)


def _binary_twin(helper, kernel, inlined=False):
    """`helper`'s twin: `kernel` of two float64s over the broadcast of its operands (one flat loop
    where an operand is a number or both have one shape)."""
    kernel = numba.njit(inline="always")(kernel)

    def twin(x, y):
        dtype = _float_dtype(x, y)
        cast = dtype.type
        x_array, y_array = isinstance(x, types.Array), isinstance(y, types.Array)
        if not x_array and not y_array:
            return lambda x, y: cast(kernel(np.float64(x), np.float64(y)))
        if not y_array or not x_array:
            array_first = x_array

            def with_number(x, y):
                flat = np.ascontiguousarray(x if array_first else y).reshape(-1)
                number = np.float64(y if array_first else x)
                out = np.empty(flat.size, dtype)
                for i in range(flat.size):
                    out[i] = kernel(np.float64(flat[i]), number) if array_first else kernel(number, np.float64(flat[i]))
                return out.reshape(np.shape(x if array_first else y))
            return with_number

        def on_arrays(x, y):
            if x.shape == y.shape:
                xs, ys = np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(y).reshape(-1)
                out = np.empty(xs.size, dtype)
                for i in range(xs.size):
                    out[i] = kernel(np.float64(xs[i]), np.float64(ys[i]))
                return out.reshape(x.shape)
            shape = np.broadcast_shapes(np.shape(x), np.shape(y))
            xs, ys = np.broadcast_to(x, shape), np.broadcast_to(y, shape)
            out = np.empty(shape, dtype)
            for index in np.ndindex(shape):
                out[index] = kernel(np.float64(xs[index]), np.float64(ys[index]))
            return out
        return on_arrays

    overload(helper, jit_options=_INLINED if inlined else {})(twin)


@numba.njit(inline="always")
def _is_pole(x):
    """Whether x is 0 or a negative integer (a pole of gamma and its derivatives)."""
    return x <= 0.0 and x == np.floor(x)


@numba.njit(cache=True)
def _digamma_positive(x):
    """digamma for x > 0: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the
    asymptotic series (terms to x**-14: below 1e-16 there)."""
    result = 0.0
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    s = 1.0 / (x * x)
    series = s * (1 / 12 - s * (1 / 120 - s * (1 / 252 - s * (1 / 240 - s * (1 / 132 - s * (691 / 32760 - s / 12))))))
    return result + np.log(x) - 0.5 / x - series


@numba.njit(cache=True)
def _trigamma_positive(x):
    """polygamma(1, x) for x > 0: psi1(x) = psi1(x + 1) + 1/x**2 up to x >= 10, then the series."""
    result = 0.0
    while x < 10.0:
        result += 1.0 / (x * x)
        x += 1.0
    s = 1.0 / (x * x)
    series = s * (1 / 6 - s * (1 / 30 - s * (1 / 42 - s * (1 / 30 - s * (5 / 66 - s * (691 / 2730 - s * 7 / 6))))))
    return result + (1.0 + 0.5 / x + series) / x


def _digamma(x):
    """Reflection psi(x) = psi(1 - x) - pi / tan(pi x) below 0, with tan's argument reduced exactly
    (x minus its nearest integer); scipy's values at the poles."""
    if x != x or x == -np.inf:
        return np.nan
    if _is_pole(x):
        return -np.inf if x == 0.0 else np.nan
    if x > 0.0:
        return _digamma_positive(x)
    return _digamma_positive(1.0 - x) - _PI / np.tan(_PI * (x - np.floor(x + 0.5)))


def _trigamma(x):
    """Reflection psi1(x) = pi**2 / sin(pi x)**2 - psi1(1 - x) below 0; inf at the poles and -inf,
    as scipy."""
    if x != x:
        return np.nan
    if x == -np.inf or _is_pole(x):
        return np.inf
    if x > 0.0:
        return _trigamma_positive(x)
    s = np.sin(_PI * (x - np.floor(x + 0.5)))
    return _PI * _PI / (s * s) - _trigamma_positive(1.0 - x)


@numba.njit(cache=True)
def _tetragamma_positive(x):
    """polygamma(2, x) for x > 0: psi2(x) = psi2(x + 1) - 2/x**3 up to x >= 10, then the series
    (the derivative of trigamma's)."""
    result = 0.0
    while x < 10.0:
        result -= 2.0 / (x * x * x)
        x += 1.0
    s = 1.0 / (x * x)
    series = s * s * (1 / 6 - s * (1 / 6 - s * (3 / 10 - s * (5 / 6 - s * (691 / 210 - s * 35 / 2)))))
    return result - (1.0 + 1.0 / x + 0.5 * s - series) / (x * x)


def _tetragamma(x):
    """Reflection psi2(x) = psi2(1 - x) - 2 pi**3 cos(pi x) / sin(pi x)**3 below 0; -inf at the
    poles and -inf, as scipy."""
    if x != x:
        return np.nan
    if x == -np.inf or _is_pole(x):
        return -np.inf
    if x > 0.0:
        return _tetragamma_positive(x)
    r = x - np.floor(x + 0.5)  # in [-1/2, 1/2], so cos(pi r) = sin(pi (1/2 - |r|)), 0 at the half integers
    s = np.sin(_PI * r)
    return _tetragamma_positive(1.0 - x) - 2.0 * _PI ** 3 * np.sin(_PI * (0.5 - abs(r))) / (s * s * s)


def _gammaln(x):
    if x == -np.inf:
        return -np.inf  # as scipy
    return np.inf if _is_pole(x) else math.lgamma(x)


def _gamma(x):
    if _is_pole(x):
        return np.inf if x == 0.0 else np.nan
    return math.gamma(x)


def _expit(x):
    """1 / (1 + exp(-x)), with exp of a negative number only (no overflow)."""
    if x >= 0.0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


def _logit(x):
    """log(x / (1 - x)); near 1/2 as log1p((2x - 1) / (1 - x)), whose 2x - 1 is exact."""
    if x == 1.0:
        return np.inf  # Numba's division by zero would raise
    if 0.3 < x < 0.65:
        return np.log1p((2.0 * x - 1.0) / (1.0 - x))
    return np.log(x / (1.0 - x))


def _log_ndtr(x):
    """log(ndtr(x)): log1p of the upper tail above 0, the log of erfc down to -20, below that the
    asymptotic series of Mills' ratio (terms (2k-1)!! / x**2k, to below 1e-17 at x = -20)."""
    if x > 0.0:
        return np.log1p(-0.5 * math.erfc(x * _SQRT_HALF))
    if x > -20.0:
        return np.log(0.5 * math.erfc(-x * _SQRT_HALF))
    s = 1.0 / (x * x)
    term, total = 1.0, 1.0
    for k in range(1, 12):
        term *= -(2 * k - 1) * s
        total += term
    return -0.5 * x * x - np.log(-x) - _HALF_LOG_TWO_PI + np.log(total)


def _xlogy(x, y):
    return 0.0 if x == 0.0 and y == y else x * np.log(y)


def _xlog1py(x, y):
    return 0.0 if x == 0.0 and y == y else x * np.log1p(y)


_unary_twin(runtime.erf, lambda x: math.erf(x))
_unary_twin(runtime.erfc, lambda x: math.erfc(x))
_unary_twin(runtime.gammaln, _gammaln)
_unary_twin(runtime.gamma, _gamma)
_unary_twin(runtime.digamma, _digamma)
_unary_twin(runtime.trigamma, _trigamma)
_unary_twin(runtime.tetragamma, _tetragamma)
_unary_twin(runtime.expit, _expit)
_unary_twin(runtime.logit, _logit)
_unary_twin(runtime.log_ndtr, _log_ndtr)
_binary_twin(runtime.xlogy, _xlogy)
_binary_twin(runtime.xlog1py, _xlog1py)


# ---------------------------------------------------------------- sequences (rules/sequences.py)
# Loops over a contiguous (before, along, after) view of the operand, one lane at a time.


def _running(combine, start):
    """The twin of np.cumsum/np.cumprod along an axis: `combine` folded along each lane from `start`."""
    combine = numba.njit(inline="always")(combine)

    def twin(x, axis):
        dtype = x.dtype if isinstance(x.dtype, types.Float) else types.int64

        def impl(x, axis):
            y = _as_three_axes(x, axis)
            before, n, after = y.shape
            out = np.empty((before, n, after), dtype)
            for i in range(before):
                for k in range(after):
                    acc = start
                    for j in range(n):
                        acc = combine(acc, y[i, j, k])
                        out[i, j, k] = acc
            return out.reshape(x.shape)
        return impl
    return twin


overload(runtime.cumsum_axis)(_running(lambda acc, value: acc + value, 0))
overload(runtime.cumprod_axis)(_running(lambda acc, value: acc * value, 1))


@numba.njit
def _cumprod_lane_grad(h, y, grad):
    """runtime.cumprod_grad for one lane, written into `grad`."""
    n = y.shape[0]
    first_zero = n
    for j in range(n):
        if y[j] == 0:
            first_zero = j
            break
    out = np.empty(n, grad.dtype)
    acc = 1.0
    for j in range(n):
        acc *= y[j]
        out[j] = acc
    total = 0.0
    for j in range(n - 1, -1, -1):
        total += h[j] * out[j]
        grad[j] = total / y[j] if j < first_zero else 0.0
    if first_zero < n:
        others = out[first_zero - 1] if first_zero > 0 else 1.0
        total = 0.0
        for i in range(first_zero, n):
            if i > first_zero:
                others *= y[i]
            total += h[i] * others
        grad[first_zero] = total


@overload(runtime.cumprod_grad)
def cumprod_grad(g, x, axis):
    def impl(g, x, axis):
        h, y = _as_three_axes(g, axis), _as_three_axes(x, axis)
        before, n, after = y.shape
        grad = np.empty((before, n, after), h.dtype)
        lane = np.empty(n, h.dtype)
        for i in range(before):
            for k in range(after):
                _cumprod_lane_grad(h[i, :, k], y[i, :, k], lane)
                grad[i, :, k] = lane
        return grad.reshape(x.shape)
    return impl


@overload(runtime.argsort_axis)
def argsort_axis(x, axis):
    def impl(x, axis):
        y = _as_three_axes(x, axis)
        before, n, after = y.shape
        order = np.empty((before, n, after), np.int64)
        for i in range(before):
            for k in range(after):
                order[i, :, k] = np.argsort(y[i, :, k].copy(), kind="mergesort")
        return order.reshape(x.shape)
    return impl


def _gather_along(scatter):
    """The twin of permute_along (out[j] = x[order[j]] along the axis) or, `scatter`, of
    unpermute_along (out[order[j]] = x[j])."""
    def twin(x, order, axis):
        def impl(x, order, axis):
            y, o = _as_three_axes(x, axis), _as_three_axes(order, axis)
            before, n, after = y.shape
            out = np.empty((before, n, after), y.dtype)
            for i in range(before):
                for k in range(after):
                    for j in range(n):
                        if scatter:
                            out[i, o[i, j, k], k] = y[i, j, k]
                        else:
                            out[i, j, k] = y[i, o[i, j, k], k]
            return out.reshape(x.shape)
        return impl
    return twin


overload(runtime.permute_along)(_gather_along(False))
overload(runtime.unpermute_along)(_gather_along(True))


@overload(runtime.interp_segment)
def interp_segment(x, xp):
    def impl(x, xp):
        if len(xp) < 2:
            raise ValueError("np.interp needs at least two sample points (xp) to be differentiated")
        return np.minimum(np.maximum(np.searchsorted(xp, x, side="right") - 1, 0), len(xp) - 2)
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


# ---------------------------------------------------------------- linear algebra
# Numba compiles the NumPy bodies of the np.linalg helpers and of the diagonals as they are.

for _name in ("inv", "det", "sign_det", "logabsdet", "solve", "cholesky", "eigvalsh", "eigh_vectors", "diagonal",
              "diagonal_fill", "kron", "checkpoint_chunk", "revolve_schedule", "snapshot_stack", "snapshot_numbers"):
    register_jitable(getattr(runtime, _name))
# called at every iteration of a backward loop: inlined (a call costs more than they do: references counted)
def _inlined(function):
    """Overload `function` with itself, inlined into its caller (a typing function of its signature)."""
    overload(function, inline="always")(functools.wraps(function)(lambda *types: function))


for _name in ("revolve_split", "revolve_restore", "revolve_take", "snapshot_get", "snapshot_put", "number_put"):
    _inlined(getattr(runtime, _name))


@numba.njit(cache=True)
def _substituted(t, b, lower):
    """x with t x = b for the lower (upper) triangle of t, by forward (back) substitution; b is a
    matrix (columns solved together), overwritten with x."""
    n, columns = b.shape
    for step in range(n):
        i = step if lower else n - 1 - step
        for j in range(i) if lower else range(i + 1, n):
            factor = t[i, j]
            for k in range(columns):  # a loop, not `b[i] -= ...`, which would allocate a row each time
                b[i, k] -= factor * b[j, k]
        if t[i, i] == 0:
            raise np.linalg.LinAlgError("solve_triangular: the matrix is singular (a zero on its diagonal)")
        for k in range(columns):
            b[i, k] /= t[i, i]
    return b


@overload(runtime.solve_triangular)
def solve_triangular(a, b, lower, trans):
    def impl(a, b, lower, trans):
        if a.shape[0] != a.shape[1] or a.shape[0] != b.shape[0]:
            raise ValueError("solve_triangular: the matrix is not square or does not match the right-hand side")
        t = np.ascontiguousarray(a.T) if trans else np.ascontiguousarray(a)
        columns = np.ascontiguousarray(b).astype(t.dtype).reshape((b.shape[0], -1))
        return _substituted(t, columns, lower != bool(trans)).reshape(b.shape)
    return impl


@overload(runtime.kron_left)
def kron_left(g, b):
    def impl(g, b):
        p, q = b.shape
        out = np.zeros((g.shape[0] // p, g.shape[1] // q), g.dtype)
        for i in range(g.shape[0]):
            for j in range(g.shape[1]):
                out[i // p, j // q] += g[i, j] * b[i % p, j % q]
        return out
    return impl


@overload(runtime.kron_right)
def kron_right(g, a):
    def impl(g, a):
        m, n = a.shape
        p, q = g.shape[0] // m, g.shape[1] // n
        out = np.zeros((p, q), g.dtype)
        for i in range(g.shape[0]):
            for j in range(g.shape[1]):
                out[i % p, j % q] += g[i, j] * a[i // p, j // q]
        return out
    return impl


# ---------------------------------------------------------------- vector math (vmath.py)


# sin and cos of an array within vmath.REDUCED take the branch-free loop; of a number (or beyond)
# they are libm's: a branch to libm in a loop over numbers would keep it scalar, or worse, be made
# a call for every element, its result discarded.

for _name in ("exp", "expm1", "log", "log1p", "tanh", "expit"):
    _unary_twin(getattr(runtime, f"vector_{_name}"), vmath.scalar(_name), inlined=True)
_unary_twin(runtime.vector_sin, lambda x: math.sin(x), vmath.sin_reduced, vmath.REDUCED, inlined=True)
_unary_twin(runtime.vector_cos, lambda x: math.cos(x), vmath.cos_reduced, vmath.REDUCED, inlined=True)
_binary_twin(runtime.vector_power, vmath.power, inlined=True)
