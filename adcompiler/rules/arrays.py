"""Gathers and scatters: NumPy's advanced indexing by integer arrays (`x[rows, cols]`,
`np.take`, `np.take_along_axis`) and its transpose (`np.add.at`, the gradient of a gather).

Every gather is one shape: a 3-D array `(before, n, after)` read at a 1-D array of positions
along its middle axis (`x3[:, flat]`, which Numba compiles). `take_at` brings an index by
several broadcast integer arrays to it: each array is bounds-checked and wrapped
(`checked_index`, an IndexError like NumPy's where out of range, never a silent wrap into the next
row) and they are combined into one flat position (`((i0 * n1) + i1) * n2 + i2`)."""
from __future__ import annotations

from ..ir.core import Type
from .creation import repeated_over, zeros
from .primitive import LINEAR, NEW, ZERO, Primitive, Sym
from .shapes import dim, reshape, shape_of

# Integer positions along an axis of length `n`: negative ones counted from the end; a position
# out of [-n, n) raises IndexError at run time.
checked_index = Primitive("checked_index", 2, "rt.checked_index(_0, _1)",
                          lambda index, n: Type("int64", index.ndim, False, index.units), memory=NEW, vjps=ZERO,
                          lengths=lambda index, n: index.type.lengths)

# The length `n` of an axis that must be `expected` long (np.cross's 3-vectors): ValueError otherwise.
checked_length = Primitive("checked_length", 2, "rt.checked_length(_0, _1)",
                           lambda n, expected: Type("int64", weak=True), memory=NEW, vjps=ZERO)

# `x3[:, flat]`: a 3-D array read at the (checked) 1-D positions `flat` along its axis 1.
gather = Primitive("gather", 2, "_0[:, _1]",
                   lambda x, flat: Type(x.dtype, 3, False, (x.units[0], flat.units[0], x.units[2])), memory=NEW,
                   lengths=lambda x, flat: (x.type.lengths[0], flat.type.lengths[0], x.type.lengths[2]), jvps=LINEAR)
# A new array of `like`'s shape (3-D), zero but for `g` added at the positions `flat` along axis 1:
# repeated positions accumulate.
scatter_add = Primitive("scatter_add", 3, "rt.scatter_add(_0, _1, _2)",
                        lambda like, g, flat: like.with_dtype(g.dtype), memory=NEW, jvps=LINEAR)
gather.defvjp(lambda g, x, flat, out: scatter_add(x, g, flat), None)
scatter_add.defvjp(None, lambda g, like, gg, flat, out: gather(g, flat), None)


def product(dims) -> Sym:
    """The product of the sizes `dims` (1 for none)."""
    total = Sym(1)
    for d in dims:
        total = total * d
    return total


def flat_positions(indices, dims) -> Sym:
    """The broadcast integer arrays (or integers) `indices`, positions along axes of sizes `dims`,
    as one position in those axes flattened (row-major), each checked against its axis."""
    flat = None
    for index, n in zip(indices, dims):
        checked = checked_index(index, n)
        flat = checked if flat is None else flat * n + checked
    return flat


def as_three_axes(x: Sym, axis: int, count: int) -> Sym:
    """`x` as (before, the `count` axes from `axis` flattened, after)."""
    dims = shape_of(x)
    return reshape(x, product(dims[:axis]), product(dims[axis:axis + count]), product(dims[axis + count:]))


def take_at(x: Sym, indices, axis: int) -> Sym:
    """`x[:, ..., i0, i1, ..., :]` with the integer arrays (or integers) `indices` on the adjacent
    axes from `axis`: NumPy's advanced indexing, the broadcast shape of the indices in their place."""
    dims = shape_of(x)
    flat = flat_positions(indices, dims[axis:axis + len(indices)])
    gathered = gather(as_three_axes(x, axis, len(indices)), reshape(flat, Sym(-1)))
    return reshape(gathered, *dims[:axis], *shape_of(flat), *dims[axis + len(indices):])


def add_at(a: Sym, indices, values: Sym, axis: int = 0) -> Sym:
    """`a` with `values` (broadcast to the shape of `a[i0, i1, ...]`) added at the integer arrays
    `indices` on the axes from `axis`, repeated positions accumulating (np.add.at): a new value."""
    dims = shape_of(a)
    flat = flat_positions(indices, dims[axis:axis + len(indices)])
    region = [*dims[:axis], *shape_of(flat), *dims[axis + len(indices):]]
    spread = values + zeros(*region, dtype=values.type.dtype)  # values broadcast to the region
    g3 = reshape(spread, product(dims[:axis]), product(shape_of(flat)), product(dims[axis + len(indices):]))
    added = scatter_add(as_three_axes(a, axis, len(indices)), g3, reshape(flat, Sym(-1)))
    return a + reshape(added, *dims)


# ---------------------------------------------------------------- batching: the batch axis joins the first axis

def _gather_batched(x3, flat, batched):
    if batched[1]:
        return None
    k, before, after = dim(x3, axis=0), dim(x3, axis=1), dim(x3, axis=3)
    out = gather(reshape(x3, k * before, dim(x3, axis=2), after), flat)
    return reshape(out, k, before, dim(flat, axis=0), after)


def _scatter_add_batched(like, g, flat, batched):
    if batched[2]:
        return None
    g = g if batched[1] else repeated_over(g, like)
    k, before, after = dim(g, axis=0), dim(g, axis=1), dim(g, axis=3)
    n = dim(like, axis=2 if batched[0] else 1)
    out = scatter_add(zeros(k * before, n, after, dtype=like.type.dtype), reshape(g, k * before, dim(g, axis=2), after), flat)
    return reshape(out, k, before, n, after)


gather.defbatch(_gather_batched)
scatter_add.defbatch(_scatter_add_batched)
