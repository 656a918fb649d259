"""Finite differences for the tests: independent of adcompiler (they call the plain Python function).

All differences are central, in float64, with one Richardson extrapolation step:
    D(h) = (f(x + h v) - f(x - h v)) / 2h,   D = (4 D(h/2) - D(h)) / 3,
whose truncation error is O(h^4), so a fairly large step (1e-3) keeps round-off near 1e-13.
Keep the inputs at least ~10 h away from kinks and domain edges.

    directional_derivative(f, args, directions)  J v (the output's shape), one or several args moved
    fd_grad(f, args, k)                           the full gradient of scalar f w.r.t. args[k]
    fd_jacobian(f, args, k)                       d f / d args[k], shaped out.shape + args[k].shape
    dot_product_check(lhs, rhs, scale)            assert <u, J v> (FD) == <J^T u, v> (AD)
    check_vjp(fn, args, wrt, jit, rng)            the rule tables' check: the vjp, and forward mode (check_tangent)
"""
from __future__ import annotations

import numpy as np

from adcompiler import CompileError, jvp, vjp

STEP = 1e-3
RTOL = 1e-7


def _moved(args, directions, t):
    """`args` with each `args[k]` replaced by `args[k] + t * directions[k]` (None: not moved), in
    float64: a Python float stays a Python float, a NumPy scalar a NumPy scalar, an array an array."""
    out = list(args)
    for k, d in enumerate(directions):
        if d is None:
            continue
        a = args[k]
        if isinstance(a, np.ndarray):
            out[k] = np.asarray(a, np.float64) + t * np.asarray(d, np.float64)
        elif isinstance(a, np.generic):
            out[k] = np.float64(float(a) + t * float(d))
        else:
            out[k] = float(a) + t * float(d)
    return out


def directional_derivative(f, args, directions, h=STEP):
    """d/dt f(*(args + t directions)) at t = 0, the Jacobian-vector product J v, as float64.
    `directions` has one entry per argument: an array/float of that argument's shape, or None."""
    def at(t):
        return np.asarray(f(*_moved(args, directions, t)), dtype=np.float64)

    def central(step):
        return (at(step) - at(-step)) / (2.0 * step)

    return (4.0 * central(h / 2) - central(h)) / 3.0


def fd_grad(f, args, k, h=STEP):
    """The gradient of scalar-valued f(*args) with respect to args[k], one coordinate at a time."""
    x = args[k]
    if np.ndim(x) == 0:
        directions = [None] * len(args)
        directions[k] = 1.0
        return float(directional_derivative(f, args, directions, h))
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[index] = 1.0
        directions = [None] * len(args)
        directions[k] = e
        out[index] = float(directional_derivative(f, args, directions, h))
    return out


def fd_jacobian(f, args, k, h=STEP):
    """The Jacobian of f(*args) with respect to the array args[k], one column (J e_j) at a time,
    shaped `out.shape + args[k].shape` (JAX's convention)."""
    x = np.asarray(args[k], dtype=np.float64)
    columns = []
    for index in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[index] = 1.0
        directions = [None] * len(args)
        directions[k] = e
        columns.append(directional_derivative(f, args, directions, h))
    out_shape = columns[0].shape
    return np.moveaxis(np.array(columns), 0, -1).reshape(out_shape + x.shape)


def inner(a, b) -> float:
    """<a, b> in float64 (scalars and arrays of one shape)."""
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


def dot_product_check(lhs: float, rhs: float, scale: float = 0.0, rtol: float = RTOL, what: str = ""):
    """Assert that <u, J v> from finite differences (`lhs`) equals <J^T u, v> from AD (`rhs`) to
    `rtol` relative. `scale` (the sum of |terms| of lhs) sets a floor for the tolerance, so a
    product that cancels to near zero is not held to more digits than its terms carry."""
    tol = rtol * max(abs(lhs), abs(rhs)) + 1e-3 * rtol * scale + 1e-14
    assert abs(lhs - rhs) <= tol, (
        f"{what}: <u, J v> by finite differences = {lhs!r}, <J^T u, v> by adcompiler = {rhs!r}, "
        f"difference {abs(lhs - rhs):.3e} > tolerance {tol:.3e}")


# ---------------------------------------------------------------- checks shared by the rule tables

FORWARD_RTOL = 1e-12


def random_like(rng, value):
    shape = np.shape(value)
    return float(rng.standard_normal()) if shape == () else rng.standard_normal(shape)


def random_direction(rng, arg_value):
    shape = np.shape(arg_value)
    return float(rng.uniform(-1, 1)) if shape == () else rng.uniform(-1, 1, shape)


def assert_gradient_like(g, argument, what):
    """A gradient is the same kind of object as its argument: a Python float for a Python float,
    the same NumPy scalar type, or an array of the argument's shape and dtype."""
    if isinstance(argument, np.ndarray):
        assert isinstance(g, np.ndarray), f"{what}: gradient is a {type(g).__name__}, not an array"
        assert g.shape == argument.shape, f"{what}: gradient shape {g.shape} != argument shape {argument.shape}"
        assert g.dtype == argument.dtype, f"{what}: gradient dtype {g.dtype} != argument dtype {argument.dtype}"
    elif isinstance(argument, np.generic):
        assert type(g) is type(argument), \
            f"{what}: gradient {g!r} of a {type(argument).__name__} is a {type(g).__name__}"
    else:
        assert type(g) is float, f"{what}: gradient of a Python float is a {type(g).__name__}"


def assert_forward(out, expected, rtol=FORWARD_RTOL):
    """The forward value: NumPy's shape, dtype and value."""
    assert np.shape(out) == np.shape(expected), f"output shape {np.shape(out)} != NumPy's {np.shape(expected)}"
    assert np.asarray(out).dtype == np.asarray(expected).dtype, \
        f"output dtype {np.asarray(out).dtype} != NumPy's {np.asarray(expected).dtype}"
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=1e-14)


def compiled(jit):
    """The `jit` argument for a rule test: True compiles the function whole with Numba
    (`jit="whole"`). The default placement runs loop-free code as NumPy, so a test of a primitive's
    Numba code must ask for Numba."""
    return "whole" if jit is True else jit


def check_vjp(fn, args, wrt, jit, rng):
    """The dot-product test of `fn` at `args` for each argument in `wrt` (an int or a tuple), plus
    the forward value and each gradient's shape and dtype. Returns the gradients (a tuple)."""
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    out, pullback = vjp(fn, wrt=wrt, jit=compiled(jit))(*args)
    expected = fn(*args)
    assert_forward(out, expected)
    u = random_like(rng, expected)
    grads = pullback(u)
    if not isinstance(wrt, tuple):
        grads = (grads,)
    assert isinstance(grads, tuple) and len(grads) == len(positions)
    for k, g in zip(positions, grads):
        what = f"{fn.__name__} w.r.t. argument {k}"
        assert_gradient_like(g, args[k], what)
        assert np.all(np.isfinite(g)), f"{what}: gradient {g!r} is not finite"
        v = random_direction(rng, args[k])
        directions = [None] * len(args)
        directions[k] = v
        jv = directional_derivative(fn, args, directions)
        lhs, rhs = inner(u, jv), inner(g, v)
        scale = float(np.sum(np.abs(np.multiply(u, jv))))
        dot_product_check(lhs, rhs, scale=scale, what=what)
        check_tangent(fn, args, k, v, jv, (u, g), scale, what)
    return grads


# Forward-mode refusals that a table row may meet: a custom_vjp function (its rule gives only reverse
# mode). Any other refusal fails the test.
FORWARD_REFUSED = ("`custom_vjp[",)


def check_tangent(fn, args, k, v, jv, pair, scale, what):
    """Forward mode of `fn` along `v` (argument `k`): its value is fn's, its tangent J v is the
    finite differences' `jv` (to 1e-6 relative) and, with `pair` = (u, J^T u) from the pullback,
    <u, J v> from the tangent equals <J^T u, v> (the dot-product identity, to 1e-10 relative).
    Plain Python (jit=False): the rule is what is checked, not Numba."""
    try:
        value, tangent = jvp(fn, wrt=k, jit=False)(*args, v)
    except CompileError as error:
        if "no forward-mode rule" in str(error) and any(name in str(error) for name in FORWARD_REFUSED):
            return
        raise
    assert_forward(value, fn(*args))
    assert np.shape(tangent) == np.shape(jv), f"{what}: tangent shape {np.shape(tangent)} != {np.shape(jv)}"
    assert np.asarray(tangent).dtype == np.asarray(value).dtype, f"{what}: tangent dtype != value dtype"
    np.testing.assert_allclose(tangent, jv, rtol=1e-6, atol=1e-8 * (1.0 + float(np.max(np.abs(jv), initial=0.0))),
                               err_msg=f"{what}: jvp against finite differences")
    u, g = pair
    dot_product_check(inner(u, tangent), inner(g, v), scale=scale, rtol=1e-10, what=f"{what} (jvp against vjp)")


# ---------------------------------------------------------------- domains of the rule tables

def uniform(lo, hi):
    """Uniform in (lo, hi)."""
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def away_from_zero(lo, hi):
    """Magnitude uniform in (lo, hi), random sign: keeps abs, sign, 1/x away from 0."""
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def fd_tree_grad(f, args, k, h=STEP):
    """The gradient of scalar-valued f(*args) with respect to the parameter tree args[k] (a dict,
    list, tuple or namedtuple of arrays and numbers, nested): a tree of its structure, each leaf's
    gradient by `fd_grad` of f as a function of that leaf alone."""
    from adcompiler.trees import flatten, tree_leaves, unflatten
    structure = flatten(args[k], lambda leaf, path: None)
    leaves = tree_leaves(args[k])

    def of_leaf(i):
        def f_of_leaf(x):
            moved = leaves[:i] + [x] + leaves[i + 1:]
            return f(*args[:k], unflatten(structure, iter(moved)), *args[k + 1:])
        return f_of_leaf
    return unflatten(structure, iter([fd_grad(of_leaf(i), (leaf,), 0, h) for i, leaf in enumerate(leaves)]))
