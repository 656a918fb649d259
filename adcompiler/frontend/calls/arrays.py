"""Calls that rearrange, repeat, pad, gather and scatter arrays: roll, flip (fliplr, flipud), pad,
tile, repeat, take, take_along_axis, np.add.at, np.delete, meshgrid, cross, append, hstack, vstack,
column_stack; and indexing by several integer arrays (`x[rows, cols]`, `X[:, idx]`).

Each is a composition of primitives, exact and differentiable again: slices with step -1 (flip),
two slices joined (roll), an operand times ones of a larger shape and reshaped (tile, repeat,
meshgrid, pad 'edge'), a slice assignment into a filled array (pad 'constant'), and the gathers
and scatters of rules/arrays.py (advanced indexing, take, take_along_axis, np.add.at).
"""
from __future__ import annotations

import gast
import numpy as np

from ...ir.core import IndexInt, IndexSlice
from ...rules import primitives as P
from ...rules.arrays import add_at as scatter_into, checked_index, checked_length, take_at
from ...rules.primitives import Sym
from ...rules.shapes import shape_of
from .common import Static, flat, is_none, normal_axes, sequence
from .library import library_call
from .shapes import _joined, as_array


def _one_axis(lo, axis, ndim: int) -> int:
    (axis,) = normal_axes(lo, axis, ndim)
    return axis


def _array(lo, a, what: str, least: int = 1) -> Sym:
    x = lo.operand(a, lo.node)
    if x.type.ndim < least:
        lo.refuse(lo.node, f"{what} needs an array of at least {least} dimension{'s' if least > 1 else ''}, "
                           f"not {x.type.describe()}")
    return x


def _along(axis: int, item) -> tuple:
    """An index that is `item` on `axis` and `:` before it."""
    return (IndexSlice(),) * axis + (item,)


def _slice(x: Sym, axis: int, lower=None, upper=None) -> Sym:
    """`x[..., lower:upper]` on `axis` (None: not given)."""
    bounds = [b for b in (lower, upper) if b is not None]
    return P.getitem(x, *bounds, index=_along(axis, IndexSlice(lower is not None, upper is not None)))


def _spread(x: Sym, dims) -> Sym:
    """`x` broadcast to the shape `dims` (a new array): x times ones, exact."""
    return x * P.ones(*dims, dtype=x.type.dtype)


def _integers(lo, value, what: str) -> list:
    values = value if isinstance(value, tuple) else (value,)
    return [lo.integer(v, lo.node, what) for v in values]


# ---------------------------------------------------------------- advanced indexing

def advanced_index(lo, x: Sym, structure, operands, new_axes) -> Sym:
    """`x[index]` where `index` holds integer arrays (not one 1-D array alone): the slices are
    taken first (a view), then the integers and arrays, broadcast together, gather; their
    broadcast axes stand in their place when they are adjacent, and first otherwise (NumPy's rule)."""
    if new_axes:
        lo.refuse(lo.node, "indexing with integer arrays and `None` together is not supported",
                  "add the axis after indexing: `np.expand_dims(x[i, j], 0)`")
    values = iter(operands)
    basic, slice_operands, axes, indices = [], [], [], []
    for axis, item in enumerate(structure):
        if isinstance(item, IndexSlice):
            basic.append(item)
            slice_operands += [next(values) for given in item.given if given]
        else:
            basic.append(IndexSlice())
            axes.append(axis)
            indices.append(next(values))
    if slice_operands:
        x = P.getitem(x, *slice_operands, index=tuple(basic))
    if axes != list(range(axes[0], axes[0] + len(axes))):
        x = P.permute(x, axes=tuple(axes + [a for a in range(x.type.ndim) if a not in axes]))
        return take_at(x, indices, 0)
    return take_at(x, indices, axes[0])


def take(lo, a, indices, axis=Static(None)):
    x = _array(lo, a, "np.take")
    index = lo.operand(indices, lo.node)
    if index.type.dtype != "int64":
        lo.refuse(lo.node, f"np.take needs integer indices, not {index.type.describe()}")
    x, axis = (flat(lo, x), 0) if is_none(axis) else (x, _one_axis(lo, axis, x.type.ndim))
    if index.type.ndim == 0:  # one position: basic indexing, the axis dropped
        return P.getitem(x, index, index=_along(axis, IndexInt()))
    return take_at(x, [index], axis)


def delete(lo, arr, obj, axis=Static(None)):
    """np.delete: a gather of the positions kept along `axis` (of the flattened array without one),
    whose gradient scatters back, zero at the deleted positions. One position (an integer known or
    not; negative ones count from the end) keeps `arange(n - 1)` shifted by one from it on, so a
    known length stays known (a recursion on shapes, det by minors); several positions (integers
    or an integer array) keep `np.setdiff1d(np.arange(n), obj)`, each position checked as an index."""
    x = _array(lo, arr, "np.delete", least=0)
    x, axis = (flat(lo, x), 0) if is_none(axis) else (x, _one_axis(lo, axis, x.type.ndim))
    n = P.dim(x, axis=axis)
    positions = obj if isinstance(obj, tuple) else lo.operand(obj, lo.node)
    if isinstance(positions, Sym) and positions.type.ndim == 0:
        deleted = checked_index(lo.integer(positions, lo.node, "the position np.delete deletes"), n)
        before = P.arange(0, n - 1, 1)
        kept = before + (before >= deleted)
    else:
        items = _integers(lo, positions, "a position np.delete deletes") if isinstance(positions, tuple) else [positions]
        if any(p.type.dtype != "int64" for p in items):
            lo.refuse(lo.node, "np.delete needs integer positions", "pass an integer or a list of integers")
        deleted = checked_index(as_array(lo, positions) if isinstance(positions, tuple) else positions, n)
        kept = library_call(lo, np.setdiff1d, "np.setdiff1d", (P.arange(0, n, 1), deleted), {})
    return take_at(x, [kept], axis)


def take_along_axis(lo, arr, indices, axis):
    x = _array(lo, arr, "np.take_along_axis")
    index = lo.operand(indices, lo.node)
    if is_none(axis):
        x, axis = flat(lo, x), Sym(0)
    axis = _one_axis(lo, axis, x.type.ndim)
    if index.type.dtype != "int64" or index.type.ndim != x.type.ndim:
        lo.refuse(lo.node, f"np.take_along_axis needs integer indices of the array's rank ({x.type.ndim}-D), "
                           f"not {index.type.describe()}")
    positions = []  # an aranged position along each other axis, shaped to broadcast on its own axis
    for other, n in enumerate(shape_of(x)):
        if other == axis:
            positions.append(index)
            continue
        position = P.arange(0, n, 1)
        for new_axis in range(x.type.ndim):
            if new_axis != other:
                position = P.expand_dims(position, axis=new_axis)
        positions.append(position)
    return take_at(x, positions, 0)


def add_at(lo, a, indices, b):
    """`np.add.at(a, indices, b)`: rebinds the name `a` to the array with `b` added at `indices`
    (repeated indices accumulate), as an element assignment does; refused where NumPy would change
    another name's array (an argument, a view)."""
    target = lo.node.args[0] if lo.node.args else None
    if not isinstance(target, gast.Name):
        lo.refuse(lo.node, "np.add.at needs the name of an array as its first argument",
                  "write `np.add.at(y, idx, v)` with y a name")
    y = lo.operand(a, target)
    if y.type.ndim == 0:
        lo.refuse(lo.node, f"np.add.at needs an array, and `{target.id}` is {y.type.describe()}")
    lo.check_element_write(target, target.id, y)
    index = [lo.operand(i, lo.node) for i in (indices if isinstance(indices, tuple) else (indices,))]
    if any(i.type.dtype != "int64" for i in index) or len(index) > y.type.ndim:
        lo.refuse(lo.node, "np.add.at needs integer indices (an array, or a tuple of arrays, one per leading axis)",
                  "index with integer arrays")
    values = lo.operand(b, lo.node)
    if values.type.dtype != y.type.dtype:
        if not y.type.is_float:
            lo.refuse(lo.node, f"np.add.at of {values.type.describe()} into the integer array `{target.id}`")
        values = P.cast(values, dtype=y.type.dtype)
    lo.env[target.id] = scatter_into(y, index, values)
    return Static(None)


# ---------------------------------------------------------------- rearranging

def roll(lo, a, shift, axis=Static(None)):
    x = _array(lo, a, "np.roll")
    if is_none(axis):
        return P.reshape(roll(lo, flat(lo, x), shift, Sym(0)), *shape_of(x))
    shifts = _integers(lo, shift, "a shift")
    axes = lo.constant(axis, "axis")
    axes = list(axes) if isinstance(axes, tuple) else [axes]
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    elif len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        lo.refuse(lo.node, f"np.roll: {len(shifts)} shifts for {len(axes)} axes")
    for s, ax in zip(shifts, axes):
        ax = _one_axis(lo, ax, x.type.ndim)
        n = P.dim(x, axis=ax)
        cut = n - P.remainder(s, n)  # where the rolled axis starts
        x = _joined([_slice(x, ax, lower=cut), _slice(x, ax, upper=cut)], ax)
    return x


def flip(lo, m, axis=Static(None)):
    x = _array(lo, m, "np.flip")
    for ax in normal_axes(lo, axis, x.type.ndim):
        x = P.getitem(x, Sym(-1), index=_along(ax, IndexSlice(False, False, True)))
    return x


def fliplr(lo, m):
    _array(lo, m, "np.fliplr", 2)
    return flip(lo, m, Sym(1))


def flipud(lo, m):
    return flip(lo, _array(lo, m, "np.flipud"), Sym(0))


def _pad_widths(lo, pad_width, ndim: int) -> list:
    """NumPy's pad_width forms (n, (n,), (before, after), ((b0, a0), (b1, a1), ...)) as one
    (before, after) pair of non-negative ints per axis."""
    widths = lo.constant(pad_width, "pad_width")
    if isinstance(widths, int):
        widths = ((widths, widths),)
    elif all(isinstance(w, int) for w in widths):
        widths = (tuple(widths) * 2 if len(widths) == 1 else tuple(widths),)
    if not all(isinstance(w, tuple) for w in widths):
        lo.refuse(lo.node, f"np.pad: pad_width {widths} mixes numbers and pairs",
                  "write pad_width as n, (before, after) or ((b0, a0), (b1, a1), ...)")
    pairs = [tuple(w) * 2 if len(w) == 1 else tuple(w) for w in widths]
    if len(pairs) == 1:
        pairs = pairs * ndim
    if len(pairs) != ndim or any(len(p) != 2 or not all(isinstance(w, int) and w >= 0 for w in p) for p in pairs):
        lo.refuse(lo.node, f"np.pad: pad_width {widths} is not one pair of non-negative ints (or one for each of "
                           f"the {ndim} axes)", "write pad_width as n, (before, after) or ((b0, a0), (b1, a1), ...)")
    return pairs


def pad(lo, array, pad_width, mode=Static("constant"), constant_values=Sym(0)):
    x = _array(lo, array, "np.pad")
    pairs = _pad_widths(lo, pad_width, x.type.ndim)
    mode = lo.constant(mode, "mode")
    if mode == "constant":
        fill = lo.operand(constant_values, lo.node)
        if fill.type.ndim:
            lo.refuse(lo.node, "np.pad: constant_values must be one number here",
                      "pad with one value, or concatenate the pieces")
        dims = [n + before + after for n, (before, after) in zip(shape_of(x), pairs)]
        out = P.full(P.cast(fill, dtype=x.type.dtype) if fill.type.dtype != x.type.dtype else fill,
                     *dims, dtype=x.type.dtype)
        bounds = [b for (before, _), n in zip(pairs, shape_of(x)) for b in (Sym(before), n + before)]
        return P.setitem(out, x, *bounds, index=(IndexSlice(True, True),) * x.type.ndim)
    if mode == "edge":
        if not is_none(constant_values) and not (isinstance(constant_values, Sym) and
                                                 P.is_const(constant_values, 0)):
            lo.refuse(lo.node, "np.pad: constant_values is for mode 'constant'")
        for ax, (before, after) in enumerate(pairs):
            if before or after:
                x = _joined(_edge(x, ax, before, upper=Sym(1)) + [x] + _edge(x, ax, after, lower=Sym(-1)), ax)
        return x
    lo.refuse(lo.node, f"np.pad: mode {mode!r} is not supported", "use mode 'constant' or 'edge'")


def _edge(x: Sym, axis: int, width: int, **bounds) -> list:
    """The edge `x[..., lower:upper]` on `axis` repeated `width` times along it (none for 0)."""
    dims = shape_of(x)
    return [_spread(_slice(x, axis, **bounds), dims[:axis] + [Sym(width)] + dims[axis + 1:])] if width else []


def tile(lo, A, reps):
    x = lo.operand(A, lo.node)
    reps = _integers(lo, reps, "a number of repetitions")
    ndim = max(len(reps), x.type.ndim)
    reps = [Sym(1)] * (ndim - len(reps)) + reps
    if x.type.ndim == 0:
        x = P.reshape(x, Sym(1))
    while x.type.ndim < ndim:
        x = P.expand_dims(x, axis=0)
    dims = shape_of(x)
    interleaved = x
    for ax in range(ndim):  # (1, n0, 1, n1, ...) times ones (r0, 1, r1, 1, ...)
        interleaved = P.expand_dims(interleaved, axis=2 * ax)
    ones_dims = [d for r in reps for d in (r, Sym(1))]
    return P.reshape(_spread(interleaved, ones_dims), *(r * n for r, n in zip(reps, dims)))


def repeat(lo, a, repeats, axis=Static(None)):
    x = lo.operand(a, lo.node)
    count = lo.operand(repeats, lo.node)
    if count.type.ndim:
        lo.refuse(lo.node, "np.repeat with an array of repeats is not supported", "repeat each element as often")
    count = lo.integer(count, lo.node, "a number of repetitions")
    if is_none(axis):
        x, axis = (P.reshape(x, Sym(1)) if x.type.ndim == 0 else flat(lo, x)), Sym(0)
    ax = _one_axis(lo, axis, x.type.ndim)
    dims = shape_of(x)
    spread = _spread(P.expand_dims(x, axis=ax + 1), [count] + [Sym(1)] * (x.type.ndim - ax - 1))
    return P.reshape(spread, *dims[:ax], dims[ax] * count, *dims[ax + 1:])


def meshgrid(lo, *xi, indexing=Static("xy")):
    indexing = lo.constant(indexing, "indexing")
    if indexing not in ("xy", "ij"):
        lo.refuse(lo.node, f"np.meshgrid: indexing {indexing!r} is not 'xy' or 'ij'")
    if len(xi) not in (2, 3):
        lo.refuse(lo.node, f"np.meshgrid of {len(xi)} arrays is not supported", "pass two or three arrays")
    vectors = [_flat_1d(lo, v) for v in xi]
    order = list(range(len(vectors)))
    if indexing == "xy":  # the first two axes swapped: x varies along the columns
        order[0], order[1] = 1, 0
    dims = [None] * len(vectors)
    for position, k in enumerate(order):
        dims[position] = P.dim(vectors[k], axis=0)
    grids = []
    for k, v in enumerate(vectors):
        placed = order.index(k)
        for other in range(len(vectors)):
            if other != placed:
                v = P.expand_dims(v, axis=other)
        grids.append(_spread(v, dims))
    return tuple(grids)


def cross(lo, a, b):
    x, y = (_array(lo, v, "np.cross") for v in (a, b))
    last = max(x.type.ndim, y.type.ndim) - 1

    def component(v, k):  # v[..., k], read as k - 3 + its checked length (3: no other length is read)
        position = Sym(k - 3) + checked_length(P.dim(v, axis=v.type.ndim - 1), 3)
        return P.getitem(v, position, index=_along(v.type.ndim - 1, IndexInt()))
    parts = [component(x, i) * component(y, j) - component(x, j) * component(y, i) for i, j in ((1, 2), (2, 0), (0, 1))]
    return _joined([P.expand_dims(p, axis=last) if p.type.ndim else P.reshape(p, Sym(1)) for p in parts], last)


# ---------------------------------------------------------------- joining

def _at_least(x: Sym, ndim: int, last: bool = False) -> Sym:
    """`x` with length-1 axes added in front (np.atleast_2d) or, for `last`, a 1-D `x` as a column."""
    if x.type.ndim == 0:
        x = P.reshape(x, Sym(1))
    while x.type.ndim < ndim:
        x = P.expand_dims(x, axis=x.type.ndim if last else 0)
    return x


def _flat_1d(lo, a) -> Sym:
    """`np.ravel(a)`, a scalar as a 1-element array."""
    x = lo.operand(a, lo.node)
    return P.reshape(x, Sym(1)) if x.type.ndim == 0 else flat(lo, x)


def _operands(lo, tup) -> list:
    return [lo.operand(a, lo.node) for a in sequence(lo, tup)]


def _concatenated(lo, arrays, axis: int, name: str) -> Sym:
    if any(a.type.ndim != arrays[0].type.ndim for a in arrays):
        lo.refuse(lo.node, f"{name} needs arrays of one rank")
    return _joined(arrays, axis)


def append(lo, arr, values, axis=Static(None)):
    x, v = lo.operand(arr, lo.node), lo.operand(values, lo.node)
    if is_none(axis):
        return _joined([_flat_1d(lo, x), _flat_1d(lo, v)], 0)
    if x.type.ndim == 0 or x.type.ndim != v.type.ndim:
        lo.refuse(lo.node, "np.append with an axis needs arrays of one rank, at least 1-D")
    return _joined([x, v], _one_axis(lo, axis, x.type.ndim))


def hstack(lo, tup):
    arrays = [_at_least(a, 1) for a in _operands(lo, tup)]
    return _concatenated(lo, arrays, 0 if arrays[0].type.ndim == 1 else 1, "np.hstack")


def vstack(lo, tup):
    return _concatenated(lo, [_at_least(a, 2) for a in _operands(lo, tup)], 0, "np.vstack")


def column_stack(lo, tup):
    arrays = [_at_least(a, 2, last=a.type.ndim <= 1) for a in _operands(lo, tup)]
    return _concatenated(lo, arrays, 1, "np.column_stack")


CALLS = {np.roll: roll, np.flip: flip, np.fliplr: fliplr, np.flipud: flipud, np.pad: pad, np.tile: tile,
         np.repeat: repeat, np.take: take, np.take_along_axis: take_along_axis, np.add.at: add_at,
         np.meshgrid: meshgrid, np.cross: cross, np.append: append, np.hstack: hstack, np.vstack: vstack,
         np.column_stack: column_stack, np.delete: delete}
METHODS = {"take": np.take, "repeat": np.repeat}
