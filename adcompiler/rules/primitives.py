"""The primitive table: each primitive with its Python template, type rule and derivative rules.

A derivative rule is declared right after its primitive with `defvjp`, one rule per operand:
`rule(g, *operands, out, **params)` returns that operand's share of the gradient (None for an
exact zero), given the incoming gradient `g` and the forward output `out`. Rules are written with primitives themselves
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

from ..ir.builder import TypeRuleError, current_builder
from ..ir.core import Const, IndexArray, IndexInt, IndexSlice, Type, Value

_KIND_ORDER = {"bool": 0, "int64": 1, "float32": 2, "float64": 2}
_WEAK_SAMPLE = {"bool": True, "int64": 0, "float64": 0.0}


def promote(*types: Type) -> Type:
    """NumPy 2 promotion (NEP 50: literals are weak) with broadcasting of shapes."""
    units = broadcast_units(*types)
    strong = [np.dtype(t.dtype) for t in types if not t.weak]
    if not strong:  # Python numbers with Python numbers give a Python number
        kind = max((t.dtype for t in types), key=_KIND_ORDER.__getitem__)
        return Type(kind, len(units), not units, units)
    weak = [_WEAK_SAMPLE[t.dtype] for t in types if t.weak]
    return Type(str(np.result_type(*strong, *weak)), len(units), False, units)


def join(a: Type, b: Type):
    """The type of one variable that holds values of types `a` and `b` (a name assigned in two
    branches, or before and in a loop): None when their ranks differ."""
    if a.ndim != b.ndim or a.listed != b.listed:
        return None
    dtype = promote(a, b).dtype
    units = tuple(u if u == v else None for u, v in zip(a.units, b.units))
    return Type(dtype, a.ndim, a.weak and b.weak, units, a.listed)


def broadcast_units(*types: Type) -> tuple:
    """Which axes of the broadcast of `types` have length 1: an axis is 1 where every operand's is
    (a missing axis counts as 1), not 1 where some operand's is not 1, and unknown otherwise."""
    ndim = max(t.ndim for t in types)
    padded = [(True,) * (ndim - t.ndim) + t.units for t in types]
    return tuple(False if False in axis else True if all(axis) else None for axis in zip(*padded))


def floating(t: Type) -> Type:
    """The type of a float function of `t`: ints and bools become float64 (weak stays weak)."""
    return Type(t.dtype if t.is_float else "float64", t.ndim, t.weak, t.units)


def same_type(t: Type, **_) -> Type:
    return Type(t.dtype, t.ndim, t.weak, t.units)


@dataclass(eq=False)
class Primitive:
    """One operation of the IR. `template` is the Python it emits, with operands `_0`, `_1`, ...;
    a callable template receives the operand types and the params and returns that text."""

    name: str
    arity: Optional[int]  # None: variadic
    template: Union[str, Callable[..., str]]
    type_rule: Callable[..., Type]
    broadcasts: bool | tuple = False  # True, or the positions of the operands that broadcast
    fold: Optional[Callable] = None
    ufunc: bool = False  # an operator or NumPy ufunc: emission may nest it in its consumer's expression
    vjps: tuple = field(default=())
    updates: bool = False  # the template is a statement that changes operand 0; the result is it, changed
    refusal: tuple = ()  # (message, hint) when a differentiated value reaches a primitive without rules

    def infer_type(self, *types: Type, **params) -> Type:
        return self.type_rule(*types, **params)

    def python(self, types, params) -> str:
        return self.template if isinstance(self.template, str) else self.template(types, **params)

    def defvjp(self, *rules) -> None:
        """One rule per operand; a variadic primitive (arity None) gives rules for its leading
        operands, and the operands after them get no gradient (shapes, indices)."""
        assert self.arity is None or len(rules) == self.arity, f"{self.name}: one rule per operand"
        self.vjps = rules

    def broadcasts_operand(self, position: int) -> bool:
        return self.broadcasts is True or position in (self.broadcasts or ())

    def rule(self, position: int):
        """The derivative rule of operand `position`, or None when it gets no gradient."""
        return self.vjps[position] if position < len(self.vjps) else None

    def __call__(self, *args, hint: str = "", **params) -> "Sym":
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
        ndim = self.type.ndim
        if ndim <= 1:
            return self
        return transpose(self) if ndim == 2 else permute(self, axes=tuple(reversed(range(ndim))))

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
    return Primitive(name, 2, f"_0 {symbol} _1", promote, broadcasts=True, fold=fold, ufunc=True)


add = _arithmetic("add", "+", operator.add)
add.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: g)

sub = _arithmetic("sub", "-", operator.sub)
sub.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: -g)

mul = _arithmetic("mul", "*", operator.mul)
mul.defvjp(lambda g, x, y, out: g * y, lambda g, x, y, out: g * x)

div = Primitive("div", 2, "_0 / _1", lambda x, y: floating(promote(x, y)), broadcasts=True,
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
    return g * (y * x ** (y - 1))


power = Primitive("power", 2, "_0 ** _1", promote, broadcasts=True, fold=operator.pow, ufunc=True)
power.defvjp(_power_base_vjp, lambda g, x, y, out: g * (out * log(x)))

floor_divide = Primitive("floor_divide", 2, "_0 // _1", promote, broadcasts=True, fold=operator.floordiv,
                         vjps=(None, None), ufunc=True)  # piecewise constant: a zero gradient
# x % y = x - floor(x / y) * y, and floor(x / y) = (x - out) / y.
remainder = Primitive("remainder", 2, "_0 % _1", promote, broadcasts=True, fold=operator.mod, ufunc=True)
remainder.defvjp(lambda g, x, y, out: g, lambda g, x, y, out: -(g * ((x - out) / y)))

neg = Primitive("neg", 1, "-_0", same_type, fold=operator.neg, ufunc=True)
neg.defvjp(lambda g, x, out: -g)


def _comparison(name, symbol):
    return Primitive(name, 2, f"_0 {symbol} _1", lambda x, y: promote(x, y).with_dtype("bool"),
                     broadcasts=True, vjps=(None, None), ufunc=True)


less = _comparison("less", "<")
less_equal = _comparison("less_equal", "<=")
greater = _comparison("greater", ">")
greater_equal = _comparison("greater_equal", ">=")
equal = _comparison("equal", "==")
not_equal = _comparison("not_equal", "!=")
logical_not = Primitive("logical_not", 1, lambda types: "not _0" if types[0].ndim == 0 else "np.logical_not(_0)",
                        lambda x: Type("bool", x.ndim, x.weak, x.units), fold=operator.not_, vjps=(None,), ufunc=True)

maximum = Primitive("maximum", 2, "np.maximum(_0, _1)", promote, broadcasts=True, ufunc=True)
# Ties send the gradient to the second operand, so ReLU `np.maximum(x, 0.0)` has slope 0 at 0.
maximum.defvjp(lambda g, x, y, out: g * (x > y), lambda g, x, y, out: g * (x <= y))
minimum = Primitive("minimum", 2, "np.minimum(_0, _1)", promote, broadcasts=True, ufunc=True)
minimum.defvjp(lambda g, x, y, out: g * (x < y), lambda g, x, y, out: g * (x >= y))


# ---------------------------------------------------------------- elementwise functions

def _function(name, numpy_name=None):
    return Primitive(name, 1, f"np.{numpy_name or name}(_0)", floating, ufunc=True)


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
sign = Primitive("sign", 1, "np.sign(_0)", same_type, vjps=(None,), ufunc=True)
absolute = Primitive("abs", 1, "np.abs(_0)", same_type, ufunc=True)
absolute.defvjp(lambda g, x, out: g * sign(x))


def _cast_template(types, dtype):
    return f"np.{dtype}(_0)" if types[0].ndim == 0 else f"_0.astype(np.{dtype})"


cast = Primitive("cast", 1, _cast_template, lambda x, dtype: x.with_dtype(dtype))
cast.defvjp(lambda g, x, out, dtype: cast(g, dtype=x.type.dtype) if x.type.is_float else None)


# ---------------------------------------------------------------- shapes and reductions

def _reduction_type(x: Type) -> Type:
    return Type(x.dtype if x.dtype != "bool" else "int64", 0)


# Sizes and dimensions are Python ints in NumPy: weak, so `x32 / x.size` stays float32.
size = Primitive("size", 1, "_0.size", lambda x: Type("int64", weak=True), vjps=(None,))
broadcast_like = Primitive("broadcast_like", 2, "rt.broadcast_like(_0, _1)",
                           lambda g, like: like.with_dtype(g.dtype))
unbroadcast = Primitive("unbroadcast", 2, "rt.unbroadcast(_0, _1)",
                        lambda g, like: like.with_dtype(g.dtype))
broadcast_like.defvjp(lambda g, x, like, out: unbroadcast(g, x), None)
unbroadcast.defvjp(lambda g, x, like, out: broadcast_like(g, x), None)

total = Primitive("sum", 1, "np.sum(_0)", _reduction_type)
total.defvjp(lambda g, x, out: broadcast_like(g, x) if x.type.ndim else g)
mean = Primitive("mean", 1, "np.mean(_0)", lambda x: floating(_reduction_type(x)))
mean.defvjp(lambda g, x, out: broadcast_like(g / cast(size(x), dtype=g.type.dtype), x) if x.type.ndim else g)

zeros_like = Primitive("zeros_like", 1, "np.zeros_like(_0)", same_type, vjps=(None,))

transpose = Primitive("transpose", 1, "_0.T", lambda x: Type(x.dtype, x.ndim, False, x.units[::-1]))
transpose.defvjp(lambda g, x, out: transpose(g))


def _matmul_type(a: Type, b: Type) -> Type:
    batched = 3 in (a.ndim, b.ndim)
    if not (1 <= a.ndim <= 3 and 1 <= b.ndim <= 3) or (batched and 1 in (a.ndim, b.ndim)):
        raise TypeRuleError(f"`@` of a {a.ndim}-D and a {b.ndim}-D operand is not supported",
                            "use 1-D or 2-D operands, or 3-D stacks of matrices with 2-D or 3-D ones")
    if a.dtype != b.dtype or not a.is_float:
        raise TypeRuleError(f"`@` needs two float operands of one dtype, got {a} and {b}")
    if batched:
        batch = (a if a.ndim == 3 else b).units[:1]
        units = batch + a.units[-2:-1] + b.units[-1:]
    else:
        units = a.units[:-1] + (b.units[-1:] if b.ndim == 2 else ())
    return Type(a.dtype, len(units), False, units)


def _swap_last(x: Sym) -> Sym:
    """The matrices of a 2-D or 3-D array transposed."""
    return x.T if x.type.ndim == 2 else permute(x, axes=(0, 2, 1))


def _matmul_left_vjp(g, a, b, out):
    if b.type.ndim == 1:
        return outer(g, b) if a.type.ndim == 2 else g * b
    if a.type.ndim == 1:
        return b @ g
    share = g @ _swap_last(b)
    return sum_axes(share, axes=(0,), keepdims=False) if share.type.ndim > a.type.ndim else share


def _matmul_right_vjp(g, a, b, out):
    if a.type.ndim == 1:
        return outer(a, g) if b.type.ndim == 2 else g * a
    if b.type.ndim == 1:
        return g @ a
    share = _swap_last(a) @ g
    return sum_axes(share, axes=(0,), keepdims=False) if share.type.ndim > b.type.ndim else share


# Numba's `@` stops at 2-D; stacks of matrices go through the runtime's loop over the stack. All go
# through the runtime, whose compiled `@` is cached across functions.
matmul = Primitive("matmul", 2, "rt.matmul(_0, _1)", _matmul_type)
matmul.defvjp(_matmul_left_vjp, _matmul_right_vjp)


def _outer_type(a: Type, b: Type) -> Type:
    return Type(promote(Type(a.dtype), Type(b.dtype)).dtype, 2, False, a.units + b.units)


# Not np.outer: Numba takes about 2 s to compile it, and 0.3 s to compile this.
outer = Primitive("outer", 2, "_0[:, None] * _1[None, :]", _outer_type)
outer.defvjp(lambda g, a, b, out: g @ b, lambda g, a, b, out: a @ g)


# ---------------------------------------------------------------- more elementwise functions

exp2 = _function("exp2")
exp2.defvjp(lambda g, x, out: g * (out * math.log(2.0)))
log2 = _function("log2")
log2.defvjp(lambda g, x, out: g / (x * math.log(2.0)))
log10 = _function("log10")
log10.defvjp(lambda g, x, out: g / (x * math.log(10.0)))

where = Primitive("where", 3, "np.where(_0, _1, _2)", lambda c, x, y: promote(x, y, c.with_dtype("bool")),
                  broadcasts=True)
where.defvjp(None, lambda g, c, x, y, out: where(c, g, 0.0), lambda g, c, x, y, out: where(c, 0.0, g))


# ---------------------------------------------------------------- reductions along an axis

# A reduction over the sorted `axes` of an array, written as nested one-axis runtime reductions
# from the last axis (so the others keep their numbers). np.prod is reduced one axis at a time
# (its gradient composes exactly); sum, mean, max and min over several axes are one op, so that
# ties of max and min are split evenly over the whole group.

def _axes_type(result_dtype):
    def rule(x: Type, axes: tuple, keepdims: bool) -> Type:
        units = tuple(True if a in axes else u for a, u in enumerate(x.units) if keepdims or a not in axes)
        return Type(result_dtype(x), len(units), False, units)
    return rule


def _axes_template(name):
    def template(types, axes, keepdims):
        text = "_0"
        for axis in reversed(axes):
            text = f"rt.{name}_axis{'_keepdims' if keepdims else ''}({text}, {axis})"
        return text
    return template


def _sum_dtype(x: Type) -> str:
    return x.dtype if x.is_float else "int64"


def _axis_reduction(name, result_dtype):
    return Primitive(f"{name}_axes", 1, _axes_template(name), _axes_type(result_dtype))


def _restored(g, axes, keepdims):
    """A reduced array `g` with its reduced axes back (of length 1)."""
    for axis in (() if keepdims else axes):
        g = expand_dims(g, axis=axis)
    return g


def _extremum_vjp(g, x, out, axes=None, keepdims=False):
    """The gradient goes to the extremal elements, split evenly among ties."""
    if axes is None:
        mask = equal(x, out)
        return g * mask / cast(total(mask), dtype=g.type.dtype)
    mask = equal(x, _restored(out, axes, keepdims))
    count = cast(sum_axes(mask, axes=axes, keepdims=True), dtype=g.type.dtype)
    return _restored(g, axes, keepdims) * mask / count


def _group_size(x: Sym, axes, dtype: str) -> Sym:
    size = dim(x, axis=axes[0])
    for axis in axes[1:]:
        size = size * dim(x, axis=axis)
    return cast(size, dtype=dtype)


sum_axes = _axis_reduction("sum", _sum_dtype)
sum_axes.defvjp(lambda g, x, out, axes, keepdims: broadcast_like(_restored(g, axes, keepdims), x))
mean_axes = _axis_reduction("mean", lambda x: floating(x).dtype)
mean_axes.defvjp(lambda g, x, out, axes, keepdims: broadcast_like(
    _restored(g / _group_size(x, axes, g.type.dtype), axes, keepdims), x))
max_axes = _axis_reduction("max", lambda x: x.dtype)
min_axes = _axis_reduction("min", lambda x: x.dtype)
max_axes.defvjp(_extremum_vjp)
min_axes.defvjp(_extremum_vjp)
prod_axes = _axis_reduction("prod", _sum_dtype)
prod_axes.defvjp(lambda g, x, out, axes, keepdims: _restored(g, axes, keepdims) * prod_others(x, axis=axes[0]))

amax = Primitive("max", 1, "np.max(_0)", lambda x: Type(x.dtype))
amin = Primitive("min", 1, "np.min(_0)", lambda x: Type(x.dtype))
amax.defvjp(_extremum_vjp)
amin.defvjp(_extremum_vjp)
prod = Primitive("prod", 1, "np.prod(_0)", lambda x: Type(_sum_dtype(x)))
prod.defvjp(lambda g, x, out: g * prod_others_all(x))
# No rules: differentiating a gradient of np.prod is refused rather than silently wrong.
PROD_REFUSAL = ("the second derivative of np.prod is not supported (its gradient, exact at zeros, has no rule)",
                "for positive values write np.exp(np.sum(np.log(x))); or take finite differences of the gradient")
prod_others = Primitive("prod_others", 1, lambda types, axis: f"rt.prod_others(_0, {axis})", same_type,
                        refusal=PROD_REFUSAL)
prod_others_all = Primitive("prod_others_all", 1, "rt.prod_others_all(_0)", same_type, refusal=PROD_REFUSAL)


# ---------------------------------------------------------------- shapes

def _dim_type(x: Type, axis: int) -> Type:
    return Type("int64", weak=True)


dim = Primitive("dim", 1, lambda types, axis: f"_0.shape[{axis}]", _dim_type, vjps=(None,))
expand_dims = Primitive("expand_dims", 1, lambda types, axis: f"rt.expand_dims(_0, {axis})",
                        lambda x, axis: Type(x.dtype, x.ndim + 1, False, x.units[:axis] + (True,) + x.units[axis:]))
squeeze = Primitive("squeeze", 1, lambda types, axis: f"rt.squeeze(_0, {axis})",
                    lambda x, axis: Type(x.dtype, x.ndim - 1, False, x.units[:axis] + x.units[axis + 1:]))
expand_dims.defvjp(lambda g, x, out, axis: squeeze(g, axis=axis))
squeeze.defvjp(lambda g, x, out, axis: expand_dims(g, axis=axis))


def _shape_of(x: Sym) -> list:
    return [dim(x, axis=axis) for axis in range(x.type.ndim)]


def _reshape_template(types):
    dims = ", ".join(f"_{i}" for i in range(1, len(types)))
    return f"rt.reshape(_0, ({dims}{',' if len(types) == 2 else ''}))"


def _reshape_type(x: Type, *dims: Type) -> Type:
    if any(d.dtype != "int64" or d.ndim for d in dims):
        raise TypeRuleError("a shape must be made of integers")
    return Type(x.dtype, len(dims))


reshape = Primitive("reshape", None, _reshape_template, _reshape_type)
reshape.defvjp(lambda g, x, *dims, out: reshape(g, *_shape_of(x)))

permute = Primitive("permute", 1, lambda types, axes: f"np.transpose(_0, {axes})",
                    lambda x, axes: Type(x.dtype, x.ndim, False, tuple(x.units[a] for a in axes)))
permute.defvjp(lambda g, x, out, axes: permute(g, axes=tuple(sorted(range(len(axes)), key=axes.__getitem__))))


# ---------------------------------------------------------------- indexing
# An index is a tuple of `IndexItem`s (ir/core.py); the operands after the array are the items'
# values in order.

def _index_parts(index, first: int, slice_text) -> list:
    """The text of each index item, its operands numbered from `first`; a slice's three bounds
    (None where not given) are written by `slice_text`."""
    operand = iter(range(first, first + 3 * len(index)))
    parts = []
    for item in index:
        if isinstance(item, IndexSlice):
            parts.append(slice_text(*(f"_{next(operand)}" if given else None for given in item.given)))
        else:
            parts.append(f"_{next(operand)}")
    return parts


def _index_text(types, index) -> str:
    """Subscript syntax, `_0[_1:_2, _3]`'s inside."""
    return ", ".join(_index_parts(index, 1, _slice_syntax)) or "()"


def _slice_syntax(*bounds) -> str:
    return ":".join(b or "" for b in bounds[:2]) + (f":{bounds[2]}" if bounds[2] else "")


def _slice_objects(types, index) -> str:
    """The same index as a tuple of values, `(slice(_2, _3, None), _4)`, for rt.index_add."""
    parts = _index_parts(index, 2, lambda *bounds: f"slice({', '.join(b or 'None' for b in bounds)})")
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _getitem_type(x: Type, *items: Type, index) -> Type:
    values = iter(items)
    units = []
    for axis, item in enumerate(index):
        if isinstance(item, IndexInt):
            next(values)
        elif isinstance(item, IndexArray):
            array = next(values)
            if array.dtype == "bool":
                return Type(x.dtype, 1)
            units += array.units
        else:
            given = [next(values) for flag in item.given if flag]
            units.append(None if given else x.units[axis])
    units += x.units[len(index):]
    return Type(x.dtype, len(units), False, tuple(units))


getitem = Primitive("getitem", None, lambda types, index: f"_0[{_index_text(types, index)}]", _getitem_type)
index_add = Primitive("index_add", None,
                      lambda types, index: f"rt.index_add(_0, _1, {_slice_objects(types, index)})",
                      lambda like, g, *items, index: like.with_dtype(g.dtype))
getitem.defvjp(lambda g, x, *items, out, index: index_add(x, g, *items, index=index))
index_add.defvjp(None, lambda g, like, gg, *items, out, index: getitem(g, *items, index=index))


def _update_text(index, operator: str) -> str:
    return f"_0[{', '.join(_index_parts(index, 2, _slice_syntax)) or '()'}] {operator} _1"


# `y[index] = v` and `y[index] += v` (basic indexes only) as values: a new array, which emission
# writes in place when nothing reads the old one afterwards.
setitem = Primitive("setitem", None, lambda types, index: _update_text(index, "="),
                    lambda y, v, *items, index: y, broadcasts=(1,), updates=True)
def _region_of(g, items, index):
    """`g[index]`, copied when it is an array: the other rule then zeroes that part of g in place."""
    region = getitem(g, *items, index=index)
    return copy(region) if region.type.ndim else region


setitem.defvjp(lambda g, y, v, *items, out, index: setitem(g, 0.0, *items, index=index),
               lambda g, y, v, *items, out, index: _region_of(g, items, index))
index_accumulate = Primitive("index_accumulate", None,
                             lambda types, index: _update_text(index, "+="),
                             lambda acc, g, *items, index: acc, broadcasts=(1,), updates=True)
index_accumulate.defvjp(lambda g, acc, gg, *items, out, index: g,
                        lambda g, acc, gg, *items, out, index: getitem(g, *items, index=index))


# ---------------------------------------------------------------- creation (no gradient flows)

def _shape_text(first: int, count: int) -> str:
    dims = [f"_{i}" for i in range(first, first + count)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _filled_type(*dims: Type, dtype: str) -> Type:
    return Type(dtype, len(dims))


zeros = Primitive("zeros", None, lambda types, dtype: f"np.zeros({_shape_text(0, len(types))}, np.{dtype})",
                  _filled_type, vjps=(None,))
ones = Primitive("ones", None, lambda types, dtype: f"np.ones({_shape_text(0, len(types))}, np.{dtype})",
                 _filled_type, vjps=(None,))
full = Primitive("full", None,
                 lambda types, dtype: f"np.full({_shape_text(1, len(types) - 1)}, _0, np.{dtype})",
                 lambda fill, *dims, dtype: Type(dtype, len(dims)))
full.defvjp(lambda g, fill, *dims, out, dtype: total(g) if g.type.ndim else g)
ones_like = Primitive("ones_like", 1, "np.ones_like(_0)", same_type, vjps=(None,))
eye = Primitive("eye", 1, lambda types, dtype: f"np.eye(_0, _0, 0, np.{dtype})",
                lambda n, dtype: Type(dtype, 2), vjps=(None,))
arange = Primitive("arange", 3, "np.arange(_0, _1, _2)",
                   lambda *bounds: Type(promote(*bounds).dtype if all(b.dtype != "bool" for b in bounds)
                                        else "int64", 1))
# start + k * step: the stop only decides how many values there are (a zero gradient).
arange.defvjp(lambda g, start, stop, step, out: total(g), None,
              lambda g, start, stop, step, out: total(g * arange(0, dim(out, axis=0), 1)))
linspace = Primitive("linspace", 3, "np.linspace(_0, _1, _2)", lambda a, b, n: Type("float64", 1))
# start + (stop - start) * t with t = linspace(0, 1, num).
linspace.defvjp(lambda g, a, b, n, out: total(g * (1.0 - linspace(0.0, 1.0, n))),
                lambda g, a, b, n, out: total(g * linspace(0.0, 1.0, n)), None)


# ---------------------------------------------------------------- loops and their tapes

trip_count = Primitive("trip_count", 3, "len(range(_0, _1, _2))", lambda *bounds: Type("int64"),
                       fold=lambda *bounds: len(range(*bounds)), vjps=(None, None, None))


def _placeholder_text(types, dtype, ndim, listed, units=None):
    if listed:  # an empty list whose item type Numba can see from the item given
        return f"rt.empty_list({_placeholder_text(types, dtype, ndim, listed - 1)})"
    if ndim:
        return f"np.empty({(0,) * ndim}, np.{dtype})"
    return "False" if dtype == "bool" else f"np.{dtype}(0)"


# The value of a variable on a path that never assigns it (read only where it was assigned); and an
# empty list, the tape of a loop whose trip count is not known in advance.
placeholder = Primitive("placeholder", 0, _placeholder_text,
                        lambda dtype, ndim, listed, units=None: Type(dtype, ndim, False, units, listed), vjps=())
# a list of `items` values: `listed` one more than theirs
tape_array = Primitive("tape_array", 1, lambda types, dtype: f"np.empty(_0, np.{dtype})",
                       lambda n, dtype: Type(dtype, 1), vjps=(None,))
# A tape's list ops have no derivative rules: they are differentiated only in a gradient spliced
# into a function that is differentiated again, and refused there (never taken for constants).
TAPE_REFUSAL = ("differentiating the gradient of a loop that keeps its values in a list (arrays, or any value "
                "of a `while` loop) is not supported", "for this second derivative, write the loop as a `for` "
                "over numbers, or take finite differences of the gradient")
# Arrays go on a tape contiguous (a view is copied), so every list Numba sees has one item type.
append = Primitive("append", 2, lambda types: "_0.append(np.ascontiguousarray(_1))" if types[1].ndim and not types[1].listed
                   else "_0.append(_1)",
                   lambda items, item: items, updates=True, refusal=TAPE_REFUSAL)
list_get = Primitive("list_get", 2, "_0[_1]", lambda items, k: items.element, refusal=TAPE_REFUSAL)


stop_gradient = Primitive("stop_gradient", 1, "_0", same_type, vjps=(None,))
# A Python number read back from a loop's tape, typed as the weak value it stored.
weak = Primitive("weak", 1, "_0", lambda x: Type(x.dtype, 0, True), vjps=(None,))
copy = Primitive("copy", 1, "_0.copy()", same_type)
copy.defvjp(lambda g, x, out: g)
# A new array with the same values (x.copy(), or an expression that folded to an existing value):
# generated code never writes in place, so it is the operand itself there; lowering uses it to know
# which names share memory.
fresh = Primitive("fresh", 1, "_0", same_type)
fresh.defvjp(lambda g, x, out: g)


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
    np.divide: div, np.negative: neg, np.matmul: matmul, np.floor_divide: floor_divide, np.remainder: remainder,
    np.mod: remainder,
    np.exp2: exp2, np.log2: log2, math.log2: log2, np.log10: log10, math.log10: log10,
    np.where: where,
}
