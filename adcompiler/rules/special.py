"""Special functions and the elementwise ufuncs that complete NumPy's set: inverse hyperbolics,
roots and angle conversions, rounding (a zero gradient), tests of finiteness (booleans), nan-aware
extrema, and the binary ufuncs of two floats (logaddexp, hypot, arctan2, copysign); `math` and
`scipy.special` functions of numbers and arrays (erf, gamma and its logarithm, digamma, expit,
logit, log_ndtr, xlogy), emitted as runtime helpers (`rt.erf`: SciPy in plain mode, loops over
scalar kernels under Numba).

Gradients are stable where the functions are: logaddexp's is expit(x - y) <= 1, expit's
out * (1 - out), log_ndtr's exp(-x**2 / 2 - out) / sqrt(2 pi) (finite at x = -1e3). A rule that
would divide 0 by 0 at a point where the derivative is known divides by `d + (d == 0)` instead:
sinc's is 0 at 0, hypot's 0 at the origin, xlogy's in y is 0 where x == 0 (as the function is).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.core import Type
from .elementwise import cos, equal, exp, log, log1p, sign, sqrt
from .primitive import DIAGONAL, ELEMENTWISE, NEW, ZERO, Primitive, floating, promote, same_type

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_ONE_OVER_SQRT_TWO_PI = 1.0 / math.sqrt(2.0 * math.pi)


def _binary_floating(x: Type, y: Type) -> Type:
    return floating(promote(x, y))


def _boolean(x: Type) -> Type:
    return Type("bool", x.ndim, x.weak, x.units)


def _ufunc(name, binds, arity=1, type_rule=None, vjps=()):
    """The NumPy ufunc `np.<name>` (its operands broadcast)."""
    operands = ", ".join(f"_{k}" for k in range(arity))
    rule = type_rule or (floating if arity == 1 else _binary_floating)
    return Primitive(name, arity, f"np.{name}({operands})", rule, memory=NEW, binds=binds, broadcasts=arity > 1,
                     ufunc=True, vjps=vjps)


def _helper(name, binds, arity=1, refusal=(), vector=False):
    """The runtime helper `rt.<name>` (SciPy's ufunc of that name, and its Numba twin); `vector`:
    kernels call backend/vmath.py's vectorisable function instead."""
    operands = ", ".join(f"_{k}" for k in range(arity))
    rule = floating if arity == 1 else _binary_floating
    return Primitive(name, arity, f"rt.{name}({operands})", rule, memory=NEW, binds=binds, broadcasts=arity > 1,
                     refusal=refusal, batch=ELEMENTWISE, jvps=DIAGONAL,  # elementwise, as the ufuncs
                     kernel_template=f"rt.vector_{name}({operands})" if vector else "")


def _nonzero(d):
    """`d`, but 1 where it is 0: the denominator of a ratio whose numerator is 0 there too."""
    return d + equal(d, 0.0)


# ---------------------------------------------------------------- elementwise ufuncs of one operand

arcsinh = _ufunc("arcsinh", (np.arcsinh, math.asinh))
arcsinh.defvjp(lambda g, x, out: g / sqrt(x * x + 1.0))
arccosh = _ufunc("arccosh", (np.arccosh, math.acosh))
arccosh.defvjp(lambda g, x, out: g / sqrt(x * x - 1.0))
arctanh = _ufunc("arctanh", (np.arctanh, math.atanh))
arctanh.defvjp(lambda g, x, out: g / (1.0 - x * x))
cbrt = _ufunc("cbrt", (np.cbrt,) + ((math.cbrt,) if hasattr(math, "cbrt") else ()))  # math.cbrt: Python 3.11
cbrt.defvjp(lambda g, x, out: g / (3.0 * (out * out)))
deg2rad = _ufunc("deg2rad", (np.deg2rad, np.radians, math.radians))
deg2rad.defvjp(lambda g, x, out: g * (math.pi / 180.0))
rad2deg = _ufunc("rad2deg", (np.rad2deg, np.degrees, math.degrees))
rad2deg.defvjp(lambda g, x, out: g * (180.0 / math.pi))
sinc = _ufunc("sinc", (np.sinc,))  # sin(pi x) / (pi x), 1 at 0, where its derivative is 0
sinc.defvjp(lambda g, x, out: g * ((cos(math.pi * x) - out) / _nonzero(x)))

# Piecewise constant: a zero gradient. floor, ceil and trunc keep integers integers (NumPy 2);
# rint makes floats. (math.floor and friends return Python ints, so are not bound.)
floor = _ufunc("floor", (np.floor,), type_rule=same_type, vjps=ZERO)
ceil = _ufunc("ceil", (np.ceil,), type_rule=same_type, vjps=ZERO)
trunc = _ufunc("trunc", (np.trunc, np.fix), type_rule=same_type, vjps=ZERO)
rint = _ufunc("rint", (np.rint,), vjps=ZERO)
isnan = _ufunc("isnan", (np.isnan, math.isnan), type_rule=_boolean, vjps=ZERO)
isinf = _ufunc("isinf", (np.isinf, math.isinf), type_rule=_boolean, vjps=ZERO)
isfinite = _ufunc("isfinite", (np.isfinite, math.isfinite), type_rule=_boolean, vjps=ZERO)


# ---------------------------------------------------------------- elementwise ufuncs of two operands

hypot = _ufunc("hypot", (np.hypot, math.hypot), 2)  # a zero gradient at the origin (a subgradient)
hypot.defvjp(lambda g, x, y, out: g * (x / _nonzero(out)), lambda g, x, y, out: g * (y / _nonzero(out)))
arctan2 = _ufunc("arctan2", (np.arctan2, math.atan2), 2)  # arctan2(y, x): operand 0 is y
arctan2.defvjp(lambda g, y, x, out: g * (x / (x * x + y * y)), lambda g, y, x, out: -(g * (y / (x * x + y * y))))
copysign = _ufunc("copysign", (np.copysign, math.copysign), 2)  # |x| with y's sign
copysign.defvjp(lambda g, x, y, out: g * (sign(x) * copysign(1.0, y)), None)

# The nan-aware extrema: a nan operand loses to a number. Ties send the gradient to the second
# operand (as np.maximum's); where both are nan, to the first.
fmax = _ufunc("fmax", (np.fmax,), 2, type_rule=promote)
fmax.defvjp(lambda g, x, y, out: g * (x > y) + g * isnan(y),
            lambda g, x, y, out: g * (x <= y) + g * (isnan(x) > isnan(y)))
fmin = _ufunc("fmin", (np.fmin,), 2, type_rule=promote)
fmin.defvjp(lambda g, x, y, out: g * (x < y) + g * isnan(y),
            lambda g, x, y, out: g * (x >= y) + g * (isnan(x) > isnan(y)))


# ---------------------------------------------------------------- math and scipy.special functions

erf = _helper("erf", (math.erf, "scipy.special.erf"))
erf.defvjp(lambda g, x, out: g * (_TWO_OVER_SQRT_PI * exp(-(x * x))))
erfc = _helper("erfc", (math.erfc, "scipy.special.erfc"))
erfc.defvjp(lambda g, x, out: -(g * (_TWO_OVER_SQRT_PI * exp(-(x * x)))))
expit = _helper("expit", ("scipy.special.expit",), vector=True)
expit.defvjp(lambda g, x, out: g * (out * (1.0 - out)))
# d/dx log(e**x + e**y) = expit(x - y): at most 1, exactly 1/2 at x == y and 1 or 0 far apart.
logaddexp = _ufunc("logaddexp", (np.logaddexp,), 2)
logaddexp.defvjp(lambda g, x, y, out: g * expit(x - y), lambda g, x, y, out: g * expit(y - x))
logaddexp2 = _ufunc("logaddexp2", (np.logaddexp2,), 2)
logaddexp2.defvjp(lambda g, x, y, out: g * expit((x - y) * math.log(2.0)),
                  lambda g, x, y, out: g * expit((y - x) * math.log(2.0)))
logit = _helper("logit", ("scipy.special.logit",))
logit.defvjp(lambda g, x, out: g / (x * (1.0 - x)))
# d/dx log(ndtr(x)) = pdf(x) / ndtr(x), written exp(-x**2 / 2 - log_ndtr(x)) / sqrt(2 pi): finite
# where pdf and ndtr both underflow (near -x for very negative x).
log_ndtr = _helper("log_ndtr", ("scipy.special.log_ndtr",))
log_ndtr.defvjp(lambda g, x, out: g * (_ONE_OVER_SQRT_TWO_PI * exp(-0.5 * (x * x) - out)))

TETRAGAMMA_REFUSAL = ("the derivative of polygamma(2, x) (a fourth derivative of log gamma) is not supported",
                      "take finite differences of the third derivative")
tetragamma = _helper("tetragamma", (), refusal=TETRAGAMMA_REFUSAL)  # polygamma(2, x), trigamma's derivative
trigamma = _helper("trigamma", ())  # polygamma(1, x), digamma's derivative
trigamma.defvjp(lambda g, x, out: g * tetragamma(x))
digamma = _helper("digamma", ("scipy.special.digamma",))
digamma.defvjp(lambda g, x, out: g * trigamma(x))
gammaln = _helper("gammaln", (math.lgamma, "scipy.special.gammaln"))  # log|gamma(x)|, also for negative x
gammaln.defvjp(lambda g, x, out: g * digamma(x))
gamma = _helper("gamma", (math.gamma, "scipy.special.gamma"))
gamma.defvjp(lambda g, x, out: g * (out * digamma(x)))

# x * log(y) and x * log1p(y), 0 where x == 0: there the gradient in y is 0, in x log(y).
xlogy = _helper("xlogy", ("scipy.special.xlogy",), 2)
xlogy.defvjp(lambda g, x, y, out: g * log(y), lambda g, x, y, out: g * (x / (y + equal(x, 0.0))))
xlog1py = _helper("xlog1py", ("scipy.special.xlog1py",), 2)
xlog1py.defvjp(lambda g, x, y, out: g * log1p(y), lambda g, x, y, out: g * (x / (1.0 + y + equal(x, 0.0))))
