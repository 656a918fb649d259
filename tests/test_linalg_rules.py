"""Linear algebra (np.linalg, trace, diag, triu/tril, kron, einsum, tensordot, scipy.linalg's
solve_triangular and cho_solve), checked against finite differences over a table of shapes.

The check is the dot-product test of tests/test_array_rules.py (tests/fd.py `check_vjp`): for a
random cotangent u and a random direction v, <u, J v> by central finite differences of the plain
Python function equals <J^T u, v> from adcompiler's pullback to 1e-7 relative in float64, and the
forward value equals NumPy's (SciPy's). Inputs are well conditioned: general matrices are a random
matrix plus 3 I, symmetric positive definite ones X X^T / n + I (their eigenvalues far apart
enough for eigh's eigenvector gradient), triangular factors have diagonals in (1, 2).

Directions are arbitrary (not symmetric): cholesky, eigh and eigvalsh read only the lower triangle
of their operand, solve_triangular and cho_solve only their factor's triangle, so the gradient is
that of what NumPy and SciPy compute, zero in the other triangle.

The whole table runs with `jit=False`; rows marked `jit` also run compiled by Numba, at least one
per function.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from adcompiler import CompileError, grad, vjp
from fd import assert_forward, assert_gradient_like, check_vjp, fd_grad, random_like, uniform
from test_array_rules import Row, arg, cases, jit_id, run_row

SEED = 20261202
F32_RTOL = 2e-5


# ---------------------------------------------------------------- samplers

def general(n):
    """A well-conditioned n x n matrix (random plus 3 I)."""
    return lambda rng: rng.uniform(-1, 1, (n, n)) + 3.0 * np.eye(n)


def spd(n):
    """A symmetric positive definite n x n matrix with eigenvalues in about (1, 3)."""
    def sample(rng):
        x = rng.standard_normal((n, n))
        return x @ x.T / n + np.eye(n)
    return sample


def factor(n, lower=True):
    """A triangular factor with a diagonal in (1, 2); the other triangle holds noise, which the
    functions must not read."""
    def sample(rng):
        t = rng.uniform(-1, 1, (n, n))
        t[np.diag_indices(n)] = rng.uniform(1, 2, n)
        return t
    return sample


def normal(shape):
    return arg(uniform(-1, 1), shape)


SQUARES = (1, 3, 4)


def square_rows(name, fn, sampler, *others, wrt=0, jit_size=3):
    """One row per matrix size of SQUARES; `others` are samplers of the size (the right-hand sides)."""
    return [Row(f"{name}-{n}x{n}", fn, (sampler(n), *(other(n) for other in others)), wrt, jit=n == jit_size)
            for n in SQUARES]


# ================================================================ decompositions and solves

def l_inv(a): return np.linalg.inv(a)
def l_inv_of_view(a): return np.linalg.inv(a.T) @ a[:, ::-1]
def l_det(a): return np.linalg.det(a)
def l_det_scaled(a): return np.linalg.det(2.0 * a) * a
def l_slogdet(a): return np.linalg.slogdet(a)[1]
def l_slogdet_both(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return sign * logabsdet + logabsdet ** 2
def l_solve_vec(a, b): return np.linalg.solve(a, b)
def l_solve_mat(a, b): return np.linalg.solve(a, b)
def l_solve_transposed(a, b): return np.linalg.solve(a.T, b.T)
def l_cholesky(a): return np.linalg.cholesky(a)
def l_cholesky_upper(a): return np.linalg.cholesky(a, upper=True)
def l_cholesky_of_gram(x): return np.linalg.cholesky(x @ x.T + np.eye(x.shape[0]))
def l_eigvalsh(a): return np.linalg.eigvalsh(a)
def l_eigvalsh_upper(a): return np.linalg.eigvalsh(a, UPLO="U")
def l_eigh_values(a): return np.linalg.eigh(a)[0]
def l_eigh_vectors(a): return np.linalg.eigh(a)[1]
def l_eigh_both(a):
    w, v = np.linalg.eigh(a)
    return v * w
def l_eigh_upper(a):
    w, v = np.linalg.eigh(a, "U")
    return (v * v) @ w


def st_lower(a, b): return scipy.linalg.solve_triangular(a, b, lower=True)
def st_upper(a, b): return scipy.linalg.solve_triangular(a, b)
def st_lower_t(a, b): return scipy.linalg.solve_triangular(a, b, trans=1, lower=True)
def st_upper_t(a, b): return scipy.linalg.solve_triangular(a, b, trans="T", lower=False)
def cs_lower(c, b): return scipy.linalg.cho_solve((c, True), b)
def cs_upper(c, b): return scipy.linalg.cho_solve((c, False), b)


def _vector(n): return normal((n,))
def _matrix(n): return normal((n, 2))
def _square(n): return normal((n, n))


DECOMPOSITIONS = [
    *square_rows("inv", l_inv, general),
    *square_rows("inv_of_view", l_inv_of_view, general, jit_size=4),
    *square_rows("det", l_det, general),
    *square_rows("det_scaled", l_det_scaled, general, jit_size=0),
    *square_rows("slogdet", l_slogdet, general),
    *square_rows("slogdet_both", l_slogdet_both, general, jit_size=0),
    *square_rows("solve_vec", l_solve_vec, general, _vector, wrt=(0, 1)),
    *square_rows("solve_mat", l_solve_mat, general, _matrix, wrt=(0, 1), jit_size=4),
    *square_rows("solve_transposed", l_solve_transposed, general, _square, wrt=(0, 1), jit_size=0),
    *square_rows("cholesky", l_cholesky, spd),
    *square_rows("cholesky_upper", l_cholesky_upper, spd, jit_size=0),
    Row("cholesky_of_gram", l_cholesky_of_gram, (normal((3, 2)),)),
    *square_rows("eigvalsh", l_eigvalsh, spd),
    *square_rows("eigvalsh_upper", l_eigvalsh_upper, spd, jit_size=0),
    *square_rows("eigh_values", l_eigh_values, spd, jit_size=0),
    *square_rows("eigh_vectors", l_eigh_vectors, spd),
    *square_rows("eigh_both", l_eigh_both, spd, jit_size=0),
    *square_rows("eigh_upper", l_eigh_upper, spd, jit_size=4),
    *square_rows("solve_triangular_lower", st_lower, factor, _vector, wrt=(0, 1)),
    *square_rows("solve_triangular_upper", st_upper, factor, _matrix, wrt=(0, 1)),
    *square_rows("solve_triangular_lower_t", st_lower_t, factor, _matrix, wrt=(0, 1), jit_size=4),
    *square_rows("solve_triangular_upper_t", st_upper_t, factor, _vector, wrt=(0, 1), jit_size=4),
    *square_rows("cho_solve_lower", cs_lower, factor, _vector, wrt=(0, 1)),
    *square_rows("cho_solve_upper", cs_upper, factor, _matrix, wrt=(0, 1), jit_size=4),
]


@pytest.mark.parametrize("row, jit", cases(DECOMPOSITIONS))
def test_decomposition(row, jit, rng):
    run_row(row, jit, rng)
