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

The whole table runs with `jit=False`; rows marked `jit` also run compiled whole by Numba
(`fd.compiled`), at least one per function.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from adcompiler import CompileError, grad, vjp
from adcompiler import jit as jitted
from fd import assert_forward, assert_gradient_like, check_vjp, compiled, random_like, uniform
from test_array_rules import Row, arg, cases, check_float32, float32_cases, jit_id, run_row

SEED = 20261202


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


def spd_lower(n):
    """A matrix whose lower triangle is that of an SPD matrix and whose upper one is noise (which
    cholesky, eigh and eigvalsh do not read)."""
    def sample(rng):
        return spd(n)(rng) + np.triu(rng.uniform(-5, 5, (n, n)), 1)
    return sample


def factor(n):
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
    *square_rows("cholesky_noisy_upper", l_cholesky, spd_lower, jit_size=4),
    Row("eigh_noisy_upper", l_eigh_both, (spd_lower(3),), jit=True),
    *square_rows("eigvalsh", l_eigvalsh, spd),
    *square_rows("eigvalsh_upper", l_eigvalsh_upper, spd, jit_size=0),
    *square_rows("eigh_values", l_eigh_values, spd, jit_size=0),
    *square_rows("eigh_vectors", l_eigh_vectors, spd),
    *square_rows("eigh_both", l_eigh_both, spd, jit_size=0),
    *square_rows("eigh_upper", l_eigh_upper, spd, jit_size=0),
    *square_rows("solve_triangular_lower", st_lower, factor, _vector, wrt=(0, 1)),
    *square_rows("solve_triangular_upper", st_upper, factor, _matrix, wrt=(0, 1)),
    *square_rows("solve_triangular_lower_t", st_lower_t, factor, _matrix, wrt=(0, 1), jit_size=4),
    *square_rows("solve_triangular_upper_t", st_upper_t, factor, _vector, wrt=(0, 1), jit_size=0),
    *square_rows("cho_solve_lower", cs_lower, factor, _vector, wrt=(0, 1)),
    *square_rows("cho_solve_upper", cs_upper, factor, _matrix, wrt=(0, 1), jit_size=4),
]


@pytest.mark.parametrize("row, jit", cases(DECOMPOSITIONS))
def test_decomposition(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ norms
# Vectors (5,) and matrices (3x4) away from the kinks: entries with magnitudes in (0.3, 1.5) and
# distinct, so that the inf-norms (a largest |x|, a largest row or column sum) have no ties.

def distinct_magnitudes(shape):
    def sample(rng):
        n = int(np.prod(shape))
        magnitudes = 0.3 + 1.2 * (rng.permutation(n) + rng.uniform(0.2, 0.8, n)) / n
        return (magnitudes * rng.choice([-1.0, 1.0], n)).reshape(shape)
    return sample


def n_vec(x): return np.linalg.norm(x)
def n_vec_2(x): return np.linalg.norm(x, 2)
def n_vec_1(x): return np.linalg.norm(x, ord=1)
def n_vec_inf(x): return np.linalg.norm(x, np.inf)
def n_vec_minf(x): return np.linalg.norm(x, -np.inf)
def n_vec_kd(x): return np.linalg.norm(x, keepdims=True)
def n_mat(x): return np.linalg.norm(x)
def n_mat_fro(x): return np.linalg.norm(x, "fro")
def n_mat_fro_kd(x): return np.linalg.norm(x, "fro", keepdims=True)
def n_mat_1(x): return np.linalg.norm(x, 1)
def n_mat_m1(x): return np.linalg.norm(x, -1)
def n_mat_inf(x): return np.linalg.norm(x, np.inf)
def n_mat_minf_kd(x): return np.linalg.norm(x, -np.inf, keepdims=True)
def n_mat_2(x): return np.linalg.norm(x, 2)
def n_mat_2_kd(x): return np.linalg.norm(x, 2, keepdims=True)
def n_mat_axis0(x): return np.linalg.norm(x, axis=0)
def n_mat_axis1_kd(x): return np.linalg.norm(x, axis=1, keepdims=True)
def n_mat_axism1_1(x): return np.linalg.norm(x, 1, axis=-1)
def n_mat_axis0_inf(x): return np.linalg.norm(x, np.inf, axis=0)
def n_mat_axis10_1(x): return np.linalg.norm(x, 1, axis=(1, 0))
def n_t_axis12_fro(x): return np.linalg.norm(x, "fro", axis=(1, 2))
def n_t_axis20_inf_kd(x): return np.linalg.norm(x, np.inf, axis=(2, 0), keepdims=True)
def n_t_axis01_m1(x): return np.linalg.norm(x, -1, axis=(0, 1))
def n_t_axis2(x): return np.linalg.norm(x, axis=2)
def n_t(x): return np.linalg.norm(x)
def n_t_kd(x): return np.linalg.norm(x, keepdims=True)


NORM_SHAPES = {"vec": (5,), "mat": (3, 4), "t": (2, 3, 4)}
JIT_NORMS = ("n_vec", "n_vec_inf", "n_mat_1", "n_mat_2", "n_mat_axis1_kd", "n_t_axis20_inf_kd")
NORMS = [Row(name, fn, (distinct_magnitudes(NORM_SHAPES[name.split("_")[1]]),), jit=name in JIT_NORMS)
         for name, fn in list(globals().items()) if name.startswith("n_") and callable(fn)]


@pytest.mark.parametrize("row, jit", cases(NORMS))
def test_norm(row, jit, rng):
    run_row(row, jit, rng)


def test_norm_table_is_complete():
    assert len(NORMS) == 26


# Documented: at 0 the gradient of the 2-norm (and the Frobenius norm) is 0, JAX's subgradient
# choice; of the 1-norm it is sign(0) = 0; there finite differences say nothing.
ZERO_NORMS = [(n_vec, (4,)), (n_mat_fro, (3, 2)), (n_mat_axis0, (3, 2)), (n_vec_1, (4,))]


@pytest.mark.parametrize("fn, shape, jit", [
    pytest.param(fn, shape, jit, id=f"{fn.__name__}-{jit_id(jit)}")
    for fn, shape in ZERO_NORMS for jit in ([False, True] if fn is n_vec else [False])])
def test_norm_gradient_at_zero_is_zero(fn, shape, jit, rng):
    x = np.zeros(shape)
    u = random_like(rng, fn(x))
    out, pullback = vjp(fn, jit=compiled(jit))(x)
    assert_forward(out, fn(x))
    g = pullback(u)
    assert_gradient_like(g, x, fn.__name__)
    np.testing.assert_array_equal(g, np.zeros(shape))


def test_norm_gradient_at_zero_column_only(rng):
    """A zero column has a zero gradient; the other column the usual x / |x|."""
    x = np.array([[0.0, 3.0], [0.0, -4.0]])
    u = np.array([2.0, 5.0])
    out, pullback = vjp(n_mat_axis0, jit=False)(x)
    np.testing.assert_allclose(pullback(u), [[0.0, 5.0 * 0.6], [0.0, 5.0 * -0.8]], rtol=1e-15)


# ================================================================ trace, diag, triangles, kron

def d_trace(a): return np.trace(a)
def d_trace_offset(a): return np.trace(a, 1) + np.trace(a, offset=-2)
def d_trace_method(a): return a.trace() * a
def d_diag_of_matrix(a): return np.diag(a)
def d_diag_k1(a): return np.diag(a, 1)
def d_diag_km1(a): return np.diag(a, k=-1)
def d_diag_of_vector(v): return np.diag(v)
def d_diag_of_vector_k2(v): return np.diag(v, 2)
def d_diag_of_vector_km1(v): return np.diag(v, -1) @ np.ones(6)
def d_diag_twice(a): return np.diag(np.diag(a))
def d_triu(a): return np.triu(a)
def d_triu_k1(a): return np.triu(a, 1)
def d_tril(a): return np.tril(a)
def d_tril_km1(a): return np.tril(a, k=-1)
def d_tril_of_transpose(a): return np.tril(a.T, 1)


def k_kron_mm(a, b): return np.kron(a, b)
def k_kron_vv(a, b): return np.kron(a, b)
def k_kron_vm(a, b): return np.kron(a, b)
def k_kron_ms(a, b): return np.kron(a, b)
def k_kron_mv(a, b): return np.kron(a, b)
def k_kron_mixed(a, b): return np.kron(a, b)


STRUCTURE = [
    Row("trace", d_trace, (normal((4, 4)),), jit=True),
    Row("trace_1x1", d_trace, (normal((1, 1)),)),
    Row("trace_rect_offset", d_trace_offset, (normal((3, 5)),)),
    Row("trace_method", d_trace_method, (normal((3, 3)),)),
    Row("diag_of_matrix", d_diag_of_matrix, (normal((4, 4)),), jit=True),
    Row("diag_of_rect", d_diag_of_matrix, (normal((3, 5)),)),
    Row("diag_k1", d_diag_k1, (normal((4, 4)),)),
    Row("diag_km1_rect", d_diag_km1, (normal((5, 3)),)),
    Row("diag_of_vector", d_diag_of_vector, (normal((4,)),), jit=True),
    Row("diag_of_vector_k2", d_diag_of_vector_k2, (normal((3,)),)),
    Row("diag_of_vector_km1", d_diag_of_vector_km1, (normal((5,)),)),
    Row("diag_twice", d_diag_twice, (normal((3, 3)),)),
    Row("triu", d_triu, (normal((4, 4)),), jit=True),
    Row("triu_k1_rect", d_triu_k1, (normal((3, 5)),)),
    Row("tril", d_tril, (normal((4, 4)),), jit=True),
    Row("tril_km1_rect", d_tril_km1, (normal((5, 3)),)),
    Row("tril_of_transpose", d_tril_of_transpose, (normal((3, 4)),)),
    Row("kron_mm", k_kron_mm, (normal((2, 3)), normal((3, 2))), (0, 1), jit=True),
    Row("kron_vv", k_kron_vv, (normal((3,)), normal((4,))), (0, 1)),
    Row("kron_vm", k_kron_vm, (normal((3,)), normal((2, 2))), (0, 1)),
    Row("kron_ms", k_kron_ms, (normal((2, 2)), normal(())), (0, 1)),
    Row("kron_mv", k_kron_mv, (normal((3, 2)), normal((2,))), (0, 1)),
    Row("kron_mixed", k_kron_mixed, (lambda rng: INT_SQUARE, normal((2, 2))), 1),
]


@pytest.mark.parametrize("row, jit", cases(STRUCTURE))
def test_structure(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ einsum and tensordot

def e_matmul(a, b): return np.einsum("ij,jk->ik", a, b)
def e_matmul_implicit(a, b): return np.einsum("ij,jk", a, b)
def e_transposed_implicit(a, b): return np.einsum("ij,kj", a, b)      # output 'ik'
def e_output_permuted(a, b): return np.einsum("ij,jk->ki", a, b)
def e_matvec(a, v): return np.einsum("ij,j->i", a, v)
def e_dot(u, v): return np.einsum("i,i->", u, v)
def e_dot_implicit(u, v): return np.einsum("i,i", u, v)
def e_outer(u, v): return np.einsum("i,j->ij", u, v)
def e_trace(a): return np.einsum("ii->", a)
def e_diagonal(a): return np.einsum("ii->i", a)
def e_trace_implicit(a): return np.einsum("ii", a)
def e_transpose(a): return np.einsum("ij->ji", a)
def e_sum_rows(a): return np.einsum("ij->i", a)
def e_sum_all(a): return np.einsum("ij->", a)
def e_batched(a, b): return np.einsum("bij,bjk->bik", a, b)
def e_three(a, b, c): return np.einsum("ij,jk,kl->il", a, b, c)
def e_three_vectors(a, u, v): return np.einsum("ij,i,j", a, u, v)
def e_bilinear(x, w, y): return np.einsum("bi,oij,bj->bo", x, w, y)
def e_spaced(a, b): return np.einsum("ij, jk -> ik", a, b)
def e_hadamard(a, b): return np.einsum("ij,ij->ij", a, b)
def e_frobenius(a, b): return np.einsum("ij,ij", a, b)
def e_diag_3d(t): return np.einsum("iij->ij", t)
def e_diag_contract(a, b): return np.einsum("ii,ij->j", a, b)
def e_multi_contract(t, a): return np.einsum("ijk,jkl->il", t, a)
def e_sum_of_product(a, b): return np.einsum("ij,jk->", a, b)
def e_summed_alone(t, a): return np.einsum("ijk,kl->il", t, a)        # j summed before the product
def e_summed_alone_implicit(t, a): return np.einsum("jik,kl", t, a)   # output 'il'
def e_int_and_float(m, x): return np.einsum("ij,jk->ik", m, x)


INT_MATRIX = np.array([[1, -2, 0], [3, 1, 2]])

EINSUMS = [
    Row("matmul", e_matmul, (normal((3, 4)), normal((4, 2))), (0, 1), jit=True),
    Row("matmul_implicit", e_matmul_implicit, (normal((3, 4)), normal((4, 2))), (0, 1)),
    Row("transposed_implicit", e_transposed_implicit, (normal((3, 4)), normal((2, 4))), (0, 1)),
    Row("output_permuted", e_output_permuted, (normal((3, 4)), normal((4, 2))), (0, 1)),
    Row("matvec", e_matvec, (normal((3, 4)), normal((4,))), (0, 1)),
    Row("dot", e_dot, (normal((5,)), normal((5,))), (0, 1)),
    Row("dot_implicit", e_dot_implicit, (normal((5,)), normal((5,))), (0, 1)),
    Row("outer", e_outer, (normal((3,)), normal((4,))), (0, 1)),
    Row("trace", e_trace, (normal((4, 4)),), jit=True),
    Row("trace_1x1", e_trace, (normal((1, 1)),)),
    Row("diagonal", e_diagonal, (normal((4, 4)),)),
    Row("trace_implicit", e_trace_implicit, (normal((3, 3)),)),
    Row("transpose", e_transpose, (normal((3, 4)),)),
    Row("sum_rows", e_sum_rows, (normal((3, 4)),)),
    Row("sum_all", e_sum_all, (normal((3, 4)),)),
    Row("batched", e_batched, (normal((2, 3, 4)), normal((2, 4, 5))), (0, 1), jit=True),
    Row("three", e_three, (normal((2, 3)), normal((3, 4)), normal((4, 2))), (0, 1, 2)),
    Row("three_vectors", e_three_vectors, (normal((3, 4)), normal((3,)), normal((4,))), (0, 1, 2), jit=True),
    Row("bilinear", e_bilinear, (normal((2, 3)), normal((4, 3, 5)), normal((2, 5))), (0, 1, 2)),
    Row("spaced", e_spaced, (normal((3, 4)), normal((4, 2))), (0, 1)),
    Row("hadamard", e_hadamard, (normal((3, 4)), normal((3, 4))), (0, 1)),
    Row("frobenius", e_frobenius, (normal((3, 4)), normal((3, 4))), (0, 1)),
    Row("diag_3d", e_diag_3d, (normal((3, 3, 2)),), jit=True),
    Row("diag_contract", e_diag_contract, (normal((3, 3)), normal((3, 2))), (0, 1)),
    Row("multi_contract", e_multi_contract, (normal((2, 3, 4)), normal((3, 4, 5))), (0, 1)),
    Row("sum_of_product", e_sum_of_product, (normal((3, 4)), normal((4, 2))), (0, 1)),
    Row("summed_alone", e_summed_alone, (normal((2, 3, 4)), normal((4, 5))), (0, 1)),
    Row("summed_alone_implicit", e_summed_alone_implicit, (normal((3, 2, 4)), normal((4, 5))), (0, 1)),
    Row("int_and_float", e_int_and_float, (lambda rng: INT_MATRIX, normal((3, 2))), 1),
]


def t_default(a, b): return np.tensordot(a, b)
def t_int1(a, b): return np.tensordot(a, b, 1)
def t_int0(a, b): return np.tensordot(a, b, axes=0)
def t_pairs(a, b): return np.tensordot(a, b, axes=([1, 0], [0, 2]))
def t_pair_ints(a, b): return np.tensordot(a, b, axes=(1, 0))
def t_negative(a, b): return np.tensordot(a, b, axes=([-1], [-2]))


TENSORDOTS = [
    Row("default", t_default, (normal((2, 3, 4)), normal((3, 4, 2))), (0, 1), jit=True),
    Row("int1", t_int1, (normal((3, 4)), normal((4, 2))), (0, 1)),
    Row("int0", t_int0, (normal((3,)), normal((2, 2))), (0, 1)),
    Row("pairs", t_pairs, (normal((3, 4, 2)), normal((4, 5, 3))), (0, 1), jit=True),
    Row("pair_ints", t_pair_ints, (normal((3, 4)), normal((4, 2))), (0, 1)),
    Row("negative", t_negative, (normal((2, 3)), normal((4, 3, 2))), (0, 1)),
]


@pytest.mark.parametrize("row, jit", cases(EINSUMS))
def test_einsum(row, jit, rng):
    run_row(row, jit, rng)


@pytest.mark.parametrize("row, jit", cases(TENSORDOTS))
def test_tensordot(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ float32
# NumPy and SciPy keep float32: the forward value and the gradients are float32, close to the
# float64 ones at the same point.

ROWS = {row.name: row for table in ("DECOMPOSITIONS", "NORMS", "STRUCTURE", "EINSUMS", "TENSORDOTS")
        for row in globals()[table]}
FLOAT32 = [  # (row, jit too)
    (ROWS[name], name in ("inv-3x3", "solve_triangular_lower-3x3")) for name in (
        "inv-3x3", "det-3x3", "slogdet-3x3", "solve_vec-3x3", "cholesky-3x3", "eigvalsh-3x3", "eigh_vectors-3x3",
        "solve_triangular_lower-3x3", "cho_solve_upper-4x4", "n_vec", "n_mat_1", "n_mat_2", "n_mat_axis1_kd",
        "trace_rect_offset", "diag_k1", "diag_of_vector", "triu", "kron_mm", "matmul", "batched", "diag_3d", "pairs")]


@pytest.mark.parametrize("row, jit", float32_cases(FLOAT32))
def test_float32(row, jit, rng):
    check_float32(row, jit, rng)


# ================================================================ integers
# np.linalg makes integer operands float64; einsum, trace, diag, triu and kron keep integers.

def i_inv_of_ints(m, x): return np.linalg.inv(m) @ x
def i_solve_ints(m, b, x): return np.linalg.solve(m, b) * x
def i_det_of_ints(m, x): return np.linalg.det(m) * x


INT_SQUARE = np.array([[3, 1, 0], [-1, 4, 1], [2, 0, 5]])

INTEGERS = [
    Row("inv_of_ints", i_inv_of_ints, (lambda rng: INT_SQUARE, normal((3,))), 1, jit=True),
    Row("solve_ints", i_solve_ints, (lambda rng: INT_SQUARE, lambda rng: np.array([1, 2, 3]), normal((3,))), 2),
    Row("det_of_ints", i_det_of_ints, (lambda rng: INT_SQUARE, normal((2,))), 1),
]


@pytest.mark.parametrize("row, jit", cases(INTEGERS))
def test_integer_operands(row, jit, rng):
    run_row(row, jit, rng)


def i_structure_of_ints(m): return np.trace(m) + np.sum(np.triu(m, 1)) + np.einsum("ij,jk->", m, m) + np.kron(m, m)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_integer_structure_keeps_integers(jit):
    assert_forward(jitted(i_structure_of_ints, jit=compiled(jit))(INT_SQUARE), i_structure_of_ints(INT_SQUARE))


# ================================================================ second derivatives
# The gradient of the gradient, against finite differences of the (adcompiler) gradient: the
# rules of inv and det are written with inv, det and `@`, so they are differentiated again.

def h_kron(a, b): return np.sum(np.sin(np.kron(a, b)))
def h_inv(a): return np.sum(np.sin(np.linalg.inv(a)))
def h_det(a): return np.linalg.det(a) ** 2 + np.linalg.det(a)
def h_logdet_solve(a, b): return np.linalg.slogdet(a)[1] * np.sum(np.linalg.solve(a, b))
def h_cholesky(a): return np.sum(np.cos(np.linalg.cholesky(a)))
def h_eigh(a): return np.sum(np.linalg.eigvalsh(a) ** 3)


d_kron = grad(h_kron, jit=False)
d_inv = grad(h_inv, jit=False)
d_det = grad(h_det, jit=False)
d_logdet_solve = grad(h_logdet_solve, wrt=0, jit=False)
d_cholesky = grad(h_cholesky, jit=False)
d_eigh = grad(h_eigh, jit=False)


def dd_kron(a, b, v): return np.sum(d_kron(a, b) * v)
def dd_inv(a, v): return np.sum(d_inv(a) * v)
def dd_det(a, v): return np.sum(d_det(a) * v)
def dd_logdet_solve(a, b, v): return np.sum(d_logdet_solve(a, b) * v)
def dd_cholesky(a, v): return np.sum(d_cholesky(a) * v)
def dd_eigh(a, v): return np.sum(d_eigh(a) * v)


SECOND = [
    Row("inv", dd_inv, (general(3), normal((3, 3))), 0, jit=True),
    Row("inv_1x1", dd_inv, (general(1), normal((1, 1))), 0),
    Row("det", dd_det, (general(3), normal((3, 3))), 0, jit=True),
    Row("kron", dd_kron, (normal((2, 3)), normal((3, 2)), normal((2, 3))), (0, 1), jit=True),
    Row("det_4x4", dd_det, (general(4), normal((4, 4))), 0),
    Row("logdet_solve", dd_logdet_solve, (general(3), normal((3,)), normal((3, 3))), (0, 1)),
    Row("cholesky", dd_cholesky, (spd(3), normal((3, 3))), 0),
    Row("eigvalsh", dd_eigh, (spd(3), normal((3, 3))), 0),
]


@pytest.mark.parametrize("row, jit", cases(SECOND))
def test_second_derivative(row, jit, rng):
    run_row(row, jit, rng)


# ================================================================ a Gaussian log-likelihood
# -0.5 (log det S + r^T S^-1 r), r = x - mu, written with slogdet and solve, and with cholesky and
# solve_triangular. Analytic gradients: d/dmu = S^-1 r; d/dS = -0.5 (S^-1 - S^-1 r r^T S^-1) as a
# function of all of S (the first form), its lower fold as a function of S's lower triangle (the
# second, which reads only that).

def gauss_solve(S, mu, x):
    r = x - mu
    return -0.5 * (np.linalg.slogdet(S)[1] + r @ np.linalg.solve(S, r))


def gauss_cholesky(S, mu, x):
    L = np.linalg.cholesky(S)
    r = x - mu
    z = scipy.linalg.solve_triangular(L, r, lower=True)
    return -np.sum(np.log(np.diag(L))) - 0.5 * (z @ z)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
@pytest.mark.parametrize("fn", [gauss_solve, gauss_cholesky])
def test_gaussian_log_likelihood(fn, jit, rng):
    S, mu, x = spd(4)(rng), rng.standard_normal(4), rng.standard_normal(4)
    check_vjp(fn, (S, mu, x), (0, 1), jit, rng)
    g_S, g_mu = vjp(fn, wrt=(0, 1), jit=compiled(jit))(S, mu, x)[1](1.0)
    inverse = np.linalg.inv(S)
    r = x - mu
    np.testing.assert_allclose(g_mu, inverse @ r, rtol=1e-10)
    full = -0.5 * (inverse - np.outer(inverse @ r, inverse @ r))
    expected = full if fn is gauss_solve else np.tril(full + full.T, -1) + np.diag(np.diag(full))
    np.testing.assert_allclose(g_S, expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(gauss_cholesky(S, mu, x), gauss_solve(S, mu, x), rtol=1e-12)


# ================================================================ arguments are not changed

def m_everything(a, b, s):
    return (np.sum(scipy.linalg.solve_triangular(a, b, lower=True)) + np.sum(scipy.linalg.cho_solve((a, True), b))
            + np.linalg.det(a) + np.sum(np.linalg.eigh(s)[1]) + np.sum(np.linalg.cholesky(s)) + np.linalg.norm(b))


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_arguments_are_not_changed(jit, rng):
    args = (factor(3)(rng), rng.standard_normal((3, 2)), spd(3)(rng))
    kept = tuple(a.copy() for a in args)
    out, pullback = vjp(m_everything, wrt=(0, 1, 2), jit=compiled(jit))(*args)
    pullback(1.0)
    for a, b in zip(args, kept):
        np.testing.assert_array_equal(a, b)


# ================================================================ refusals
# Each names the function and the user's line, with a hint.

def r_einsum_ellipsis(a): return np.einsum("...ij->...ji", a)
def r_einsum_count(a): return np.einsum("ij,jk->ik", a)
def r_einsum_rank(a): return np.einsum("ijk->i", a)
def r_einsum_output(a): return np.einsum("ij->ik", a)
def r_norm_nuc(a): return np.linalg.norm(a, "nuc")
def r_norm_m2(a): return np.linalg.norm(a, -2)
def r_norm_vector_fro(v): return np.linalg.norm(v, "fro")
def r_norm_vector_3(v): return np.linalg.norm(v, 3)
def r_norm_2_of_3d(t): return np.linalg.norm(t, 2, axis=(1, 2))
def r_norm_ord_of_3d(t): return np.linalg.norm(t, 1)
def r_inv_stack(t): return np.linalg.inv(t)
def r_solve_3d_rhs(a, t): return np.linalg.solve(a, t)
def r_cho_solve_no_pair(a, b): return scipy.linalg.cho_solve(a, b)
def r_eigh_uplo(a): return np.linalg.eigh(a, UPLO="X")
def r_triu_vector(v): return np.triu(v)
def r_trace_3d(t): return np.trace(t)
def r_diag_3d(t): return np.diag(t)
def r_tensordot_axes(a, b): return np.tensordot(a, b, axes=([0, 1], [0]))
def r_kron_3d(t, a): return np.kron(t, a)
def r_solve_triangular_unit(a, b): return scipy.linalg.solve_triangular(a, b, unit_diagonal=True)
def r_solve_triangular_trans2(a, b): return scipy.linalg.solve_triangular(a, b, trans=2)
def r_diag_k_runtime(a, k): return np.diag(a, k)


M3, V3, T3 = np.eye(3) + 0.5, np.ones(3), np.ones((2, 3, 3))

REFUSALS = [
    (r_einsum_ellipsis, (M3,), "'...' (broadcast axes) is not supported"),
    (r_einsum_count, (M3,), "name 2 operands, but 1 are given"),
    (r_einsum_rank, (M3,), "do not name the 2 axes"),
    (r_einsum_output, (M3,), "must name distinct letters of the operands"),
    (r_norm_nuc, (M3,), "ord='nuc' of matrices is not supported"),
    (r_norm_m2, (M3,), "ord=-2 of matrices is not supported"),
    (r_norm_vector_fro, (V3,), "ord='fro' of vectors is not supported"),
    (r_norm_vector_3, (V3,), "ord=3 of vectors is not supported"),
    (r_norm_2_of_3d, (T3,), "ord=2 of a 3-D array is not supported"),
    (r_norm_ord_of_3d, (T3,), "needs an axis"),
    (r_inv_stack, (T3,), "`np.linalg.inv` of a 3-D array is not supported"),
    (r_solve_3d_rhs, (M3, T3), "vector or a matrix right-hand side"),
    (r_cho_solve_no_pair, (M3, V3), "cho_solve takes the pair (c, lower)"),
    (r_eigh_uplo, (M3,), "UPLO='X' is not supported"),
    (r_triu_vector, (V3,), "`np.triu` of a 1-D array is not supported"),
    (r_trace_3d, (T3,), "`np.trace` of a 3-D array is not supported"),
    (r_diag_3d, (T3,), "np.diag of a 3-D array is not defined"),
    (r_tensordot_axes, (M3, M3), "as many axes of each array"),
    (r_kron_3d, (T3, M3), "np.kron of arrays of more than 2 dimensions"),
    (r_solve_triangular_unit, (M3, V3), "called with arguments it does not support"),
    (r_solve_triangular_trans2, (M3, V3), "trans=2 is not supported"),
    (r_diag_k_runtime, (M3, 1), "k must be a constant known at compile time"),
]


@pytest.mark.parametrize("fn, args, message", [pytest.param(*r, id=r[0].__name__) for r in REFUSALS])
def test_refusal(fn, args, message):
    with pytest.raises(CompileError) as caught:
        vjp(fn, wrt=0, jit=False)(*args)
    text = str(caught.value)
    assert message in text, text
    assert f"{Path(__file__).name}:" in text and fn.__name__ in text, text


def test_importing_adcompiler_does_not_import_scipy_linalg():
    """SciPy's functions are looked up once the user's code has imported SciPy (calls.lowering_of)."""
    import os
    import subprocess
    import sys
    code = "import sys, adcompiler; print('scipy.linalg' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
