"""Python values: calls of library functions that need no derivative rule (the values they make
carry no gradient), np.array and np.asarray, unpacking arrays, tuples as values.

Each program is checked by the dot-product test against float64 central finite differences of the
plain Python function (tests/fd.py `check_vjp`, which also compares the forward value with
NumPy's), with `jit=False`, and the rows marked `jit` also compiled by Numba. Each refusal is
checked for its message, hint and line (the line marked `# <- HERE`).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import adcompiler
from adcompiler import CompileError, grad
from adcompiler.ir.core import Type
from fd import check_vjp
from test_errors import check_error

RNG_SEED = 20261202
EDGES = np.array([0.2, 0.4, 0.6, 0.8])


def rng_for(name: str):
    return np.random.default_rng([RNG_SEED, *name.encode()])


# ---------------------------------------------------------------- inactive library calls

def triu_mask(x):
    n = x.shape[0]
    mask = np.triu(np.ones((n, n)))
    return np.sum(mask * np.outer(x, x))


def triu_pairs(x):
    i, j = np.triu_indices(len(x), k=1)
    return np.sum(x[i] * x[j])


def bincount_means(x, labels):
    counts = np.bincount(labels, minlength=3)
    return np.sum(x / counts[labels])


def int_of_fraction(x):
    m = int(0.8 * len(x))
    return np.sum(x[:m] ** 2)


def rounded_half(x):
    return np.sum(np.sin(x[:round(len(x) / 2)]))


def sorted_weights(x):
    order = np.argsort(x)
    return np.sum(x[order] * np.arange(len(x)))


def argmax_rows(X):
    idx = np.argmax(X, axis=1)
    return np.sum(np.max(X, axis=1) * idx) + np.sum(X[np.argmin(X[:, 0])])


def bins_of_values(x):
    k = np.searchsorted(EDGES, x)
    return np.sum(x * x * k)


def floor_steps(x):
    return np.sum(x * np.floor(3.0 * x)) + math.floor(2.5) * np.sum(x)


def nonzero_picks(x):
    (idx,) = np.nonzero(x > 0.5)
    return np.sum(x[idx] ** 2) * np.count_nonzero(x > 0.5)


def unique_labels(x, labels):
    return np.sum(x[np.unique(labels)])


def index_methods(X):
    i = X.argmax(axis=1)
    j = X[:, 0].argsort()
    return np.sum(X[:, 1][j] * i) + np.sum(X * X.round()) * len(X[:, 0].nonzero()[0])


def integer_helpers(x, labels):
    m = np.sum(x > 0.5)                     # a count from a mask
    n = abs(-3) + abs(len(x) - 10)
    c = np.count_nonzero(labels == 1)
    q = int(np.floor(len(x) / 2)) + round(2.7)
    return np.sum(x) * m + n + c + q + x[np.argsort(-x)[0]]


def folded_constants(x):
    i, j = np.triu_indices(3, 1)  # every operand known: computed when compiling
    return np.sum(x[i] * x[j]) * math.factorial(3)


LIBRARY_PROGRAMS = [
    (triu_mask, lambda rng: (rng.uniform(-1, 1, 5),), False),
    (triu_pairs, lambda rng: (rng.uniform(-1, 1, 4),), True),
    (bincount_means, lambda rng: (rng.uniform(-1, 1, 6), np.array([0, 2, 1, 2, 2, 0])), True),
    (int_of_fraction, lambda rng: (rng.uniform(-1, 1, 6),), False),
    (rounded_half, lambda rng: (rng.uniform(-1, 1, 7),), False),
    (sorted_weights, lambda rng: (rng.permutation(np.linspace(-1, 1, 6)),), False),
    (argmax_rows, lambda rng: (np.arange(12.0).reshape(3, 4) % 5 + rng.uniform(0, 0.1, (3, 4)),), False),
    (bins_of_values, lambda rng: (np.array([0.1, 0.3, 0.55, 0.7, 0.9]),), False),
    (floor_steps, lambda rng: (np.array([0.1, 0.45, 0.55, 0.9]),), True),
    (nonzero_picks, lambda rng: (np.array([0.2, 0.7, 0.9, 0.1, 0.6]),), False),
    (unique_labels, lambda rng: (rng.uniform(-1, 1, 5), np.array([3, 1, 3, 0])), False),
    (folded_constants, lambda rng: (rng.uniform(-1, 1, 3),), False),
    (integer_helpers, lambda rng: (np.array([0.3, 0.6, 0.9]), np.array([1, 0, 1])), True),
    (index_methods, lambda rng: (np.arange(12.0).reshape(4, 3) % 5 + rng.uniform(0, 0.1, (4, 3)),), False),
]
CASES = [pytest.param(f, make, False, id=f"{f.__name__}-nojit") for f, make, _ in LIBRARY_PROGRAMS] + \
    [pytest.param(f, make, True, id=f"{f.__name__}-jit") for f, make, jit in LIBRARY_PROGRAMS if jit]


@pytest.mark.parametrize("function, make, jit", CASES)
def test_inactive_library_call(function, make, jit):
    args = make(rng_for(function.__name__))
    check_vjp(function, args, 0, jit, rng_for(function.__name__))


def test_folded_call_is_a_captured_constant():
    """A call whose operands are all known when compiling is computed then: no call in the code."""
    source = _source(folded_constants, np.ones(3))
    assert "np.triu_indices(" not in source and "factorial(" not in source, source


def _source(function, *args) -> str:
    g = grad(function, jit=False)
    g(*args)
    ((built, _),) = g.specialisations.values()
    return built.source


def test_library_call_in_the_generated_code():
    source = _source(triu_pairs, np.ones(4))
    assert "np.triu_indices(" in source and "k=1" in source, source


def random_pair(x):
    a = np.random.uniform(size=3)
    b = np.random.uniform(size=3)
    return np.sum(x * (a - b))


def test_random_draws_are_neither_folded_nor_merged():
    """Two equal calls of np.random.uniform are two draws, made at every call."""
    f = adcompiler.jit(random_pair, jit=False)
    first, second = f(np.ones(3)), f(np.ones(3))
    assert first != second and first != 0.0
    g = grad(random_pair, jit=False)(np.ones(3))
    assert np.all(g != 0.0)


def test_compiling_leaves_the_random_stream_alone():
    """Finding the result type of np.random.uniform calls it on samples; the user's stream is kept."""
    np.random.seed(5)
    expected = np.random.uniform(size=2)
    np.random.seed(5)
    grad(random_pair, jit=False).build_for((Type("float64", 1, units=(False,)),))
    assert np.array_equal(np.random.uniform(size=2), expected)


def math_floor_jit(x):
    return x * math.floor(x) + math.ceil(2.2)


def test_math_module_is_imported_by_the_generated_code():
    for jit in (False, True):
        assert grad(math_floor_jit, jit=jit)(2.5) == 2.0
        assert adcompiler.jit(math_floor_jit, jit=jit)(2.5) == 8.0


# ---------------------------------------------------------------- refusals of library calls

def active_bessel(x):
    y = x * 2.0
    return np.sum(np.i0(y))  # <- HERE


def returns_none(A):
    B = A * 2.0
    z = np.fill_diagonal(B, 0.0)  # <- HERE
    return np.sum(B) + z


def unique_counts(x):
    u, c = np.unique(np.floor(x * 3), return_counts=True)  # <- HERE
    return np.sum(x) * c[0]


def write_into_diagonal_view(A):
    d = np.diagonal(A)
    d[0] = 1.0  # <- HERE
    return np.sum(d)


def test_refused_when_a_gradient_reaches_a_call_without_rule():
    with pytest.raises(CompileError) as info:
        grad(active_bessel, jit=False)(np.ones(3))
    check_error(info.value, active_bessel, says=["`np.i0` has no derivative rule", "differentiated value"],
                hint="custom_vjp", file=__file__)


def test_jit_runs_a_call_without_rule():
    """Nothing is differentiated under jit, so a function without rule is fine there."""
    x = np.array([1.0, 8.0])
    for jit in (False, True):
        assert np.isclose(adcompiler.jit(active_bessel, jit=jit)(x), active_bessel(x), rtol=1e-14)


def test_refused_when_the_function_returns_none():
    with pytest.raises(CompileError) as info:
        adcompiler.jit(returns_none, jit=False)(np.ones((2, 2)))
    check_error(info.value, returns_none, says=["`np.fill_diagonal` returns None", "in place"],
                hint="return numbers or arrays", file=__file__)


def test_numba_cannot_compile_names_the_function():
    x = np.array([0.1, 0.5, 0.9])
    assert np.allclose(grad(unique_counts, jit=False)(x), 1.0)
    assert np.allclose(grad(unique_counts)(x), 1.0)  # no loop: it runs as NumPy, Numba is not asked
    with pytest.raises(CompileError) as info:
        grad(unique_counts, jit="whole")(x)
    check_error(info.value, unique_counts, says="Numba cannot compile `np.unique`", hint="jit=False", file=__file__)


def test_a_view_returned_by_a_library_call_is_not_written():
    with pytest.raises(CompileError) as info:
        adcompiler.jit(write_into_diagonal_view, jit=False)(np.ones((2, 2)))
    check_error(info.value, write_into_diagonal_view, says=["`d`", "argument"], hint="copy", file=__file__)


# ---------------------------------------------------------------- np.array, np.asarray, list literals

def array_of_scalars(x, s):
    b = np.array([s, 2.0 * s, 3.0])
    g = np.array([[s, 1.0], [2.0, s * s]])
    return np.sum(b * b) + np.sum(g @ g) + np.sum(np.array([[1.0]])) * s + np.sum(x)


def array_of_arrays(x, s):
    d = np.array([x, x * s, np.sin(x)])
    return np.sum(d ** 3) + np.sum(np.array((x, x), dtype=np.float64) * s)


def asarray_is_the_array(x, s):
    e = np.asarray(x)
    return np.sum(e * s) + np.sum(np.array(x) ** 2)


def padded_with_literals(x, s):
    c = np.concatenate(([0.0], x, [s, 0.0]))
    d = np.stack([x, x * s])
    return np.sum(c[1:] * c[:-1]) + np.sum(d ** 3)


def literal_index_arrays(x, s):
    return np.sum(x[[0, 2, 2, 1]] ** 2) * s + np.sum(x[np.array([0, 2, 2, 1])] * x[:4])


def array_in_float32(x, s):
    return np.sum(np.array([x, 2.0 * x], dtype=np.float32) * np.float32(s))


def sequences_as_operands(x, s):
    """NumPy makes an array of a list or tuple passed as a function's operand."""
    return np.sum([1.0, s * s, 2.0]) + np.mean((x[0], s)) + np.max(np.exp([s, x[1]]))


def tuple_indexed_at_run_time(x, s):
    t = (s, x[0], x[1] * s)
    total = 0.0
    for i in range(3):
        total = total + t[i] * (i + 1)
    return total


def dict_made_by_call(x, s):
    d = dict(w=x, b=s)
    return np.sum(d["w"] * d["b"] ** 2)


ARRAY_PROGRAMS = [(array_of_scalars, True), (array_of_arrays, False), (asarray_is_the_array, False),
                  (padded_with_literals, True), (literal_index_arrays, True), (sequences_as_operands, True),
                  (tuple_indexed_at_run_time, True), (dict_made_by_call, False)]
ARRAY_CASES = [pytest.param(f, False, wrt, id=f"{f.__name__}-{wrt}-nojit") for f, _ in ARRAY_PROGRAMS for wrt in (0, 1)] + \
    [pytest.param(f, True, 1, id=f"{f.__name__}-jit") for f, jit in ARRAY_PROGRAMS if jit]


@pytest.mark.parametrize("function, jit, wrt", ARRAY_CASES)
def test_arrays_of_values(function, jit, wrt):
    rng = rng_for(function.__name__)
    check_vjp(function, (rng.uniform(0.2, 1.0, 4), rng.uniform(0.5, 1.5)), wrt, jit, rng)


def test_array_keeps_numpy_dtypes():
    x, s = np.array([0.25, 0.5], dtype=np.float32), 0.75
    out = adcompiler.jit(array_in_float32, jit=False)(x, s)
    assert out.dtype == np.float32 and np.isclose(out, array_in_float32(x, s), rtol=1e-6)
    ints = adcompiler.jit(lambda_free_int_array, jit=False)(2)
    assert ints == lambda_free_int_array(2) and isinstance(ints, (int, np.integer))


def lambda_free_int_array(n):
    return np.sum(np.array([n, 2 * n, 3]))


def test_np_array_copies_and_asarray_does_not():
    """np.array(x) is a new array: writing into it leaves x as it was; np.asarray(x) is x, so
    writing into it is writing into the argument, refused."""
    x = np.array([1.0, 2.0])
    assert adcompiler.jit(copy_then_write, jit=False)(x) == 10.0 and np.array_equal(x, [1.0, 2.0])
    with pytest.raises(CompileError) as info:
        adcompiler.jit(asarray_then_write, jit=False)(x)
    check_error(info.value, asarray_then_write, says=["`y`", "argument"], hint="copy", file=__file__)


def copy_then_write(x):
    y = np.array(x)
    y[0] = 8.0
    return np.sum(y)


def asarray_then_write(x):
    y = np.asarray(x)
    y[0] = 8.0  # <- HERE
    return np.sum(y)


def ragged_list(x):
    return np.sum(np.array([x, 1.0]))  # <- HERE


def test_ragged_list_is_refused():
    with pytest.raises(CompileError) as info:
        grad(ragged_list, jit=False)(np.ones(2))
    check_error(info.value, ragged_list, says="different ranks", hint="every item", file=__file__)


# ---------------------------------------------------------------- unpacking arrays, tuples as values

def unpack_vector(params, X):
    a, b, c = params
    r0, r1 = X
    [s, t] = r1[:2]
    return a * np.sum(r0) + b * c * np.sum(r1) + s * t


def _pair_and_rest(p):
    return p[0] * 2.0, (p[1], p[-1])


def _weighted(pair, w):
    first, second = pair
    return first * w + second


def tuples_as_values(params, X):
    t = _pair_and_rest(params)      # returned from a helper, stored in a name
    u, (v, w) = t                   # unpacked, nested
    pair = t[1]                     # indexed by a constant
    last = pair[-1]                 # negatively
    head = t[:1]                    # sliced by constants
    shape = X.shape
    return u * v + w * last + head[0] + _weighted(pair, X[0, 0]) * (len(t) + len(shape))


TUPLE_CASES = [pytest.param(f, jit, wrt, id=f"{f.__name__}-{wrt}-{'jit' if jit else 'nojit'}")
               for f in (unpack_vector, tuples_as_values) for jit, wrt in ((False, 0), (False, 1), (True, 0))]


@pytest.mark.parametrize("function, jit, wrt", TUPLE_CASES)
def test_unpacking_and_tuples(function, jit, wrt):
    rng = rng_for(function.__name__)
    check_vjp(function, (rng.uniform(0.2, 1.0, 3), rng.uniform(0.2, 1.0, (2, 3))), wrt, jit, rng)


def test_unpacking_checks_the_length_at_run_time():
    for jit in (False, True):
        with pytest.raises(ValueError, match="as many rows"):
            grad(unpack_vector, jit=jit)(np.ones(4), np.ones((2, 3)))


def unpack_scalar(x):
    a, b = x * 2.0  # <- HERE
    return a + b


def test_unpacking_a_scalar_is_refused():
    with pytest.raises(CompileError) as info:
        grad(unpack_scalar, jit=False)(1.5)
    check_error(info.value, unpack_scalar, says="not a tuple or an array", hint="first axis", file=__file__)
