"""Shapes: sizes and dimensions, transposes, reshapes, added and removed axes, and broadcasting a
gradient to an operand's shape and back. All but sizes are views of their operand."""
from __future__ import annotations

import math

from ..ir.builder import TypeRuleError
from ..ir.core import Const, Type
import numpy as np

from .primitive import LINEAR, NEW, OPERATORS, VIEW, ZERO, Primitive, Recompute, Sym, Unbatched, literal, \
    literal_lengths


def _known_size(builder, args, params, hint):
    """A size known from the operand's type (its shape fixed by the specialisation): a literal."""
    shape = args[0].type.shape
    return None if shape is None else Const(math.prod(shape))


def _known_dim(builder, args, params, hint):
    length = args[0].type.lengths[params["axis"]]
    return None if length is None else Const(length)


# Sizes and dimensions are Python ints in NumPy: weak, so `x32 / x.size` stays float32. Where the
# type knows them (shapes fixed by the specialisation), they are literals.
size = Primitive("size", 1, "_0.size", lambda x: Type("int64", weak=True), memory=NEW, vjps=ZERO,
                 rewrite=_known_size)
dim = Primitive("dim", 1, lambda types, axis: f"_0.shape[{axis}]", lambda x, axis: Type("int64", weak=True),
                memory=NEW, recompute=Recompute.NUMBER, vjps=ZERO, rewrite=_known_dim)


def _slice_length_text(types, given) -> str:
    bounds = iter(range(1, 4))
    return f"len(range(*slice({', '.join(f'_{next(bounds)}' if g else 'None' for g in given)}).indices(_0)))"


def _broadcast_length_text(types) -> str:
    text = "_0"
    for n in range(1, len(types)):
        text = f"(_{n} if {text} == 1 else {text})"
    return text


# Lengths computed before a loop whose tape has rows of them (transforms/plan.py's Lengths): of
# `x[start:stop:step]` along an axis of length _0 (`given`: which bounds are operands), and of
# lengths broadcast together (each 1 or one other length), as Python and NumPy compute them.
slice_length = Primitive("slice_length", None, _slice_length_text, lambda n, *bounds, given: Type("int64", weak=True),
                         memory=NEW, recompute=Recompute.NUMBER, vjps=ZERO)
broadcast_length = Primitive("broadcast_length", None, _broadcast_length_text,
                             lambda *lengths: Type("int64", weak=True), memory=NEW, recompute=Recompute.NUMBER, vjps=ZERO)

# A gradient spread over an operand's shape (a read-only view), and summed back to it.
broadcast_like = Primitive("broadcast_like", 2, "rt.broadcast_like(_0, _1)",
                           lambda g, like: like.with_dtype(g.dtype), memory=VIEW, jvps=LINEAR)
unbroadcast = Primitive("unbroadcast", 2, "rt.unbroadcast(_0, _1)",
                        lambda g, like: like.with_dtype(g.dtype), memory=VIEW, jvps=LINEAR)
broadcast_like.defvjp(lambda g, x, like, out: unbroadcast(g, x), None)
unbroadcast.defvjp(lambda g, x, like, out: broadcast_like(g, x), None)

transpose = Primitive("transpose", 1, "_0.T", lambda x: Type(x.dtype, x.ndim, False, x.units[::-1]),
                      memory=VIEW, recompute=Recompute.ARRAY, lengths=lambda x: x.type.lengths[::-1], jvps=LINEAR)
transpose.defvjp(lambda g, x, out: transpose(g))
permute = Primitive("permute", 1, lambda types, axes: f"np.transpose(_0, {axes})",
                    lambda x, axes: Type(x.dtype, x.ndim, False, tuple(x.units[a] for a in axes)),
                    memory=VIEW, recompute=Recompute.ARRAY, lengths=lambda x, axes: tuple(x.type.lengths[a] for a in axes), jvps=LINEAR)
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
                        memory=VIEW, recompute=Recompute.ARRAY,
                        lengths=lambda x, axis: x.type.lengths[:axis] + (1,) + x.type.lengths[axis:], jvps=LINEAR)
squeeze = Primitive("squeeze", 1, lambda types, axis: f"rt.squeeze(_0, {axis})",
                    lambda x, axis: Type(x.dtype, x.ndim - 1, False, x.units[:axis] + x.units[axis + 1:]),
                    memory=VIEW, lengths=lambda x, axis: x.type.lengths[:axis] + x.type.lengths[axis + 1:],
                    jvps=LINEAR)
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


def _reshape_lengths(x, *dims) -> tuple:
    """The literal dimensions; one -1 among them is the rest of a known size."""
    lengths = literal_lengths(*dims)
    rest = [i for i, d in enumerate(dims) if isinstance(d, Const) and d.value == -1]
    known = [n for n in lengths if n is not None]
    if len(rest) == 1 and len(known) == len(dims) - 1 and x.type.shape is not None and math.prod(known):
        lengths = lengths[:rest[0]] + (math.prod(x.type.shape) // math.prod(known),) + lengths[rest[0] + 1:]
    return lengths


reshape = Primitive("reshape", None, _reshape_template, _reshape_type, memory=VIEW, lengths=_reshape_lengths,
                    jvps=LINEAR)
reshape.defvjp(lambda g, x, *dims, out: reshape(g, *shape_of(x)))


# ---------------------------------------------------------------- batching (transforms/batch.py)
# A batched operand has a leading batch axis of length k; its logical rank is one less than its
# rank. Axis params of the logical value are shifted by one.

def logical_rank(x: Sym, batched: bool) -> int:
    return x.type.ndim - batched


def aligned(x: Sym, batched: bool, rank: int) -> Sym:
    """A batched `x` with axes of length 1 after the batch axis, up to logical rank `rank`: (k, 1.., *shape),
    so that it broadcasts against values of that rank as each of its items would; others unchanged."""
    for _ in range(rank - logical_rank(x, batched) if batched else 0):
        x = expand_dims(x, axis=1)
    return x


def _batched_size(x, batched):
    count = Sym(1)
    for axis in range(1, x.type.ndim):
        count = count * dim(x, axis=axis)
    return Unbatched(count)


size.defbatch(_batched_size)
dim.defbatch(lambda x, batched, axis: Unbatched(dim(x, axis=axis + 1)))


def _permute_batched(x, batched, axes=None):
    """x.T (axes reversed) or np.transpose(x, axes) of each item."""
    rank = logical_rank(x, True)
    axes = tuple(reversed(range(rank))) if axes is None else axes
    return permute(x, axes=(0, *(a + 1 for a in axes))) if rank > 1 else x


transpose.defbatch(_permute_batched)
permute.defbatch(_permute_batched)
expand_dims.defbatch(lambda x, batched, axis: expand_dims(x, axis=axis + 1))
squeeze.defbatch(lambda x, batched, axis: squeeze(x, axis=axis + 1))


def _reshape_batched(x, *dims, batched):
    """Each item reshaped: the batch axis kept in front (its sizes must be the same for all items)."""
    if any(batched[1:]):
        return None
    return reshape(x, dim(x, axis=0), *dims)


reshape.defbatch(_reshape_batched)


# ---------------------------------------------------------------- elements (transforms/scalarise.py)
# Shapes move elements and make none: NumPy's own functions on the object arrays of elements.

def _unbroadcast_elements(g, like):
    """g summed over the axes broadcasting added to or stretched in like's shape (rt.unbroadcast)."""
    lead = g.ndim - like.ndim
    stretched = tuple(lead + i for i, n in enumerate(like.shape) if n == 1 and g.shape[lead + i] != 1)
    return np.sum(g, axis=tuple(range(lead)) + stretched, keepdims=True).reshape(like.shape)


size.defelements(lambda x: x.size)
dim.defelements(lambda x, axis: x.shape[axis])
reshape.defelements(lambda x, *dims: x.reshape(tuple(literal(d) for d in dims)))
transpose.defelements(lambda x: x.T)
permute.defelements(lambda x, axes: np.transpose(x, axes))
expand_dims.defelements(lambda x, axis: np.expand_dims(x, axis))
squeeze.defelements(lambda x, axis: np.squeeze(x, axis))
broadcast_like.defelements(lambda g, like: np.broadcast_to(g, like.shape))
unbroadcast.defelements(_unbroadcast_elements)
