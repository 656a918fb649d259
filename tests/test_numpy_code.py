"""The NumPy side of the generated gradients wastes nothing hand code does not (issue #15): a seed
is not spread into an array where an elementwise op would stretch it the same, softmax-CE's
gradient has no tie split of the maximum, and where spreading changes the shape it stays. Every
gradient here is checked against finite differences too."""
import numpy as np
import pytest

import adcompiler
from adcompiler import nn

try:
    from tests.fd import fd_grad
except ImportError:  # pytest put tests/ itself on sys.path
    from fd import fd_grad

RNG = np.random.default_rng(15)


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    return nn.softmax_cross_entropy(h @ W2 + b2, Y)


def weighted_sin(x, y):
    return np.sum(np.sin(x) * y)


def mean_square(x):
    return np.mean(x * x)


MLP_ARGS = (RNG.normal(size=(6, 5)), RNG.normal(size=5), RNG.normal(size=(5, 4)), RNG.normal(size=4),
            RNG.normal(size=(7, 6)), np.eye(4)[RNG.integers(0, 4, 7)])


@pytest.fixture(scope="module")
def mlp_gradient():
    return adcompiler.value_and_grad(mlp_loss, wrt=(0, 1, 2, 3), jit=False)


def _source(transformed, *args):
    transformed(*args)
    ((built, _),) = transformed.specialisations.values()
    return built.source


def test_mlp_gradient_spreads_no_seed_and_splits_no_ties(mlp_gradient):
    source = _source(mlp_gradient, *MLP_ARGS)
    backward = source[source.index("def mlp_loss_backward"):]
    assert "broadcast_like" not in backward
    assert "==" not in backward  # the maximum is a constant shift: no mask of the ties


def test_mlp_gradient_matches_finite_differences(mlp_gradient):
    value, grads = mlp_gradient(*MLP_ARGS)
    assert value == pytest.approx(mlp_loss(*MLP_ARGS), rel=1e-14)
    for k, grad in enumerate(grads):
        np.testing.assert_allclose(grad, fd_grad(mlp_loss, MLP_ARGS, k), rtol=1e-7, atol=1e-10)


def test_softmax_cross_entropy_gradient_at_tied_logits_is_exact():
    """Tied maxima: the gradient is softmax - y over the batch, whatever the ties."""
    z = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 2.0]])
    y = np.eye(3)[[0, 2]]
    grad = adcompiler.grad(nn.softmax_cross_entropy, jit=False)(z, y)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(grad, (e / e.sum(axis=1, keepdims=True) - y) / 2, rtol=1e-14, atol=1e-16)


def test_a_mean_seed_times_an_array_is_a_scalar_multiply():
    g = adcompiler.grad(mean_square, jit=False)
    x = RNG.normal(size=(3, 4))
    source = _source(g, x)
    assert "broadcast_like" not in source[source.index("def mean_square_backward"):]
    np.testing.assert_allclose(g(x), 2 * x / x.size, rtol=1e-14)


@pytest.mark.parametrize("x_shape, y_shape", [((5, 1), (1, 3)), ((5, 3), (3,)), ((3,), (5, 3)), ((1, 3), (5, 1))])
def test_a_spread_that_sets_the_shape_stays(x_shape, y_shape):
    """sum(sin(x) * y) where neither operand has the product's shape: the seed must be spread to
    it before multiplying by y, or x's gradient is summed over the wrong axes."""
    x, y = RNG.normal(size=x_shape), RNG.normal(size=y_shape)
    gx, gy = adcompiler.grad(weighted_sin, wrt=(0, 1), jit=False)(x, y)
    np.testing.assert_allclose(gx, fd_grad(weighted_sin, (x, y), 0), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(gy, fd_grad(weighted_sin, (x, y), 1), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("shape", [(128, 10), (7, 128), (3, 129), (300, 2), (1, 1), (0, 4), (4, 0),
                                   (40, 5, 8), (2, 3, 129), (3, 1, 2, 5), (0, 3, 4), (3, 0, 2), (2, 3, 0)])
@pytest.mark.parametrize("layout", ["C", "F", "T"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
def test_runtime_sums_along_an_axis_as_numpy_does(shape, layout, dtype):
    """rt.sum_axis(_keepdims): NumPy's shape and dtype, its values to rounding (BLAS adds in
    another order: along axis 0 of a matrix, and along a last axis of at most 128 of a matrix or
    of a C-contiguous array of more axes), and NumPy's own result where the BLAS product is not
    taken."""
    from adcompiler.backend import runtime as rt
    x = (RNG.normal(size=shape) * 10).astype(dtype)
    x = {"C": x, "F": np.asfortranarray(x), "T": x.T}[layout]
    last = x.ndim - 1
    for axis in range(x.ndim):
        blas = (axis == 0 and x.ndim == 2) or (axis == last and x.shape[last] <= 128 and
                                               (x.ndim == 2 or x.flags.c_contiguous))
        for helper, keepdims in ((rt.sum_axis, False), (rt.sum_axis_keepdims, True)):
            got, expected = helper(x, axis), np.sum(x, axis=axis, keepdims=keepdims)
            assert got.shape == expected.shape and got.dtype == expected.dtype
            if dtype.startswith("float") and blas:
                np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == "float32" else 1e-13,
                                           atol=1e-4 if dtype == "float32" else 1e-12)
            else:
                np.testing.assert_array_equal(got, expected)


def mixed_precision(x32, y64):
    return np.sum(x32 * y64)


def test_a_float64_seed_is_spread_where_a_weak_one_would_change_the_dtype():
    """Generated code holds a float64 seed as the Python number 1.0, which NumPy makes float32 with
    a float32 array: the spread float64 array stays, and y's gradient is float64."""
    x, y = RNG.normal(size=(3, 4)).astype(np.float32), RNG.normal(size=4)
    gx, gy = adcompiler.grad(mixed_precision, wrt=(0, 1), jit=False)(x, y)
    assert gx.dtype == np.float32 and gy.dtype == np.float64
    np.testing.assert_allclose(gy, x.astype(np.float64).sum(axis=0), rtol=1e-12)


# ---------------------------------------------------------------- `out=`: dead temporaries reused

def relu_mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.maximum(X @ W1 + b1, 0.0)
    return nn.softmax_cross_entropy(h @ W2 + b2, Y)


def read_then_overwritten(x, y):
    """The backward's `d_y2 * x[0]` (the gradient of x[0]) reads the adjoint of `y2`, and is nested
    in a later sum, while `d_y2 * t` (the gradient of the sine) may write into that adjoint: the
    write must wait for the read (tests/programs_control.py's if_data_dependent found it)."""
    if x[0] > 0.0:
        y2 = np.sin(x) * x[0]
    else:
        y2 = np.cos(x) * y + x
    return np.sum(y2 * y2)


def grown_by_broadcasting(x, B):
    """`t` (1, n) is dead after `t + B` (m, n), whose result is larger: it cannot hold it."""
    t = np.expand_dims(np.sin(x), 0)
    return np.sum(np.cos(t + B))


def writes_no_argument(x, B):
    y = x + 1.0
    z = B - 1.0
    return np.sum(y * y) + np.sum(z * x)


OUT_CASES = [  # (function, arguments, wrt, `out=` at least in the forward, in the backward)
    (relu_mlp_loss, MLP_ARGS, (0, 1, 2, 3), 3, 2),
    (read_then_overwritten, (np.array([0.7, 0.2, -0.4, 1.1, 0.3]), RNG.normal(size=5)), (0, 1), 0, 3),
    (read_then_overwritten, (np.array([-0.7, 0.2, -0.4, 1.1, 0.3]), RNG.normal(size=5)), (0, 1), 0, 3),
    (grown_by_broadcasting, (RNG.normal(size=4), RNG.normal(size=(3, 4))), (0, 1), 0, 0),
    (writes_no_argument, (RNG.normal(size=4), RNG.normal(size=4)), (0, 1), 0, 0),
]


def _function_source(source: str, name: str) -> str:
    start = source.index(f"def {name}(")
    end = source.find("\ndef ", start + 1)
    return source[start:end if end >= 0 else None]


@pytest.mark.parametrize("function, args, wrt, in_forward, in_backward", OUT_CASES,
                         ids=lambda c: getattr(c, "__name__", None))
def test_dead_temporaries_are_written_with_out_and_gradients_hold(function, args, wrt, in_forward, in_backward):
    """Where `out=` may go it goes (counted in the forward and backward that `vjp` runs), and the
    value and the vector-Jacobian product agree with NumPy and finite differences, no argument
    changed (an argument's array is never an `out=`)."""
    transformed = adcompiler.vjp(function, wrt=wrt, jit=False)
    kept = [a.copy() for a in args]
    value, pullback = transformed(*args)
    grads = pullback(1.0)
    for before, after in zip(kept, args):
        np.testing.assert_array_equal(before, after)
    source = _source(transformed, *args)
    assert _function_source(source, f"{function.__name__}_forward").count("out=") >= in_forward
    assert _function_source(source, f"{function.__name__}_backward").count("out=") >= in_backward
    assert value == pytest.approx(function(*args), rel=1e-13)
    for k, grad in zip(wrt, grads):
        np.testing.assert_allclose(grad, fd_grad(function, args, k), rtol=1e-7, atol=1e-10)


def test_relu_backward_keeps_the_activation_not_the_value_before_it():
    """ReLU's rule reads its result (`h > 0`), so the backward keeps no pre-activation: `X @ W1 + b1`
    is written into the matmul's array and then ReLU into the same (the gradient above checks it)."""
    source = _source(adcompiler.vjp(relu_mlp_loss, wrt=(0, 1, 2, 3), jit=False), *MLP_ARGS)
    forward = _function_source(source, "relu_mlp_loss_forward")
    assert "h = np.maximum(t_1, 0.0, out=t_1)" in forward and "h > 0.0" in source
