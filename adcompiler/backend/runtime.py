"""Runtime helpers that generated code calls as `rt.<name>`: NumPy functions, what plain Python
runs. Each has a Numba twin of the same name in runtime_numba.py (`numba.extending.overload`,
specialised on the operands' ranks), registered only when code is compiled for Numba, so this
module imports no Numba; compiled code calls them through cached njit functions (`HELPERS`,
compile.py).

Invariants: results are fresh arrays or the operand itself, never views that alias and are later
written; `unbroadcast(g, like)` has `like`'s shape, `broadcast_like(g, like)` has `like`'s shape.
"""
from __future__ import annotations

import math

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
    """`g` broadcast to `like`'s shape: `g` itself where it has that shape (or `like` is a
    scalar), else a fresh array."""
    shape = np.shape(like)
    if not shape or np.shape(g) == shape:
        return g
    return np.broadcast_to(g, shape).copy()


def repeated(x, n):
    """`x` repeated `n` times along a new leading axis: a read-only view, nothing copied."""
    return np.broadcast_to(x, (n, *np.shape(x)))


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


def _blas_sum(name: str, keepdims: bool):
    """np.sum along the first or the last axis of a float array as a product with ones (BLAS's
    gemv: a few times faster than NumPy's reduction on short rows) where NumPy's own order is no
    more accurate: along axis 0 (NumPy adds the rows one after another too) and along a last axis
    of at most `_BLAS_SUM_LONGEST` (NumPy adds in 8 running sums below its pairwise block, as BLAS
    does). Along the last axis, an array of more axes is the 2-D view of its C-contiguous memory
    (the others merged; along axis 0 that view's gemv is slower than NumPy's rows)."""
    summed = _axis_reduction("sum", keepdims)

    def reduction(x, axis):
        last = x.ndim - 1 if type(x) is np.ndarray else -1
        if not (type(x) is np.ndarray and x.ndim >= 2 and x.dtype.kind == "f"
                and (axis == 0 or (axis == last and x.shape[last] <= _BLAS_SUM_LONGEST))
                and (x.ndim == 2 or (axis == last and x.flags.c_contiguous))):
            return summed(x, axis)
        ones = np.ones(x.shape[axis], x.dtype)
        shape = x.shape[:axis] + ((1,) if keepdims else ()) + x.shape[axis + 1:]
        if axis == 0:
            return (ones @ x).reshape(shape)
        return (x.reshape(math.prod(x.shape[:last]), x.shape[last]) @ ones).reshape(shape)

    reduction.__name__ = reduction.__qualname__ = name
    reduction.__doc__ = summed.__doc__
    return reduction


_BLAS_SUM_LONGEST = 128
sum_axis, sum_axis_keepdims = _blas_sum("sum_axis", False), _blas_sum("sum_axis_keepdims", True)
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


def assign_into(region, value):
    """`region[...] = value`: a kernel's `y[index] = v` of an array v into the view y[index] (the
    Numba twin is loops compiled once and cached, where Numba's slice assignment compiles a loop and
    its error message into every kernel: 0.3 s each)."""
    region[...] = value


def add_into(region, value):
    """`region += value`: a kernel's `y[index] += v` (as assign_into)."""
    region += value


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


def prod_others_tangent(x, t, axis):
    """The tangent of prod_others(x, axis) along `t`: the products before and after each element
    carried with their tangents (dual numbers), so exact also where `x` has zeros."""
    y = _as_three_axes(np.asarray(x), axis)
    u = _as_three_axes(np.broadcast_to(t, np.shape(x)), axis)
    n = y.shape[1]
    products, tangents = np.ones_like(y), np.zeros_like(y)  # of the elements before j
    for j in range(1, n):
        products[:, j] = products[:, j - 1] * y[:, j - 1]
        tangents[:, j] = tangents[:, j - 1] * y[:, j - 1] + products[:, j - 1] * u[:, j - 1]
    after, d_after = np.ones_like(products[:, 0]), np.zeros_like(products[:, 0])  # of the elements after j
    for j in range(n - 1, -1, -1):
        tangents[:, j] = tangents[:, j] * after + products[:, j] * d_after
        after, d_after = after * y[:, j], d_after * y[:, j] + after * u[:, j]
    return tangents.reshape(np.shape(x))


def prod_others_all(x):
    """prod_others over all of `x`: the gradient of np.prod without an axis."""
    return prod_others(np.reshape(x, -1), 0).reshape(np.shape(x))


# ---------------------------------------------------------------- stacks of matrices


def matmul(a, b):
    """np.matmul, also for stacks of matrices (3-D with 2-D or 3-D), which Numba's `@` does not take."""
    return np.matmul(a, b)


TAPE_SHAPE_ERROR = ("adcompiler: an array that a loop keeps for the gradient changed shape between iterations "
                    "(a carried array whose shape after the first iteration differs from its initial one); "
                    "give it its final shape before the loop")


def tape_row(value, shape):
    """`value`, which a loop's tape made before it stores as a row of `shape` (ValueError if not
    of that shape). Numba compiles this body as it is (runtime_numba.py)."""
    if value.shape != shape:
        raise ValueError(TAPE_SHAPE_ERROR)
    return value


def refilled(buffer, shape):
    """`np.zeros(shape)` of `buffer`'s dtype, in `buffer`'s memory when it has that shape: an array a
    loop makes in each iteration, whose earlier one nothing reads any more (backend/inplace.py).
    Numba compiles this body as it is (runtime_numba.py)."""
    if buffer.shape != shape:
        return np.zeros(shape, buffer.dtype)
    buffer.fill(0)
    return buffer


def tape_push(stack, value, k, capacity):
    """`stack` (a loop's tape: row i holds iteration i's value) with `value` at row k. At k == 0
    the rows are made, `capacity` of them (a `for`'s trip count) or 8 (0: a `while`), and they
    double when a `while` fills them; a value of another shape than the first raises ValueError.
    Numba compiles this body as it is (runtime_numba.py): a number is a value of shape ()."""
    shape = np.shape(value)
    if k == 0:
        stack = np.empty((capacity if capacity > 0 else 8,) + shape, stack.dtype)
    elif k == stack.shape[0]:
        grown = np.empty((2 * k,) + shape, stack.dtype)
        grown[:k] = stack
        stack = grown
    if stack.shape[1:] != shape:
        raise ValueError(TAPE_SHAPE_ERROR)
    stack[k] = value
    return stack


def tape_push_rows(stack, value, k, capacity):
    """`tape_push` of a batch whose items are at iterations of their own (a loop whose trip count
    differs across the batch): `stack` holds rows of the batch (rows, batch, *shape), item b's
    value goes to row k[b]. The rows are made when every k is 0 (or at the first value after
    placeholders, a variable not assigned yet, which are not kept), and double when one reaches
    them. Numba compiles this body as it is (runtime_numba.py)."""
    if value.shape[0] != k.shape[0]:  # a variable not assigned yet (its placeholder): nothing to keep
        return stack
    top = longest(k)
    if top == 0 or stack.shape[1:] != value.shape:  # the rows made (at the first value, after placeholders)
        stack = np.empty((max(capacity if capacity > 0 else 8, top + 1),) + value.shape, stack.dtype)
    elif top >= stack.shape[0]:
        grown = np.empty((max(2 * stack.shape[0], top + 1),) + stack.shape[1:], stack.dtype)
        grown[:stack.shape[0]] = stack
        stack = grown
    for b in range(k.shape[0]):
        stack[k[b], b] = value[b]
    return stack


def select(condition, x, y, rank):
    """np.where(condition, x, y) of two values of one variable: x's shape where every item's is
    x, y's where every item's is y, else their last `rank` axes (each item's shape) must be equal
    (ValueError); an empty side beside a non-empty one (a variable not assigned yet) gives way to
    the other. Numba compiles this body as it is."""
    x, y = np.asarray(x), np.asarray(y)
    if x.size == 0 and y.size == 0:  # assigned in neither yet
        return np.where(condition[:0], x, y)
    if y.size == 0 or (x.size != 0 and np.all(condition)):  # every item's is x: of x's shape
        return np.where(condition, x, x)
    if x.size == 0 or not np.any(condition):
        return np.where(condition, y, y)
    for axis in range(1, rank + 1):
        if x.shape[x.ndim - axis] != y.shape[y.ndim - axis]:
            raise ValueError(SELECT_SHAPE_ERROR)
    return np.where(condition, x, y)


SELECT_SHAPE_ERROR = ("under vmap, a variable has another shape in the items that take one branch (or run one more "
                      "iteration) than in the others, so the batch has no one shape: give it one shape on every path")


def longest(trips):
    """The largest of a batch of trip counts, 0 for an empty batch (a masked loop's trips).
    Numba compiles this body as it is."""
    top = 0
    for b in range(trips.shape[0]):
        top = max(top, trips[b])
    return top


# Each item's own integer index (batching: an index that differs across the batch). A loop whose
# trips differ across the batch, and an `if` whose items take both branches, compute every item's
# values also where they are not used, so an index there may be out of range: as JAX does, a read
# there is clamped to the axis and a write or an addition there dropped (an index in range, negative
# ones counting from the end, is Python's).

def _wrapped(rows, n):
    """rows with negative ones counted from the end of an axis of length n."""
    rows = np.asarray(rows)
    return np.where(rows < 0, rows + n, rows)


def own_rows(rows, n):
    """rows in range made non-negative; out of range: -1."""
    wrapped = _wrapped(rows, n)
    return np.where((wrapped >= 0) & (wrapped < n), wrapped, -1)


def item_rows_add(like, g, rows):
    """Zeros of `like`'s shape but for g[b] at row rows[b] of item b (item_rows' gradient)."""
    out = np.zeros(np.shape(like), np.result_type(g))
    rows = own_rows(rows, out.shape[1])
    inside = rows >= 0
    out[np.arange(out.shape[0])[inside], rows[inside]] += np.broadcast_to(g, (out.shape[0],) + out.shape[2:])[inside]
    return out


def item_rows_set(x, v, rows):
    """x with item b's row rows[b] set to v[b] (x written in place and returned)."""
    rows = own_rows(rows, x.shape[1])
    inside = rows >= 0
    x[np.arange(x.shape[0])[inside], rows[inside]] = np.broadcast_to(v, (x.shape[0],) + x.shape[2:])[inside]
    return x


def item_rows(x, rows):
    """Each item's own row: out[b] = x[b, rows[b]] (clamped to the axis: see above)."""
    x = np.asarray(x)
    if x.shape[0] != np.shape(rows)[0]:  # the rows of a variable no item has assigned yet: still none
        return np.empty((0,) + x.shape[2:], x.dtype)
    return x[np.arange(x.shape[0]), np.clip(_wrapped(rows, x.shape[1]), 0, x.shape[1] - 1)]


def empty_list(item):
    """An empty list of values like `item` (a tape no iteration wrote to; Numba must know its type)."""
    return []


def typed_list(items):
    """`items` (a tape: a list, maybe of lists) as Numba's typed list, which a vjp's forward returns
    and its backward takes back at the cost of a reference (a reflected list is unboxed element by
    element, and one of lists not at all). Python: `items`."""
    return items


# ---------------------------------------------------------------- linear algebra
# Numba's np.linalg takes contiguous arrays only: each helper makes its operands contiguous (a
# transpose or a slice is copied), so one compiled helper serves views too.


def inv(a):
    """np.linalg.inv."""
    return np.linalg.inv(np.ascontiguousarray(a))


def det(a):
    """np.linalg.det."""
    return np.linalg.det(np.ascontiguousarray(a))


def sign_det(a):
    """np.linalg.slogdet(a)[0]."""
    return np.linalg.slogdet(np.ascontiguousarray(a))[0]


def logabsdet(a):
    """np.linalg.slogdet(a)[1]."""
    return np.linalg.slogdet(np.ascontiguousarray(a))[1]


def solve(a, b):
    """np.linalg.solve with a vector or matrix right-hand side."""
    return np.linalg.solve(np.ascontiguousarray(a), np.ascontiguousarray(b))


def cholesky(a):
    """np.linalg.cholesky: the lower factor, from the lower triangle of `a`."""
    return np.linalg.cholesky(np.ascontiguousarray(a))


def eigvalsh(a):
    """np.linalg.eigvalsh: the eigenvalues (ascending) of the symmetric matrix `a`'s lower triangle stands for."""
    return np.linalg.eigvalsh(np.ascontiguousarray(a))


def eigh_vectors(a):
    """np.linalg.eigh(a)[1]: the eigenvectors, as columns, in the order of eigvalsh."""
    return np.linalg.eigh(np.ascontiguousarray(a))[1]


def solve_triangular(a, b, lower, trans):
    """scipy.linalg.solve_triangular(a, b, trans=trans, lower=lower) (the Numba twin substitutes)."""
    from scipy.linalg import solve_triangular as scipy_solve_triangular
    return scipy_solve_triangular(a, b, trans=trans, lower=lower)


def diagonal(x, k):
    """The k-th diagonal of the matrix `x`, a new vector (Numba: np.diag)."""
    return np.diag(x, k).copy()


def diagonal_fill(like, g, k):
    """A new matrix of `like`'s shape, zero but for its k-th diagonal, which holds `g`."""
    out = np.zeros(like.shape, g.dtype)
    row, column = max(-k, 0), max(k, 0)
    for i in range(g.shape[0]):
        out[row + i, column + i] = g[i]
    return out


def kron(a, b):
    """np.kron of two matrices."""
    return np.kron(np.ascontiguousarray(a), np.ascontiguousarray(b))


def kron_left(g, b):
    """The gradient of kron(a, b) for a: the sum of each block of `g` times `b` (Numba: a loop)."""
    p, q = b.shape
    blocks = np.reshape(g, (g.shape[0] // p, p, g.shape[1] // q, q))
    return np.sum(blocks * b[None, :, None, :], axis=(1, 3))


def kron_right(g, a):
    """The gradient of kron(a, b) for b: the blocks of `g` weighted by `a` and summed."""
    m, n = a.shape
    blocks = np.reshape(g, (m, g.shape[0] // m, n, g.shape[1] // n))
    return np.sum(blocks * a[:, None, :, None], axis=(0, 2))


LINALG_HELPERS = ("inv", "det", "sign_det", "logabsdet", "solve", "cholesky", "eigvalsh", "eigh_vectors",
                  "solve_triangular", "diagonal", "diagonal_fill", "kron", "kron_left", "kron_right")


def _special():
    """scipy.special, imported by the first special function that runs: `import adcompiler` does
    not import SciPy (a quarter of a second)."""
    from scipy import special
    return special


# ---------------------------------------------------------------- special functions
# SciPy's ufuncs (float32 in, float32 out; ints give float64), for `math` and `scipy.special`
# calls of numbers and arrays alike. Numba has no scipy.special: the twins loop over the elements
# with scalar kernels (runtime_numba.py), checked against these to 1e-13 (tests/test_special_rules.py).


def erf(x):
    """scipy.special.erf: also what math.erf is, for numbers and arrays."""
    return _special().erf(x)


def erfc(x):
    """scipy.special.erfc."""
    return _special().erfc(x)


def gammaln(x):
    """scipy.special.gammaln, log|gamma(x)| (math.lgamma): +inf at 0 and the negative integers."""
    return _special().gammaln(x)


def gamma(x):
    """scipy.special.gamma (math.gamma): inf at 0, nan at the negative integers."""
    return _special().gamma(x)


def digamma(x):
    """scipy.special.digamma: -inf at 0, nan at the negative integers."""
    return _special().digamma(x)


def trigamma(x):
    """scipy.special.polygamma(1, x) in x's float dtype: inf at 0 and the negative integers."""
    return _polygamma(1, x)


def tetragamma(x):
    """scipy.special.polygamma(2, x) in x's float dtype: -inf at 0 and the negative integers."""
    return _polygamma(2, x)


def _polygamma(order, x):
    dtype = np.float32 if np.asarray(x).dtype == np.float32 else np.float64
    return np.asarray(_special().polygamma(order, x), dtype)[()]


def expit(x):
    """scipy.special.expit, 1 / (1 + exp(-x)), which neither overflows nor underflows early."""
    return _special().expit(x)


def logit(x):
    """scipy.special.logit, log(x / (1 - x))."""
    return _special().logit(x)


def log_ndtr(x):
    """scipy.special.log_ndtr, the log of the standard normal CDF, finite down to -1e154."""
    return _special().log_ndtr(x)


def xlogy(x, y):
    """scipy.special.xlogy, x * log(y), 0 where x == 0 (and y is not nan)."""
    return _special().xlogy(x, y)


def xlog1py(x, y):
    """scipy.special.xlog1py, x * log1p(y), 0 where x == 0 (and y is not nan)."""
    return _special().xlog1py(x, y)


SPECIAL_HELPERS = ("erf", "erfc", "gammaln", "gamma", "digamma", "trigamma", "tetragamma", "expit", "logit", "log_ndtr",
                   "xlogy", "xlog1py")
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
HELPERS = ("unbroadcast", "broadcast_like", "repeated", "expand_dims", "squeeze", "reshape", "index_add", "prod_others",
           "prod_others_tangent", "prod_others_all", "matmul", "tape_push", "tape_row", "refilled", "tape_push_rows", "item_rows",
           "item_rows_add", "item_rows_set", "longest", "select", "empty_list", "typed_list", "assign_into", "add_into") + tuple(f"{name}_axis{keepdims}" for name in ("sum", "mean", "prod", "max", "min")
                                             for keepdims in ("", "_keepdims")) + SPECIAL_HELPERS + LINALG_HELPERS
HELPERS += ("checked_index", "checked_length", "scatter_add")  # rules/arrays.py


# ---------------------------------------------------------------- Python values

def unpacked(x, n):
    """`x` itself, after checking that its first axis has `n` rows (`a, b, c = x`)."""
    if x.shape[0] != n:
        raise ValueError("an array unpacked into names must have as many rows (its first axis) as there are names")
    return x


def grown_rows(rows, dims):
    """`rows` (a list grown by a loop, its items as rows), after checking that this iteration's item
    has the earlier items' dims."""
    if rows.shape[1:] != dims:
        raise ValueError("the items of a list grown by a loop must have one shape here (adcompiler keeps them as "
                         "the rows of one array): this iteration appends an item of another shape than the first")
    return rows


def nonempty_rows(rows, axis=0):
    """`rows` (a list grown by a loop, its items arrays, along `axis`), after checking that the loop
    appended one."""
    if rows.shape[axis] == 0:
        raise ValueError("a list grown by a loop that ran no iteration is read as an array: NumPy makes an empty "
                         "list an array of shape (0,), which the items' shape cannot tell; give the loop an iteration")
    return rows


HELPERS += ("unpacked", "grown_rows", "nonempty_rows")


# ---------------------------------------------------------------- checkpointing (transforms/checkpoint.py)

def checkpoint_chunk(trips, budget, step, snapshot, where):
    """The chunk length m (1 <= m <= trips) of a loop of `trips` iterations checkpointed in two
    levels that needs least memory: ceil(trips / m) snapshots of `snapshot` bytes and two tapes
    (the backward makes a chunk's before it drops the last one) of m iterations of `step` bytes,
    about sqrt(trips * snapshot / (2 * step)); 0 when even that needs more than `budget` bytes
    (the loop `where` is then reversed by the binomial schedule, `revolve_schedule`)."""
    best, least = 1, -1
    guess = int((trips * snapshot / (2.0 * max(step, 1))) ** 0.5)
    for m in (guess, guess + 1):
        m = max(min(m, trips), 1)
        needed = ((trips + m - 1) // m) * snapshot + 2 * m * step
        if least < 0 or needed < least:
            best, least = m, needed
    return best if least <= budget else 0


HELPERS += ("checkpoint_chunk",)


# ---------------------------------------------------------------- sequences (rules/sequences.py)
# Running sums and products, stable sorting permutations and the gathers by them, and the segment
# of a grid that holds a point. The Numba twins loop over a (before, along, after) view.


def cumsum_axis(x, axis):
    """np.cumsum(x, axis=axis) (Numba's np.cumsum has no axis)."""
    return np.cumsum(x, axis=axis)


def cumprod_axis(x, axis):
    """np.cumprod(x, axis=axis)."""
    return np.cumprod(x, axis=axis)


def _cumsum_from_end(y):
    return np.cumsum(y[:, ::-1, :], axis=1)[:, ::-1, :]


def cumprod_grad(g, x, axis):
    """The gradient of np.cumprod(x, axis) for the cotangent g, exact also where x has zeros: an
    element before a lane's first zero gets sum_{i >= j} g_i out_i / x_j; the first zero gets
    sum_{i >= j} g_i times the product of the other elements up to i; elements after it get 0."""
    y, h = _as_three_axes(np.asarray(x), axis), _as_three_axes(np.asarray(g), axis)
    zeros_seen = np.cumsum(y == 0, axis=1)
    before, first = zeros_seen == 0, (y == 0) & (zeros_seen == 1)
    out = np.cumprod(y, axis=1)
    grad = np.where(before, _cumsum_from_end(h * out) / np.where(before, y, 1), 0)
    skipping = np.cumprod(np.where(first, 1, y), axis=1)
    grad = np.where(first, _cumsum_from_end(h * skipping), grad)
    return grad.astype(np.result_type(g), copy=False).reshape(np.shape(x))


def argsort_axis(x, axis):
    """np.argsort(x, axis, kind="stable"): ties keep their order."""
    return np.argsort(x, axis=axis, kind="stable")


def permute_along(x, order, axis):
    """np.take_along_axis(x, order, axis) for a permutation `order` of each lane."""
    return np.take_along_axis(x, order, axis)


def unpermute_along(g, order, axis):
    """The inverse of permute_along: `out` with out[order] = g along `axis`."""
    out = np.empty_like(g)
    np.put_along_axis(out, order, g, axis)
    return out


def interp_segment(x, xp):
    """For each point of x, the j in [0, len(xp) - 2] with xp[j] <= x < xp[j + 1], clipped (the
    first or last segment outside the grid)."""
    if len(xp) < 2:
        raise ValueError("np.interp needs at least two sample points (xp) to be differentiated")
    return np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)


HELPERS += ("cumsum_axis", "cumprod_axis", "cumprod_grad", "argsort_axis", "permute_along", "unpermute_along",
            "interp_segment")


# ---------------------------------------------------------------- vector math (backend/vmath.py)
# What kernels call for exp, log, sin, ... of floats where vector math is on (`rt.vector_exp`): here
# NumPy's ufuncs, for plain Python; compiled, twins (runtime_numba.py) of vmath.py's branch-free
# functions, which LLVM inlines into the loop that calls them and vectorises.

# Fused chains (fuse.py) run as loops over their elements in compiled kernels only (the compiled
# runtime says True): plain Python runs their array statements, at NumPy's speed.
ELEMENT_LOOPS = False
# Kernels' elementwise ops of N-D arrays (fuse.looped) likewise; a name of its own, since kernels
# with ELEMENT_LOOPS take NumPy's error model (compile.py), which N-D loops alone do not change.
ARRAY_LOOPS = False

VECTOR_MATH = ("exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "expit", "power")


def _vector_helper(name: str):
    ufunc = expit if name == "expit" else getattr(np, name)  # expit: scipy.special's (above)

    def helper(x):
        return ufunc(x)

    helper.__name__ = helper.__qualname__ = f"vector_{name}"
    helper.__doc__ = f"{ufunc.__name__}(x) of floats, with a Numba twin that vectorises (backend/vmath.py)."
    return helper


def vector_power(x, y):
    """np.power(x, y) of floats, with a Numba twin that vectorises (backend/vmath.py)."""
    return np.power(x, y)


for _name in VECTOR_MATH[:-1]:  # "power": vector_power, above
    globals()[f"vector_{_name}"] = _vector_helper(_name)


# Fused chains' element loops (fuse.py) name these; the loops run compiled only (ELEMENT_LOOPS), where
# the compiled runtime binds numba.prange and vmath's branch-free sin and cos (compile.py).
def prange(n):
    return range(n)


def element_sin(x):
    return np.sin(x)


def element_cos(x):
    return np.cos(x)


def beyond_reduced(x):
    """1 where vmath's branch-free sin and cos are wrong for x (|x| >= vmath.REDUCED, or NaN), else 0."""
    return int(not abs(x) < 1647099.0)


# ---------------------------------------------------------------- binomial checkpointing (transforms/checkpoint.py)
# A loop reversed by Griewank's binomial schedule (revolve) keeps at most `slots` snapshots of its
# carried values, a stack: the schedule is an int64 array [slots, depth, planned, 0, advanced,
# position of the snapshot in slot 0, 1, ...]. Reversing iteration k restores the highest snapshot
# at or below k (those above are done) and plans the advance from it to k: the positions where
# revolve splits what is left, which the advance then stores (`revolve_take`: slots depth ..
# planned - 1); `advanced` counts the iterations advanced so far.

def revolve_schedule(trips, budget, fixed, snapshot, where):
    """A schedule for a loop of `trips` iterations with as many snapshots of `snapshot` bytes as
    `budget` holds besides `fixed` bytes (what one iteration's recomputation keeps, the snapshot
    arrays' objects) and the schedule itself; at most one per iteration. Snapshot 0 is the loop's
    initial values. A ValueError naming the loop `where` when not even one fits."""
    slots = (budget - fixed - SCHEDULE_BYTES) // (snapshot + 8)
    if slots < 1:
        raise ValueError("memory=" + str(budget) + " bytes is too small for the loop at " + where + ": one "
                         "snapshot of its carried values and one iteration's values need "
                         + str(fixed + SCHEDULE_BYTES + snapshot + 8) + " bytes")
    slots = max(min(slots, trips), 1)
    schedule = np.zeros(5 + slots, np.int64)
    schedule[0], schedule[1], schedule[2] = slots, 1, 1
    return schedule


SCHEDULE_BYTES = 5 * 8 + 112  # a schedule's bytes besides 8 per slot (with its ndarray object)


def revolve_split(start, end, snapshots):
    """Where revolve (Griewank and Walther, ACM TOMS 26, 2000) takes the next snapshot when it
    reverses iterations start .. end-1 from a snapshot at `start`, with `snapshots` of them free
    counting that one: a position in (start, end), which minimises the iterations advanced."""
    steps = end - start
    reps, bound = 0, 1
    while bound < steps:
        reps += 1
        bound = bound * (reps + snapshots) // reps
    bino1 = bound * reps // (snapshots + reps)
    bino2 = bino1 * snapshots // (snapshots + reps - 1) if snapshots > 1 else 1
    bino3 = 0 if snapshots == 1 else bino2 * (snapshots - 1) // (snapshots + reps - 2) if snapshots > 2 else 1
    bino4 = bino2 * (reps - 1) // snapshots
    bino5 = 0 if snapshots < 3 else bino3 * (snapshots - 2) // reps if snapshots > 3 else 1
    if steps <= bino1 + bino3:
        split = start + bino4
    elif steps >= bound - bino5:
        split = start + bino1
    else:
        split = end - bino2 - bino3
    return max(split, start + 1)


def revolve_restore(schedule, k):
    """The position j of the snapshot that iteration k is recomputed from (the highest at or below
    k; the ones above it are dropped), with the snapshots of the advance from j to k planned."""
    depth = schedule[1]
    while schedule[4 + depth] > k:
        depth -= 1
    schedule[1] = depth
    start = schedule[4 + depth]
    planned, position = depth, start
    while planned < schedule[0]:
        position = revolve_split(position, k + 1, schedule[0] - planned + 1) if k > position + 1 else k
        if position >= k:
            break
        schedule[5 + planned] = position
        planned += 1
    schedule[2] = planned
    schedule[4] += k - start
    return start


def revolve_take(schedule, position):
    """The slot where the values before iteration `position` of an advance go, or -1 when revolve
    keeps no snapshot there."""
    depth = schedule[1]
    if depth < schedule[2] and position == schedule[5 + depth]:
        schedule[1] = depth + 1
        return depth
    return -1


def snapshot_stack(initial, schedule, dtype):
    """The snapshots of one carried array: a row per slot, the first the loop's initial value."""
    stack = np.empty((schedule[0],) + initial.shape, dtype)
    stack[0] = initial
    return stack


def snapshot_numbers(initial, schedule, dtype):
    """The snapshots of one carried number: one per slot, the first the loop's initial value."""
    return np.full(schedule[0], initial, dtype)


def snapshot_get(stack, schedule, position):
    """A copy of the snapshot at the top of the schedule (which holds `position`)."""
    return stack[schedule[1] - 1].copy()


def snapshot_put(value, stack, slot):
    """`value`, copied into `stack`'s row `slot` first unless slot is -1 (a ValueError when its
    shape differs from the loop's initial value's)."""
    if slot >= 0:
        if value.shape != stack.shape[1:]:
            raise ValueError("a carried array of a loop checkpointed under memory= changed shape between iterations")
        stack[slot] = value
    return value


def number_put(value, numbers, slot):
    """`value`, written to `numbers[slot]` first unless slot is -1."""
    if slot >= 0:
        numbers[slot] = value
    return value


HELPERS += ("revolve_schedule", "revolve_split", "revolve_restore", "revolve_take", "snapshot_stack", "snapshot_numbers",
            "snapshot_get", "snapshot_put", "number_put")
