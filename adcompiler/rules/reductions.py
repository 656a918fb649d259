"""Reductions: sum, mean, max, min and prod, of everything or along axes (with keepdims). Their
gradients spread the incoming one back over the reduced axes; max and min split it evenly among
ties; prod's is exact at zeros (the product of the other elements)."""
from __future__ import annotations


from ..ir.core import Const, Type, Value
from .elementwise import cast, equal, mul, neg
import numpy as np

from .primitive import LINEAR, NEW, NoElements, Primitive, Sym, filled_elements, floating, same_type
from .shapes import broadcast_like, dim, expand_dims, reshape, shape_of, size, squeeze


def _reduction_type(x: Type) -> Type:
    return Type(x.dtype if x.dtype != "bool" else "int64", 0)


def _sum_dtype(x: Type) -> str:
    return x.dtype if x.is_float else "int64"


total = Primitive("sum", 1, "np.sum(_0)", _reduction_type, memory=NEW, jvps=LINEAR)
total.defvjp(lambda g, x, out: broadcast_like(g, x) if x.type.ndim else g)
mean = Primitive("mean", 1, "np.mean(_0)", lambda x: floating(_reduction_type(x)), memory=NEW, jvps=LINEAR)
mean.defvjp(lambda g, x, out: broadcast_like(g / cast(size(x), dtype=g.type.dtype), x) if x.type.ndim else g)


# A reduction over the sorted `axes` of an array, written as nested one-axis runtime reductions
# from the last axis (so the others keep their numbers). np.prod is reduced one axis at a time
# (its gradient composes exactly); sum, mean, max and min over several axes are one op, so that
# ties of max and min are split evenly over the whole group.

def _axes_type(result_dtype):
    def rule(x: Type, axes: tuple, keepdims: bool) -> Type:
        units = tuple(True if a in axes else u for a, u in enumerate(x.units) if keepdims or a not in axes)
        return Type(result_dtype(x), len(units), False, units)
    return rule


def axes_text(name: str, operand: str, axes: tuple, keepdims: bool) -> str:
    """The text of np.<name> of the expression `operand` over the sorted `axes`."""
    text = operand
    for axis in reversed(axes):
        text = f"rt.{name}_axis{'_keepdims' if keepdims else ''}({text}, {axis})"
    return text


def _axes_template(name):
    return lambda types, axes, keepdims: axes_text(name, "_0", axes, keepdims)


def _axes_lengths(x, axes: tuple, keepdims: bool) -> tuple:
    return tuple(1 if a in axes else n for a, n in enumerate(x.type.lengths) if keepdims or a not in axes)


def _axis_reduction(name, result_dtype, jvps=None, rewrite=None):
    return Primitive(f"{name}_axes", 1, _axes_template(name), _axes_type(result_dtype), memory=NEW, jvps=jvps,
                     rewrite=rewrite, lengths=_axes_lengths)


def _constant_along(value, axes, ndim: int) -> bool:
    """Whether `value`, an operand of an elementwise op of rank `ndim`, is the same along `axes`:
    of length 1 there, or without them (broadcasting aligns the last axes)."""
    if isinstance(value, Const) or value.type.ndim == 0:
        return True
    offset = ndim - value.type.ndim
    return all(axis < offset or value.type.units[axis - offset] is True for axis in axes)


def _split_product(builder, value, axes, ndim: int):
    """`value` as (its factors that are constant along `axes`, the product of the others or None),
    looking through one product and the products of its operands."""
    if _constant_along(value, axes, ndim):
        return [value], None
    producer = builder.producers.get(id(value))
    if producer is None or producer.prim is not mul:
        return [], value
    constants, rests = [], []
    for operand in producer.args:
        inner = builder.producers.get(id(operand)) if not _constant_along(operand, axes, ndim) else None
        split = [a for a in inner.args if _constant_along(a, axes, ndim)] if inner is not None and \
            inner.prim is mul else []
        if len(split) == 1:  # (c * r): c taken out, r kept
            constants.append(split[0])
            rests.append(inner.args[1] if inner.args[0] is split[0] else inner.args[0])
        elif _constant_along(operand, axes, ndim):
            constants.append(operand)
        else:
            rests.append(operand)
    if not constants:
        return [], value
    rest = rests[0] if len(rests) == 1 else builder.emit(mul, list(rests), {})
    return constants, rest


def _sum_of_product(builder, args, params, hint):
    """`sum(-x)` is made `-sum(x)` (negations move out, as from products), and `sum(c * r)` over
    axes along which `c` is constant (a scaling, or a tangent spread over those axes: forward mode
    keeps them lazy) is made `c * sum(r)`: no product of the summed shape is made for `c`."""
    x = args[0]
    producer = builder.producers.get(id(x)) if not isinstance(x, Const) else None
    if producer is None or not x.type.is_float:
        return None
    if producer.prim is neg:
        return builder.emit(neg, [builder.emit(sum_axes, [producer.args[0]], params, hint)], {}, hint)
    if producer.prim is not mul:
        return None
    axes, keepdims, ndim = params["axes"], params["keepdims"], x.type.ndim
    constants, rest = _split_product(builder, x, axes, ndim)
    offset = ndim - rest.type.ndim if rest is not None else 0  # the axes of x that rest lacks
    if not constants or rest is None or offset > min(axes) or rest.type.dtype != x.type.dtype or not all(
            isinstance(c, Const) or c.type.weak or c.type.dtype == x.type.dtype for c in constants):
        return None
    result = builder.emit(sum_axes, [rest], {"axes": tuple(a - offset for a in axes), "keepdims": keepdims}, hint)
    for constant in constants:
        if not keepdims and isinstance(constant, Value) and constant.type.ndim:
            offset = ndim - constant.type.ndim
            for axis in reversed(axes):
                if axis >= offset:
                    constant = builder.emit(squeeze, [constant], {"axis": axis - offset})
        result = builder.emit(mul, [constant, result], {}, hint)
    return result


def restored(g, axes, keepdims):
    """A reduced array `g` with its reduced axes back (of length 1)."""
    for axis in (() if keepdims else axes):
        g = expand_dims(g, axis=axis)
    return g


def _extremum_vjp(g, x, out, axes=None, keepdims=False):
    """The gradient goes to the extremal elements, split evenly among ties."""
    if axes is None:
        mask = equal(x, out)
        return g * mask / cast(total(mask), dtype=g.type.dtype)
    mask = equal(x, restored(out, axes, keepdims))
    count = cast(sum_axes(mask, axes=axes, keepdims=True), dtype=g.type.dtype)
    return restored(g, axes, keepdims) * mask / count


def _extremum_jvp(t, x, out, axes=None, keepdims=False):
    """The mean of the tangent over the extremal elements (ties share: the vjp's transpose)."""
    if axes is None:
        mask = equal(x, out)
        return total(t * mask) / cast(total(mask), dtype=t.type.dtype)
    mask = equal(x, restored(out, axes, keepdims))
    count = cast(sum_axes(mask, axes=axes, keepdims=keepdims), dtype=t.type.dtype)
    return sum_axes(t * mask, axes=axes, keepdims=keepdims) / count


def _group_size(x: Sym, axes, dtype: str) -> Sym:
    size = dim(x, axis=axes[0])
    for axis in axes[1:]:
        size = size * dim(x, axis=axis)
    return cast(size, dtype=dtype)


sum_axes = _axis_reduction("sum", _sum_dtype, LINEAR, _sum_of_product)
sum_axes.defvjp(lambda g, x, out, axes, keepdims: broadcast_like(restored(g, axes, keepdims), x))
mean_axes = _axis_reduction("mean", lambda x: floating(x).dtype, LINEAR)
mean_axes.defvjp(lambda g, x, out, axes, keepdims: broadcast_like(
    restored(g / _group_size(x, axes, g.type.dtype), axes, keepdims), x))
max_axes = _axis_reduction("max", lambda x: x.dtype)
min_axes = _axis_reduction("min", lambda x: x.dtype)
max_axes.defvjp(_extremum_vjp)
min_axes.defvjp(_extremum_vjp)
max_axes.defjvp(_extremum_jvp)
min_axes.defjvp(_extremum_jvp)
prod_axes = _axis_reduction("prod", _sum_dtype)
prod_axes.defvjp(lambda g, x, out, axes, keepdims: restored(g, axes, keepdims) * prod_others(x, axis=axes[0]))
prod_axes.defjvp(lambda t, x, out, axes, keepdims: sum_axes(t * prod_others(x, axis=axes[0]), axes=axes,
                                                            keepdims=keepdims))

amax = Primitive("max", 1, "np.max(_0)", lambda x: Type(x.dtype), memory=NEW)
amin = Primitive("min", 1, "np.min(_0)", lambda x: Type(x.dtype), memory=NEW)
amax.defvjp(_extremum_vjp)
amin.defvjp(_extremum_vjp)
amax.defjvp(_extremum_jvp)
amin.defjvp(_extremum_jvp)
prod = Primitive("prod", 1, "np.prod(_0)", lambda x: Type(_sum_dtype(x)), memory=NEW)
prod.defvjp(lambda g, x, out: g * prod_others_all(x))
prod.defjvp(lambda t, x, out: total(t * prod_others_all(x)))
# np.prod's gradient, exact at zeros, and its tangent (forward over reverse: hessian, hvp), exact
# at zeros too. Reverse mode over the gradient and any third derivative are refused rather than
# silently wrong.
_PROD_HINT = "for positive values write np.exp(np.sum(np.log(x))); or take finite differences of the gradient"
PROD_REFUSAL = ("the second derivative of np.prod is not supported in reverse mode (its gradient, exact at zeros, "
                "has forward rules only: use hessian or hvp)", _PROD_HINT)
prod_others = Primitive("prod_others", 1, lambda types, axis: f"rt.prod_others(_0, {axis})", same_type,
                        memory=NEW, refusal=PROD_REFUSAL)
prod_others_all = Primitive("prod_others_all", 1, "rt.prod_others_all(_0)", same_type, memory=NEW,
                            refusal=PROD_REFUSAL)
prod_others_tangent = Primitive("prod_others_tangent", 2, lambda types, axis: f"rt.prod_others_tangent(_0, _1, {axis})",
                                lambda x, t, axis: x.with_dtype(x.dtype), memory=NEW,
                                refusal=("the third derivative of np.prod is not supported", _PROD_HINT))
prod_others.defjvp(lambda t, x, out, axis: prod_others_tangent(x, t, axis=axis))
prod_others_all.defjvp(lambda t, x, out: reshape(prod_others_tangent(reshape(x, size(x)), reshape(t, size(t)), axis=0),
                                                 *shape_of(x)))


# ---------------------------------------------------------------- batching: axes shifted past the batch axis

def _all_axes_batched(axis_prim, result_dtype):
    """A reduction of everything, of each item: over all axes but the batch axis."""
    def rule(x, batched):
        if x.type.ndim == 1:  # a logical scalar is its own sum, mean, extremum and product
            dtype = result_dtype(x.type)
            return x if dtype == x.type.dtype else cast(x, dtype=dtype)
        return axis_prim(x, axes=tuple(range(1, x.type.ndim)), keepdims=False)
    return rule


def _axes_batched(axis_prim):
    return lambda x, batched, axes, keepdims: axis_prim(x, axes=tuple(a + 1 for a in axes), keepdims=keepdims)


for _whole, _along, _dtype in ((total, sum_axes, _sum_dtype), (mean, mean_axes, lambda x: floating(x).dtype),
                               (amax, max_axes, lambda x: x.dtype), (amin, min_axes, lambda x: x.dtype),
                               (prod, prod_axes, _sum_dtype)):
    _whole.defbatch(_all_axes_batched(_along, _dtype))
    _along.defbatch(_axes_batched(_along))
prod_others.defbatch(lambda x, batched, axis: prod_others(x, axis=axis + 1))
# The unbatched operand spread over the batched one's shape (the same logical shape, one more axis).
prod_others_tangent.defbatch(lambda x, t, batched, axis: prod_others_tangent(
    x if batched[0] else broadcast_like(x, t), t if batched[1] else broadcast_like(t, x), axis=axis + 1))


# ---------------------------------------------------------------- elements (transforms/scalarise.py)
# A sum is `+` of the elements in order (NumPy's pairwise summation rounds sums of more than eight
# numbers otherwise: a few ulps); bools are counted as NumPy counts them only by a cast, so they keep
# the function whole.

def _summed(x, axes=None, keepdims=False):
    if any(e.type.dtype == "bool" for e in x.flat):
        raise NoElements("a sum of bools")
    if not x.size:
        return filled_elements(np.sum(np.zeros(x.shape), axis=axes, keepdims=keepdims).shape, 0.0)
    return np.sum(x, axis=axes, keepdims=keepdims)


def _mean(x, axes=None, keepdims=False):
    count = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    return _summed(x, axes, keepdims) / float(count)


total.defelements(_summed)
sum_axes.defelements(lambda x, axes, keepdims: _summed(x, axes, keepdims))
mean.defelements(_mean)
mean_axes.defelements(lambda x, axes, keepdims: _mean(x, axes, keepdims))

