"""Shapes: sizes and dimensions, transposes, reshapes, added and removed axes, and broadcasting a
gradient to an operand's shape and back. All but sizes are views of their operand."""
from __future__ import annotations

from ..ir.builder import TypeRuleError
from ..ir.core import Type
from .primitive import LINEAR, NEW, OPERATORS, VIEW, ZERO, Primitive, Recompute, Sym

# Sizes and dimensions are Python ints in NumPy: weak, so `x32 / x.size` stays float32.
size = Primitive("size", 1, "_0.size", lambda x: Type("int64", weak=True), memory=NEW, vjps=ZERO)
dim = Primitive("dim", 1, lambda types, axis: f"_0.shape[{axis}]", lambda x, axis: Type("int64", weak=True),
                memory=NEW, recompute=Recompute.NUMBER, vjps=ZERO)

# A gradient spread over an operand's shape (a read-only view), and summed back to it.
broadcast_like = Primitive("broadcast_like", 2, "rt.broadcast_like(_0, _1)",
                           lambda g, like: like.with_dtype(g.dtype), memory=VIEW, jvps=LINEAR)
unbroadcast = Primitive("unbroadcast", 2, "rt.unbroadcast(_0, _1)",
                        lambda g, like: like.with_dtype(g.dtype), memory=VIEW, jvps=LINEAR)
broadcast_like.defvjp(lambda g, x, like, out: unbroadcast(g, x), None)
unbroadcast.defvjp(lambda g, x, like, out: broadcast_like(g, x), None)

transpose = Primitive("transpose", 1, "_0.T", lambda x: Type(x.dtype, x.ndim, False, x.units[::-1]),
                      memory=VIEW, recompute=Recompute.ARRAY, jvps=LINEAR)
transpose.defvjp(lambda g, x, out: transpose(g))
permute = Primitive("permute", 1, lambda types, axes: f"np.transpose(_0, {axes})",
                    lambda x, axes: Type(x.dtype, x.ndim, False, tuple(x.units[a] for a in axes)),
                    memory=VIEW, recompute=Recompute.ARRAY, jvps=LINEAR)
permute.defvjp(lambda g, x, out, axes: permute(g, axes=tuple(sorted(range(len(axes)), key=axes.__getitem__))))


def _transposed(x: Sym) -> Sym:
    """`x.T`: the axes reversed."""
    ndim = x.type.ndim
    if ndim <= 1:
        return x
    return transpose(x) if ndim == 2 else permute(x, axes=tuple(reversed(range(ndim))))


OPERATORS["T"] = _transposed

expand_dims = Primitive("expand_dims", 1, lambda types, axis: f"rt.expand_dims(_0, {axis})",
                        lambda x, axis: Type(x.dtype, x.ndim + 1, False, x.units[:axis] + (True,) + x.units[axis:]),
                        memory=VIEW, recompute=Recompute.ARRAY, jvps=LINEAR)
squeeze = Primitive("squeeze", 1, lambda types, axis: f"rt.squeeze(_0, {axis})",
                    lambda x, axis: Type(x.dtype, x.ndim - 1, False, x.units[:axis] + x.units[axis + 1:]),
                    memory=VIEW, jvps=LINEAR)
expand_dims.defvjp(lambda g, x, out, axis: squeeze(g, axis=axis))
squeeze.defvjp(lambda g, x, out, axis: expand_dims(g, axis=axis))


def shape_of(x: Sym) -> list:
    return [dim(x, axis=axis) for axis in range(x.type.ndim)]


def _reshape_template(types):
    dims = ", ".join(f"_{i}" for i in range(1, len(types)))
    return f"rt.reshape(_0, ({dims}{',' if len(types) == 2 else ''}))"


def _reshape_type(x: Type, *dims: Type) -> Type:
    if any(d.dtype != "int64" or d.ndim for d in dims):
        raise TypeRuleError("a shape must be made of integers")
    return Type(x.dtype, len(dims))


reshape = Primitive("reshape", None, _reshape_template, _reshape_type, memory=VIEW, jvps=LINEAR)
reshape.defvjp(lambda g, x, *dims, out: reshape(g, *shape_of(x)))
