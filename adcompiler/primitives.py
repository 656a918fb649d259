"""The primitive table: each primitive with its Python template, type rule and derivative rules.

A derivative rule is declared right after its primitive with `defvjp`, one rule per operand:
`rule(g, *operands, out, **params)` returns that operand's share of the gradient, given the
incoming gradient `g` and the forward output `out`. Rules are written with primitives themselves
(through `Sym` operators), so what they build is IR again, typed and differentiable. An operand
whose rule is `None` gets no gradient (comparisons, sizes, `sign`). The reverse pass sums the
share of an operand of a broadcasting primitive back to the operand's shape.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import numpy as np

from .builder import TypeRuleError, current_builder
from .ir import Const, Type, Value

_KIND_ORDER = {"bool": 0, "int64": 1, "float32": 2, "float64": 2}
_WEAK_SAMPLE = {"bool": True, "int64": 0, "float64": 0.0}


def promote(*types: Type) -> Type:
    """NumPy 2 promotion (NEP 50: literals are weak) with broadcasting of ranks."""
    ndim = max(t.ndim for t in types)
    strong = [np.dtype(t.dtype) for t in types if not t.weak]
    if not strong:
        return Type(max((t.dtype for t in types), key=_KIND_ORDER.__getitem__), ndim)
    weak = [_WEAK_SAMPLE[t.dtype] for t in types if t.weak]
    return Type(str(np.result_type(*strong, *weak)), ndim)


def floating(t: Type) -> Type:
    """The type of a float function of `t`: ints and bools become float64."""
    return Type(t.dtype if t.is_float else "float64", t.ndim)


def same_type(t: Type, **_) -> Type:
    return Type(t.dtype, t.ndim)


@dataclass(eq=False)
class Primitive:
    """One operation of the IR. `template` is the Python it emits, with operands `_0`, `_1`, ...;
    a callable template receives the operand types and the params and returns that text."""

    name: str
    arity: int
    template: Union[str, Callable[..., str]]
    type_rule: Callable[..., Type]
    broadcasts: bool = False
    fold: Optional[Callable] = None
    vjps: tuple = field(default=())

    def infer_type(self, *types: Type, **params) -> Type:
        return self.type_rule(*types, **params)

    def python(self, types, params) -> str:
        return self.template if isinstance(self.template, str) else self.template(types, **params)

    def defvjp(self, *rules) -> None:
        assert len(rules) == self.arity, f"{self.name}: one rule per operand"
        self.vjps = rules

    @property
    def differentiable(self) -> bool:
        return any(rule is not None for rule in self.vjps)

    def __call__(self, *args, hint: str = "t", **params) -> "Sym":
        operands = [as_operand(a) for a in args]
        return Sym(current_builder().emit(self, operands, params, hint))

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def as_operand(x):
    if isinstance(x, Sym):
        return x.operand
    if isinstance(x, (Value, Const)):
        return x
    if isinstance(x, (bool, int, float)):
        return Const(x)
    raise TypeError(f"not an operand: {x!r}")


class Sym:
    """A symbolic operand for writing rules and lowering as maths: `g * (1 - out * out)`."""

    __slots__ = ("operand",)

    def __init__(self, operand):
        self.operand = as_operand(operand)

    @property
    def type(self) -> Type:
        return self.operand.type

    @property
    def T(self) -> "Sym":
        return transpose(self) if self.type.ndim == 2 else self

    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return sub(self, other)
    def __rsub__(self, other): return sub(other, self)
    def __mul__(self, other): return mul(self, other)
    def __rmul__(self, other): return mul(other, self)
    def __truediv__(self, other): return div(self, other)
    def __rtruediv__(self, other): return div(other, self)
    def __pow__(self, other): return power(self, other)
    def __rpow__(self, other): return power(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __neg__(self): return neg(self)
    def __gt__(self, other): return greater(self, other)
    def __lt__(self, other): return less(self, other)
    def __ge__(self, other): return greater_equal(self, other)
    def __le__(self, other): return less_equal(self, other)


def is_const(x: Sym, value=None) -> bool:
    return isinstance(x.operand, Const) and (value is None or x.operand.value == value)


# ---------------------------------------------------------------- elementwise arithmetic

def _arithmetic(name, symbol, fold):
    return Primitive(name, 2, f"_0 {symbol} _1", promote, broadcasts=True, fold=fold)


add = _arithmetic("add", "+", operator.add)
add.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: g)

sub = _arithmetic("sub", "-", operator.sub)
sub.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: -g)

mul = _arithmetic("mul", "*", operator.mul)
mul.defvjp(lambda g, x, y, out: g * y, lambda g, x, y, out: g * x)

div = Primitive("div", 2, "_0 / _1", lambda x, y: floating(promote(x, y)), broadcasts=True,
                fold=operator.truediv)
div.defvjp(lambda g, x, y, out: g / y, lambda g, x, y, out: -(g * out) / y)


def _power_base_vjp(g, x, y, out):
    if is_const(y):
        exponent = y.operand.value
        if exponent == 2:
            return g * (2 * x)
        return g * (exponent * x ** (exponent - 1))
    return g * (y * x ** (y - 1))


power = Primitive("power", 2, "_0 ** _1", promote, broadcasts=True, fold=operator.pow)
power.defvjp(_power_base_vjp, lambda g, x, y, out: g * (out * log(x)))

neg = Primitive("neg", 1, "-_0", same_type, fold=operator.neg)
neg.defvjp(lambda g, x, out: -g)


def _comparison(name, symbol):
    return Primitive(name, 2, f"_0 {symbol} _1", lambda x, y: Type("bool", promote(x, y).ndim),
                     broadcasts=True, vjps=(None, None))


less = _comparison("less", "<")
less_equal = _comparison("less_equal", "<=")
greater = _comparison("greater", ">")
greater_equal = _comparison("greater_equal", ">=")
equal = _comparison("equal", "==")
not_equal = _comparison("not_equal", "!=")

maximum = Primitive("maximum", 2, "np.maximum(_0, _1)", promote, broadcasts=True)
# Ties send the gradient to the second operand, so ReLU `np.maximum(x, 0.0)` has slope 0 at 0.
maximum.defvjp(lambda g, x, y, out: g * (x > y), lambda g, x, y, out: g * (x <= y))
minimum = Primitive("minimum", 2, "np.minimum(_0, _1)", promote, broadcasts=True)
minimum.defvjp(lambda g, x, y, out: g * (x < y), lambda g, x, y, out: g * (x >= y))


# ---------------------------------------------------------------- elementwise functions

def _function(name, numpy_name=None):
    return Primitive(name, 1, f"np.{numpy_name or name}(_0)", floating)


exp = _function("exp")
exp.defvjp(lambda g, x, out: g * out)
log = _function("log")
log.defvjp(lambda g, x, out: g / x)
log1p = _function("log1p")
log1p.defvjp(lambda g, x, out: g / (1 + x))
expm1 = _function("expm1")
expm1.defvjp(lambda g, x, out: g * (out + 1))
sqrt = _function("sqrt")
sqrt.defvjp(lambda g, x, out: g / (2 * out))
sin = _function("sin")
cos = _function("cos")
sin.defvjp(lambda g, x, out: g * cos(x))
cos.defvjp(lambda g, x, out: -(g * sin(x)))
tan = _function("tan")
tan.defvjp(lambda g, x, out: g * (1 + out * out))
tanh = _function("tanh")
tanh.defvjp(lambda g, x, out: g * (1 - out * out))
sinh = _function("sinh")
cosh = _function("cosh")
sinh.defvjp(lambda g, x, out: g * cosh(x))
cosh.defvjp(lambda g, x, out: g * sinh(x))
arcsin = _function("arcsin")
arcsin.defvjp(lambda g, x, out: g / sqrt(1 - x * x))
arccos = _function("arccos")
arccos.defvjp(lambda g, x, out: -g / sqrt(1 - x * x))
arctan = _function("arctan")
arctan.defvjp(lambda g, x, out: g / (1 + x * x))
sign = Primitive("sign", 1, "np.sign(_0)", same_type, vjps=(None,))
absolute = Primitive("abs", 1, "np.abs(_0)", same_type)
absolute.defvjp(lambda g, x, out: g * sign(x))


def _cast_template(types, dtype):
    return f"np.{dtype}(_0)" if types[0].ndim == 0 else f"_0.astype(np.{dtype})"


cast = Primitive("cast", 1, _cast_template, lambda x, dtype: Type(dtype, x.ndim))
cast.defvjp(lambda g, x, out, dtype: cast(g, dtype=x.type.dtype) if x.type.is_float else None)


# ---------------------------------------------------------------- shapes and reductions

def _reduction_type(x: Type) -> Type:
    return Type(x.dtype if x.dtype != "bool" else "int64", 0)


size = Primitive("size", 1, "_0.size", lambda x: Type("int64"), vjps=(None,))
broadcast_like = Primitive("broadcast_like", 2, "rt.broadcast_like(_0, _1)",
                           lambda g, like: Type(g.dtype, like.ndim))
unbroadcast = Primitive("unbroadcast", 2, "rt.unbroadcast(_0, _1)",
                        lambda g, like: Type(g.dtype, like.ndim))
broadcast_like.defvjp(lambda g, x, like, out: unbroadcast(g, x), None)
unbroadcast.defvjp(lambda g, x, like, out: broadcast_like(g, x), None)

total = Primitive("sum", 1, "np.sum(_0)", _reduction_type)
total.defvjp(lambda g, x, out: broadcast_like(g, x) if x.type.ndim else g)
mean = Primitive("mean", 1, "np.mean(_0)", lambda x: floating(_reduction_type(x)))
mean.defvjp(lambda g, x, out: broadcast_like(g / cast(size(x), dtype=g.type.dtype), x) if x.type.ndim else g)

zeros_like = Primitive("zeros_like", 1, "np.zeros_like(_0)", same_type, vjps=(None,))

transpose = Primitive("transpose", 1, "_0.T", same_type)
transpose.defvjp(lambda g, x, out: transpose(g))


def _matmul_type(a: Type, b: Type) -> Type:
    if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2):
        raise TypeRuleError(f"`@` of a {a.ndim}-D and a {b.ndim}-D operand is not supported",
                            "use 1-D or 2-D arrays; multiply by a scalar with `*`")
    if a.dtype != b.dtype or not a.is_float:
        raise TypeRuleError(f"`@` needs two float operands of one dtype, got {a} and {b}")
    return Type(a.dtype, a.ndim + b.ndim - 2)


def _matmul_left_vjp(g, a, b, out):
    if b.type.ndim == 1:
        return outer(g, b) if a.type.ndim == 2 else g * b
    return b @ g if a.type.ndim == 1 else g @ b.T


def _matmul_right_vjp(g, a, b, out):
    if a.type.ndim == 1:
        return outer(a, g) if b.type.ndim == 2 else g * a
    return g @ a if b.type.ndim == 1 else a.T @ g


matmul = Primitive("matmul", 2, "_0 @ _1", _matmul_type)
matmul.defvjp(_matmul_left_vjp, _matmul_right_vjp)


def _outer_type(a: Type, b: Type) -> Type:
    return Type(promote(a, b).dtype, 2)


# Not np.outer: Numba takes about 2 s to compile it, and 0.3 s to compile this.
outer = Primitive("outer", 2, "_0[:, None] * _1[None, :]", _outer_type)
outer.defvjp(lambda g, a, b, out: g @ b, lambda g, a, b, out: a @ g)


# ---------------------------------------------------------------- what user code may call

# NumPy and math functions that are one primitive each (the rest are lowered in lower.py).
FUNCTIONS = {
    np.exp: exp, math.exp: exp, np.log: log, math.log: log, np.log1p: log1p, math.log1p: log1p,
    np.expm1: expm1, math.expm1: expm1, np.sqrt: sqrt, math.sqrt: sqrt,
    np.sin: sin, math.sin: sin, np.cos: cos, math.cos: cos, np.tan: tan, math.tan: tan,
    np.tanh: tanh, math.tanh: tanh, np.sinh: sinh, math.sinh: sinh, np.cosh: cosh, math.cosh: cosh,
    np.arcsin: arcsin, math.asin: arcsin, np.arccos: arccos, math.acos: arccos,
    np.arctan: arctan, math.atan: arctan, np.abs: absolute, np.absolute: absolute, abs: absolute,
    math.fabs: absolute, np.sign: sign, np.maximum: maximum, np.minimum: minimum,
    np.power: power, math.pow: power, np.add: add, np.subtract: sub, np.multiply: mul,
    np.divide: div, np.negative: neg, np.matmul: matmul, np.outer: outer,
    np.transpose: transpose,
}
