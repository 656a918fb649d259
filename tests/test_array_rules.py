"""The array rules (reductions along axes, extrema, products, shapes, indexing, joins, creation,
np.where, clip, custom_vjp), checked against finite differences over a table of shapes.

The check is the dot-product test of tests/test_rules.py: for a user function f, a random cotangent
u of f's output shape and a random direction v of one argument's shape,

    <u, J v>    from central finite differences of the plain Python f (tests/fd.py), and
    <J^T u, v>  from adcompiler's pullback, `vjp(f, wrt)(*args)[1](u)`,

must agree to 1e-7 relative in float64. Each gradient must also have its argument's own shape and
dtype, and the forward value must be f's value with NumPy's dtype and shape.

The whole table runs with `jit=False` (the generated code as plain Python); rows marked `jit` also
run compiled by Numba, at least one per primitive (each compiled function costs about a second).
Where finite differences say nothing (ties of max/min, the bounds of np.clip, straight-through
custom rules) or where exact values are documented (prod at zeros, repeated gathers, stable
log-sum-exp/softmax at large inputs), the tests assert exact values instead.

Random numbers come from a generator seeded with a fixed seed and the test's name, so every test
sees the same numbers whatever subset or order runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from adcompiler import custom_vjp, value_and_grad, vjp
from fd import compiled, assert_forward, away_from_zero, uniform, assert_gradient_like, check_vjp, directional_derivative, random_direction, random_like

SEED = 20240611
F32_RTOL = 2e-5


# ---------------------------------------------------------------- samplers
# A domain is `(rng, shape) -> float64 array`; an argument sampler is `rng -> argument`.



def distinct(spacing):
    """All entries different, neighbours at least 0.7 * spacing apart (no ties for max/min, which
    finite differences with a step of 1e-3 would straddle)."""
    def sample(rng, shape):
        n = int(np.prod(shape))
        ranks = rng.permutation(n).reshape(shape) - (n - 1) / 2
        return ranks * spacing + rng.uniform(0, 0.3 * spacing, shape)
    return sample


def lattice(offset):
    """Near the points (k + offset) * 0.3 for integers k in [-5, 5): samples of lattice(0.0) and
    lattice(0.5) are at least 0.06 apart (no ties between them)."""
    return lambda rng, shape: (rng.integers(-5, 5, shape) + offset) * 0.3 + rng.uniform(0, 0.09, shape)


def avoiding(lo, hi, points, gap=0.05):
    """Uniform in (lo, hi) but at least `gap` away from each of `points` (kinks)."""
    def sample(rng, shape):
        x = rng.uniform(lo, hi, shape)
        for _ in range(1000):
            near = np.zeros(np.shape(x), bool)
            for p in points:
                near |= np.abs(x - p) < gap
            if not near.any():
                return x
            x = np.where(near, rng.uniform(lo, hi, shape), x)
        raise AssertionError("could not sample away from the kinks")
    return sample


def arg(domain, shape):
    """An argument sampler: a float64 array of `shape`, or a Python float for shape ()."""
    return lambda rng: float(domain(rng, ())) if shape == () else np.asarray(domain(rng, shape), np.float64)


def fixed(value):
    """An argument sampler that always gives `value` (integer indices, masks, chosen points)."""
    return lambda rng: value


def pull(fn, args, wrt, jit, u):
    """(value, gradients) of `fn` at `args` with the cotangent `u` (for exact checks)."""
    out, pullback = vjp(fn, wrt=wrt, jit=compiled(jit))(*args)
    return out, pullback(u)


@dataclass
class Row:
    """One row of the table: `fn` at arguments drawn by `args` (one sampler per parameter),
    differentiated w.r.t. `wrt`; `jit`: also run compiled."""

    name: str
    fn: Callable
    args: tuple
    wrt: object = 0
    jit: bool = False


def jit_id(jit):
    return "jit" if jit else "nojit"


def cases(rows):
    """Every row with jit=False, and the rows marked `jit` also with jit=True."""
    out = []
    for row in rows:
        out.append(pytest.param(row, False, id=f"{row.name}-nojit"))
        if row.jit:
            out.append(pytest.param(row, True, id=f"{row.name}-jit"))
    return out


def run_row(row, jit, rng):
    args = tuple(sample(rng) for sample in row.args)
    return check_vjp(row.fn, args, row.wrt, jit, rng)


# ================================================================ reductions along axes
# sum, mean, max, min and prod over one axis, negative axes, tuples of axes, with and without
# keepdims, on vectors (v, 5), matrices (m, 3x4) and 3-D arrays (t, 2x3x4); NumPy functions,
# np.amax/np.amin and methods. A tuple of all axes without keepdims is a full reduction.

def sum_v_a0(x): return np.sum(x, axis=0)
def sum_v_am1kd(x): return x.sum(axis=-1, keepdims=True)
def sum_m_a0(x): return np.sum(x, axis=0)
def sum_m_a1(x): return x.sum(axis=1)
def sum_m_am1kd(x): return np.sum(x, axis=-1, keepdims=True)
def sum_m_a0kd(x): return x.sum(axis=0, keepdims=True)
def sum_m_a01(x): return np.sum(x, axis=(0, 1))
def sum_m_am2m1kd(x): return x.sum(axis=(-2, -1), keepdims=True)
def sum_t_a1(x): return np.sum(x, axis=1)
def sum_t_a02(x): return x.sum(axis=(0, 2))
def sum_t_am1m3kd(x): return np.sum(x, axis=(-1, -3), keepdims=True)
def sum_t_am2kd(x): return x.sum(axis=-2, keepdims=True)
def sum_t_allkd(x): return np.sum(x, keepdims=True)

def mean_v_a0(x): return x.mean(axis=0)
def mean_v_am1kd(x): return np.mean(x, axis=-1, keepdims=True)
def mean_m_a0(x): return x.mean(axis=0)
def mean_m_a1(x): return np.mean(x, axis=1)
def mean_m_am1kd(x): return x.mean(axis=-1, keepdims=True)
def mean_m_a0kd(x): return np.mean(x, axis=0, keepdims=True)
def mean_m_a01(x): return x.mean(axis=(0, 1))
def mean_m_am2m1kd(x): return np.mean(x, axis=(-2, -1), keepdims=True)
def mean_t_a1(x): return x.mean(axis=1)
def mean_t_a02(x): return np.mean(x, axis=(0, 2))
def mean_t_am1m3kd(x): return x.mean(axis=(-1, -3), keepdims=True)
def mean_t_am2kd(x): return np.mean(x, axis=-2, keepdims=True)
def mean_t_allkd(x): return x.mean(keepdims=True)

def max_v_a0(x): return x.max(axis=0)
def max_v_am1kd(x): return np.max(x, axis=-1, keepdims=True)
def max_m_a0(x): return np.amax(x, axis=0)
def max_m_a1(x): return x.max(axis=1)
def max_m_am1kd(x): return np.max(x, axis=-1, keepdims=True)
def max_m_a0kd(x): return np.amax(x, axis=0, keepdims=True)
def max_m_a01(x): return x.max(axis=(0, 1))
def max_m_am2m1kd(x): return np.max(x, axis=(-2, -1), keepdims=True)
def max_t_a1(x): return np.amax(x, axis=1)
def max_t_a02(x): return x.max(axis=(0, 2))
def max_t_am1m3kd(x): return np.max(x, axis=(-1, -3), keepdims=True)
def max_t_am2kd(x): return np.amax(x, axis=-2, keepdims=True)
def max_t_allkd(x): return x.max(keepdims=True)

def min_v_a0(x): return np.min(x, axis=0)
def min_v_am1kd(x): return np.amin(x, axis=-1, keepdims=True)
def min_m_a0(x): return x.min(axis=0)
def min_m_a1(x): return np.min(x, axis=1)
def min_m_am1kd(x): return np.amin(x, axis=-1, keepdims=True)
def min_m_a0kd(x): return x.min(axis=0, keepdims=True)
def min_m_a01(x): return np.min(x, axis=(0, 1))
def min_m_am2m1kd(x): return np.amin(x, axis=(-2, -1), keepdims=True)
def min_t_a1(x): return x.min(axis=1)
def min_t_a02(x): return np.min(x, axis=(0, 2))
def min_t_am1m3kd(x): return np.amin(x, axis=(-1, -3), keepdims=True)
def min_t_am2kd(x): return x.min(axis=-2, keepdims=True)
def min_t_allkd(x): return np.min(x, keepdims=True)

def prod_v_a0(x): return np.prod(x, axis=0)
def prod_v_am1kd(x): return x.prod(axis=-1, keepdims=True)
def prod_m_a0(x): return np.prod(x, axis=0)
def prod_m_a1(x): return x.prod(axis=1)
def prod_m_am1kd(x): return np.prod(x, axis=-1, keepdims=True)
def prod_m_a0kd(x): return x.prod(axis=0, keepdims=True)
def prod_m_a01(x): return np.prod(x, axis=(0, 1))
def prod_m_am2m1kd(x): return x.prod(axis=(-2, -1), keepdims=True)
def prod_t_a1(x): return np.prod(x, axis=1)
def prod_t_a02(x): return x.prod(axis=(0, 2))
def prod_t_am1m3kd(x): return np.prod(x, axis=(-1, -3), keepdims=True)
def prod_t_am2kd(x): return x.prod(axis=-2, keepdims=True)
def prod_t_allkd(x): return np.prod(x, keepdims=True)

REDUCTION_SHAPES = {"v": (5,), "m": (3, 4), "t": (2, 3, 4)}
REDUCTION_DOMAINS = {
    "sum": uniform(-2, 2), "mean": uniform(-2, 2), "max": distinct(0.3), "min": distinct(0.3),
    "prod": away_from_zero(0.5, 1.5),
}
# The table runs as plain Python. Compiled: mean_axis and min_axis (keepdims, a negative axis) in
# r_mean_min below, sum_axis and max_axis in softmax_rows and the ties, prod_axis and prod at the
# zeros, max in lse_vec.


def _reduction_rows():
    rows = []
    for name, fn in list(globals().items()):
        head = name.split("_")[0]
        if head in REDUCTION_DOMAINS and callable(fn) and name.count("_") == 2:
            _, kind, _ = name.split("_")
            shape = REDUCTION_SHAPES[kind]
            rows.append(Row(name, fn, (arg(REDUCTION_DOMAINS[head], shape),)))
    return rows


REDUCTIONS = _reduction_rows()


@pytest.mark.parametrize("row, jit", cases(REDUCTIONS))
def test_reduction(row, jit, rng):
    run_row(row, jit, rng)


def test_reduction_table_is_complete():
    """The table holds every reduction × spelling written above (so a typo cannot drop rows)."""
    assert len(REDUCTIONS) == 5 * 13


def r_mean_min(x): return np.mean(x, axis=0) * np.min(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_mean_and_min_along_axes(jit, rng):
    check_vjp(r_mean_min, (distinct(0.3)(rng, (3, 4)),), 0, jit, rng)


# Reductions of broadcast results: (n,1) op (1,m), (m,) op (n,m) and (n,m) op (m,), reduced over each
# axis, so the gradient is both reduced-back (broadcast_like) and summed (unbroadcast). Plain Python
# only: both are compiled in tests/test_rules.py and in softmax_rows and r_mean_min here.
def bp_sum_a0(x, y): return np.sum(x + y, axis=0)
def bp_sum_a1kd(x, y): return np.sum(x * y, axis=1, keepdims=True)
def bp_mean_am1(x, y): return np.mean(x * y, axis=-1)
def bp_mean_a0kd(x, y): return np.mean(x - y, axis=0, keepdims=True)
def bp_max_a0(x, y): return np.max(x + y, axis=0)
def bp_max_am1kd(x, y): return np.max(x + y, axis=-1, keepdims=True)
def bp_min_a1(x, y): return np.min(x - y, axis=1)
def bp_min_am2kd(x, y): return np.min(x - y, axis=-2, keepdims=True)
def bp_prod_a0(x, y): return np.prod(x * y, axis=0)
def bp_prod_am1(x, y): return np.prod(x + y, axis=-1)
def bp_sum_all(x, y): return np.sum(x * y, axis=(0, 1))
def bp_centered(x, y): return x * y - np.mean(x + y, axis=0)   # broadcast against the reduction


BP_PAIRS = (((3, 1), (1, 4)), ((4,), (3, 4)), ((3, 4), (4,)))
BP_FUNCTIONS = [
    # (fn, domain of x, domain of y): for max/min x's entries are far apart (1.0) and y's close
    # (0.04, a total range under 0.7), so no two entries of x ± y tie.
    (bp_sum_a0, uniform(-2, 2), uniform(-2, 2)),
    (bp_sum_a1kd, uniform(-2, 2), uniform(-2, 2)),
    (bp_mean_am1, uniform(-2, 2), uniform(-2, 2)),
    (bp_mean_a0kd, uniform(-2, 2), uniform(-2, 2)),
    (bp_max_a0, distinct(1.0), distinct(0.04)),
    (bp_max_am1kd, distinct(1.0), distinct(0.04)),
    (bp_min_a1, distinct(1.0), distinct(0.04)),
    (bp_min_am2kd, distinct(1.0), distinct(0.04)),
    (bp_prod_a0, away_from_zero(0.5, 1.5), away_from_zero(0.5, 1.5)),
    (bp_prod_am1, uniform(0.5, 1.0), uniform(0.1, 0.5)),
    (bp_sum_all, uniform(-2, 2), uniform(-2, 2)),
    (bp_centered, uniform(-2, 2), uniform(-2, 2)),
]


def _shape_id(shape):
    return "x".join(map(str, shape)) or "scalar"


BROADCAST_REDUCTIONS = [
    Row(f"{fn.__name__}-{_shape_id(sx)}-{_shape_id(sy)}", fn, (arg(dx, sx), arg(dy, sy)), wrt=(0, 1))
    for fn, dx, dy in BP_FUNCTIONS for sx, sy in BP_PAIRS]


@pytest.mark.parametrize("row, jit", cases(BROADCAST_REDUCTIONS))
def test_reduction_of_broadcast(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ max and min: ties
# Documented (docs/supported.md, primitives._extremum_vjp): the gradient goes to the extremal
# elements, split evenly among ties. Finite differences cannot see a split, so these are exact
# values. The sum over the tied elements is also what the one-sided derivative along all-ones
# gives (max(x + t) = max(x) + t), so a wrong total would be a wrong gradient, not a convention.

def t_max(x): return np.max(x)
def t_min(x): return np.min(x)
def t_max_method(x): return x.max()
def t_max_a1(x): return np.max(x, axis=1)
def t_min_a0kd(x): return np.min(x, axis=0, keepdims=True)
def t_max_a01kd(x): return np.max(x, axis=(0, 1), keepdims=True)
def t_max_am1m2(x): return np.max(x, axis=(-1, -2))
def t_min_t_a02(x): return np.amin(x, axis=(0, 2))


def even_split(x, out_like, reduce_axes, extremum):
    """The documented gradient of an extremum of `x` over `reduce_axes` with cotangent u:
    u / (number of ties) at each tied extremal element, 0 elsewhere (u broadcast back)."""
    best = extremum(x, axis=reduce_axes, keepdims=True)
    mask = x == best
    count = np.sum(mask, axis=reduce_axes, keepdims=True)
    return np.broadcast_to(out_like, best.shape) * mask / count


TIES_V = np.array([1.0, 3.0, 3.0, 2.0, -1.0, 3.0])
TIES_M = np.array([[1.0, 3.0, 3.0, 0.0],
                   [1.0, 0.0, 1.0, 1.0],
                   [5.0, 0.0, 1.0, 5.0]])
# The overall maximum 5 three times, in two rows; the row maxima tie in rows 0 and 1.
TIES_M2 = np.array([[5.0, 5.0, 1.0],
                    [0.0, 5.0, 2.0],
                    [3.0, 3.0, 3.0]])
# The minimum over axes (0, 2) of the second column ties three times, across both axes.
TIES_T = np.array([[[1.0, 4.0, 4.0], [-1.0, 0.0, 2.0]],
                   [[1.0, 1.0, -1.0], [-1.0, 3.0, -1.0]]])

TIES = [
    # (fn, x, reduced axes of x, np extremum)
    (t_max, TIES_V, (0,), np.max),
    (t_min, TIES_V, (0,), np.min),
    (t_max, TIES_M2, (0, 1), np.max),
    (t_max_method, TIES_T, (0, 1, 2), np.max),
    (t_max_a1, TIES_M, (1,), np.max),
    (t_min_a0kd, TIES_M, (0,), np.min),
    (t_max_a01kd, TIES_M2, (0, 1), np.max),
    (t_max_am1m2, TIES_M2, (0, 1), np.max),
    (t_min_t_a02, TIES_T, (0, 2), np.min),
]


@pytest.mark.parametrize("fn, x, axes, extremum, jit", [
    pytest.param(fn, x, axes, extremum, jit, id=f"{fn.__name__}-{'x'.join(map(str, x.shape))}-{jit_id(jit)}")
    for fn, x, axes, extremum in TIES
    for jit in ([False, True] if fn is t_max_a1 else [False])])
def test_extremum_ties_split_evenly(fn, x, axes, extremum, jit, rng):
    expected_value = fn(x)
    u = random_like(rng, expected_value)
    out, g = pull(fn, (x,), 0, jit, u)
    assert_forward(out, expected_value)
    assert_gradient_like(g, x, fn.__name__)
    u_kept = np.reshape(u, np.shape(extremum(x, axis=axes, keepdims=True)))
    expected = even_split(x, u_kept, axes, extremum)
    np.testing.assert_allclose(g, expected, rtol=1e-14, atol=0,
                               err_msg=f"{fn.__name__}: the gradient is not split evenly among the ties")
    # Also the kink-free fact: the shares of each reduced slice sum to its cotangent.
    np.testing.assert_allclose(np.sum(g, axis=axes), np.reshape(u, np.shape(np.sum(g, axis=axes))), rtol=1e-14)


# ================================================================ prod at zeros
# The gradient of np.prod at an element is the product of the others: exact at a zero (the
# product of the rest), and 0 everywhere when two elements of the slice are zero. A product is a
# polynomial, so finite differences are also valid at zeros.

def p_prod(x): return np.prod(x)
def p_prod_method(x): return x.prod()
def p_prod_a1(x): return np.prod(x, axis=1)
def p_prod_a0kd(x): return np.prod(x, axis=0, keepdims=True)
def p_prod_a02(x): return np.prod(x, axis=(0, 2))
def p_prod_allkd(x): return np.prod(x, keepdims=True)


ZEROS_V1 = np.array([2.0, 0.0, 3.0, 4.0])        # one zero: its gradient is 24, the rest 0
ZEROS_V2 = np.array([2.0, 0.0, 3.0, 0.0])        # two zeros: all 0
ZEROS_M = np.array([[2.0, 0.0, 3.0],
                    [0.0, 0.0, 5.0],
                    [1.5, 2.0, -3.0],
                    [0.0, 4.0, 0.5]])
ZEROS_T = np.array([[[2.0, 0.0, 3.0], [1.0, 2.0, 0.0]],
                    [[0.5, 0.0, -1.0], [2.0, 3.0, 4.0]]])


def prod_others(x, axes):
    """For each element, the product of the other elements of its slice over `axes`."""
    out = np.empty_like(x)
    for index in np.ndindex(x.shape):
        others = 1.0
        for j in np.ndindex(x.shape):
            if j != index and all(j[a] == index[a] for a in range(x.ndim) if a not in axes):
                others *= x[j]
        out[index] = others
    return out


PRODS = [
    (p_prod, ZEROS_V1, (0,)),
    (p_prod, ZEROS_V2, (0,)),
    (p_prod_method, ZEROS_M, (0, 1)),
    (p_prod, np.array([[1.5, 2.0], [0.0, -3.0]]), (0, 1)),
    (p_prod_a1, ZEROS_M, (1,)),
    (p_prod_a0kd, ZEROS_M, (0,)),
    (p_prod_a02, ZEROS_T, (0, 2)),
    (p_prod_allkd, ZEROS_T, (0, 1, 2)),
]


@pytest.mark.parametrize("fn, x, axes, jit", [
    pytest.param(fn, x, axes, jit, id=f"{fn.__name__}-{k}-{jit_id(jit)}")
    for k, (fn, x, axes) in enumerate(PRODS)
    for jit in ([False, True] if k in (0, 4) else [False])])
def test_prod_at_zeros(fn, x, axes, jit, rng):
    expected_value = fn(x)
    u = random_like(rng, expected_value)
    out, g = pull(fn, (x,), 0, jit, u)
    assert_forward(out, expected_value)
    assert_gradient_like(g, x, fn.__name__)
    u_kept = np.reshape(u, np.shape(np.prod(x, axis=axes, keepdims=True)))
    expected = u_kept * prod_others(x, axes)
    np.testing.assert_allclose(g, expected, rtol=1e-14, atol=0)
    if np.any(expected != 0.0):
        check_vjp(fn, (x,), 0, jit, rng)  # and finite differences agree at the zeros
    else:  # two zeros in every slice: flat to first order (finite differences carry only round-off)
        jv = directional_derivative(fn, (x,), [random_direction(rng, x)])
        assert np.max(np.abs(jv)) < 1e-9


# ================================================================ stable log-sum-exp and softmax
# Written by hand with the max subtracted: finite and exact at inputs like 1000 where exp
# overflows, also with ties at the maximum. The gradient of log-sum-exp is softmax, and the
# max's share cancels exactly (m + log(sum(exp(x - m))): d/dm = 1 - sum(softmax) = 0).

def lse_vec(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def lse_rows(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.log(np.sum(np.exp(x - m), axis=1)) + m[:, 0]


def softmax_rows(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax_rows(x):
    shifted = x - np.max(x, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def cross_entropy(x, y):
    """Mean cross-entropy of logits x against targets y (rows of probabilities)."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(y * logp) / x.shape[0]


def reference_softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


STABLE = [
    Row("lse_vec", lse_vec, (arg(uniform(-3, 3), (6,)),), jit=True),     # max (full), compiled
    Row("lse_vec-large", lse_vec, (arg(lambda rng, s: 1000 + rng.uniform(-3, 3, s), (6,)),)),
    Row("lse_rows", lse_rows, (arg(uniform(-3, 3), (3, 5)),)),
    Row("lse_rows-large", lse_rows, (arg(lambda rng, s: rng.choice([-1000.0, 1000.0], (s[0], 1))
                                          + rng.uniform(-3, 3, s), (3, 5)),)),
    Row("softmax_rows-vector", softmax_rows, (arg(uniform(-3, 3), (5,)),)),
    Row("softmax_rows", softmax_rows, (arg(uniform(-3, 3), (3, 5)),), jit=True),
    Row("softmax_rows-3d", softmax_rows, (arg(uniform(-3, 3), (2, 3, 4)),)),
    Row("softmax_rows-large", softmax_rows, (arg(lambda rng, s: 1000 + rng.uniform(-3, 3, s), (3, 5)),)),
    Row("log_softmax_rows", log_softmax_rows, (arg(uniform(-3, 3), (3, 5)),)),
    Row("cross_entropy", cross_entropy, (arg(uniform(-3, 3), (4, 3)), fixed(np.eye(3)[[0, 2, 1, 2]]))),
]


@pytest.mark.parametrize("row, jit", cases(STABLE))
def test_stable_softmax_family(row, jit, rng):
    run_row(row, jit, rng)


LARGE_ROWS = np.array([[1000.0, 1000.0, 999.0, -1000.0],     # a tie at the maximum
                       [-1000.0, -998.5, -1001.0, -1000.0],
                       [1000.0, -1000.0, 0.0, 1000.0]])     # exp underflows to 0 in the middle


def test_log_sum_exp_is_exact_at_large_inputs(rng):
    """Row i's gradient is u_i softmax(x_i), the shares of tied maxima included; the value is
    np.logaddexp.reduce's (a different algorithm)."""
    x = LARGE_ROWS
    u = rng.standard_normal(3)
    out, g = pull(lse_rows, (x,), 0, False, u)   # compiled: lse_vec and softmax_rows
    reference = np.logaddexp.reduce(x, axis=1)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))
    assert_forward(out, reference, rtol=1e-15)
    assert_gradient_like(g, x, "lse")
    np.testing.assert_allclose(g, u[:, None] * reference_softmax(x), rtol=1e-14, atol=1e-300)


def lse_total(x):
    return np.sum(lse_rows(x))


def test_log_sum_exp_value_and_grad_at_large_inputs():
    value, g = value_and_grad(lse_total, jit=False)(LARGE_ROWS)
    assert type(value) is float and np.isfinite(value)
    assert value == pytest.approx(float(np.sum(np.logaddexp.reduce(LARGE_ROWS, axis=1))), rel=1e-15)
    np.testing.assert_allclose(g, reference_softmax(LARGE_ROWS), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_softmax_is_exact_at_large_inputs(jit, rng):
    x = LARGE_ROWS
    u = rng.standard_normal(x.shape)
    out, g = pull(softmax_rows, (x,), 0, jit, u)
    s = reference_softmax(x)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(out, s, rtol=1e-14, atol=1e-300)
    # J^T u = s * (u - <u, s>) per row.
    expected = s * (u - np.sum(u * s, axis=1, keepdims=True))
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)
    assert_gradient_like(g, x, "softmax")


# ================================================================ np.where, exp2, log2, log10
# np.where with both branches active (each element's gradient goes to the chosen branch),
# broadcast conditions and branches, a Python-float branch, and a boolean argument as condition.

def w_both(x): return np.where(x > 0.0, np.sin(x), x * x)
def w_pair(x, y): return np.where(x > y, x * y, y - x)
def w_float_branch(x, y): return np.where(x < 0.5, x, y)
def w_cond_arg(c, x, y): return np.where(c, x, y * y)
def w_nested(x): return np.where(x > 1.0, x, np.where(x < -1.0, -x, x * x * x))
def e_exp2(x): return np.exp2(x)
def e_log2(x): return np.log2(x)
def e_log10(x): return np.log10(x)
def e_math_log2(x): return math.log2(x) * x
def e_math_log10(x): return math.log10(x) + x
def e_mixed(x): return np.exp2(-x) * np.log2(x) + np.log10(x * x)
def w_logs(x, y): return np.where(x > y, np.exp2(x) * y, np.log2(x * x + 1.0) - np.log10(y * y + 0.5))


MASK_34 = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])

ELEMENTWISE = [
    Row("where_both-5", w_both, (arg(away_from_zero(0.2, 2), (5,)),)),
    Row("where_both-3x4", w_both, (arg(away_from_zero(0.2, 2), (3, 4)),)),
    Row("where_both-2x3x4", w_both, (arg(away_from_zero(0.2, 2), (2, 3, 4)),)),
    Row("where_pair-3x4-4", w_pair, (arg(lattice(0.0), (3, 4)), arg(lattice(0.5), (4,))), wrt=(0, 1)),
    Row("where_pair-3x1-1x4", w_pair, (arg(lattice(0.0), (3, 1)), arg(lattice(0.5), (1, 4))), wrt=(0, 1)),
    Row("where_pair-4-scalar", w_pair, (arg(avoiding(-2, 2, [0.3]), (4,)), fixed(0.3)), wrt=(0, 1)),
    Row("where_float_branch", w_float_branch, (arg(avoiding(-1, 2, [0.5]), (3, 4)), arg(uniform(-2, 2), ())),
        wrt=(0, 1)),
    Row("where_cond_arg-3x4-4", w_cond_arg, (fixed(MASK_34), arg(uniform(-2, 2), (3, 4)), arg(uniform(-2, 2), (4,))),
        wrt=(1, 2)),
    Row("where_cond_arg-1x4-3x1", w_cond_arg, (fixed(MASK_34), arg(uniform(-2, 2), (1, 4)),
                                               arg(uniform(-2, 2), (3, 1))), wrt=(1, 2)),
    Row("where_nested", w_nested, (arg(avoiding(-2, 2, [-1.0, 1.0]), (3, 4)),)),
    Row("exp2-5", e_exp2, (arg(uniform(-2, 2), (5,)),)),
    Row("exp2-2x3x4", e_exp2, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("exp2-scalar", e_exp2, (arg(uniform(-2, 2), ()),)),
    Row("log2-3x4", e_log2, (arg(uniform(0.3, 3), (3, 4)),)),
    Row("log2-scalar", e_log2, (arg(uniform(0.3, 3), ()),)),
    Row("log10-5", e_log10, (arg(uniform(0.3, 3), (5,)),)),
    Row("log10-2x3x4", e_log10, (arg(uniform(0.3, 3), (2, 3, 4)),)),
    Row("math.log2", e_math_log2, (arg(uniform(0.3, 3), ()),)),
    Row("math.log10", e_math_log10, (arg(uniform(0.3, 3), ()),)),
    Row("exp2*log2+log10", e_mixed, (arg(uniform(0.3, 3), (3, 4)),)),
    # where, exp2, log2 and log10 compiled together (one compilation).
    Row("where_logs-3x4-4", w_logs, (arg(lattice(0.0), (3, 4)), arg(lattice(0.5), (4,))), wrt=(0, 1), jit=True),
]


@pytest.mark.parametrize("row, jit", cases(ELEMENTWISE))
def test_where_and_logs(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ shapes as numbers (dim)
# x.shape, x.size and x.ndim in arithmetic: integers without gradient, the value flows through.

def d_mean_by_shape(x): return np.sum(x, axis=0) / x.shape[0]
def d_mean_last(x): return np.sum(x, axis=-1) / x.shape[-1]
def d_size(x): return np.sum(x * x) / x.size
def d_unpack(x):
    n, m = x.shape
    return x * n - m * x * x
def d_ndim(x): return x * x.ndim + x.shape[1] * x.shape[2]
def d_full_mean(x): return np.sum(x) / (x.shape[0] * x.shape[1])


SHAPES_AS_NUMBERS = [
    Row("mean_by_shape-3x4", d_mean_by_shape, (arg(uniform(-2, 2), (3, 4)),), jit=True),
    Row("mean_by_shape-5", d_mean_by_shape, (arg(uniform(-2, 2), (5,)),)),
    Row("mean_last-2x3x4", d_mean_last, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("size-2x3x4", d_size, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("unpack-3x4", d_unpack, (arg(uniform(-2, 2), (3, 4)),)),
    Row("ndim-2x3x4", d_ndim, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("full_mean-3x4", d_full_mean, (arg(uniform(-2, 2), (3, 4)),)),
]


@pytest.mark.parametrize("row, jit", cases(SHAPES_AS_NUMBERS))
def test_shapes_as_numbers(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ expand_dims, reshape, transposes
# expand_dims (np.expand_dims, None in indices; its gradient is squeeze), reshape in every
# spelling, ravel/flatten, permutations of 3-D axes.

def s_expand0(x): return np.expand_dims(x, 0)
def s_expand_m1(x): return np.expand_dims(x, axis=-1)
def s_expand_mid(x): return np.expand_dims(x, 1) * x[:, None, :]
def s_none_row(x): return x[None, :]
def s_none_col(x): return x[:, None]
def s_none_only(x): return x[None]
def s_pairwise(x): return x[:, None] - x[None, :] * x[None, :]
def s_outer_by_none(x, y): return x[:, None] * y[None, :]
def s_reshape_args(x): return x.reshape(2, 6)
def s_reshape_tuple(x): return x.reshape((6, 2))
def s_np_reshape_minus1(x): return np.reshape(x, (2, -1))
def s_reshape_minus1(x): return x.reshape(-1)
def s_reshape_from_shape(x): return x.reshape(x.shape[0] * x.shape[1])
def s_reshape_3d(x): return x.reshape(6, 4)
def s_reshape_to_3d(x): return x.reshape(2, 3, 2)
def s_ravel(x): return np.ravel(x)
def s_method_ravel(x): return x.ravel()
def s_flatten(x): return x.flatten()
def s_reshape_weighted(x, w): return x.reshape(4, 3) @ w
def s_permute_102(x): return np.transpose(x, (1, 0, 2))
def s_permute_args(x): return x.transpose(2, 0, 1)
def s_permute_tuple(x): return x.transpose((0, 2, 1))
def s_permute_negative(x): return np.transpose(x, (-1, 0, 1))
def s_transpose_3d(x): return np.transpose(x)
def s_transpose_method(x): return x.transpose()
def s_transpose_pair(x): return np.transpose(x, (1, 0)) * 2.0
def s_dot_T_3d(x): return x.T
def s_permute_reshape(x): return np.reshape(x.transpose(2, 0, 1), (4, -1)) * x.reshape(-1, 6)


SHAPES = [
    Row("expand_dims0-5", s_expand0, (arg(uniform(-2, 2), (5,)),)),
    Row("expand_dims-1-3x4", s_expand_m1, (arg(uniform(-2, 2), (3, 4)),)),
    Row("expand_dims-mid-3x4", s_expand_mid, (arg(uniform(-2, 2), (3, 4)),)),
    Row("None-row-5", s_none_row, (arg(uniform(-2, 2), (5,)),)),
    Row("None-col-5", s_none_col, (arg(uniform(-2, 2), (5,)),)),
    Row("None-only-3x4", s_none_only, (arg(uniform(-2, 2), (3, 4)),)),
    Row("pairwise-5", s_pairwise, (arg(uniform(-2, 2), (5,)),), jit=True),
    Row("outer_by_None", s_outer_by_none, (arg(uniform(-2, 2), (3,)), arg(uniform(-2, 2), (4,))), wrt=(0, 1)),
    Row("reshape-args-3x4", s_reshape_args, (arg(uniform(-2, 2), (3, 4)),)),
    Row("reshape-tuple-3x4", s_reshape_tuple, (arg(uniform(-2, 2), (3, 4)),)),
    Row("np.reshape-minus1-3x4", s_np_reshape_minus1, (arg(uniform(-2, 2), (3, 4)),)),
    Row("reshape-minus1-2x3x4", s_reshape_minus1, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("reshape-from-shape-3x4", s_reshape_from_shape, (arg(uniform(-2, 2), (3, 4)),)),
    Row("reshape-3d-to-2d", s_reshape_3d, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("reshape-vector-to-3d", s_reshape_to_3d, (arg(uniform(-2, 2), (12,)),)),
    Row("np.ravel-3x4", s_ravel, (arg(uniform(-2, 2), (3, 4)),)),
    Row(".ravel-2x3x4", s_method_ravel, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row(".flatten-3x4", s_flatten, (arg(uniform(-2, 2), (3, 4)),)),
    Row("reshape@w", s_reshape_weighted, (arg(uniform(-1, 1), (2, 6)), arg(uniform(-1, 1), (3, 2))),
        wrt=(0, 1)),
    Row("permute-102", s_permute_102, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("permute-args-201", s_permute_args, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("permute-then-reshape", s_permute_reshape, (arg(uniform(-2, 2), (2, 3, 4)),), jit=True),
    Row("permute-tuple-021", s_permute_tuple, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("permute-negative", s_permute_negative, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("np.transpose-3d", s_transpose_3d, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row(".transpose()-3x4", s_transpose_method, (arg(uniform(-2, 2), (3, 4)),)),
    Row("np.transpose-10", s_transpose_pair, (arg(uniform(-2, 2), (3, 4)),)),
    Row(".T-3d", s_dot_T_3d, (arg(uniform(-2, 2), (2, 3, 4)),)),
]


@pytest.mark.parametrize("row, jit", cases(SHAPES))
def test_shape_rule(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ indexing
# Integers (negative too), slices with steps (negative too), None, and their mixes; one 1-D integer
# array with repeated (and negative) indices, whose gradient accumulates; one boolean mask of the
# array's shape. The gradient of a read is index_add: zero but for the cotangent added at the index.

def g_int(x): return x[1]
def g_negative_int(x): return x[-1]
def g_slice(x): return x[1:4]
def g_reversed(x): return x[::-1]
def g_step_back(x): return x[::-2]
def g_slice_back(x): return x[4:0:-2]
def g_tail(x): return x[-2:]
def g_overlap(x): return x[:-1] * x[1:]          # overlapping slices: both shares add up
def g_out_of_range(x): return x[2:100]
def g_row(x): return x[1]
def g_two_negative(x): return x[-1, -2]
def g_column(x): return x[:, -1]
def g_rows(x): return x[1:3, :]
def g_both_steps(x): return x[::-1, 1::2]
def g_columns_back(x): return x[:, ::-1]
def g_back_and_int(x): return x[-1:0:-1, 2]
def g_int_none(x): return x[1, None]
def g_slice_int_none(x): return x[:, 1, None]
def g_3d_mix(x): return x[1, :, ::-1]
def g_3d_none(x): return x[:, 1:3, None]
def g_3d_back(x): return x[-1, ::-2, 1:]
def g_3d_ints(x): return x[0, -1, 2] * x[1, 0]


IDX = np.array([0, 2, 2, 4, 0, 0, -1])           # repeated and negative
ROWS = np.array([2, 0, 2, 2, -3])
PLANES = np.array([1, 1, 0])


def g_gather(x): return x[IDX]
def g_gather_rows(x): return x[ROWS]
def g_gather_arg(x, idx): return x[idx] * x[idx]
def g_gather_3d(x): return x[PLANES]


def g_mask(x): return x[x > 0.0]
def g_mask_arg(x, m): return x[m] * 2.0
def g_mask_sum(x): return np.sum(x[x > 0.0] ** 2)
def g_mask_other(x, y): return x[y > 0.0] * y[y > 0.0]


MASK_V = np.array([True, False, True, True, False, True])

INDEXING = [
    Row("int-6", g_int, (arg(uniform(-2, 2), (6,)),)),
    Row("negative_int-6", g_negative_int, (arg(uniform(-2, 2), (6,)),)),
    Row("slice-6", g_slice, (arg(uniform(-2, 2), (6,)),)),
    Row("reversed-6", g_reversed, (arg(uniform(-2, 2), (6,)),)),
    Row("step_back-6", g_step_back, (arg(uniform(-2, 2), (6,)),)),
    Row("slice_back-6", g_slice_back, (arg(uniform(-2, 2), (6,)),)),
    Row("tail-6", g_tail, (arg(uniform(-2, 2), (6,)),)),
    Row("overlap-6", g_overlap, (arg(uniform(-2, 2), (6,)),)),
    Row("out_of_range-6", g_out_of_range, (arg(uniform(-2, 2), (6,)),)),
    Row("row-3x4", g_row, (arg(uniform(-2, 2), (3, 4)),)),
    Row("two_negative-3x4", g_two_negative, (arg(uniform(-2, 2), (3, 4)),)),
    Row("column-3x4", g_column, (arg(uniform(-2, 2), (3, 4)),)),
    Row("rows-3x4", g_rows, (arg(uniform(-2, 2), (3, 4)),)),
    Row("both_steps-3x4", g_both_steps, (arg(uniform(-2, 2), (3, 4)),), jit=True),
    Row("columns_back-3x4", g_columns_back, (arg(uniform(-2, 2), (3, 4)),)),
    Row("back_and_int-3x4", g_back_and_int, (arg(uniform(-2, 2), (3, 4)),)),
    Row("int_None-3x4", g_int_none, (arg(uniform(-2, 2), (3, 4)),)),
    Row("slice_int_None-3x4", g_slice_int_none, (arg(uniform(-2, 2), (3, 4)),)),
    Row("3d_mix", g_3d_mix, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("3d_None", g_3d_none, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("3d_back", g_3d_back, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("3d_ints", g_3d_ints, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("gather-5", g_gather, (arg(uniform(-2, 2), (5,)),)),          # compiled: the exact test below
    Row("gather_rows-3x4", g_gather_rows, (arg(uniform(-2, 2), (3, 4)),)),
    Row("gather_arg-5", g_gather_arg, (arg(uniform(-2, 2), (5,)), fixed(np.array([3, 3, 1, -5, 3])))),
    Row("gather_3d", g_gather_3d, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("mask-6", g_mask, (arg(away_from_zero(0.2, 2), (6,)),)),
    Row("mask-3x4", g_mask, (arg(away_from_zero(0.2, 2), (3, 4)),)),  # 2-D compiled: the exact test below
    Row("mask-2x3x4", g_mask, (arg(away_from_zero(0.2, 2), (2, 3, 4)),)),
    Row("mask_arg-3x4", g_mask_arg, (arg(uniform(-2, 2), (3, 4)), fixed(MASK_34))),
    Row("mask_arg-6", g_mask_arg, (arg(uniform(-2, 2), (6,)), fixed(MASK_V)), jit=True),
    Row("mask_sum-3x4", g_mask_sum, (arg(away_from_zero(0.2, 2), (3, 4)),)),
    Row("mask_other-3x4", g_mask_other, (arg(uniform(-2, 2), (3, 4)), arg(away_from_zero(0.2, 2), (3, 4))),
        wrt=(0, 1)),
]


@pytest.mark.parametrize("row, jit", cases(INDEXING))
def test_indexing(row, jit, rng):
    run_row(row, jit, rng)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_gather_accumulates_repeated_indices(jit, rng):
    """x[idx]'s gradient adds the cotangents of repeated (and negative) indices, as np.add.at."""
    x = rng.uniform(-2, 2, 5)
    u = rng.standard_normal(len(IDX))
    out, g = pull(g_gather, (x,), 0, jit, u)
    assert_forward(out, x[IDX])
    expected = np.zeros(5)
    np.add.at(expected, IDX, u)
    assert_gradient_like(g, x, "x[IDX]")
    np.testing.assert_allclose(g, expected, rtol=1e-15, atol=0)
    assert g[0] == pytest.approx(u[0] + u[4] + u[5], rel=1e-15)   # index 0 three times
    assert g[4] == pytest.approx(u[3] + u[6], rel=1e-15)           # 4 and -1
    # Rows of a matrix, repeated.
    xm = rng.uniform(-2, 2, (3, 4))
    um = rng.standard_normal((len(ROWS), 4))
    out, gm = pull(g_gather_rows, (xm,), 0, jit, um)
    assert_forward(out, xm[ROWS])
    expected = np.zeros((3, 4))
    np.add.at(expected, ROWS, um)
    np.testing.assert_allclose(gm, expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_mask_gradient_lands_on_selected_elements(jit, rng):
    x = rng.uniform(-2, 2, (3, 4))
    u = rng.standard_normal(int(MASK_34.sum()))
    out, g = pull(g_mask_arg, (x, MASK_34), 0, jit, u)
    assert_forward(out, x[MASK_34] * 2.0)
    expected = np.zeros((3, 4))
    expected[MASK_34] = 2.0 * u
    assert_gradient_like(g, x, "x[m]")
    np.testing.assert_array_equal(g, expected)


# ================================================================ joins (index_add)
# np.concatenate and np.stack, lowered to sums of zero-padded pieces (index_add), whose gradients
# are the pieces' slices of the cotangent.

def j_cat(x, y): return np.concatenate([x, y])
def j_cat_axis1(x, y): return np.concatenate([x, y], axis=1)
def j_cat_three(x, y): return np.concatenate((x, y, x), axis=-1)
def j_cat_rows(x, y): return np.concatenate([x, y * y], axis=0)
def j_cat_3d(x, y): return np.concatenate([x, y], axis=1)
def j_stack(x, y): return np.stack([x, y])
def j_stack1(x, y): return np.stack([x, y], axis=1)
def j_stack_last(x, y): return np.stack([x, y * x], axis=-1)
def j_stack_scalars(a, b): return np.stack([a, b * a])


JOINS = [
    Row("concatenate-3-4", j_cat, (arg(uniform(-2, 2), (3,)), arg(uniform(-2, 2), (4,))), wrt=(0, 1)),
    Row("concatenate-axis1", j_cat_axis1, (arg(uniform(-2, 2), (3, 2)), arg(uniform(-2, 2), (3, 4))), wrt=(0, 1),
        jit=True),
    Row("concatenate-three-axis-1", j_cat_three, (arg(uniform(-2, 2), (2, 3)), arg(uniform(-2, 2), (2, 1))),
        wrt=(0, 1)),
    Row("concatenate-rows", j_cat_rows, (arg(uniform(-2, 2), (2, 4)), arg(uniform(-2, 2), (3, 4))), wrt=(0, 1)),
    Row("concatenate-3d-axis1", j_cat_3d, (arg(uniform(-2, 2), (2, 1, 3)), arg(uniform(-2, 2), (2, 2, 3))),
        wrt=(0, 1)),
    Row("stack-4-4", j_stack, (arg(uniform(-2, 2), (4,)), arg(uniform(-2, 2), (4,))), wrt=(0, 1)),
    Row("stack-axis1", j_stack1, (arg(uniform(-2, 2), (4,)), arg(uniform(-2, 2), (4,))), wrt=(0, 1)),
    Row("stack-last-3x4", j_stack_last, (arg(uniform(-2, 2), (3, 4)), arg(uniform(-2, 2), (3, 4))), wrt=(0, 1)),
    Row("stack-scalars", j_stack_scalars, (arg(uniform(-2, 2), ()), arg(uniform(-2, 2), ())), wrt=(0, 1),
        jit=True),
]


@pytest.mark.parametrize("row, jit", cases(JOINS))
def test_join(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ creation functions
# zeros/ones/empty/full/ones_like/zeros_like/empty_like/eye/arange/linspace mixed with active values. No gradient
# flows into shapes; np.full's fill value is active (its gradient is the sum of the cotangent).

def c_full_active(w): return np.full(5, w)
def c_full_tuple(w): return np.full((3, 4), w) * 1.5
def c_full_shape(x, w): return np.full(x.shape, w) * x
def c_full_dtype(w): return np.full(4, w, dtype=np.float64) + w
def c_full_broadcast(x, w): return np.full((2, 3), w) * x
def c_zeros(x): return np.zeros(x.shape[0]) + x
def c_zeros_broadcast(x): return np.zeros((3, 4)) + x
def c_ones(x): return np.ones((x.shape[0], 2)) * x[:, None]
def c_ones_like(x, w): return np.ones_like(x) * w
def c_ones_like_dtype(x): return np.ones_like(x, dtype=np.float32) * x
def c_zeros_like(x): return np.zeros_like(x) + x * x
def c_eye(x): return np.eye(x.shape[0]) @ x + np.eye(3) * x
def c_arange(x): return np.arange(x.shape[0]) * x
def c_arange_step(x): return np.arange(1, 2 * x.shape[0], 2) * x
def c_arange_float(x): return np.arange(0.0, 1.0, 0.25) * x
def c_linspace(x): return np.linspace(0.0, 1.0, x.shape[0]) * x
def c_dtypes(x): return np.zeros(x.shape, dtype=np.float32) + np.ones(x.shape[0], dtype=np.float64) * x
def c_all(x, w):
    n = x.shape[0]
    a = np.zeros(n) + np.ones(n) * x + np.full(n, w) * np.arange(n) + np.linspace(-1.0, 1.0, n) * w
    return np.eye(n) * a + np.ones_like(x) * np.sum(a) + np.zeros_like(x)
def c_empty(x):
    y = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = x[i] * x[i]
    return y
def c_empty_like(x):
    y = np.empty_like(x)
    y[:] = np.sin(x)
    y[0] = 2.0 * x[0]
    return y
def c_empty_rows(x):
    y = np.empty((2, x.shape[0]), dtype=x.dtype)
    y[0] = x
    y[1, :] = x * x
    return y
# Active bounds of np.linspace and np.arange: their values are affine in start and stop.
def c_linspace_active(w): return np.linspace(0.0, w, 5)
def c_arange_active(w): return np.arange(w, 3.0, 0.5)


CREATION = [
    Row("full-active", c_full_active, (arg(uniform(-2, 2), ()),)),
    Row("full-tuple", c_full_tuple, (arg(uniform(-2, 2), ()),)),
    Row("full-shape", c_full_shape, (arg(uniform(-2, 2), (3, 4)), arg(uniform(-2, 2), ())), wrt=(0, 1)),
    Row("full-dtype", c_full_dtype, (arg(uniform(-2, 2), ()),)),
    Row("full-broadcast", c_full_broadcast, (arg(uniform(-2, 2), (3,)), arg(uniform(-2, 2), ())), wrt=(0, 1)),
    Row("zeros", c_zeros, (arg(uniform(-2, 2), (5,)),)),
    Row("zeros-broadcast", c_zeros_broadcast, (arg(uniform(-2, 2), (4,)),)),
    Row("ones", c_ones, (arg(uniform(-2, 2), (5,)),)),
    Row("ones_like", c_ones_like, (arg(uniform(-2, 2), (3, 4)), arg(uniform(-2, 2), ())), wrt=(0, 1)),
    Row("ones_like-dtype", c_ones_like_dtype, (arg(uniform(-2, 2), (3, 4)),)),
    Row("zeros_like", c_zeros_like, (arg(uniform(-2, 2), (3, 4)),)),
    Row("eye", c_eye, (arg(uniform(-2, 2), (3, 3)),)),
    Row("arange", c_arange, (arg(uniform(-2, 2), (5,)),)),
    Row("arange-step", c_arange_step, (arg(uniform(-2, 2), (5,)),)),
    Row("arange-float", c_arange_float, (arg(uniform(-2, 2), (4,)),)),
    Row("linspace", c_linspace, (arg(uniform(-2, 2), (5,)),)),
    Row("dtypes", c_dtypes, (arg(uniform(-2, 2), (5,)),)),
    Row("all-creation", c_all, (arg(uniform(-2, 2), (4,)), arg(uniform(-2, 2), ())), wrt=(0, 1), jit=True),
    Row("empty", c_empty, (arg(uniform(-2, 2), (5,)),), jit=True),
    Row("empty_like", c_empty_like, (arg(uniform(-2, 2), (4,)),)),
    Row("empty-rows", c_empty_rows, (arg(uniform(-2, 2), (3,)),), jit=True),
    Row("linspace-active-stop", c_linspace_active, (arg(uniform(0.5, 2), ()),)),
    Row("arange-active-start", c_arange_active, (arg(uniform(0.05, 0.2), ()),)),
]


@pytest.mark.parametrize("row, jit", cases(CREATION))
def test_creation(row, jit, rng):
    run_row(row, jit, rng)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_full_gradient_is_the_sum(jit, rng):
    """np.full(n, w): the gradient of w is the sum of the cotangent, exactly."""
    w = 0.75
    u = rng.standard_normal(5)
    out, g = pull(c_full_active, (w,), 0, jit, u)
    assert_forward(out, np.full(5, w))
    assert type(g) is float
    assert g == pytest.approx(float(np.sum(u)), rel=1e-15)


# ================================================================ dot, outer, square, reciprocal, clip

def o_dot_reduce(a, b): return np.sum(np.dot(a, b), axis=0)
def o_outer_flat(a, b): return np.outer(a, b)
def o_square(x): return np.square(x)
def o_reciprocal(x): return np.reciprocal(x)
def o_clip(x): return np.clip(x, -0.5, 0.5)
def o_clip_method(x): return x.clip(-0.5, 0.5)
def o_clip_lower(x): return np.clip(x, 0.0, None)
def o_clip_upper(x): return np.clip(x, None, 1.0)
def o_clip_arrays(x, lo, hi): return np.clip(x, lo, hi)


def _below_lattice(rng, shape):
    return lattice(0.0)(rng, shape) - 0.6       # on lattice(0.0), at most 0.69


CALLS = [
    Row("dot-reduce", o_dot_reduce, (arg(uniform(-1, 1), (3, 4)), arg(uniform(-1, 1), (4, 2))), wrt=(0, 1)),
    Row("outer-of-matrices", o_outer_flat, (arg(uniform(-1, 1), (2, 3)), arg(uniform(-1, 1), (4,))), wrt=(0, 1),
        jit=True),
    Row("square-2x3x4", o_square, (arg(uniform(-2, 2), (2, 3, 4)),)),
    Row("reciprocal-3x4", o_reciprocal, (arg(away_from_zero(0.5, 2), (3, 4)),)),
    Row("clip-3x4", o_clip, (arg(avoiding(-1, 1, [-0.5, 0.5]), (3, 4)),), jit=True),
    Row("clip-method-6", o_clip_method, (arg(avoiding(-1, 1, [-0.5, 0.5]), (6,)),)),
    Row("clip-lower", o_clip_lower, (arg(away_from_zero(0.1, 2), (6,)),)),
    Row("clip-upper", o_clip_upper, (arg(avoiding(0, 2, [1.0]), (3, 4)),)),
    Row("clip-arrays", o_clip_arrays, (arg(lattice(0.5), (3, 4)), arg(_below_lattice, (4,)), fixed(0.93)),
        wrt=(0, 1, 2)),
]


@pytest.mark.parametrize("row, jit", cases(CALLS))
def test_call(row, jit, rng):
    run_row(row, jit, rng)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_clip_at_and_away_from_its_bounds(jit, rng):
    """np.clip is maximum then minimum; documented ties go to the second operand (the bound), so
    at a bound the slope in x is 0: 1 strictly inside, 0 outside and at the bounds."""
    x = np.array([-1.0, -0.5, -0.2, 0.0, 0.3, 0.5, 0.7])
    u = rng.standard_normal(x.shape)
    out, g = pull(o_clip, (x,), 0, jit, u)
    assert_forward(out, np.clip(x, -0.5, 0.5))
    assert_gradient_like(g, x, "clip")
    np.testing.assert_array_equal(g, u * np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]))


def test_clip_with_active_bounds_conserves_the_cotangent(rng):
    """clip(x + t, lo + t, hi + t) = clip(x, lo, hi) + t, also at ties: the three gradients add up
    to the cotangent elementwise, and each element's cotangent goes to exactly one of them."""
    x = np.array([[-1.0, -0.5, 0.0, 0.5], [1.0, 0.2, -0.3, 0.5]])
    lo = np.array([[-0.5, -0.5, -0.5, -0.5], [-0.5, 0.2, -0.5, -0.5]])
    hi = np.array([[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]])
    u = rng.standard_normal(x.shape)
    _, (gx, glo, ghi) = pull(o_clip_arrays, (x, lo, hi), (0, 1, 2), False, u)
    np.testing.assert_allclose(gx + glo + ghi, u, rtol=1e-15)
    for g in (gx, glo, ghi):
        assert np.all((g == 0.0) | (g == u))
    np.testing.assert_array_equal(gx, u * (x > lo) * (x < hi))


# ================================================================ custom_vjp
# A user's rule in compiled (jit=True) and plain (jit=False) code: a correct rule matches finite
# differences; a two-parameter function's rule returns a tuple; and the rule, not the body, is
# what is differentiated (a straight-through rule gives its own, non-FD gradient).

@custom_vjp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defvjp
def softplus_vjp(g, x, out):
    return g / (1.0 + np.exp(-x))


@custom_vjp
def scaled_sin(x, y):
    return y * np.sin(x)


@scaled_sin.defvjp
def scaled_sin_vjp(g, x, y, out):
    return g * y * np.cos(x), g * np.sin(x)


@custom_vjp
def straight_through_clip(x):
    return np.clip(x, -1.0, 1.0)


@straight_through_clip.defvjp
def straight_through_clip_vjp(g, x, out):
    return g


def cv_softplus(x): return softplus(x)
def cv_softplus_layer(W, x): return np.sum(softplus(W @ x), axis=0)
def cv_pair(x, y): return scaled_sin(x, y) * x
def cv_pair_reduced(x, y): return np.max(scaled_sin(x * x, y), axis=1)
def cv_straight_through(x): return straight_through_clip(x) * 2.0


CUSTOM = [
    Row("softplus-3x4", cv_softplus, (arg(uniform(-3, 3), (3, 4)),)),
    Row("softplus-scalar", cv_softplus, (arg(uniform(-3, 3), ()),)),
    Row("softplus_layer", cv_softplus_layer, (arg(uniform(-1, 1), (3, 4)), arg(uniform(-1, 1), (4, 2))),
        wrt=(0, 1)),
    Row("two_parameters", cv_pair, (arg(uniform(-2, 2), (3, 4)), arg(uniform(-2, 2), (3, 4))), wrt=(0, 1),
        jit=True),
    Row("two_parameters-scalars", cv_pair, (arg(uniform(-2, 2), ()), arg(uniform(-2, 2), ())), wrt=(0, 1)),
    Row("two_parameters-reduced", cv_pair_reduced, (arg(distinct(0.2), (3, 4)), arg(uniform(1, 2), (3, 4))),
        wrt=(0, 1)),
]


@pytest.mark.parametrize("row, jit", cases(CUSTOM))
def test_custom_vjp(row, jit, rng):
    run_row(row, jit, rng)


def test_custom_vjp_outside_is_the_plain_function(rng):
    x = rng.uniform(-3, 3, (3, 4))
    np.testing.assert_array_equal(softplus(x), np.log1p(np.exp(x)))
    np.testing.assert_array_equal(scaled_sin(x, 2.0), 2.0 * np.sin(x))


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_custom_vjp_rule_is_used_not_the_body(jit, rng):
    """The body clips (slope 0 outside [-1, 1]); the rule says slope 1 everywhere: the gradient is
    the rule's, 2u, also where the body's derivative is 0."""
    x = np.array([-3.0, -0.5, 0.25, 2.0, 5.0])
    u = rng.standard_normal(x.shape)
    out, g = pull(cv_straight_through, (x,), 0, jit, u)
    assert_forward(out, 2.0 * np.clip(x, -1.0, 1.0))
    assert_gradient_like(g, x, "straight-through")
    np.testing.assert_array_equal(g, 2.0 * u)


# ================================================================ float32
# float32 inputs: float32 gradients of each input's shape, the forward value with NumPy's dtype,
# both close to the float64 results at the same point (float32 tolerance).

def as_float32(value):
    return np.float32(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float32)


FLOAT32 = [
    # (row, jit too)
    (Row("sum_axes_kd", sum_t_am1m3kd, (arg(uniform(-2, 2), (2, 3, 4)),)), False),
    (Row("mean_a0kd", mean_m_a0kd, (arg(uniform(-2, 2), (3, 4)),)), False),
    (Row("max_a1", max_m_a1, (arg(distinct(0.3), (3, 4)),)), False),
    (Row("min_axes", min_t_a02, (arg(distinct(0.3), (2, 3, 4)),)), False),
    (Row("prod_am1kd", prod_m_am1kd, (arg(away_from_zero(0.5, 1.5), (3, 4)),)), False),
    (Row("prod_zero", p_prod, (fixed(ZEROS_V1),)), False),
    (Row("softmax", softmax_rows, (arg(uniform(-3, 3), (3, 5)),)), False),
    (Row("lse_rows", lse_rows, (arg(uniform(-3, 3), (3, 5)),)), False),
    (Row("gather", g_gather, (arg(uniform(-2, 2), (5,)),)), False),
    (Row("mask", g_mask, (arg(away_from_zero(0.2, 2), (3, 4)),)), False),
    (Row("slices", g_both_steps, (arg(uniform(-2, 2), (3, 4)),)), False),
    (Row("where", w_pair, (arg(lattice(0.0), (3, 4)), arg(lattice(0.5), (4,))), (0, 1)), False),
    (Row("exp2_log2_log10", e_mixed, (arg(uniform(0.3, 3), (3, 4)),)), False),
    (Row("concatenate", j_cat_axis1, (arg(uniform(-2, 2), (3, 2)), arg(uniform(-2, 2), (3, 4))), (0, 1)), False),
    (Row("stack", j_stack_last, (arg(uniform(-2, 2), (3, 4)), arg(uniform(-2, 2), (3, 4))), (0, 1)), False),
    (Row("permute", s_permute_args, (arg(uniform(-2, 2), (2, 3, 4)),)), False),
    (Row("reshape", s_np_reshape_minus1, (arg(uniform(-2, 2), (3, 4)),)), False),
    (Row("pairwise", s_pairwise, (arg(uniform(-2, 2), (5,)),)), False),
    (Row("clip", o_clip, (arg(avoiding(-1, 1, [-0.5, 0.5]), (3, 4)),)), False),
    (Row("full", c_full_active, (arg(uniform(-2, 2), ()),)), True),
    (Row("zeros_plus", c_zeros, (arg(uniform(-2, 2), (5,)),)), False),
    (Row("mean_by_shape", d_mean_by_shape, (arg(uniform(-2, 2), (3, 4)),)), True),
    (Row("size", d_size, (arg(uniform(-2, 2), (2, 3, 4)),)), False),
    (Row("custom_softplus_layer", cv_softplus_layer, (arg(uniform(-1, 1), (3, 4)), arg(uniform(-1, 1), (4, 2))),
         (0, 1)), False),
]


def float32_cases(rows):
    """(row, jit) parameters of a float32 table: every row in plain Python, the marked ones compiled."""
    return [pytest.param(row, jit, id=f"{row.name}-{jit_id(jit)}")
            for row, both in rows for jit in ([False, True] if both else [False])]


@pytest.mark.parametrize("row, jit", float32_cases(FLOAT32))
def test_float32(row, jit, rng):
    check_float32(row, jit, rng)


def check_float32(row, jit, rng):
    """float32 in, float32 out (value and gradients), NumPy's value, close to the float64 results."""
    raw = tuple(sample(rng) for sample in row.args)
    args32 = tuple(as_float32(a) if isinstance(a, float) or a.dtype == np.float64 else a for a in raw)
    args64 = tuple(np.float64(a) if isinstance(a, np.float32) else
                   (a.astype(np.float64) if a.dtype == np.float32 else a) for a in args32)
    wrt = row.wrt if isinstance(row.wrt, tuple) else (row.wrt,)
    out32, pullback32 = vjp(row.fn, wrt=wrt, jit=compiled(jit))(*args32)
    out64, pullback64 = vjp(row.fn, wrt=wrt, jit=False)(*args64)
    assert_forward(out32, row.fn(*args32), rtol=F32_RTOL)
    np.testing.assert_allclose(out32, out64, rtol=F32_RTOL, atol=F32_RTOL)
    u = rng.standard_normal(np.shape(out64))
    grads32 = pullback32(np.asarray(u, np.asarray(out32).dtype))
    grads64 = pullback64(u)
    for k, g32, g64 in zip(wrt, grads32, grads64):
        what = f"{row.name} w.r.t. argument {k}"
        assert_gradient_like(g32, args32[k], what)
        assert np.asarray(g32).dtype == np.float32, f"{what}: dtype {np.asarray(g32).dtype}"
        np.testing.assert_allclose(g32, g64, rtol=F32_RTOL, atol=F32_RTOL * np.max(np.abs(g64)), err_msg=what)
