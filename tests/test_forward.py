"""Forward mode (transforms/forward.py, `jvp`, `hvp`, `custom_jvp`).

Each primitive's forward rule is checked where its reverse rule is: the rule tables
(test_rules.py, test_array_rules.py, test_linalg_rules.py, test_special_rules.py,
test_statistics_rules.py, ...) call `fd.check_vjp`, which also runs `fd.check_tangent`: the jvp
against float64 finite differences and against the pullback by the dot-product identity. Here:
the table of primitives itself, programs with control flow, updates, calls and trees (against
finite differences and JAX), Hessian-vector products, compositions, custom_jvp and refusals.
"""
from __future__ import annotations

import math
import re
from collections import namedtuple

import numpy as np
import pytest

import scipy.special as scipy_special

import adcompiler as ad
from adcompiler.rules import primitives as P
from fd import check_vjp, directional_derivative, fd_grad

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RTOL = 1e-7


@pytest.fixture
def rng(request):
    return np.random.default_rng(abs(hash(request.node.name)) % 2**32)


# ---------------------------------------------------------------- the table of primitives

def test_every_primitive_with_vjps_has_forward_rules():
    assert [p.name for p in P.ALL if p.vjps and not p.forward_rules] == []


def test_forward_rules_are_well_formed():
    for prim in P.ALL:
        rules = prim.forward_rules
        if rules is P.DIAGONAL:
            assert prim.vjps, prim.name  # derived from the vjp rules
        elif isinstance(rules, P.Linear):
            assert rules.positions, f"{prim.name} is linear in no operand"
        elif rules and rules != P.ZERO and prim.arity is not None:
            assert len(rules) == prim.arity, prim.name


def test_a_primitive_without_forward_rule_is_refused_at_the_users_line():
    """The tangent of np.prod's gradient (prod_others_tangent) has no rules: forward mode over a
    Hessian of np.prod (a third derivative) is refused."""
    with pytest.raises(ad.CompileError, match="`prod_others_tangent` has no forward-mode rule") as error:
        ad.jacfwd(ad.hessian(f_prod))(np.arange(1.0, 4.0))
    assert "test_forward.py" in str(error.value) and "np.exp(np.sum(np.log(x)))" in str(error.value)


def f_prod(x):
    return np.prod(x)


def f_prod_rows(x):
    return np.sum(np.prod(x, axis=1) * np.arange(1.0, 1.0 + x.shape[0]))


def f_prod_middle(x):
    return np.sum(np.sin(np.prod(x, axis=1)))


def f_digamma(x):
    return np.sum(scipy_special.digamma(x) * x)


def f_lgamma(x):
    return math.lgamma(x)


def second_lgamma(x):
    return ad.grad(ad.grad(f_lgamma))(x)


# Hessians of functions whose gradients use prod_others, prod_others_all and trigamma, with zeros
# (one and two in a row: the exact products of the others differ from out / x there).
SECOND_ORDER = [
    (f_prod, np.array([0.5, 0.0, 2.0, -1.5])),
    (f_prod, np.array([0.5, 0.0, 2.0, 0.0])),
    (f_prod, np.array([0.7, -1.3, 1.1])),
    (f_prod_rows, np.array([[0.5, 0.0, 2.0], [1.2, -0.3, 0.7]])),
    (f_prod_middle, np.array([[[0.5, 1.5], [0.0, 2.0], [2.0, -0.4]], [[1.2, 0.0], [-0.3, 0.0], [0.7, 0.9]]])),
    (f_digamma, np.array([0.3, 1.7, 4.0, -0.4, 12.5])),
]


@pytest.mark.parametrize("f, x", SECOND_ORDER, ids=lambda p: getattr(p, "__name__", "x"))
def test_forward_over_the_gradients_of_prod_and_digamma(f, x, rng):
    """The tangent of the gradient (an hvp) against finite differences of the gradient, and the
    dot-product identity <u, H v> = <H u, v> (H symmetric: the pullback of u is the tangent along
    u), by fd.check_tangent; the Hessian (jacfwd of grad) against the hvps."""
    from fd import check_tangent, inner
    gradient = ad.grad(f, jit=False)
    v, u = rng.uniform(-1, 1, x.shape), rng.uniform(-1, 1, x.shape)
    jv = directional_derivative(gradient, (x,), [v])
    _, hu = ad.jvp(gradient, jit=False)(x, u)
    scale = float(np.sum(np.abs(u * jv)))
    check_tangent(gradient, (x,), 0, v, jv, (u, hu), scale, f"hvp of {f.__name__}")
    h = ad.hessian(f, jit=False)(x).reshape(x.size, x.size)
    np.testing.assert_allclose(h @ v.ravel(), ad.hvp(f, jit=False)(x, v)[1].ravel(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12)
    assert abs(inner(u, jv) - inner(hu, v)) <= 1e-10 * scale + 1e-14


def test_hessian_of_prod_is_exact_at_zeros():
    """H[i, j] = the product of the elements other than i and j (0 on the diagonal): exact, also
    with one and two zeros, plain and compiled."""
    for x in (np.array([0.5, 0.0, 2.0, -1.5]), np.array([0.0, 3.0, 0.0, 2.0]), np.array([1.5, -2.0, 0.25])):
        expected = np.array([[np.prod(np.delete(x, [i, j])) if i != j else 0.0 for j in range(x.size)]
                             for i in range(x.size)])
        for jit in (False, True):
            np.testing.assert_allclose(ad.hessian(f_prod, jit=jit)(x), expected, rtol=1e-15, atol=0)


def test_prod_others_tangent_plain_and_numba_are_exact_at_zeros(rng):
    from adcompiler.backend import runtime
    from adcompiler.backend.compile import compiled_runtime, _numba_jit
    _numba_jit()  # registers the Numba twins
    twin = compiled_runtime().prod_others_tangent
    x, t = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5, 2))
    x[1, 2, 0] = x[2, 1, 1] = x[2, 3, 1] = 0.0
    for axis in range(3):
        expected = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            lane = list(index)
            for m in range(x.shape[axis]):
                if m == index[axis]:
                    continue
                others = [k for k in range(x.shape[axis]) if k not in (m, index[axis])]
                lane[axis] = m
                factor = np.prod([x[tuple(lane[:axis] + [k] + lane[axis + 1:])] for k in others])
                expected[index] += t[tuple(lane)] * factor
        np.testing.assert_allclose(runtime.prod_others_tangent(x, t, axis), expected, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(twin(x, t, axis), expected, rtol=1e-13, atol=1e-15)


def test_tetragamma_numba_twin_agrees_with_mpmath():
    """polygamma(2, x) to 1e-13 relative of mpmath's over a wide range (recurrence, series and
    reflection), the poles as SciPy gives them; SciPy's own values are off by up to ~1e-12 at
    negative half integers, where the reflection's cosine is 0."""
    mpmath = pytest.importorskip("mpmath")
    from adcompiler.backend.compile import compiled_runtime, _numba_jit
    _numba_jit()
    twin = compiled_runtime().tetragamma
    points = np.concatenate([np.linspace(-30, 30, 601) + 0.013, np.arange(-29.5, 0, 1.0), np.geomspace(1e-8, 1e6, 200),
                             -np.geomspace(1e-8, 0.9, 50), [9.99, 10.0, 10.01, 1.4616321449683622]])
    expected = np.array([float(mpmath.polygamma(2, mpmath.mpf(float(x)))) for x in points])
    np.testing.assert_allclose(twin(points), expected, rtol=1e-13, atol=0)
    poles = np.array([0.0, -1.0, -7.0, -np.inf, np.nan, np.inf])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(twin(poles), scipy_special.polygamma(2, poles))
    assert twin(np.float32(2.5)) == pytest.approx(float(scipy_special.polygamma(2, 2.5)), rel=2e-6)


@pytest.mark.parametrize("x", [0.3, 2.5, 17.0, -0.4, -3.7])
def test_third_derivative_of_lgamma_is_tetragamma(x):
    expected = float(scipy_special.polygamma(2, x))
    assert ad.grad(second_lgamma, jit=False)(x) == pytest.approx(expected, rel=1e-13)
    assert ad.jvp(second_lgamma, jit=False)(x, 1.0)[1] == pytest.approx(expected, rel=1e-13)
    assert ad.grad(second_lgamma, jit=False)(x) == pytest.approx(fd_grad(second_lgamma, (x,), 0), rel=1e-7)


def f_cumprod(x):
    return np.cumprod(x, axis=1)


@pytest.mark.parametrize("x", [np.array([[2.0, 0.5, -1.5, 3.0]]), np.array([[1.5, 0.0, 2.0, 0.0, 3.0], [0.0, 2.0, 1.0, -1.0, 2.0]])])
def test_cumprod_tangent_is_exact_at_zeros(x, rng):
    t = rng.uniform(-1, 1, x.shape)
    _, tangent = ad.jvp(f_cumprod, jit=False)(x, t)
    expected = np.zeros_like(x)  # sum_{j <= i} t_j prod_{k <= i, k != j} x_k, term by term
    for row, i in np.ndindex(x.shape):
        for j in range(i + 1):
            expected[row, i] += t[row, j] * np.prod(np.delete(x[row, :i + 1], j))
    np.testing.assert_allclose(tangent, expected, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- programs against finite differences

def check_against_fd(f, args, wrt=0, jit=False, rng=None):
    """jvp(f, wrt)(*args, tangents) against f's value and central finite differences."""
    rng = rng or np.random.default_rng(0)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    directions = [None] * len(args)
    for k in positions:
        directions[k] = rng.uniform(-1, 1, np.shape(args[k])) if np.ndim(args[k]) else float(rng.uniform(-1, 1))
    tangents = tuple(directions[k] for k in positions)
    value, tangent = ad.jvp(f, wrt=wrt, jit=jit)(*args, tangents if isinstance(wrt, tuple) else tangents[0])
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    expected = directional_derivative(f, args, directions)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-9)
    return value, tangent


def p_branch(x, y):
    if np.sum(x) > 0:
        z = np.sin(x) * y
    else:
        z = x * x
    return np.sum(z * np.exp(-x))


def p_for(x):
    h = x
    for _ in range(4):
        h = np.tanh(h * 1.3 + 0.1) * x
    return np.sum(h * h)


def p_while(x):
    s = x
    n = 0
    while n < 5 and np.max(np.abs(s)) < 100.0:
        s = s * 1.5 + np.sin(s)
        n += 1
    return s


def p_scalar_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = total + x[i] * x[i - 1]
    return total


def p_updates(x):
    y = np.zeros(x.shape[0] + 1)
    for i in range(x.shape[0]):
        y[i + 1] = y[i] + np.cos(x[i])
    y[0] = x[0] * 2.0
    y[1:3] += x[:2] ** 2
    return y


def p_add_at(x):
    y = np.zeros(3)
    np.add.at(y, np.array([0, 2, 0, 1]), x[:4] * x[1:5])
    return y


def helper(a, b):
    return a * np.exp(b)


def p_calls(x, y):
    scale = lambda v: v * y  # noqa: E731 - a closure
    return np.sum(helper(scale(x), np.cos(x)))


Params = namedtuple("Params", "W b")


def p_tree(params, x):
    hidden = np.tanh(params["layer"].W @ x + params["layer"].b)
    return np.sum(hidden * params["scale"])


def p_linalg(a, b):
    spd = a @ a.T + 3.0 * np.eye(a.shape[0])
    l = np.linalg.cholesky(spd)
    w, v = np.linalg.eigh(spd)
    return np.sum(np.linalg.solve(spd, b)) + np.linalg.det(spd) * 1e-2 + np.sum(l) + np.sum(w) + np.sum(v * v)


def p_array_output(x):
    return np.stack([np.sum(x), np.prod(x), np.max(x)]) * np.mean(x)


def p_tuple_output(x):
    return np.sin(x), np.sum(x * x)


X5 = np.array([0.3, -0.7, 1.1, 0.5, -0.2])


@pytest.mark.parametrize("f, args, wrt", [
    (p_branch, (X5, 0.8), 0), (p_branch, (-np.abs(X5), 0.8), (0, 1)),
    (p_for, (X5,), 0), (p_while, (X5,), 0), (p_scalar_loop, (X5,), 0),
    (p_updates, (X5,), 0), (p_add_at, (X5,), 0), (p_calls, (X5, 1.3), (0, 1)),
    (p_linalg, (np.array([[1.0, 0.2, 0.1], [0.3, 1.5, -0.4], [0.0, 0.6, 0.9]]), np.array([1.0, -2.0, 0.5])), (0, 1)),
    (p_array_output, (np.abs(X5) + 0.1,), 0),
], ids=lambda v: getattr(v, "__name__", None))
def test_program_against_finite_differences(f, args, wrt, rng):
    check_against_fd(f, args, wrt, rng=rng)


@pytest.mark.parametrize("f", [p_for, p_scalar_loop, p_updates])
def test_compiled_kernels(f, rng):
    check_against_fd(f, (X5,), 0, jit=True, rng=rng)


def test_parameter_tree_tangents_have_its_structure(rng):
    params = {"layer": Params(rng.standard_normal((3, 4)), rng.standard_normal(3)), "scale": 0.7}
    x = rng.standard_normal(4)
    t_params = {"layer": Params(rng.standard_normal((3, 4)), rng.standard_normal(3)), "scale": 0.2}
    value, tangent = ad.jvp(p_tree, jit=False)(params, x, t_params)
    h = 1e-6

    def moved(s):
        return {"layer": Params(params["layer"].W + s * t_params["layer"].W, params["layer"].b + s * t_params["layer"].b),
                "scale": params["scale"] + s * t_params["scale"]}
    expected = (p_tree(moved(h), x) - p_tree(moved(-h), x)) / (2 * h)
    assert value == pytest.approx(p_tree(params, x), rel=1e-12)
    assert tangent == pytest.approx(expected, rel=1e-6)
    with pytest.raises(TypeError, match="structure"):
        ad.jvp(p_tree, jit=False)(params, x, {"layer": t_params["layer"]})


def test_tuple_output_gets_a_tuple_tangent():
    value, tangent = ad.jvp(p_tuple_output, jit=False)(X5, np.ones(5))
    np.testing.assert_allclose(tangent[0], np.cos(X5), rtol=1e-14)
    assert tangent[1] == pytest.approx(2 * np.sum(X5), rel=1e-14)
    np.testing.assert_allclose(value[0], np.sin(X5))


# ---------------------------------------------------------------- against JAX

def j_mlp(w, x):
    h = np.tanh(w @ x)
    return np.sum(np.log1p(np.exp(h)) * h)


def jax_mlp(w, x):
    h = jnp.tanh(w @ x)
    return jnp.sum(jnp.log1p(jnp.exp(h)) * h)


def j_rnn(w, xs):
    h = np.zeros(w.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(w @ h + xs[t])
    return np.sum(h ** 2)


def jax_rnn(w, xs):
    h = jnp.zeros(w.shape[0])
    for t in range(xs.shape[0]):
        h = jnp.tanh(w @ h + xs[t])
    return jnp.sum(h ** 2)


def j_norms(x):
    return np.linalg.norm(x, axis=1) * np.max(x, axis=0)[0] + np.mean(x ** 3, axis=0)[1]


def jax_norms(x):
    return jnp.linalg.norm(x, axis=1) * jnp.max(x, axis=0)[0] + jnp.mean(x ** 3, axis=0)[1]


@pytest.mark.parametrize("ours, theirs, shapes", [
    (j_mlp, jax_mlp, ((3, 4), (4,))), (j_rnn, jax_rnn, ((3, 3), (5, 3))), (j_norms, jax_norms, ((4, 2),)),
])
def test_jvp_against_jax(ours, theirs, shapes, rng):
    args = tuple(rng.standard_normal(s) * 0.7 for s in shapes)
    tangents = tuple(rng.standard_normal(s) for s in shapes)
    wrt = tuple(range(len(args)))
    value, tangent = ad.jvp(ours, wrt=wrt, jit=False)(*args, tangents)
    jax_value, jax_tangent = jax.jvp(theirs, args, tangents)
    np.testing.assert_allclose(value, jax_value, rtol=1e-12)
    np.testing.assert_allclose(tangent, jax_tangent, rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------- Hessian-vector products

def h_loss(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s + np.sum(np.exp(0.1 * x) * np.sin(x))


def jax_h_loss(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2) + jnp.sum(jnp.exp(0.1 * x) * jnp.sin(x))


def h_arrays_loop(x):
    h = x
    for _ in range(3):
        h = np.sin(h) * x + 0.5 * h
    return np.sum(h * h)


def h_while(x):
    s = x
    n = 0
    while n < 3:
        s = np.sin(s) * x
        n += 1
    return np.sum(s)


@pytest.mark.parametrize("jit", [False, True])
def test_hvp_against_jax_and_finite_differences_of_the_gradient(jit, rng):
    x, v = rng.uniform(-1, 1, 6), rng.uniform(-1, 1, 6)
    gradient, product = ad.hvp(h_loss, jit=jit)(x, v)
    expected = jax.jvp(jax.grad(jax_h_loss), (x,), (v,))[1]
    np.testing.assert_allclose(product, expected, rtol=1e-11)
    np.testing.assert_allclose(gradient, jax.grad(jax_h_loss)(x), rtol=1e-12)
    g = ad.grad(h_loss, jit=False)
    h = 1e-5
    np.testing.assert_allclose(product, (g(x + h * v) - g(x - h * v)) / (2 * h), rtol=1e-6)


@pytest.mark.parametrize("f", [h_arrays_loop, h_while])
def test_hvp_through_loops_that_tape_lists(f, rng):
    """Forward over a spliced gradient whose loop keeps arrays (or a while loop's values) in lists:
    the tape's list ops carry tangents."""
    x, v = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4)
    _, product = ad.hvp(f, jit=False)(x, v)
    g = ad.grad(f, jit=False)
    h = 1e-5
    np.testing.assert_allclose(product, (g(x + h * v) - g(x - h * v)) / (2 * h), rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- compositions

def c_inner(x):
    return np.sum(np.sin(x) * x ** 2)


@ad.jit
def c_jvp_inside_jit(x, v):
    value, tangent = ad.jvp(c_inner)(x, v)
    return value + 2.0 * tangent


def c_jvp_inside_grad(x):
    return ad.jvp(c_inner)(x, np.ones_like(x))[1] ** 2


def test_jvp_inside_jit(rng):
    x, v = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    value, tangent = ad.jvp(c_inner, jit=False)(x, v)
    assert c_jvp_inside_jit(x, v) == pytest.approx(value + 2.0 * tangent, rel=1e-13)
    assert tangent == pytest.approx(np.sum((np.cos(x) * x ** 2 + 2 * x * np.sin(x)) * v), rel=1e-12)


def test_grad_of_a_function_that_calls_jvp(rng):
    x = rng.uniform(-1, 1, 5)
    np.testing.assert_allclose(ad.grad(c_jvp_inside_grad, jit=False)(x), fd_grad(c_jvp_inside_grad, (x,), 0),
                               rtol=1e-6)


def test_grad_of_jvp_differentiates_the_tangent(rng):
    """grad(jvp(f), wrt) is the gradient of <grad f(x), v>: H v in x, grad f(x) in v."""
    x, v = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    d_x, d_v = ad.grad(ad.jvp(c_inner), wrt=(0, "tangents"), jit=False)(x, v)
    np.testing.assert_allclose(d_x, jax.jvp(jax.grad(lambda y: jnp.sum(jnp.sin(y) * y ** 2)), (x,), (v,))[1],
                               rtol=1e-12)
    np.testing.assert_allclose(d_v, ad.grad(c_inner, jit=False)(x), rtol=1e-13)


def test_jvp_of_grad_is_hvp(rng):
    x, v = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    gradient, product = ad.jvp(ad.grad(c_inner), jit=False)(x, v)
    np.testing.assert_allclose(product, ad.hvp(c_inner, jit=False)(x, v)[1], rtol=1e-14)
    np.testing.assert_allclose(gradient, ad.grad(c_inner, jit=False)(x), rtol=1e-14)


def test_show_prints_the_forward_function():
    jvp_f = ad.jvp(c_inner, jit=False)
    jvp_f(X5, np.ones(5))
    text = ad.show(jvp_f, print_it=False)
    assert "dot_x" in text and "def c_inner(x, dot_x)" in text
    assert "def c_inner(x, dot_x)" in ad.show(ad.jvp(c_inner), X5, np.ones(5), print_it=False)


# ---------------------------------------------------------------- custom_jvp, refusals

@ad.custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defjvp
def softplus_jvp(t, x, out):
    return t * (1.0 - np.exp(-out))


@ad.custom_jvp
def scaled(x, y):
    return x * y


@scaled.defjvp
def scaled_jvp(t, x, y, out):
    tx, ty = t
    return tx * y + x * ty


@ad.custom_vjp
def softplus_vjp_only(x):
    return np.log1p(np.exp(x))


@softplus_vjp_only.defvjp
def softplus_vjp_rule(g, x, out):
    return g * (1.0 - np.exp(-out))


def u_custom(x, y):
    return np.sum(softplus(x) * scaled(x, y))


def u_custom_vjp(x):
    return np.sum(softplus_vjp_only(x))


def u_custom_jvp_only(x):
    return np.sum(softplus(x))


def test_custom_jvp_rule_is_used(rng):
    check_against_fd(u_custom, (X5, 1.7), (0, 1), rng=rng)


def test_custom_vjp_in_forward_mode_and_custom_jvp_in_reverse_are_refused():
    with pytest.raises(ad.CompileError, match=r"custom_vjp\[softplus_vjp_only\]` has no forward-mode rule"):
        ad.jvp(u_custom_vjp)(X5, np.ones(5))
    with pytest.raises(ad.CompileError, match="custom_jvp rule, which reverse mode"):
        ad.grad(u_custom_jvp_only)(X5)


def i_integer_output(x):
    return np.argmax(x)


def test_refusals():
    with pytest.raises(TypeError, match="not a float"):
        ad.jvp(c_inner)(np.arange(3), np.ones(3))
    with pytest.raises(ad.CompileError, match="has no tangent"):
        ad.jvp(i_integer_output)(X5, np.ones(5))
    with pytest.raises(ValueError, match="shape"):
        ad.jvp(c_inner)(X5, np.ones(4))
    with pytest.raises(TypeError, match="2 tangents"):
        ad.jvp(p_branch, wrt=(0, 1))(X5, 1.0, np.ones(5))


def test_the_users_arrays_are_not_changed():
    x, v = X5.copy(), np.ones(5)
    ad.jvp(p_updates, jit=False)(x, v)
    np.testing.assert_array_equal(x, X5)
    np.testing.assert_array_equal(v, np.ones(5))


def test_math_module_functions():
    value, tangent = ad.jvp(lambda_free_math, jit=False)(0.4, 1.0)
    assert tangent == pytest.approx(math.cos(0.4) * math.exp(0.4) + math.sin(0.4) * math.exp(0.4), rel=1e-14)


def lambda_free_math(x):
    return math.sin(x) * math.exp(x)


def t_two(x, y):
    return np.sum(np.sin(x) * y)


def test_hvp_with_several_wrt_takes_a_tuple_of_directions():
    y = np.array([1.0, -1.0, 0.5, 2.0, 0.3])
    _, (h_x, h_y) = ad.hvp(t_two, wrt=(0, 1), jit=False)(X5, y, (np.ones(5), np.zeros(5)))
    np.testing.assert_allclose(h_x, -np.sin(X5) * y, rtol=1e-14)
    np.testing.assert_allclose(h_y, np.cos(X5), rtol=1e-14)


def test_float32_tangents_stay_float32():
    x32, y32 = X5.astype(np.float32), np.ones(5, np.float32)
    value, tangent = ad.jvp(t_two, jit=False)(x32, y32, np.ones(5, np.float32))
    assert np.asarray(value).dtype == np.float32 and np.asarray(tangent).dtype == np.float32
    assert tangent == pytest.approx(float(np.sum(np.cos(X5))), rel=1e-6)


def test_grad_of_the_jvp_of_an_array_function_is_refused():
    """grad(jvp(f)) differentiates f's directional derivative, which must then be a scalar."""
    with pytest.raises(ad.CompileError, match="scalar output"):
        ad.grad(ad.jvp(p_updates))(X5, np.ones(5))


# ---------------------------------------------------------------- lazy tangents of broadcasts

def l_elementwise(x, y):
    """x's tangent spread over y's rows stays (1, 4) through sub, sin, mul and where."""
    z = np.sin(x[None, :] - y) * y
    return np.sum(np.where(y > 0.0, z, 2.0 * z) ** 2)


def l_shapes(x, y):
    """The spread tangent read by ops that need its full shape: a sum over the spread axis, a
    reshape, a slice, `@`, a transpose."""
    z = x[None, :] * 1.5 + y
    return np.sum(np.sum(z, axis=0) ** 2) + np.sum(np.reshape(z, (-1,)) * np.arange(12.0)) + \
        np.sum(z[1:] ** 3) + np.sum((z @ y.T) * y[:, :3]) + np.sum(z.T[0])


def l_updated(x, y):
    """A copy of a spread value, updated in place: its tangent is updated as a full array."""
    z = (x[None, :] - 0.5) * 2.0 + 0.0 * y
    w = z.copy()
    w[0] = y[0] * w[1]
    w[:, 2] += x[1]
    return np.sum(np.cos(w))


def l_control(x, y):
    """A spread value carried by a loop, yielded by an `if`, and read in the loop by a slice."""
    z = x[None, :] + 0.25 * y
    h = y
    for i in range(3):
        h = np.tanh(h * z) + z[i % 3]
    if np.sum(x) > 0.0:
        out = z * 2.0
    else:
        out = h
    return np.sum(out * h)


def l_spread_output(x, y):
    """The result is a spread value: its tangent has the result's shape."""
    return np.exp(x[None, :] * 0.5) - y


Y34 = np.array([[0.5, -0.3, 0.8, 0.1], [-0.6, 0.4, 0.2, 0.9], [0.3, 0.7, -0.2, -0.5]])
X4 = np.array([0.3, -0.7, 1.1, 0.5])


@pytest.mark.parametrize("f", [l_elementwise, l_shapes, l_updated, l_control, l_spread_output],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("jit", [False, True])
def test_tangents_of_broadcasts_against_finite_differences_and_the_pullback(f, jit, rng):
    """jvp along x against finite differences and, by <u, J v> = <J^T u, v>, against vjp; with
    jit=True the same under Numba (`check_vjp` checks the jvp as plain Python)."""
    check_vjp(f, (X4, Y34), 0, jit, rng)
    if jit:
        check_against_fd(f, (X4, Y34), 0, jit=True, rng=rng)


def kmeans_cost(points, centroids):
    distances = np.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return np.sum(np.min(distances, axis=1))


def jax_kmeans_cost(points, centroids):
    distances = jnp.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return jnp.sum(jnp.min(distances, axis=1))


def _points_by_clusters_ops(text: str) -> list:
    """The ops of rank 3 (points x clusters x dimensions) in `show`'s simplified IR (of a jvp, or
    of a gradient's forward and backward)."""
    simplified = re.split("# after simplification|# forward and backward IR", text)[1].split("# where each part")[0]
    return [line for line in simplified.splitlines() if re.match(r"\s+%\S+ = .*: f64\[n,n,n\]", line)]


def test_hvp_of_kmeans_does_no_points_by_clusters_work_the_gradient_does_not(rng):
    """The tangent of `points[:, None] - centroids[None]` is the centroids' tangent spread (never
    made as an array of copies), and the sum over points of its product with the distances'
    gradient takes it out of the sum: the Hessian-vector product makes exactly the gradient's
    (n, k, d) arrays. Its value against JAX and finite differences of the gradient."""
    points = rng.normal(size=(40, 3))
    centroids = points[:5] + 0.01
    v = rng.uniform(-1, 1, centroids.shape)
    gradient, product = ad.hvp(kmeans_cost, wrt=1, jit=False)(points, centroids, v)
    expected = jax.jvp(lambda c: jax.grad(jax_kmeans_cost, 1)(points, c), (centroids,), (v,))[1]
    np.testing.assert_allclose(product, expected, rtol=1e-12)
    np.testing.assert_allclose(gradient, jax.grad(jax_kmeans_cost, 1)(points, centroids), rtol=1e-12)
    g = ad.grad(kmeans_cost, wrt=1, jit=False)
    np.testing.assert_allclose(product, (g(points, centroids + 1e-6 * v) - g(points, centroids - 1e-6 * v)) / 2e-6,
                               rtol=1e-6)
    hvp_ops = _points_by_clusters_ops(ad.show(ad.hvp(kmeans_cost, wrt=1), points, centroids, v, print_it=False))
    grad_ops = _points_by_clusters_ops(ad.show(ad.grad(kmeans_cost, wrt=1), points, centroids, print_it=False))
    assert len(hvp_ops) == len(grad_ops) == 3, "\n".join(hvp_ops)  # p - c, its square, and d_distances * (p - c)
    assert not any("broadcast_like" in line for line in hvp_ops)


def l_loop_reads_outer(x, y):
    z = x[None, :] * 2.0 + y
    s = 0.0
    for i in range(3):
        s = s + np.sum(z[i] * np.sin(s + z[i]))
    return s


def test_a_loop_reading_a_spread_tangent_broadcasts_it_once_before_the_loop(rng):
    text = ad.show(ad.jvp(l_loop_reads_outer), X4, Y34, np.ones(4), print_it=False)
    simplified = text.split("# after simplification")[1].split("# where each part runs")[0]
    before_loop = simplified.split(" for ")[0]
    assert simplified.count("broadcast_like") == 1 and "broadcast_like" in before_loop, simplified
    check_against_fd(l_loop_reads_outer, (X4, Y34), 0, rng=rng)
