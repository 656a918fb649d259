"""Creation: arrays filled with a value, uninitialised arrays to be filled by writes, identity
matrices, ranges. Only a fill value and the bounds of a range carry a gradient; shapes never do."""
from __future__ import annotations


import numpy as np

from ..ir.core import Const, Type
from .primitive import BUFFER, ELEMENTWISE, LINEAR, NEW, VIEW, ZERO, Linear, Primitive, Sym, filled_elements, \
    literal, literal_lengths, promote, same_type
from .reductions import sum_axes, total
from .shapes import aligned, broadcast_like, dim, logical_rank, permute, shape_of, squeeze, unbroadcast


def _shape_text(first: int, count: int) -> str:
    dims = [f"_{i}" for i in range(first, first + count)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _filled_type(*dims: Type, dtype: str) -> Type:
    return Type(dtype, len(dims))


zeros = Primitive("zeros", None, lambda types, dtype: f"np.zeros({_shape_text(0, len(types))}, np.{dtype})",
                  _filled_type, memory=BUFFER, vjps=ZERO, lengths=literal_lengths)
ones = Primitive("ones", None, lambda types, dtype: f"np.ones({_shape_text(0, len(types))}, np.{dtype})",
                 _filled_type, memory=BUFFER, vjps=ZERO, lengths=literal_lengths)
full = Primitive("full", None,
                 lambda types, dtype: f"np.full({_shape_text(1, len(types) - 1)}, _0, np.{dtype})",
                 lambda fill, *dims, dtype: Type(dtype, len(dims)), memory=BUFFER,
                 lengths=lambda fill, *dims, dtype: literal_lengths(*dims), jvps=LINEAR)
full.defvjp(lambda g, fill, *dims, out, dtype: total(g) if g.type.ndim else g)
# A batch of fill values: each item's array (the shape the same for all).
full.defbatch(lambda fill, *dims, batched, dtype: None if any(batched[1:]) else
              zeros(dim(fill, axis=0), *dims, dtype=dtype) + aligned(fill, True, len(dims)))
# np.empty: what is not written holds whatever the memory held, as in NumPy, and carries no gradient.
empty = Primitive("empty", None, lambda types, dtype: f"np.empty({_shape_text(0, len(types))}, np.{dtype})",
                  _filled_type, memory=BUFFER, vjps=ZERO, lengths=literal_lengths)
zeros_like = Primitive("zeros_like", 1, "np.zeros_like(_0)", same_type, memory=BUFFER, vjps=ZERO, batch=ELEMENTWISE)
ones_like = Primitive("ones_like", 1, "np.ones_like(_0)", same_type, memory=BUFFER, vjps=ZERO, batch=ELEMENTWISE)
empty_like = Primitive("empty_like", 1, "np.empty_like(_0)", same_type, memory=BUFFER, vjps=ZERO, batch=ELEMENTWISE)
eye = Primitive("eye", 1, lambda types, dtype: f"np.eye(_0, _0, 0, np.{dtype})",
                lambda n, dtype: Type(dtype, 2), memory=BUFFER, vjps=ZERO, lengths=lambda n, dtype: literal_lengths(n, n))
def _arange_lengths(*bounds) -> tuple:
    if all(isinstance(b, Const) for b in bounds):
        return (len(np.arange(*(b.value for b in bounds))),)
    return (None,)


arange = Primitive("arange", 3, "np.arange(_0, _1, _2)",
                   lambda *bounds: Type(promote(*bounds).dtype if all(b.dtype != "bool" for b in bounds)
                                        else "int64", 1), memory=NEW,
                   lengths=_arange_lengths)
# start + k * step: the stop only decides how many values there are (a zero gradient).
arange.defvjp(lambda g, start, stop, step, out: total(g), None,
              lambda g, start, stop, step, out: total(g * arange(0, dim(out, axis=0), 1)))
arange.defjvp(lambda t, start, stop, step, out: t, None,
              lambda t, start, stop, step, out: t * arange(0, dim(out, axis=0), 1))
linspace = Primitive("linspace", 3, "np.linspace(_0, _1, _2)", lambda a, b, n: Type("float64", 1), memory=NEW,
                    jvps=LINEAR)
# start + (stop - start) * t with t = linspace(0, 1, num).
linspace.defvjp(lambda g, a, b, n, out: total(g * (1.0 - linspace(0.0, 1.0, n))),
                lambda g, a, b, n, out: total(g * linspace(0.0, 1.0, n)), None)


# ---------------------------------------------------------------- batching that makes arrays
# over_batch and repeated, and the batching rules of shapes' broadcast_like and unbroadcast, which
# need them: here because they make new arrays (shapes.py cannot import this module).

def over_batch(x: Sym, like: Sym) -> Sym:
    """An unbatched `x` repeated along a new leading axis as long as the batch axis of `like`: the
    value of every item of the batch, as a new array (one that may be written)."""
    return zeros(dim(like, axis=0), *shape_of(x), dtype=x.type.dtype) + x


# `x` repeated `n` times along a new leading axis, as a read-only view (stride 0: nothing copied),
# for operands that are only read or whose shape alone matters; over_batch where it is written.
repeated = Primitive("repeated", 2, "rt.repeated(_0, _1)",
                     lambda x, n: Type(x.dtype, x.ndim + 1, False, (None, *x.units)), memory=VIEW,
                     lengths=lambda x, n: (*literal_lengths(n), *x.type.lengths), jvps=Linear((0,)))
repeated.defvjp(lambda g, x, n, out: sum_axes(g, axes=(0,), keepdims=False), None)
# Each item repeated: (n, batch, ...) seen as (batch, n, ...); the count is a size, never batched.
repeated.defbatch(lambda x, n, batched: None if batched[1] else
                  permute(repeated(x, n), axes=(1, 0, *range(2, x.type.ndim + 1))))


def repeated_over(x: Sym, like: Sym) -> Sym:
    """`x` repeated as long as the batch axis of `like`, read-only (see `repeated`)."""
    return repeated(x, dim(like, axis=0))


def _broadcast_like_batched(g, like, batched):
    """g spread over like's (logical) shape: both batched, g the same for every item (it broadcasts
    against like's items, and so against like), or g's items each spread over like repeated (a
    view: nothing made where g's items already have like's shape)."""
    if not batched[0]:
        return broadcast_like(g, like)
    g = aligned(g, True, logical_rank(like, batched[1]))
    return broadcast_like(g, like if batched[1] else repeated_over(like, g))


def _unbroadcast_batched(g, like, batched):
    """g summed back to like's (logical) shape, item by item: like brought to g's logical rank so
    that the runtime sums only the stretched axes, then the added axes dropped."""
    rank = logical_rank(g, batched[0])
    if not batched[0]:
        g = repeated_over(g, like)
    added = rank - logical_rank(like, batched[1])
    target = aligned(like if batched[1] else repeated_over(like, g), True, rank)
    out = unbroadcast(g, target)
    for _ in range(added):
        out = squeeze(out, axis=1)
    return out


broadcast_like.defbatch(_broadcast_like_batched)
unbroadcast.defbatch(_unbroadcast_batched)


# ---------------------------------------------------------------- elements (transforms/scalarise.py)
# Filled arrays are their fill value (a literal, or the fill operand) at every element; np.empty's
# elements are unknown, so it has no rule.

def _filled(shape: tuple, value, dtype: str) -> np.ndarray:
    return filled_elements(shape, np.dtype(dtype).type(value).item())


zeros.defelements(lambda *dims, dtype: _filled(tuple(literal(d) for d in dims), 0, dtype))
ones.defelements(lambda *dims, dtype: _filled(tuple(literal(d) for d in dims), 1, dtype))
full.defelements(lambda fill, *dims, dtype: np.broadcast_to(fill, tuple(literal(d) for d in dims)))
zeros_like.defelements(lambda x: _filled(x.shape, 0, x.flat[0].type.dtype if x.size else "float64"))
ones_like.defelements(lambda x: _filled(x.shape, 1, x.flat[0].type.dtype if x.size else "float64"))
eye.defelements(lambda n, dtype: np.vectorize(lambda one: Sym(np.dtype(dtype).type(one).item()), otypes=[object])(
    np.eye(literal(n), dtype=bool)))
repeated.defelements(lambda x, n: np.broadcast_to(x, (literal(n), *x.shape)))

