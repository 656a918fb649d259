"""Transforms of functions defined inside compiled code (`grad(lambda y: ...)(x)`, `hessian(inner)`,
...), which read the enclosing function's variables (frontend/inlining.py `lift`).

Each program is compiled (`jit`) and differentiated with respect to its two arguments. Its value
is checked against the same mathematics written out in NumPy, and its gradient against finite
differences of that NumPy version: neither runs adcompiler. The transform differentiates only the
closure's own parameters; the outer gradient flows through the variables it reads.
"""
from __future__ import annotations

import numpy as np
import pytest

from adcompiler import CompileError, grad, hessian, hvp, jacfwd, jacrev, jit, jvp, value_and_grad, vmap
from fd import fd_grad


def apply_grad(function, x):
    """A module-level helper given a closure: the transform is made where the helper is inlined."""
    return grad(function)(x)


def gradient_of_lambda(x, a):
    return np.sum(grad(lambda y: np.sum(np.sin(a * y)))(x) ** 2)


def gradient_of_def(x, a):
    def inner(y, s):
        return np.sum(s * np.tanh(y * a) ** 2)
    return np.sum(grad(inner)(x, 2.0) * x)


def hessian_of_lambda(x, a):
    return np.sum(hessian(lambda y: np.sum(a * y ** 3))(x))


def jacobian_of_lambda(x, a):
    return np.sum(jacfwd(lambda y: np.sin(y) * a)(x) ** 2)


def jacrev_of_grad(x, a):
    return np.sum(jacrev(grad(lambda y: np.sum(a * np.sin(y) ** 2)))(x))


def inner_optimisation(x, a):
    steps = x
    for _ in range(3):
        steps = steps - 0.1 * grad(lambda p: np.sum((p - a) ** 2 * np.exp(p)))(steps)
    return np.sum(steps ** 2)


def batched_closure(x, a):
    return np.sum(vmap(lambda row: np.sum(np.sin(row * a)))(np.outer(x, x)))


def forward_mode(x, a):
    value, tangent = jvp(lambda y: np.sum(np.exp(a * y)))(x, np.ones_like(x))
    return value + tangent


def hessian_vector_product(x, a):
    gradient, product = hvp(lambda y: np.sum(a * y ** 4))(x, x)
    return np.sum(gradient) + np.sum(product)


def late_binding(x, a):
    b = a
    g = grad(lambda y: np.sum(b * y ** 2))
    b = a * 3.0  # read when g is called, as Python reads it
    return np.sum(g(x))


def tuple_read(x, a):
    pair = (a, 2.0)
    return np.sum(grad(lambda y: np.sum(pair[0] * y ** 2 * pair[1]))(x))


def value_and_gradient(x, a):
    value, g = value_and_grad(lambda y, k: np.sum(np.sin(k * y) * a))(x, 3.0)
    return value + np.sum(g)


def through_a_helper(x, a):
    return np.sum(apply_grad(lambda y: np.sum(a * y ** 2), x) * x)


def calls_a_local_function(x, a):
    def squared(y, power=2):
        return (y * a) ** power
    return np.sum(grad(lambda y: np.sum(squared(y) * x))(x))


def _descent(x, a):
    steps = x
    for _ in range(3):
        steps = steps - 0.1 * (2 * (steps - a) + (steps - a) ** 2) * np.exp(steps)
    return np.sum(steps ** 2)


def _tanh_term(x, a):
    t = np.tanh(x * a)
    return np.sum(4 * a * t * (1 - t * t) * x)


PROGRAMS = {  # program -> the same mathematics in NumPy
    gradient_of_lambda: lambda x, a: np.sum((a * np.cos(a * x)) ** 2),
    gradient_of_def: _tanh_term,
    hessian_of_lambda: lambda x, a: np.sum(6 * a * x),
    jacobian_of_lambda: lambda x, a: np.sum((np.cos(x) * a) ** 2),
    jacrev_of_grad: lambda x, a: np.sum(2 * a * np.cos(2 * x)),
    inner_optimisation: _descent,
    batched_closure: lambda x, a: np.sum(np.sin(np.outer(x, x) * a)),
    forward_mode: lambda x, a: np.sum(np.exp(a * x)) + np.sum(a * np.exp(a * x)),
    hessian_vector_product: lambda x, a: np.sum(4 * a * x ** 3) + np.sum(12 * a * x ** 3),
    late_binding: lambda x, a: np.sum(6 * a * x),
    tuple_read: lambda x, a: np.sum(4 * a * x),
    value_and_gradient: lambda x, a: np.sum(np.sin(3 * x) * a) + np.sum(3 * np.cos(3 * x) * a),
    through_a_helper: lambda x, a: np.sum(2 * a * x ** 2),
    calls_a_local_function: lambda x, a: np.sum(2 * a * a * x * x),
}
X, A = np.linspace(0.1, 1.0, 4), np.linspace(0.5, 1.5, 4)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_transform_of_a_closure_gives_the_value_and_gradient_of_its_mathematics(program):
    reference = PROGRAMS[program]
    x, a = X.copy(), A.copy()
    np.testing.assert_allclose(jit(program)(x, a), reference(X, A), rtol=1e-12)
    gx, ga = grad(program, wrt=(0, 1))(x, a)
    np.testing.assert_allclose(gx, fd_grad(reference, (X, A), 0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ga, fd_grad(reference, (X, A), 1), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(a, A)


def test_inner_optimisation_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def descent(x, a):
        steps = x
        for _ in range(3):
            steps = steps - 0.1 * jax.grad(lambda p: jnp.sum((p - a) ** 2 * jnp.exp(p)))(steps)
        return jnp.sum(steps ** 2)

    ours = grad(inner_optimisation, wrt=(0, 1))(X, A)
    theirs = jax.grad(descent, argnums=(0, 1))(X, A)
    for mine, jax_gradient in zip(ours, theirs):
        np.testing.assert_allclose(mine, np.asarray(jax_gradient), rtol=1e-12)


def reads_a_recursive_closure(x, a):
    def power(y, n):
        return y if n == 1 else y * power(y, n - 1)
    return np.sum(grad(lambda y: np.sum(power(y, 3) * a))(x))


def reads_a_closure_with_a_computed_default(x, a):
    def scaled(y, by=a * 2.0):
        return y * by
    return np.sum(grad(lambda y: np.sum(scaled(y)))(x))


def writes_what_it_reads(x, a):
    w = a * 1.0

    def bumped(y):
        w[0] = 1.0
        return np.sum(w * y)
    return np.sum(grad(bumped)(x))


@pytest.mark.parametrize("program, message", [
    (reads_a_recursive_closure, "`<lambda>`, transformed here, reads `power` (through `power`), a function defined "
                                "inside the compiled one that calls itself"),
    (reads_a_closure_with_a_computed_default, "reads `scaled`, a function defined inside the compiled one"),
    (writes_what_it_reads, "assignment into `w`, an argument, global or enclosing function's array"),
])
def test_what_a_transformed_closure_cannot_do_is_refused_with_its_line(program, message):
    with pytest.raises(CompileError) as raised:
        grad(program)(X, A)
    assert message in raised.value.message, raised.value.message
    assert raised.value.loc.file == __file__
