"""Elementwise primitives: arithmetic, comparisons, ufuncs, casts and `where`. All broadcast, make
new values and (the arithmetic ones) are cheap enough for a loop's backward to repeat."""
from __future__ import annotations

import math
import operator

import numpy as np

from ..ir.core import Type
from .primitive import ELEMENTWISE, LINEAR, NEW, ZERO, Primitive, Recompute, floating, is_const, promote, same_type


def _negated(builder, operand):
    """`x` when `operand` is a result of `-x` made by `builder`, else None."""
    producer = builder.producers.get(id(operand))
    return producer.args[0] if producer is not None and producer.prim is neg else None


def _cancel_negation(builder, args, params, hint):
    return _negated(builder, args[0])  # -(-x) is x


def _sum_of_negation(builder, args, params, hint):
    """`a + (-b)` is made `a - b`, `(-a) + b` is made `b - a` (so that negations meet and cancel)."""
    right, left = _negated(builder, args[1]), _negated(builder, args[0])
    if right is not None:
        return builder.emit(sub, [args[0], right], params, hint)
    return builder.emit(sub, [args[1], left], params, hint) if left is not None else None


def _difference_of_negation(builder, args, params, hint):
    right = _negated(builder, args[1])
    return builder.emit(add, [args[0], right], params, hint) if right is not None else None  # a - (-b)


def _negation_moved_out(prim, positions, builder, args, params, hint):
    """`prim` of `args` with the negation of the operand at one of `positions` moved out."""
    for position in positions:
        negated = _negated(builder, args[position])
        if negated is not None:
            inner = list(args)
            inner[position] = negated
            return builder.emit(neg, [builder.emit(prim, inner, params, hint)], {}, hint)
    return None


def _product_of_negation(builder, args, params, hint):
    return _negation_moved_out(mul, (0, 1), builder, args, params, hint)  # (-a) * b is -(a * b)


def _quotient_of_negation(builder, args, params, hint):
    return _negation_moved_out(div, (0,), builder, args, params, hint)  # (-a) / b is -(a / b)


# ---------------------------------------------------------------- arithmetic

def _arithmetic(name, symbol, fold, binds, rewrite=None):
    return Primitive(name, 2, f"_0 {symbol} _1", promote, memory=NEW, binds=binds, recompute=Recompute.ALWAYS,
                     rewrite=rewrite, operator=symbol, broadcasts=True, fold=fold, ufunc=True)


add = _arithmetic("add", "+", operator.add, (np.add,), _sum_of_negation)
add.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: g)

sub = _arithmetic("sub", "-", operator.sub, (np.subtract,), _difference_of_negation)
sub.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: -g)

mul = _arithmetic("mul", "*", operator.mul, (np.multiply,), _product_of_negation)
mul.defvjp(lambda g, x, y, out: g * y, lambda g, x, y, out: g * x)

div = Primitive("div", 2, "_0 / _1", lambda x, y: floating(promote(x, y)), memory=NEW, binds=(np.divide,),
                recompute=Recompute.ARRAY, rewrite=_quotient_of_negation, operator="/", broadcasts=True,
                fold=operator.truediv, ufunc=True)
div.defvjp(lambda g, x, y, out: g / y, lambda g, x, y, out: -(g * out) / y)


def _power_base_vjp(g, x, y, out):
    if is_const(y):
        exponent = y.operand.value
        if exponent == 0:
            return None  # x ** 0 is constant, also at x = 0
        if exponent == 2:
            return g * (2 * x)
        return g * (exponent * x ** (exponent - 1))
    # y x^(y - 1), of x^1 where y is 0 (0, not 0 x^-1: NaN at x = 0; JAX's rule)
    return g * (y * x ** where(equal(y, 0), 1, y - 1))


power = Primitive("power", 2, "_0 ** _1", promote, memory=NEW, binds=(np.power, math.pow), operator="**",
                  broadcasts=True, fold=operator.pow, ufunc=True, kernel_template="rt.vector_power(_0, _1)")
power.defvjp(_power_base_vjp, lambda g, x, y, out: g * (out * log(x)))

floor_divide = Primitive("floor_divide", 2, "_0 // _1", promote, memory=NEW, binds=(np.floor_divide,),
                         broadcasts=True, fold=operator.floordiv, vjps=ZERO,
                         ufunc=True)  # piecewise constant: a zero gradient
# x % y = x - floor(x / y) * y, and floor(x / y) = (x - out) / y.
remainder = Primitive("remainder", 2, "_0 % _1", promote, memory=NEW, binds=(np.remainder, np.mod),
                      broadcasts=True, fold=operator.mod, ufunc=True)
remainder.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: -(g * ((x - out) / y)))

neg = Primitive("neg", 1, "-_0", same_type, memory=NEW, binds=(np.negative,), recompute=Recompute.ALWAYS,
                rewrite=_cancel_negation, operator="unary -", fold=operator.neg, ufunc=True)
neg.defvjp(lambda g, x, out: -g)


# ---------------------------------------------------------------- comparisons and extrema

def _comparison(name, symbol, fold):
    """A comparison; of literals, folded when lowering (so `n == 0` of a constant n decides an
    `if` then: what ends a recursion unrolled at compile time)."""
    return Primitive(name, 2, f"_0 {symbol} _1", lambda x, y: promote(x, y).with_dtype("bool"), memory=NEW,
                     operator=symbol if symbol in ("<", "<=", ">", ">=") else "", broadcasts=True,
                     vjps=ZERO, ufunc=True, fold=fold)


less = _comparison("less", "<", operator.lt)
less_equal = _comparison("less_equal", "<=", operator.le)
greater = _comparison("greater", ">", operator.gt)
greater_equal = _comparison("greater_equal", ">=", operator.ge)
equal = _comparison("equal", "==", operator.eq)
not_equal = _comparison("not_equal", "!=", operator.ne)
logical_not = Primitive("logical_not", 1, lambda types: "not _0" if types[0].ndim == 0 else "np.logical_not(_0)",
                        lambda x: Type("bool", x.ndim, x.weak, x.units), memory=NEW, fold=operator.not_,
                        vjps=ZERO, ufunc=True)

maximum = Primitive("maximum", 2, "np.maximum(_0, _1)", promote, memory=NEW, binds=(np.maximum,),
                    broadcasts=True, ufunc=True)
# Ties send the gradient to the second operand, so ReLU `np.maximum(x, 0.0)` has slope 0 at 0. The
# rules read the result, not x (`x > y` is `out > y`, NaNs and signed zeros too): ReLU's backward
# keeps the activation that the next layer keeps anyway, not the value before it.
maximum.defvjp(lambda g, x, y, out: g * (out > y), lambda g, x, y, out: g * (out <= y))
minimum = Primitive("minimum", 2, "np.minimum(_0, _1)", promote, memory=NEW, binds=(np.minimum,),
                    broadcasts=True, ufunc=True)
minimum.defvjp(lambda g, x, y, out: g * (out < y), lambda g, x, y, out: g * (out >= y))


# ---------------------------------------------------------------- functions of one operand

def _function(name, binds, numpy_name=None, vector=False):
    """`np.<name>`; `vector`: kernels call backend/vmath.py's vectorisable function instead."""
    return Primitive(name, 1, f"np.{numpy_name or name}(_0)", floating, memory=NEW, binds=binds, ufunc=True,
                     kernel_template=f"rt.vector_{name}(_0)" if vector else "")


exp = _function("exp", (np.exp, math.exp), vector=True)
exp.defvjp(lambda g, x, out: g * out)
log = _function("log", (np.log, math.log), vector=True)
log.defvjp(lambda g, x, out: g / x)
log1p = _function("log1p", (np.log1p, math.log1p), vector=True)
log1p.defvjp(lambda g, x, out: g / (1 + x))
expm1 = _function("expm1", (np.expm1, math.expm1), vector=True)
expm1.defvjp(lambda g, x, out: g * (out + 1))
sqrt = _function("sqrt", (np.sqrt, math.sqrt))
sqrt.defvjp(lambda g, x, out: g / (2 * out))
sin = _function("sin", (np.sin, math.sin), vector=True)
cos = _function("cos", (np.cos, math.cos), vector=True)
sin.defvjp(lambda g, x, out: g * cos(x))
cos.defvjp(lambda g, x, out: -(g * sin(x)))
tan = _function("tan", (np.tan, math.tan))
tan.defvjp(lambda g, x, out: g * (1 + out * out))
tanh = _function("tanh", (np.tanh, math.tanh), vector=True)
tanh.defvjp(lambda g, x, out: g * (1 - out * out))
sinh = _function("sinh", (np.sinh, math.sinh))
cosh = _function("cosh", (np.cosh, math.cosh))
sinh.defvjp(lambda g, x, out: g * cosh(x))
cosh.defvjp(lambda g, x, out: g * sinh(x))
arcsin = _function("arcsin", (np.arcsin, math.asin))
arcsin.defvjp(lambda g, x, out: g / sqrt(1 - x * x))
arccos = _function("arccos", (np.arccos, math.acos))
arccos.defvjp(lambda g, x, out: -g / sqrt(1 - x * x))
arctan = _function("arctan", (np.arctan, math.atan))
arctan.defvjp(lambda g, x, out: g / (1 + x * x))
exp2 = _function("exp2", (np.exp2,))
exp2.defvjp(lambda g, x, out: g * (out * math.log(2.0)))
log2 = _function("log2", (np.log2, math.log2))
log2.defvjp(lambda g, x, out: g / (x * math.log(2.0)))
log10 = _function("log10", (np.log10, math.log10))
log10.defvjp(lambda g, x, out: g / (x * math.log(10.0)))
sign = Primitive("sign", 1, "np.sign(_0)", same_type, memory=NEW, binds=(np.sign,), vjps=ZERO, ufunc=True)
absolute = Primitive("abs", 1, "np.abs(_0)", same_type, memory=NEW, binds=(np.abs, np.absolute, abs, math.fabs),
                     ufunc=True)
absolute.defvjp(lambda g, x, out: g * sign(x))


def _cast_template(types, dtype):
    return f"np.{dtype}(_0)" if types[0].ndim == 0 else f"_0.astype(np.{dtype})"


cast = Primitive("cast", 1, _cast_template, lambda x, dtype: x.with_dtype(dtype), memory=NEW,
                 recompute=Recompute.NUMBER, batch=ELEMENTWISE, jvps=LINEAR)
cast.defvjp(lambda g, x, out, dtype: cast(g, dtype=x.type.dtype) if x.type.is_float else None)

where = Primitive("where", 3, "np.where(_0, _1, _2)", lambda c, x, y: promote(x, y, c.with_dtype("bool")),
                  memory=NEW, binds=(np.where,), broadcasts=True, jvps=LINEAR)
where.defvjp(None, lambda g, c, x, y, out: where(c, g, 0.0), lambda g, c, x, y, out: where(c, 0.0, g))
