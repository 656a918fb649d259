"""Vector math (backend/vmath.py): accuracy against np.longdouble on 10**5 points per function
(bench/vmath_accuracy.py runs 10**7) and against mpmath at the special values, float64 and float32,
through what kernels call (the compiled runtime's `vector_<name>`); the loops that call them are
vectorised; generated kernels call them, and their gradients agree with JAX."""
import math
import re
import sys
from pathlib import Path

import mpmath
import numba
import numpy as np
import pytest
import scipy.special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/
from bench import vmath_accuracy as A  # noqa: E402

import adcompiler  # noqa: E402
from adcompiler.backend import emit, vmath  # noqa: E402
from adcompiler.backend.compile import compiled_runtime  # noqa: E402

KRT = compiled_runtime()
INF, NAN = math.inf, math.nan
SPECIAL = [0.0, -0.0, INF, -INF, NAN, 5e-324, -5e-324, 1e-310, -1e-310, 2.2250738585072014e-308, 2.0 ** -54,
           -(2.0 ** -54), 2.0 ** -30, 1e-8, -1e-8, 0.25, 0.3465, 0.5, -0.5, 0.7071067811865476, 1.0, -1.0,
           1.0 - 2.0 ** -53, 1.0 + 2.0 ** -52, -1.0 + 2.0 ** -53, 2.0, math.e, math.pi / 4, math.pi / 2, math.pi,
           -math.pi, 10.0, 22.0, 56.0, 57.0, 700.0, 709.782712893384, 709.7827128933841, 709.79, 710.0,
           -700.0, -708.4, -708.3964185322641, -709.0, -745.1332191019411, -745.1332191019412, -745.14, -800.0,
           1e6, -1e6, 1647098.9, 1647099.0, 1647100.0, 1e7, 2.0 ** 52, 1e22, -1e22, 1e300, 1.7976931348623157e308,
           -1.7976931348623157e308]


_MPMATH = {"expit": lambda x: 1 / (1 + mpmath.exp(-x)), "power": mpmath.power}


def _exact(name: str, *operands: float):
    """`name`(*operands) at 200 bits (mpmath), or NumPy's where the result is not a finite non-zero
    number (the IEEE conventions: exp(-inf) = 0, log(-1) = nan, sin(inf) = nan, 0 ** -1 = inf);
    expit's from mpmath wherever x is finite (SciPy's underflows to 0 below -709)."""
    with np.errstate(all="ignore"):  # arrays: np.power of a number exponent 0.5 is sqrt, not C99's pow (-0 ** 0.5)
        convention = float(A.numpy_function(name)(*(np.full(2, x) for x in operands))[0])
    zero = convention == 0.0 or (name != "power" and operands[0] == 0.0)
    if not math.isfinite(convention) or (zero and name != "expit") or not all(map(math.isfinite, operands)):
        return convention
    with mpmath.workprec(200):
        function = _MPMATH[name] if name in _MPMATH else getattr(mpmath, name)
        return function(*map(mpmath.mpf, operands))


def _assert_within_one_ulp(name, x, got, exact):
    if isinstance(exact, float) and (not math.isfinite(exact) or exact == 0.0):
        assert (math.isnan(got) and math.isnan(exact)) or (got == exact and math.copysign(1, got) ==
                                                            math.copysign(1, exact)), (name, x, got, exact)
        return
    nearest = float(exact)
    ulp = math.ulp(nearest) if math.isfinite(nearest) else math.ulp(1.7976931348623157e308)
    assert abs(mpmath.mpf(got) - exact) <= ulp, (name, x, got, float(exact))


@pytest.mark.parametrize("name", A.FUNCTIONS)
def test_accuracy_across_the_range(name):
    ours, numpy, where = A.worst(name, getattr(KRT, f"vector_{name}"), 10**5, chunk=10**5)
    assert ours <= 1.0, f"{name}: {ours:.3f} ulps at x = {where!r} (NumPy: {numpy:.3f})"


UNARY = tuple(name for name in A.FUNCTIONS if name != "power")


@pytest.mark.parametrize("name", UNARY)
def test_special_values(name):
    """On numbers (a kernel's scalar loop) and on an array (whole-array kernels: for sin and cos
    the array holds values beyond vmath.REDUCED, so the twin takes libm's loop)."""
    function = getattr(KRT, f"vector_{name}")
    on_array = function(np.array(SPECIAL))
    for x, from_array in zip(SPECIAL, on_array):
        exact = _exact(name, x)
        _assert_within_one_ulp(name, x, float(function(x)), exact)
        _assert_within_one_ulp(name, x, float(from_array), exact)


POWER_BASES = [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, -3.0, 10.0, 5e-324, -5e-324, 1e-310,
               2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1.0 - 2.0 ** -53,
               1.0 + 2.0 ** -52, math.e, 1e-300, 1e300]
POWER_EXPONENTS = [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5, -0.5, 2.5, 1e-300, 0.1, 1e300,
                   -1e300, 2.0 ** 52 + 1, 2.0 ** 53, 2.0 ** 53 + 2, 1075.0, -1075.0, 1024.0, -1074.0, 709.78]


def test_power_special_values():
    """C99's pow at every pair of special bases and exponents (signed zeros, infinities, NaN,
    subnormals, odd and even integers, overflow and underflow), on numbers and on arrays; x ** 2
    exactly x * x."""
    pairs = [(x, y) for x in POWER_BASES for y in POWER_EXPONENTS]
    xs, ys = np.array(pairs).T
    on_arrays = KRT.vector_power(xs, ys)
    for (x, y), from_array in zip(pairs, on_arrays):
        exact = _exact("power", x, y)
        _assert_within_one_ulp(("power", y), x, float(KRT.vector_power(x, y)), exact)
        _assert_within_one_ulp(("power", y), x, float(from_array), exact)
    square = np.random.default_rng(3).uniform(-1e5, 1e5, 1000)
    np.testing.assert_array_equal(KRT.vector_power(square, 2.0), square * square)


def test_power_broadcasts():
    """An array with a number, either way round, and arrays of different shapes: NumPy's results."""
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0.1, 3.0, (3, 4)), rng.uniform(-2.0, 2.0, 4)
    for a, b in ((x, 1.5), (1.5, y), (x, y), (x.T, y[:3]), (np.abs(y), y)):
        np.testing.assert_allclose(KRT.vector_power(a, b), np.power(a, b), rtol=3e-16, atol=0.0)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_cos_arrays_in_range_take_the_vector_loop(name):
    """An array within vmath.REDUCED: the branch-free loop, which agrees with the scalar function
    (itself checked above), at the edges of the range too."""
    x = np.array([-1647098.9, -1e6, -3.0, -0.0, 0.0, 1e-300, 2.0, 1e6, 1647098.9])
    exact = [_exact(name, v) for v in x]
    for v, got, e in zip(x, getattr(KRT, f"vector_{name}")(x), exact):
        _assert_within_one_ulp(name, float(v), float(got), e)


@pytest.mark.parametrize("name", A.FUNCTIONS)
def test_float32(name):
    """float32 in, float32 out, within 1 ulp of float32 (computed in float64, rounded once)."""
    with np.errstate(over="ignore"):
        operands = [x.astype(np.float32) for x in A.samples(name, 10**5, np.random.default_rng(1))]
    got = getattr(KRT, f"vector_{name}")(*operands)
    assert got.dtype == np.float32
    errors = A.ulp_errors(got, A.reference(name, *operands))
    assert errors.max() <= 1.0, (name, errors.max(), [x[np.argmax(errors)] for x in operands])


_VECTOR_OPERATION = re.compile(r"\bv\w+pd\s[^\n]*%[yz]mm")  # a packed-double AVX instruction


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "sin_reduced", "cos_reduced", "tanh", "expit"])
def test_a_loop_calling_them_is_vectorised(name):
    function = vmath.scalar(name)

    @numba.njit
    def loop(x, out):
        for i in range(x.size):
            out[i] = function(x[i])

    x = np.linspace(0.1, 2.0, 64)
    loop(x, np.empty_like(x))
    assert _VECTOR_OPERATION.search(loop.inspect_asm(loop.signatures[0])), name


def test_a_loop_calling_power_is_vectorised():
    power = vmath.power

    @numba.njit
    def loop(x, y, out):
        for i in range(x.size):
            out[i] = power(x[i], y[i])

    x = np.linspace(0.1, 2.0, 64)
    loop(x, x, np.empty_like(x))
    assert _VECTOR_OPERATION.search(loop.inspect_asm(loop.signatures[0]))


def test_what_kernels_call_is_vectorised():
    """The compiled runtime's helpers, as kernels call them: on arrays in an expression, and on
    numbers in a loop (inlined there); libm's np.exp and np.log1p in the same code are not (the
    control)."""
    vector_exp, vector_log1p = KRT.vector_exp, KRT.vector_log1p  # noqa: F841 (read by Numba)

    @numba.njit
    def on_arrays(x):
        return 2.0 * vector_exp(-x) + vector_log1p(x) * x

    @numba.njit
    def on_numbers(x, out):
        for i in range(x.size):
            out[i] = 2.0 * vector_exp(-x[i]) + vector_log1p(x[i]) * x[i]

    @numba.njit
    def with_libm(x, out):
        for i in range(x.size):
            out[i] = 2.0 * np.exp(-x[i]) + np.log1p(x[i]) * x[i]

    x = np.linspace(0.1, 2.0, 64)
    out, expected = np.empty_like(x), np.empty_like(x)
    on_numbers(x, out)
    with_libm(x, expected)
    np.testing.assert_allclose(on_arrays(x), expected, rtol=1e-15)
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    for function in (on_arrays, on_numbers):
        assert _VECTOR_OPERATION.search(function.inspect_asm(function.signatures[0])), function
    assert not re.search(r"\bv(mul|add)pd\s[^\n]*%[yz]mm", with_libm.inspect_asm(with_libm.signatures[0]))


def _loss(x):
    return np.sum(np.log1p(np.exp(np.sin(x))) * np.cos(x) + np.expm1(0.5 * x) - np.log(x))


def _loop_loss(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = total + np.exp(-x[i]) * np.sin(x[i]) + np.log(x[i])
    return total


@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _smooth_loss(x):
    return np.sum(np.tanh(x) * scipy.special.expit(2.0 * x - 1.0) + x ** (0.5 * x))


def _smooth_loop_loss(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = total + np.tanh(x[i]) * scipy.special.expit(x[i]) + x[i] ** 1.5
    return total


def _jax_smooth_loss(jnp, v):
    return jnp.sum(jnp.tanh(v) * _jax_expit(2.0 * v - 1.0) + v ** (0.5 * v))


def _jax_smooth_loop_loss(jnp, v):
    return jnp.sum(jnp.tanh(v) * _jax_expit(v) + v ** 1.5)


def _jax_expit(v):
    import jax.nn
    return jax.nn.sigmoid(v)


def _jax_loss(jnp, v):
    return jnp.sum(jnp.log1p(jnp.exp(jnp.sin(v))) * jnp.cos(v) + jnp.expm1(0.5 * v) - jnp.log(v))


def _jax_loop_loss(jnp, v):
    return jnp.sum(jnp.exp(-v) * jnp.sin(v) + jnp.log(v))


@pytest.mark.parametrize("loss, jax_loss, jit, called, scalar", [
    (_loss, _jax_loss, "whole", ("exp", "sin"), ()),
    (_loop_loss, _jax_loop_loss, True, ("cos",), ("np.exp(", "np.sin(", "np.log(")),
    (_smooth_loss, _jax_smooth_loss, "whole", ("tanh", "expit", "power"), ()),
    (_smooth_loop_loss, _jax_smooth_loop_loss, True, ("power",), ("np.tanh(", "krt.expit(", "** 1.5"))])
def test_kernels_call_them_and_their_gradients_agree_with_jax(loss, jax_loss, jit, called, scalar, jax):
    """A whole-array kernel, and a loop (a kernel of numbers); JAX's gradient in float64. The
    loop's forward carries a sum, which LLVM does not vectorise: it calls libm (`scalar`, NumPy's
    spelling), faster one number at a time; its backward's loop carries no number that changes, so
    it calls vector math (`called`)."""
    x = np.random.default_rng(2).uniform(0.2, 3.0, 257)
    grad = adcompiler.grad(loss, jit=jit)
    g = grad(x)
    source = next(iter(grad.specialisations.values()))[0].source
    assert all(f"krt.vector_{name}(" in source for name in called), source
    forward_kernel = source.split("_forward_loop_")[1].split("\n\n")[0] if scalar else ""
    assert all(text in forward_kernel for text in scalar) and "vector_" not in forward_kernel, source
    reference = jax.grad(lambda v: jax_loss(jax.numpy, v))(x)
    np.testing.assert_allclose(g, np.asarray(reference), rtol=1e-13, atol=1e-15)


def test_the_setting_turns_them_off(monkeypatch):
    monkeypatch.setenv(emit.VECTOR_MATH_ENVIRONMENT_VARIABLE, "0")
    grad = adcompiler.grad(_loss, jit="whole")
    x = np.linspace(0.5, 2.0, 9)
    g = grad(x)
    source = next(iter(grad.specialisations.values()))[0].source
    assert "vector_" not in source and "np.exp(" in source
    monkeypatch.delenv(emit.VECTOR_MATH_ENVIRONMENT_VARIABLE)
    np.testing.assert_allclose(g, adcompiler.grad(_loss, jit="whole")(x), rtol=1e-14)


def test_numpy_regions_keep_numpy():
    """jit=False (and the NumPy regions of jit=True) spell them np.exp, ... as the user did: only
    kernels (here the value_and_grad's chain, which plain Python runs as array statements) call
    vector math."""
    source = next(iter(_specialisation(adcompiler.grad(_loss, jit=False), np.linspace(0.5, 2.0, 5)).values()))
    functions = re.split(r"\n(?=@jit\n|def )", source)
    numpy = [text for text in functions if text.startswith("def ") and "_loop_" not in text.split("(")[0]]
    assert len(numpy) == 3 and "np.exp(" in numpy[0]
    assert all("vector_" not in text for text in numpy)


def _specialisation(grad, x):
    grad(x)
    return {types: built.source for types, (built, _) in grad.specialisations.items()}
