"""Every derivative rule reachable from user code, checked against finite differences.

The check is the dot-product test. For a user function f, a random cotangent u of f's output
shape and a random direction v of one argument's shape:

    <u, J v>    from central finite differences of the plain Python f (tests/fd.py), and
    <J^T u, v>  from adcompiler's pullback, `vjp(f, wrt)(*args)[1](u)`,

must agree to 1e-7 relative in float64. A random, non-uniform u makes transposition and
broadcasting mistakes visible (a seed of ones would hide them). Each gradient must also have its
argument's own shape and dtype (a Python float gets a Python float), and the forward value must
be f's value.

The tables below have one row per rule: the user function (defined at module level, because
adcompiler reads its source), a sampler that keeps the inputs inside the function's domain and
away from its kinks, the shapes to run, and the shape(s) to also run compiled by Numba. The whole
table runs with `jit=False` (the generated code as plain Python, cheap); `jit=True` runs one
representative shape per rule plus the broadcast pairs of add, mul, div, power and maximum, since
each compiled specialisation costs about a second.

Random numbers come from a generator seeded with a fixed seed and the test's name, so every test
sees the same numbers whatever subset or order runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pytest

from adcompiler import grad, value_and_grad, vjp
from fd import compiled, assert_gradient_like, away_from_zero, uniform, check_vjp, directional_derivative, fd_grad, random_direction, random_like

SEED = 20240607

# Shapes: () is a Python float.
SCALAR, VECTOR, MATRIX = (), (5,), (3, 4)
UNARY_SHAPES = (SCALAR, VECTOR, MATRIX)
# Operand shape pairs of the binary elementwise table: same shapes, then every kind of
# broadcasting (rank padding, stretched size-1 axes, both at once, scalars on either side).
PAIRS = (
    ((), ()),
    ((5,), (5,)),
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((1, 4), (3, 1)),
    ((4,), ()),
    ((), (4,)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((3, 4), (3, 1)),
    ((1, 4), (3, 4)),
    ((4, 1), (3,)),
)
# The broadcast pairs also run compiled for add, mul, div, power and maximum.
JIT_PAIRS = (((3, 4), (4,)), ((3, 1), (1, 4)), ((4,), ()), ((), (3, 4)), ((4, 1), (1, 3)))


# ---------------------------------------------------------------- samplers



def as_argument(value, shape, scalar=float):
    """A sampled float64 array as an argument: `scalar` (Python float) for shape ()."""
    return scalar(value) if shape == () else np.asarray(value, dtype=np.float64)


def sample_pair(rng, sx, sy, dom_x, dom_y, gap=None):
    """Operands of shapes sx, sy; with `gap`, every broadcast pair of elements differs by at least
    `gap` (no ties: maximum, minimum and comparisons stay away from their kinks)."""
    for _ in range(1000):
        x, y = dom_x(rng, sx), dom_y(rng, sy)
        if gap is None or np.min(np.abs(np.subtract(x, y))) >= gap:
            return as_argument(x, sx), as_argument(y, sy)
    raise AssertionError("could not sample operands without ties")


def jit_id(jit):
    return "jit" if jit else "nojit"


def shape_id(shape):
    return "scalar" if shape == () else "x".join(map(str, shape))


# ================================================================ unary rules
# Elementwise functions, powers with a constant exponent (or base), negation, reductions,
# transposes and casts: one argument, wrt=0.

def f_exp(x): return np.exp(x)
def f_log(x): return np.log(x)
def f_log1p(x): return np.log1p(x)
def f_expm1(x): return np.expm1(x)
def f_sqrt(x): return np.sqrt(x)
def f_sin(x): return np.sin(x)
def f_cos(x): return np.cos(x)
def f_tan(x): return np.tan(x)
def f_tanh(x): return np.tanh(x)
def f_sinh(x): return np.sinh(x)
def f_cosh(x): return np.cosh(x)
def f_arcsin(x): return np.arcsin(x)
def f_arccos(x): return np.arccos(x)
def f_arctan(x): return np.arctan(x)
def f_abs(x): return np.abs(x)
def f_neg(x): return -x
def f_sign(x): return np.sign(x) * x          # sign has no gradient: d/dx = sign(x)
def f_pow2(x): return x ** 2
def f_pow3(x): return x ** 3
def f_pow_half(x): return x ** 0.5
def f_pow_minus1(x): return x ** -1
def f_pow0(x): return x ** 0
def f_pow1(x): return x ** 1
def f_pow_minus2(x): return x ** -2
def f_pow2_float(x): return x ** 2.0
def f_pow_1_5(x): return x ** 1.5
def f_const_base(x): return 2.0 ** x         # power's exponent rule with a constant base


BASE = 1.7


def f_global_base(x): return BASE ** x        # a module-level number is read as a constant
def f_sum(x): return np.sum(x)
def f_mean(x): return np.mean(x)
def f_transpose(x): return x.T
def f_np_transpose(x): return np.transpose(x)
def f_cast_float64(x): return np.float64(x) * x
def f_cast_float(x): return float(x) * x


@dataclass
class Unary:
    name: str
    fn: Callable
    domain: Callable
    shapes: tuple = UNARY_SHAPES
    jit_shape: Optional[tuple] = MATRIX  # None: no compiled run


# One row per rule. `jit_shape` spreads the compiled runs over scalars, vectors and matrices.
UNARY = [
    Unary("exp", f_exp, uniform(-2, 2), jit_shape=MATRIX),
    Unary("log", f_log, uniform(0.5, 3), jit_shape=VECTOR),
    Unary("log1p", f_log1p, uniform(-0.5, 2), jit_shape=SCALAR),
    Unary("expm1", f_expm1, uniform(-2, 2), jit_shape=MATRIX),
    Unary("sqrt", f_sqrt, uniform(0.3, 3), jit_shape=VECTOR),
    Unary("sin", f_sin, uniform(-3, 3), jit_shape=SCALAR),
    Unary("cos", f_cos, uniform(-3, 3), jit_shape=MATRIX),
    Unary("tan", f_tan, uniform(-1.2, 1.2), jit_shape=VECTOR),
    Unary("tanh", f_tanh, uniform(-2, 2), jit_shape=SCALAR),
    Unary("sinh", f_sinh, uniform(-2, 2), jit_shape=MATRIX),
    Unary("cosh", f_cosh, uniform(-2, 2), jit_shape=VECTOR),
    Unary("arcsin", f_arcsin, uniform(-0.7, 0.7), jit_shape=SCALAR),
    Unary("arccos", f_arccos, uniform(-0.7, 0.7), jit_shape=MATRIX),
    Unary("arctan", f_arctan, uniform(-3, 3), jit_shape=VECTOR),
    Unary("abs", f_abs, away_from_zero(0.2, 2), jit_shape=MATRIX),
    Unary("neg", f_neg, uniform(-2, 2), jit_shape=SCALAR),
    Unary("sign", f_sign, away_from_zero(0.2, 2), jit_shape=VECTOR),
    Unary("pow2", f_pow2, uniform(-2, 2), jit_shape=MATRIX),
    Unary("pow3", f_pow3, uniform(-2, 2), jit_shape=SCALAR),
    Unary("pow0.5", f_pow_half, uniform(0.3, 3), jit_shape=VECTOR),
    Unary("pow-1", f_pow_minus1, away_from_zero(0.5, 2), jit_shape=MATRIX),
    Unary("pow0", f_pow0, uniform(0.5, 2), jit_shape=SCALAR),
    Unary("pow1", f_pow1, uniform(-2, 2), jit_shape=None),
    Unary("pow-2", f_pow_minus2, away_from_zero(0.5, 2), jit_shape=None),
    Unary("pow2.0", f_pow2_float, uniform(-2, 2), jit_shape=None),
    Unary("pow1.5", f_pow_1_5, uniform(0.3, 3), jit_shape=None),
    Unary("const_base", f_const_base, uniform(-2, 2), jit_shape=VECTOR),
    Unary("global_base", f_global_base, uniform(-2, 2), jit_shape=None),
    Unary("sum", f_sum, uniform(-2, 2), jit_shape=MATRIX),
    Unary("mean", f_mean, uniform(-2, 2), jit_shape=MATRIX),
    Unary("transpose", f_transpose, uniform(-2, 2), shapes=(VECTOR, MATRIX), jit_shape=MATRIX),
    Unary("np.transpose", f_np_transpose, uniform(-2, 2), shapes=(VECTOR, MATRIX), jit_shape=None),
    Unary("cast_float64", f_cast_float64, uniform(-2, 2), jit_shape=VECTOR),
    Unary("cast_float", f_cast_float, uniform(-2, 2), shapes=(SCALAR,), jit_shape=SCALAR),
]


def _unary_cases():
    for row in UNARY:
        for shape in row.shapes:
            yield pytest.param(row, shape, False, id=f"{row.name}-{shape_id(shape)}-nojit")
        if row.jit_shape is not None:
            yield pytest.param(row, row.jit_shape, True, id=f"{row.name}-{shape_id(row.jit_shape)}-jit")


@pytest.mark.parametrize("row, shape, jit", list(_unary_cases()))
def test_unary_rule(row, shape, jit, rng):
    x = as_argument(row.domain(rng, shape), shape)
    check_vjp(row.fn, (x,), 0, jit, rng)


# ---------------------------------------------------------------- other spellings of the same rules
# math.* functions, builtins, np.<ufunc> names and methods reach the same primitives.

def s_math_exp(x): return math.exp(x)
def s_math_log(x): return math.log(x)
def s_math_log1p(x): return math.log1p(x)
def s_math_expm1(x): return math.expm1(x)
def s_math_sqrt(x): return math.sqrt(x)
def s_math_sin(x): return math.sin(x)
def s_math_cos(x): return math.cos(x)
def s_math_tan(x): return math.tan(x)
def s_math_tanh(x): return math.tanh(x)
def s_math_sinh(x): return math.sinh(x)
def s_math_cosh(x): return math.cosh(x)
def s_math_asin(x): return math.asin(x)
def s_math_acos(x): return math.acos(x)
def s_math_atan(x): return math.atan(x)
def s_math_fabs(x): return math.fabs(x)
def s_math_pow(x): return math.pow(x, 3.0)
def s_builtin_abs(x): return abs(x)
def s_np_absolute(x): return np.absolute(x)
def s_np_negative(x): return np.negative(x)
def s_unary_plus(x): return +x
def s_np_square(x): return np.square(x)
def s_np_power(x): return np.power(x, 3)
def s_method_sum(x): return x.sum()
def s_method_mean(x): return x.mean()
def s_sum_of_scalar(x): return np.sum(x) * x
def s_mean_of_scalar(x): return np.mean(x) * x
def s_augmented(x):
    y = x * 1.0  # a fresh array: NumPy's `y *= x` would otherwise write into the argument
    y *= x
    y += x
    y -= 0.5
    y /= 2.0
    return y


SPELLINGS = [
    Unary("math.exp", s_math_exp, uniform(-2, 2), shapes=(SCALAR,)),
    Unary("math.log", s_math_log, uniform(0.5, 3), shapes=(SCALAR,)),
    Unary("math.log1p", s_math_log1p, uniform(-0.5, 2), shapes=(SCALAR,)),
    Unary("math.expm1", s_math_expm1, uniform(-2, 2), shapes=(SCALAR,)),
    Unary("math.sqrt", s_math_sqrt, uniform(0.3, 3), shapes=(SCALAR,)),
    Unary("math.sin", s_math_sin, uniform(-3, 3), shapes=(SCALAR,)),
    Unary("math.cos", s_math_cos, uniform(-3, 3), shapes=(SCALAR,)),
    Unary("math.tan", s_math_tan, uniform(-1.2, 1.2), shapes=(SCALAR,)),
    Unary("math.tanh", s_math_tanh, uniform(-2, 2), shapes=(SCALAR,)),
    Unary("math.sinh", s_math_sinh, uniform(-2, 2), shapes=(SCALAR,)),
    Unary("math.cosh", s_math_cosh, uniform(-2, 2), shapes=(SCALAR,)),
    Unary("math.asin", s_math_asin, uniform(-0.7, 0.7), shapes=(SCALAR,)),
    Unary("math.acos", s_math_acos, uniform(-0.7, 0.7), shapes=(SCALAR,)),
    Unary("math.atan", s_math_atan, uniform(-3, 3), shapes=(SCALAR,)),
    Unary("math.fabs", s_math_fabs, away_from_zero(0.2, 2), shapes=(SCALAR,)),
    Unary("math.pow", s_math_pow, uniform(0.3, 2), shapes=(SCALAR,)),
    Unary("abs()", s_builtin_abs, away_from_zero(0.2, 2)),
    Unary("np.absolute", s_np_absolute, away_from_zero(0.2, 2)),
    Unary("np.negative", s_np_negative, uniform(-2, 2)),
    Unary("unary_plus", s_unary_plus, uniform(-2, 2)),
    Unary("np.square", s_np_square, uniform(-2, 2)),
    Unary("np.power", s_np_power, uniform(-2, 2)),
    Unary(".sum()", s_method_sum, uniform(-2, 2), shapes=(VECTOR, MATRIX)),
    Unary(".mean()", s_method_mean, uniform(-2, 2), shapes=(VECTOR, MATRIX)),
    Unary("np.sum(scalar)", s_sum_of_scalar, uniform(-2, 2), shapes=(SCALAR,)),
    Unary("np.mean(scalar)", s_mean_of_scalar, uniform(-2, 2), shapes=(SCALAR,)),
    Unary("augmented", s_augmented, uniform(-2, 2)),
]


@pytest.mark.parametrize("row, shape", [pytest.param(row, shape, id=f"{row.name}-{shape_id(shape)}")
                                        for row in SPELLINGS for shape in row.shapes])
def test_spelling(row, shape, rng):
    x = as_argument(row.domain(rng, shape), shape)
    check_vjp(row.fn, (x,), 0, False, rng)


def test_methods_on_numpy_scalars(rng):
    """.sum() and .mean() of a NumPy scalar (their rules for rank 0)."""
    x = np.float64(rng.uniform(0.5, 2))
    for fn in (s_method_sum, s_method_mean):
        check_vjp(fn, (x,), 0, False, rng)


@pytest.mark.parametrize("scalar", [np.float64, np.float32], ids=lambda t: t.__name__)
def test_gradient_of_numpy_scalar_is_same_numpy_scalar(scalar):
    """A NumPy scalar argument gets a gradient of its own type (api.grad: "with its shape and
    dtype"; api._like: "the same kind of object as the argument")."""
    x = scalar(0.75)
    g = grad(f_sin, jit=False)(x)
    assert type(g) is scalar, f"gradient of a {scalar.__name__} is a {type(g).__name__}"
    assert float(g) == pytest.approx(math.cos(0.75), rel=1e-6)


# ================================================================ binary rules
# Elementwise binary primitives with broadcasting: gradients w.r.t. both operands (and each
# alone), each summed back to its operand's own shape.

def b_add(x, y): return x + y
def b_sub(x, y): return x - y
def b_mul(x, y): return x * y
def b_div(x, y): return x / y
def b_power(x, y): return x ** y
def b_maximum(x, y): return np.maximum(x, y)
def b_minimum(x, y): return np.minimum(x, y)
# Comparisons have no gradient; multiplied into a product, they mask it.
def b_less(x, y): return (x < y) * (x * y)
def b_less_equal(x, y): return (x <= y) * (x * y)
def b_greater(x, y): return (x > y) * (x * y)
def b_greater_equal(x, y): return (x >= y) * (x * y)
def b_np_add(x, y): return np.add(x, y)
def b_np_subtract(x, y): return np.subtract(x, y)
def b_np_multiply(x, y): return np.multiply(x, y)
def b_np_divide(x, y): return np.divide(x, y)
def b_np_power(x, y): return np.power(x, y)
def b_math_pow(x, y): return math.pow(x, y)


@dataclass
class Binary:
    name: str
    fn: Callable
    dom_x: Callable
    dom_y: Callable
    gap: Optional[float] = None
    pairs: tuple = PAIRS
    jit_pairs: tuple = ()
    wrts: tuple = ((0, 1), 0, 1)


BINARY = [
    Binary("add", b_add, uniform(-2, 2), uniform(-2, 2), jit_pairs=JIT_PAIRS),
    Binary("sub", b_sub, uniform(-2, 2), uniform(-2, 2), jit_pairs=(((3, 4), (4,)),)),
    Binary("mul", b_mul, uniform(-2, 2), uniform(-2, 2), jit_pairs=JIT_PAIRS + (((), ()),)),
    Binary("div", b_div, uniform(-2, 2), away_from_zero(0.5, 2), jit_pairs=JIT_PAIRS),
    Binary("power", b_power, uniform(0.5, 2), uniform(-1.5, 1.5), jit_pairs=JIT_PAIRS),
    Binary("maximum", b_maximum, uniform(-2, 2), uniform(-2, 2), gap=0.05, jit_pairs=JIT_PAIRS),
    Binary("minimum", b_minimum, uniform(-2, 2), uniform(-2, 2), gap=0.05, jit_pairs=(((3, 1), (1, 4)),)),
    Binary("less", b_less, uniform(-2, 2), uniform(-2, 2), gap=0.05, jit_pairs=(((3, 4), (4,)),)),
    Binary("less_equal", b_less_equal, uniform(-2, 2), uniform(-2, 2), gap=0.05),
    Binary("greater", b_greater, uniform(-2, 2), uniform(-2, 2), gap=0.05),
    Binary("greater_equal", b_greater_equal, uniform(-2, 2), uniform(-2, 2), gap=0.05),
    Binary("np.add", b_np_add, uniform(-2, 2), uniform(-2, 2), pairs=PAIRS[3:6], wrts=((0, 1),)),
    Binary("np.subtract", b_np_subtract, uniform(-2, 2), uniform(-2, 2), pairs=PAIRS[3:6], wrts=((0, 1),)),
    Binary("np.multiply", b_np_multiply, uniform(-2, 2), uniform(-2, 2), pairs=PAIRS[3:6], wrts=((0, 1),)),
    Binary("np.divide", b_np_divide, uniform(-2, 2), away_from_zero(0.5, 2), pairs=PAIRS[3:6],
           wrts=((0, 1),)),
    Binary("np.power", b_np_power, uniform(0.5, 2), uniform(-1.5, 1.5), pairs=PAIRS[3:6], wrts=((0, 1),)),
    Binary("math.pow", b_math_pow, uniform(0.5, 2), uniform(-1.5, 1.5), pairs=(((), ()),), wrts=((0, 1),)),
]


def wrt_id(wrt):
    return "wrt" + ("".join(map(str, wrt)) if isinstance(wrt, tuple) else str(wrt))


def _binary_cases():
    for row in BINARY:
        for sx, sy in row.pairs:
            for wrt in row.wrts:
                yield pytest.param(row, sx, sy, wrt, False,
                                   id=f"{row.name}-{shape_id(sx)}-{shape_id(sy)}-{wrt_id(wrt)}-nojit")
        for sx, sy in row.jit_pairs:
            yield pytest.param(row, sx, sy, (0, 1), True,
                               id=f"{row.name}-{shape_id(sx)}-{shape_id(sy)}-wrt01-jit")


@pytest.mark.parametrize("row, sx, sy, wrt, jit", list(_binary_cases()))
def test_binary_rule(row, sx, sy, wrt, jit, rng):
    x, y = sample_pair(rng, sx, sy, row.dom_x, row.dom_y, row.gap)
    check_vjp(row.fn, (x, y), wrt, jit, rng)


# ================================================================ matmul, dot, outer
# Every rank mix of `@` and its spellings, outer products, and products with a transpose or the
# same operand twice (whose two shares must add up).

def m_matmul(a, b): return a @ b
def m_np_dot(a, b): return np.dot(a, b)
def m_method_dot(a, b): return a.dot(b)
def m_np_matmul(a, b): return np.matmul(a, b)
def m_outer(a, b): return np.outer(a, b)
def m_at_b(a, b): return a.T @ b
def m_a_bt(a, b): return a @ b.T
def m_gram(a, b): return a.T @ a + b
def m_self_dot(a, b): return a @ a * b
def m_dot_scalar_left(a, b): return np.dot(a, b)  # a scalar: lowered to a product
def m_outer_then_matmul(a, b): return np.outer(a, b) @ b


MATMUL = [
    # (name, fn, shape a, shape b, also compiled)
    ("vec@vec", m_matmul, (4,), (4,), True),
    ("mat@vec", m_matmul, (3, 4), (4,), True),
    ("vec@mat", m_matmul, (3,), (3, 4), True),
    ("mat@mat", m_matmul, (3, 4), (4, 2), True),
    ("outer", m_outer, (3,), (4,), True),
    ("np.dot-vec.vec", m_np_dot, (4,), (4,), False),
    ("np.dot-mat.vec", m_np_dot, (3, 4), (4,), False),
    ("np.dot-vec.mat", m_np_dot, (3,), (3, 4), False),
    ("np.dot-mat.mat", m_np_dot, (3, 4), (4, 2), False),
    (".dot-vec.vec", m_method_dot, (4,), (4,), False),
    (".dot-mat.vec", m_method_dot, (3, 4), (4,), False),
    (".dot-vec.mat", m_method_dot, (3,), (3, 4), False),
    (".dot-mat.mat", m_method_dot, (3, 4), (4, 2), False),
    ("np.matmul-mat.mat", m_np_matmul, (3, 4), (4, 2), False),
    ("np.matmul-mat.vec", m_np_matmul, (3, 4), (4,), False),
    ("A.T@B", m_at_b, (4, 3), (4, 2), False),
    ("A@B.T", m_a_bt, (3, 4), (2, 4), False),
    ("A.T@A+B", m_gram, (4, 3), (3, 3), True),
    ("a@a*b", m_self_dot, (5,), (3, 2), False),
    ("np.dot-scalar.mat", m_dot_scalar_left, (), (3, 4), False),
    ("np.dot-mat.scalar", m_dot_scalar_left, (3, 4), (), False),
    ("outer@vec", m_outer_then_matmul, (3,), (4,), False),
]


def _matmul_cases():
    for name, fn, sa, sb, with_jit in MATMUL:
        for wrt in ((0, 1), 0, 1):
            yield pytest.param(fn, sa, sb, wrt, False, id=f"{name}-{wrt_id(wrt)}-nojit")
        if with_jit:
            yield pytest.param(fn, sa, sb, (0, 1), True, id=f"{name}-wrt01-jit")


@pytest.mark.parametrize("fn, sa, sb, wrt, jit", list(_matmul_cases()))
def test_matmul_rule(fn, sa, sb, wrt, jit, rng):
    a, b = as_argument(rng.uniform(-1, 1, sa), sa), as_argument(rng.uniform(-1, 1, sb), sb)
    check_vjp(fn, (a, b), wrt, jit, rng)


def m_matmul_int(a, n): return a @ n


def test_matmul_with_int_operand(rng):
    """`@` with an int64 array: the int operand is cast to float64 and gets no gradient."""
    a = rng.uniform(-1, 1, (3, 4))
    n = rng.integers(-3, 4, 4)
    check_vjp(m_matmul_int, (a, n), 0, False, rng)


# ================================================================ compositions
# Shares of one value that flow back along several paths, and rules that reuse forward values.

def c_square_by_mul(x): return x * x
def c_div_self(x): return x / x                        # constant 1: gradient 0
def c_sin_cos(x): return np.sin(x) * np.cos(x)           # cos(x) of sin's rule is the user's cos
def c_exp_twice(x): return np.exp(x) * np.exp(x)
def c_chain(x): return np.sqrt(np.log1p(np.exp(x)) + 1.0)
def c_tanh_sum(x): return np.tanh(x) / np.sum(x * x)
def c_mean_center(x): return x - np.mean(x)
def c_tanh_repeated(x): return np.tanh(x) - np.tanh(x) ** 2  # one tanh after simplification
def c_sub_self_reassigned(x):
    y = x
    x = x * 2.0
    return x - y * y


COMPOSITIONS = [
    Unary("x*x", c_square_by_mul, uniform(-2, 2), jit_shape=None),
    Unary("x/x", c_div_self, away_from_zero(0.5, 2), jit_shape=None),
    Unary("sin*cos", c_sin_cos, uniform(-3, 3), jit_shape=MATRIX),
    Unary("exp*exp", c_exp_twice, uniform(-2, 2), jit_shape=None),
    Unary("softplus-chain", c_chain, uniform(-2, 2), jit_shape=None),
    Unary("tanh/sum", c_tanh_sum, uniform(0.5, 2), jit_shape=None),
    Unary("x-mean", c_mean_center, uniform(-2, 2), shapes=(VECTOR, MATRIX), jit_shape=None),
    Unary("reassigned", c_sub_self_reassigned, uniform(-2, 2), jit_shape=None),
    Unary("tanh-repeated", c_tanh_repeated, uniform(-2, 2), jit_shape=None),
]


@pytest.mark.parametrize("row, shape, jit", [
    pytest.param(row, shape, jit, id=f"{row.name}-{shape_id(shape)}-{jit_id(jit)}")
    for row in COMPOSITIONS
    for shape, jit in [(s, False) for s in row.shapes] + ([(row.jit_shape, True)] if row.jit_shape else [])])
def test_composition(row, shape, jit, rng):
    x = as_argument(row.domain(rng, shape), shape)
    check_vjp(row.fn, (x,), 0, jit, rng)


def c2_repeated_product(x, y): return (x * y) * (x * y)  # one x * y after simplification
def c2_shared_operand(x, y): return x * y + x / y - np.maximum(x, y) * x


@pytest.mark.parametrize("fn, sx, sy", [
    pytest.param(c2_repeated_product, (), (), id="repeated_product-scalar-scalar"),
    pytest.param(c2_repeated_product, (3, 4), (4,), id="repeated_product-3x4-4"),
    pytest.param(c2_shared_operand, (), (3, 4), id="shared_operand-scalar-3x4"),
    pytest.param(c2_shared_operand, (3, 1), (1, 4), id="shared_operand-3x1-1x4"),
])
def test_binary_composition(fn, sx, sy, rng):
    x, y = sample_pair(rng, sx, sy, away_from_zero(0.5, 2), away_from_zero(0.5, 2), gap=0.05)
    check_vjp(fn, (x, y), (0, 1), False, rng)


# ================================================================ zero gradients
# Comparisons and sign have no derivative: a function of them alone has a zero gradient, exactly,
# of each argument's shape and dtype.

def z_less(x, y): return (x < y) * 1.0
def z_less_equal(x, y): return (x <= y) * 1.0
def z_greater(x, y): return (x > y) * 1.0
def z_greater_equal(x, y): return (x >= y) * 1.0
def z_equal(x, y): return (x == y) * 1.0
def z_not_equal(x, y): return (x != y) * 1.0
def z_sign(x, y): return np.sign(x) * np.sign(y)
def z_sign_sum(x, y): return np.sum(np.sign(x - y))


ZERO = [
    ("less", z_less), ("less_equal", z_less_equal), ("greater", z_greater),
    ("greater_equal", z_greater_equal), ("equal", z_equal), ("not_equal", z_not_equal),
    ("sign", z_sign), ("sign_sum", z_sign_sum),
]
ZERO_PAIRS = (((), ()), ((5,), (5,)), ((3, 4), (4,)), ((3, 1), (1, 4)))


def _zero_cases():
    for name, fn in ZERO:
        for sx, sy in ZERO_PAIRS:
            yield pytest.param(fn, sx, sy, False, id=f"{name}-{shape_id(sx)}-{shape_id(sy)}-nojit")
    yield pytest.param(z_less, (3, 4), (4,), True, id="less-3x4-4-jit")
    yield pytest.param(z_sign, (), (3, 4), True, id="sign-scalar-3x4-jit")


@pytest.mark.parametrize("fn, sx, sy, jit", list(_zero_cases()))
def test_zero_gradient(fn, sx, sy, jit, rng):
    x, y = sample_pair(rng, sx, sy, away_from_zero(0.2, 2), away_from_zero(0.2, 2), gap=0.05)
    if fn is z_equal or fn is z_not_equal:
        y = x if sx == sy else y  # some ties, so the comparison is not constant
    out, pullback = vjp(fn, wrt=(0, 1), jit=compiled(jit))(x, y)
    np.testing.assert_array_equal(out, fn(x, y))
    u = random_like(rng, out)
    for k, g in enumerate(pullback(u)):
        assert_gradient_like(g, (x, y)[k], f"{fn.__name__} w.r.t. argument {k}")
        assert np.all(np.asarray(g) == 0.0), f"{fn.__name__}: gradient {g!r} is not zero"
        directions = [None, None]
        directions[k] = random_direction(rng, (x, y)[k])
        assert np.all(directional_derivative(fn, (x, y), directions) == 0.0)  # a flat function


# ================================================================ casts to float32
# Rounding to float32 is differentiated as the identity (the straight-through convention): the
# gradient is the cotangent cast back to the argument's dtype. Finite differences of a rounding are
# meaningless, so these check exact values.

def k_to_float32(x): return np.float32(x)
def k_to_float64(x): return np.float64(x)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
@pytest.mark.parametrize("shape", [SCALAR, MATRIX], ids=shape_id)
def test_cast_float64_to_float32(shape, jit, rng):
    x = as_argument(rng.uniform(-2, 2, shape), shape)
    out, pullback = vjp(k_to_float32, wrt=0, jit=compiled(jit))(x)
    assert np.asarray(out).dtype == np.float32
    np.testing.assert_array_equal(out, np.float32(x))
    u = np.float32(rng.standard_normal(shape))
    g = pullback(u)
    assert_gradient_like(g, x, "float32(x)")
    np.testing.assert_array_equal(g, np.asarray(u, dtype=np.float64))


@pytest.mark.parametrize("shape", [SCALAR, MATRIX], ids=shape_id)
def test_cast_float32_to_float64(shape, rng):
    x = np.float32(rng.uniform(-2, 2)) if shape == () else rng.uniform(-2, 2, shape).astype(np.float32)
    out, pullback = vjp(k_to_float64, wrt=0, jit=False)(x)
    assert np.asarray(out).dtype == np.float64
    u = rng.standard_normal(shape)
    g = pullback(float(u) if shape == () else u)
    assert_gradient_like(g, x, "float64(x32)")
    np.testing.assert_array_equal(g, np.asarray(u).astype(np.float32))


# ================================================================ float32
# float32 inputs give float32 gradients of the input's shape, close to the float64 gradient at the
# same point (float32 tolerance), for a few representative rules.

F32_RTOL = 2e-5

FLOAT32 = [
    # (name, fn, samplers, shapes, also compiled)
    ("exp", f_exp, (uniform(-2, 2),), ((3, 4),), True),
    ("tanh", f_tanh, (uniform(-2, 2),), ((5,),), False),
    ("sqrt", f_sqrt, (uniform(0.3, 3),), ((5,),), False),
    ("log", f_log, (uniform(0.5, 3),), ((),), True),
    ("pow2", f_pow2, (uniform(-2, 2),), ((3, 4),), False),
    ("pow0.5", f_pow_half, (uniform(0.3, 3),), ((3, 4),), False),
    ("abs", f_abs, (away_from_zero(0.2, 2),), ((5,),), False),
    ("sum", f_sum, (uniform(-2, 2),), ((3, 4),), False),
    ("mean", f_mean, (uniform(-2, 2),), ((3, 4),), True),
    ("transpose", f_transpose, (uniform(-2, 2),), ((3, 4),), False),
    ("mul-broadcast", b_mul, (uniform(-2, 2), uniform(-2, 2)), ((3, 4), (4,)), True),
    ("div-broadcast", b_div, (uniform(-2, 2), away_from_zero(0.5, 2)), ((3, 1), (1, 4)), False),
    ("power", b_power, (uniform(0.5, 2), uniform(-1.5, 1.5)), ((3, 4), ()), False),
    ("maximum", b_maximum, (uniform(-2, 2), uniform(-2, 2)), ((5,), (5,)), False),
    ("mat@mat", m_matmul, (uniform(-1, 1), uniform(-1, 1)), ((3, 4), (4, 2)), True),
    ("mat@vec", m_matmul, (uniform(-1, 1), uniform(-1, 1)), ((3, 4), (4,)), False),
    ("outer", m_outer, (uniform(-1, 1), uniform(-1, 1)), ((3,), (4,)), False),
    ("x-mean", c_mean_center, (uniform(-2, 2),), ((5,),), False),
]


def as_float32(value):
    return np.float32(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float32)


@pytest.mark.parametrize("name, fn, samplers, shapes, jit", [
    pytest.param(name, fn, samplers, shapes, jit, id=f"{name}-{jit_id(jit)}")
    for name, fn, samplers, shapes, compiled in FLOAT32 for jit in ([False, True] if compiled else [False])])
def test_float32(name, fn, samplers, shapes, jit, rng):
    args64 = [sampler(rng, shape) for sampler, shape in zip(samplers, shapes)]
    if fn is b_maximum:
        args64[1] = args64[0] + away_from_zero(0.1, 1)(rng, shapes[1])
    args32 = tuple(as_float32(a) for a in args64)
    args64 = tuple(np.asarray(a, dtype=np.float64) for a in args32)  # the same point
    wrt = tuple(range(len(args32)))
    out32, pullback32 = vjp(fn, wrt=wrt, jit=compiled(jit))(*args32)
    out64, pullback64 = vjp(fn, wrt=wrt, jit=False)(*args64)
    assert np.asarray(out32).dtype == np.float32, f"output dtype {np.asarray(out32).dtype}"
    np.testing.assert_allclose(out32, out64, rtol=F32_RTOL, atol=F32_RTOL)
    u = rng.standard_normal(np.shape(out64))
    grads32 = pullback32(as_float32(u))
    grads64 = pullback64(u)
    for k, (g32, g64) in enumerate(zip(grads32, grads64)):
        what = f"{name} w.r.t. argument {k}"
        assert_gradient_like(g32, args32[k], what)
        assert np.asarray(g32).dtype == np.float32, f"{what}: dtype {np.asarray(g32).dtype}"
        np.testing.assert_allclose(g32, g64, rtol=F32_RTOL, atol=F32_RTOL * np.max(np.abs(g64)),
                                   err_msg=what)


def t_mixed(x32, y64): return np.sum(x32 * y64)


def test_float32_operand_with_float64_operand(rng):
    """x32 * y64 is float64; each gradient keeps its own operand's dtype."""
    x = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    y = rng.uniform(-2, 2, (4,))
    gx, gy = grad(t_mixed, wrt=(0, 1), jit=False)(x, y)
    assert gx.dtype == np.float32 and gx.shape == (3, 4)
    assert gy.dtype == np.float64 and gy.shape == (4,)
    np.testing.assert_allclose(gx, np.broadcast_to(y, (3, 4)), rtol=1e-6)
    np.testing.assert_allclose(gy, x.astype(np.float64).sum(axis=0), rtol=1e-12)


# ================================================================ grad of a wrapped rule
# The `grad` path (scalar output, seed 1 made by the generated code) with a non-uniform output
# weight, against the full finite-difference gradient.

def w_mul(x, y, w): return np.sum(np.sin(x * y) * w)
def w_div(x, y, w): return np.sum(np.sin(x / y) * w)
def w_matvec(x, y, w): return np.sum(np.sin(x @ y) * w)
def w_power(x, y, w): return np.sum(np.sin(x ** y) * w)


WRAPPED = [
    ("mul", w_mul, uniform(-2, 2), uniform(-2, 2), (3, 4), (4,), (3, 4), True),
    ("div", w_div, uniform(-2, 2), away_from_zero(0.5, 2), (3, 1), (1, 4), (3, 4), False),
    ("matvec", w_matvec, uniform(-1, 1), uniform(-1, 1), (3, 4), (4,), (3,), False),
    ("power", w_power, uniform(0.5, 2), uniform(-1.5, 1.5), (), (4,), (4,), False),
]


@pytest.mark.parametrize("fn, dom_x, dom_y, sx, sy, sw, jit", [
    pytest.param(*row[1:-1], jit, id=f"{row[0]}-{jit_id(jit)}")
    for row in WRAPPED for jit in ([False, True] if row[-1] else [False])])
def test_grad_of_wrapped_rule(fn, dom_x, dom_y, sx, sy, sw, jit, rng):
    x, y = as_argument(dom_x(rng, sx), sx), as_argument(dom_y(rng, sy), sy)
    w = rng.standard_normal(sw)
    value, (gx, gy) = value_and_grad(fn, wrt=("x", "y"), jit=compiled(jit))(x, y, w)
    assert value == pytest.approx(float(fn(x, y, w)), rel=1e-12, abs=1e-14)
    for g, arg, k in ((gx, x, 0), (gy, y, 1)):
        assert_gradient_like(g, arg, f"{fn.__name__} w.r.t. argument {k}")
        np.testing.assert_allclose(g, fd_grad(fn, (x, y, w), k), rtol=1e-7, atol=1e-9)


# ================================================================ conventions at kinks
# What the rules give exactly at their kinks (documented in primitives.py): maximum and minimum
# send the gradient of a tie to their second operand, so ReLU np.maximum(x, 0.0) has slope 0 at 0;
# abs has slope sign(0) = 0 at 0.

def r_relu(x): return np.maximum(x, 0.0)


def test_tie_conventions():
    jit = False
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    y = np.array([-1.0, 1.0, 0.5, 1.0])  # ties at 0 and 2
    u = np.array([1.0, 2.0, 3.0, 4.0])
    _, pullback = vjp(b_maximum, wrt=(0, 1), jit=compiled(jit))(x, y)
    gx, gy = pullback(u)
    np.testing.assert_array_equal(gx, [0.0, 0.0, 0.0, 4.0])
    np.testing.assert_array_equal(gy, [1.0, 2.0, 3.0, 0.0])
    _, pullback = vjp(b_minimum, wrt=(0, 1), jit=compiled(jit))(x, y)
    gx, gy = pullback(u)
    np.testing.assert_array_equal(gx, [0.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(gy, [1.0, 0.0, 3.0, 4.0])
    _, pullback = vjp(r_relu, wrt=0, jit=compiled(jit))(x)
    np.testing.assert_array_equal(pullback(u), [0.0, 0.0, 3.0, 4.0])
    _, pullback = vjp(f_abs, wrt=0, jit=compiled(jit))(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(pullback(np.array([1.0, 1.0, 1.0])), [-1.0, 0.0, 1.0])


# ================================================================ sums of products taken apart
# sum_axes's rewrite (rules/reductions.py): `sum(-x)` is `-sum(x)`, and `sum(c * r)` over axes along
# which c is constant is `c * sum(r)`, looking through one product on each side. Each row: the
# value against NumPy (plain and compiled), the dot-product test, and how many products of the
# summed shape remain.

def s_spread(c, r): return np.sum(c[None, :] * r, axis=0)
def s_spread_keepdims(c, r): return np.sum(r * c[None, :], axis=0, keepdims=True) * 1.5
def s_scaled_inner(c, r): return np.sum(r * (2.0 * (r * c)), axis=1)
def s_negated(c, r): return np.sum(-(c[None, :] * np.sin(r)), axis=(0,))
def s_both_sides(c, r): return np.sum((c[None, :] * r) * (r * 3.0), axis=0)
def s_lower_rank(c, r): return np.sum(np.sum(c * r[:, None, :], axis=1) ** 2)  # c (2, 4): along axis 1 of (3, 2, 4)
def s_not_constant(c, r): return np.sum(c * r, axis=0)  # c of r's shape: nothing to take out


SUM_OF_PRODUCTS = [  # (function, shapes, products of the summed shape after the rewrite)
    (s_spread, ((4,), (3, 4)), 0), (s_spread_keepdims, ((4,), (3, 4)), 0),
    (s_scaled_inner, ((3, 4), (3, 4)), 2), (s_negated, ((4,), (3, 4)), 0), (s_both_sides, ((4,), (3, 4)), 1),
    (s_lower_rank, ((2, 4), (3, 4)), 0), (s_not_constant, ((3, 4), (3, 4)), 1),
]


@pytest.mark.parametrize("fn, shapes, products", SUM_OF_PRODUCTS, ids=[row[0].__name__ for row in SUM_OF_PRODUCTS])
@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_sum_of_product_rewrite(fn, shapes, products, jit, rng):
    import adcompiler as ad
    c, r = (rng.uniform(-2, 2, shape) for shape in shapes)
    np.testing.assert_allclose(ad.jit(fn, jit=compiled(jit))(c, r), fn(c, r), rtol=1e-13)
    check_vjp(fn, (c, r), (0, 1), jit, rng)
    text = ad.show(ad.jit(fn), c, r, print_it=False)
    simplified = text.split("# after simplification")[1].split("# where each part")[0]
    summed = "f64[n,n,n]" if fn is s_lower_rank else "f64[n,n]"
    made = [line for line in simplified.splitlines() if " = mul " in line and f": {summed} " in line]
    assert len(made) == products, "\n".join(made)


def s_float32(c, r): return np.sum(c[None, :] * (r * 2.0), axis=0)


def test_sum_of_product_rewrite_keeps_float32(rng):
    import adcompiler as ad
    c, r = rng.uniform(-2, 2, 4).astype(np.float32), rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    out = ad.jit(s_float32)(c, r)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, s_float32(c, r), rtol=1e-6)
