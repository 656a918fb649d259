"""Indexing: reads (`x[i, 1:3]`, `x[idx]`, `x[mask]`), their gradient (`index_add`, which
accumulates repeated indices), and element and slice updates (`y[i] = v`, `acc[i] += g`), which
are values in the IR and updates in place where emission proves nothing can tell."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.core import Const, IndexArray, IndexInt, IndexSlice, Type, basic_index, index_items
from .internal import copy, longest
from .creation import repeated_over
from .shapes import aligned, broadcast_like, logical_rank, permute
from .primitive import LINEAR, NEW, UPDATE, VIEW, NoElements, Primitive, Recompute, Sym, as_elements, \
    filled_elements, literal, numbers

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
    units = []
    for axis, item, operands in index_items(index, items):
        if isinstance(item, IndexArray):
            if operands[0].dtype == "bool":
                return Type(x.dtype, 1)
            units += operands[0].units
        elif isinstance(item, IndexSlice):
            units.append(None if operands else x.units[axis])
    units += x.units[len(index):]
    return Type(x.dtype, len(units), False, tuple(units))


def _getitem_lengths(x, *items, index) -> tuple:
    """What the index keeps of `x`'s known lengths: a slice of literal bounds on an axis of known
    length has a known length, an array index the array's lengths."""
    lengths = []
    for axis, item, operands in index_items(index, items):
        if isinstance(item, IndexArray):
            if operands[0].type.dtype == "bool":  # a mask: as many as it holds True
                return (None,)
            lengths += operands[0].type.lengths
        elif isinstance(item, IndexSlice):
            given = iter(operands)
            bounds = [next(given) if flag else Const(None) for flag in item.given]
            n = x.type.lengths[axis]
            known = n is not None and all(isinstance(b, Const) for b in bounds)
            lengths.append(len(range(*slice(*(b.value for b in bounds)).indices(n))) if known else None)
    return tuple(lengths) + x.type.lengths[len(index):]


# Basic indexing makes a view; an integer or boolean array index makes a new array (NumPy copies).
getitem = Primitive("getitem", None, lambda types, index: f"_0[{_index_text(types, index)}]", _getitem_type,
                    memory=lambda index: VIEW if basic_index(index) else NEW, lengths=_getitem_lengths,
                    recompute=lambda index: Recompute.ALWAYS if basic_index(index) else Recompute.NUMBER, jvps=LINEAR)
index_add = Primitive("index_add", None,
                      lambda types, index: f"rt.index_add(_0, _1, {_slice_objects(types, index)})",
                      lambda like, g, *items, index: like.with_dtype(g.dtype), memory=NEW, jvps=LINEAR)
getitem.defvjp(lambda g, x, *items, out, index: index_add(x, g, *items, index=index))
index_add.defvjp(None, lambda g, like, gg, *items, out, index: getitem(g, *items, index=index))


def _update_text(index, operator: str) -> str:
    return f"_0[{', '.join(_index_parts(index, 2, _slice_syntax)) or '()'}] {operator} _1"


# `y[index] = v` and `y[index] += v` (basic indexes only) as values: a new array, which emission
# writes in place when nothing reads the old one afterwards.
setitem = Primitive("setitem", None, lambda types, index: _update_text(index, "="),
                    lambda y, v, *items, index: y, memory=UPDATE, broadcasts=(1,), jvps=LINEAR)


def _region_of(g, items, index):
    """`g[index]`, copied when it is an array: the other rule then zeroes that part of g in place."""
    region = getitem(g, *items, index=index)
    return copy(region) if region.type.ndim else region


_UPDATE_VJPS = (lambda g, y, v, *items, out, index: setitem(g, 0.0, *items, index=index),
                lambda g, y, v, *items, out, index: _region_of(g, items, index))
setitem.defvjp(*_UPDATE_VJPS)


def _tape_row_text(types, index) -> str:
    rows = ", ".join(f"_{i}" for i in range(2, 2 + len(index)))
    if not types[1].ndim:
        return f"_0[{rows}] = _1"
    return f"_0[{rows}] = rt.tape_row(_1, _0.shape[{len(index)}:])"


# A `for` loop's tape made before it (tape_array) with `value` written at the iteration's row
# (`index`: integers, an outer loop's iteration first where an inner loop writes a row of its
# tape): `tape[k] = value`, differentiated as that. The rows' lengths were proved to be the value's
# (transforms/plan.py), and the store checks it: an array of another shape is a ValueError, never
# a row filled by broadcasting (rt.tape_row). Batched, a plain assignment into the batch's rows.
tape_row = Primitive("tape_row", None, _tape_row_text, lambda tape, value, *rows, index: tape, memory=UPDATE,
                     jvps=LINEAR)
tape_row.defvjp(*_UPDATE_VJPS)
# A loop's stack tape (transforms/plan.py) with `value` written at row k, the iteration: the rows are
# made at k == 0 (`capacity` of them: a `for`'s trip count, or 0 for a `while`, whose stack doubles
# when full), and a value of another shape than the first is a ValueError (rt.tape_push). Linear in
# the stack and the value, like `stack[k] = value`, and differentiated as that.
_ROW = (IndexInt(),)
tape_push = Primitive("tape_push", 4, "_0 = rt.tape_push(_0, _1, _2, _3)", lambda stack, value, k, capacity: stack,
                      memory=UPDATE, jvps=LINEAR)
tape_push.defvjp(lambda g, stack, value, k, capacity, out: setitem(g, 0.0, k, index=_ROW),
                 lambda g, stack, value, k, capacity, out: _region_of(g, (k,), _ROW), None, None)
# tape_push of a batch whose items are at iterations of their own (batching, below): row k[b] of
# item b, in a stack of rows of the batch (rows, batch, *shape).
tape_push_rows = Primitive("tape_push_rows", 4, "_0 = rt.tape_push_rows(_0, _1, _2, _3)",
                           lambda stack, value, k, capacity: stack, memory=UPDATE)
# Each item's own row, x[b, rows[b]]: an integer index that differs across the batch (batching),
# and its gradient: zeros of like's shape but for g[b] at row rows[b] of item b.
item_rows = Primitive("item_rows", 2, "rt.item_rows(_0, _1)", lambda x, rows: Type(x.dtype, x.ndim - 1),
                      memory=NEW)
item_rows_add = Primitive("item_rows_add", 3, "rt.item_rows_add(_0, _1, _2)",
                          lambda like, g, rows: like.with_dtype(g.dtype), memory=NEW)
# x with item b's row rows[b] set to v[b], in place (an assignment at integers that differ across
# the batch); v has the shape of item_rows(x, rows).
item_rows_set = Primitive("item_rows_set", 3, "_0 = rt.item_rows_set(_0, _1, _2)", lambda x, v, rows: x,
                          memory=UPDATE)
index_accumulate = Primitive("index_accumulate", None,
                             lambda types, index: _update_text(index, "+="),
                             lambda acc, g, *items, index: acc, memory=UPDATE, broadcasts=(1,), jvps=LINEAR)
index_accumulate.defvjp(lambda g, acc, gg, *items, out, index: g,
                        lambda g, acc, gg, *items, out, index: getitem(g, *items, index=index))


# ---------------------------------------------------------------- elements (transforms/scalarise.py)
# A basic index of literals is Python's subscript of the object array of elements; an array index,
# a bound that is not a literal or an index out of range keeps the function whole (batched).

def _subscript(items, index) -> tuple:
    if not basic_index(index):
        raise NoElements("an integer-array or boolean index")
    subscript = []
    for _, item, operands in index_items(index, items):
        values = iter([literal(operand) for operand in operands])
        subscript.append(slice(*(next(values) if given else None for given in item.given))
                         if isinstance(item, IndexSlice) else next(values))
    return tuple(subscript)


def _elements_at(x, items, index):
    """The subscript of `index` and the elements of `x` there (an IndexError: NoElements)."""
    subscript = _subscript(items, index)
    try:
        return subscript, as_elements(x[subscript])
    except IndexError as error:
        raise NoElements(f"an index out of range ({error})") from None


def _updated(y, v, items, index, add: bool):
    subscript, region = _elements_at(y, items, index)
    out = y.copy()
    out[subscript] = numbers(region + v if add else v)
    return out


getitem.defelements(lambda x, *items, index: _elements_at(x, items, index)[1])
setitem.defelements(lambda y, v, *items, index: _updated(y, v, items, index, add=False))
index_accumulate.defelements(lambda acc, g, *items, index: _updated(acc, g, items, index, add=True))
# zeros but for g at the index: g itself there (0 + g is g), no additions
index_add.defelements(lambda like, g, *items, index: _updated(
    filled_elements(like.shape, 0.0 if any(e.type.is_float for e in g.flat) or not g.size else 0), g, items, index,
    add=False))


# ---------------------------------------------------------------- batching
# A basic index of each item is the same index after a full slice of the batch axis. An integer
# array index stays the index's only item: the batch axis is moved behind the indexed one and back.
# Integers of a basic index that differ across the batch take each item's row (item_rows) when
# read, add there (item_rows_add) for its gradient (index_add) and `+=`, and write there
# (item_rows_set) for `=`; slice bounds that differ and boolean masks of batched arrays have no
# rule (refused).

def _masked(items, index) -> bool:
    return not basic_index(index) and items[0].type.dtype == "bool"


def _batch_axis_second(x):
    return permute(x, axes=(1, 0, *range(2, x.type.ndim)))


def _getitem_batched(x, *items, batched, index):
    if index == _ROW and batched[1] and not batched[0]:  # an unbatched array's row for each item
        return getitem(x, items[0], index=(IndexArray(),))
    if basic_index(index) and any(batched[1:]):
        return _own_integers(x, list(items), batched, index)
    if any(batched[1:]) or _masked(items, index):
        return None
    if basic_index(index):
        return getitem(x, *items, index=(IndexSlice(),) + index)
    return _batch_axis_second(getitem(_batch_axis_second(x), *items, index=index))


@dataclass(frozen=True)
class _OwnInteger:
    """A basic index split at its first integer that differs across the batch (`row`): the items
    before it (`before`, their operands), how many axes they keep, and the items after it."""

    before: tuple
    before_operands: list
    kept: int
    row: object
    after: tuple
    after_operands: list
    after_batched: tuple

    @staticmethod
    def of(items, flags, index):
        """The split, or None where the first such item is a slice (its bounds differ)."""
        groups, flags, operands = [], iter(flags), iter(items)
        for item in index:
            groups.append((item, [next(operands) for _ in range(item.operands)], [next(flags) for _ in range(item.operands)]))
        first = next(p for p, (_, _, own) in enumerate(groups) if any(own))
        if not isinstance(groups[first][0], IndexInt):
            return None
        before, after = groups[:first], groups[first + 1:]
        return _OwnInteger(tuple(g[0] for g in before), [o for g in before for o in g[1]],
                           sum(isinstance(g[0], IndexSlice) for g in before), groups[first][1][0],
                           tuple(g[0] for g in after), [o for g in after for o in g[1]],
                           tuple(f for g in after for f in g[2]))

    @property
    def rest(self) -> tuple:
        """The index of what `row` leaves (the axes the items before it kept, then those after)."""
        return (IndexSlice(),) * self.kept + self.after

    def moved(self, x):
        """x (batched) with the axis `row` indexes moved behind the batch axis (a view)."""
        return permute(x, axes=self.axes(x)) if self.kept else x

    def back(self, x):
        return permute(x, axes=tuple(sorted(range(x.type.ndim), key=self.axes(x).__getitem__))) if self.kept else x

    def axes(self, x) -> tuple:
        k = self.kept + 1
        return (0, k, *range(1, k), *range(k + 1, x.type.ndim))


def _own_integers(x, items: list, batched: tuple, index: tuple):
    """x[index] of each item where integers of the index differ across the batch (a slice bound
    that does has no rule): the part before the first such integer indexed as it is, that axis
    moved behind the batch axis and each item's row of it taken (item_rows), the rest likewise."""
    split = _OwnInteger.of(items, batched[1:], index)
    if split is None:
        return None
    x = x if batched[0] else repeated_over(x, split.row)
    if split.before:
        x = getitem(x, *split.before_operands, index=(IndexSlice(),) + split.before)
    x = item_rows(split.moved(x), split.row)
    if not split.after:
        return x
    if any(split.after_batched):
        return _own_integers(x, split.after_operands, (True, *split.after_batched), split.rest)
    return getitem(x, *split.after_operands, index=(IndexSlice(),) + split.rest)


def _own_integers_added(like, g, items: list, batched: tuple, index: tuple):
    """index_add (the gradient of `_own_integers`' read) in reverse order: g added at the items
    after the row into a value of what the row leaves, that added at each item's row
    (item_rows_add), the axis moved back, and added at the items before."""
    split = _OwnInteger.of(items, batched[2:], index)
    if split is None:
        return None
    like = like if batched[0] else repeated_over(like, split.row)
    g = g if batched[1] else repeated_over(g, split.row)
    region = getitem(like, *split.before_operands, index=(IndexSlice(),) + split.before) if split.before else like
    moved = split.moved(region)
    if split.after:
        left = getitem(moved, Sym(0), index=(IndexSlice(), IndexInt()))  # of the row's result's shape
        g = _own_integers_added(left, g, split.after_operands, (True, True, *split.after_batched), split.rest) \
            if any(split.after_batched) else index_add(left, g, *split.after_operands, index=(IndexSlice(),) + split.rest)
    g = split.back(item_rows_add(moved, g, split.row))
    if not split.before:
        return g
    return index_add(like, g, *split.before_operands, index=(IndexSlice(),) + split.before)


def _index_add_batched(like, g, *items, batched, index):
    if basic_index(index) and any(batched[2:]):
        return _own_integers_added(like, g, list(items), batched, index)
    if any(batched[2:]) or _masked(items, index):
        return None
    like = like if batched[0] else repeated_over(like, g)
    if basic_index(index):
        return index_add(like, g, *items, index=(IndexSlice(),) + index)
    g = g if batched[1] else repeated_over(g, like)
    return _batch_axis_second(index_add(_batch_axis_second(like), _batch_axis_second(g), *items, index=index))


def _update_batched(prim):
    """`y[index] = v` (or `+=`) in each item (y batched: transforms/batch.py batches the array an
    update writes into): v aligned to the rank of the region it writes."""
    def rule(y, v, *items, batched, index):
        region = logical_rank(y, True) - sum(isinstance(item, IndexInt) for item in index)
        v = aligned(v, batched[1], region)
        if any(batched[2:]):  # at each item's own integers: y plus v added there, or v written there
            if not basic_index(index):
                return None
            v = broadcast_like(v, _region(y, items, batched, index))
            if prim is setitem:
                return _own_integers_set(y, v, list(items), batched, index)
            added = _own_integers_added(y, v, list(items), (True, True, *batched[2:]), index)
            return None if added is None else y + added
        return prim(y, v, *items, index=(IndexSlice(),) + index)
    return rule


def _own_integers_set(y, v, items: list, batched: tuple, index: tuple):
    """y[index] = v in each item (y and v batched, v of the region's shape), its integers differing
    across the batch: each item's row of the region before them written (item_rows_set) with that
    row's values set at the items after them."""
    split = _OwnInteger.of(items, batched[2:], index)
    if split is None:
        return None
    region = getitem(y, *split.before_operands, index=(IndexSlice(),) + split.before) if split.before else y
    moved = split.moved(region)
    if split.after:
        row = item_rows(moved, split.row)
        v = _own_integers_set(row, v, split.after_operands, (True, True, *split.after_batched), split.rest) \
            if any(split.after_batched) else setitem(row, v, *split.after_operands, index=(IndexSlice(),) + split.rest)
    written = split.back(item_rows_set(copy(moved), v, split.row))
    return setitem(y, written, *split.before_operands, index=(IndexSlice(),) + split.before) if split.before else written


def _region(y, items, batched, index):
    """A value of the shape of the region `index` takes of each item of y (its items' integers
    differing across the batch), for a `+=` whose value broadcasts to it."""
    return _own_integers(y, list(items), (True, *batched[2:]), index)


def _tape_push_batched(stack, value, k, capacity, batched):
    """A batch of stacks (batch, rows, *shape) kept as a view of one stack of batched rows (rows,
    batch, *shape): each push writes one contiguous row, read back as `stack[:, k]`. The iteration
    number and the capacity are the same for every item (a `while`'s count is unbatched)."""
    capacity = longest(capacity) if batched[3] else capacity  # rows for the longest item's trips
    rows_first = (1, 0, *range(2, stack.type.ndim))
    value = value if batched[1] else repeated_over(value, stack)
    push = tape_push_rows if batched[2] else tape_push  # each item at its own iteration (a masked loop's)
    return permute(push(permute(stack, axes=rows_first), value, k, capacity), axes=rows_first)


getitem.defbatch(_getitem_batched)
tape_push.defbatch(_tape_push_batched)
index_add.defbatch(_index_add_batched)
setitem.defbatch(_update_batched(setitem))
tape_row.defbatch(_update_batched(setitem))
index_accumulate.defbatch(_update_batched(index_accumulate))
