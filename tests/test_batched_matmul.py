"""Stacks of matrices: `@` between a 3-D array and a 2-D or 3-D one (Numba's `@` stops at 2-D; the
runtime loops over the stack), checked against central finite differences in both modes."""
import numpy as np
import pytest

from adcompiler import check_grad, value_and_grad


def stack_by_stack(A, B):
    return np.sum(np.sin(A @ B))


def stack_by_matrix(A, W):
    return np.sum(np.sin(A @ W))


def matrix_by_stack(W, B):
    return np.sum(np.sin(W @ B))


RNG = np.random.default_rng(11)
CASES = {
    "stack_by_stack": (stack_by_stack, RNG.normal(size=(4, 2, 3)), RNG.normal(size=(4, 3, 5))),
    "stack_by_matrix": (stack_by_matrix, RNG.normal(size=(4, 2, 3)), RNG.normal(size=(3, 5))),
    "matrix_by_stack": (matrix_by_stack, RNG.normal(size=(2, 3)), RNG.normal(size=(4, 3, 5))),
}


# Numba compiles each case for seconds: all cases in plain Python, one compiled.
@pytest.mark.parametrize("name, jit", [(name, False) for name in CASES] + [("stack_by_matrix", True)])
def test_batched_matmul_gradients(name, jit):
    function, a, b = CASES[name]
    assert check_grad(function, a, b, wrt=(0, 1), mode="element", jit=jit) < 1e-7
    value, (ga, gb) = value_and_grad(function, wrt=(0, 1), jit=jit)(a, b)
    assert value == pytest.approx(function(a, b), rel=1e-12)
    assert ga.shape == a.shape and gb.shape == b.shape
