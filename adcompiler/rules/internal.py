"""Primitives that user code never names: copies and identities that say who holds which memory,
the trip count of a loop, and the tapes between a loop's forward and backward."""
from __future__ import annotations

from ..ir.core import Type
from .creation import empty, repeated_over
from .elementwise import floor_divide, maximum, where
from .shapes import aligned, dim
from .primitive import (BUFFER, ELEMENTWISE, FRESH, IDENTITY, LINEAR, NEW, UPDATE, VIEW, ZERO, Linear, Primitive,
                        Recompute, WithLength, promote, same_type)

stop_gradient = Primitive("stop_gradient", 1, "_0", same_type, memory=IDENTITY, vjps=ZERO, batch=ELEMENTWISE)
# A Python number read back from a loop's tape, typed as the weak value it stored.
weak = Primitive("weak", 1, "_0", lambda x: Type(x.dtype, 0, True), memory=IDENTITY, vjps=ZERO)
copy = Primitive("copy", 1, "_0.copy()", same_type, memory=NEW, batch=ELEMENTWISE, jvps=LINEAR)
copy.defvjp(lambda g, x, out: g)
# A new array with the same values (x.copy(), or an expression that folded to an existing value):
# generated code writes in place only where nothing can tell, so it is the operand itself there;
# lowering's may-alias relation takes it for new memory.
fresh = Primitive("fresh", 1, "_0", same_type, memory=FRESH, batch=ELEMENTWISE, jvps=LINEAR)
fresh.defvjp(lambda g, x, out: g)
# The same values, element by element (transforms/scalarise.py).
for _same in (stop_gradient, copy, fresh):
    _same.defelements(lambda x: x)

trip_count = Primitive("trip_count", 3, "len(range(_0, _1, _2))", lambda *bounds: Type("int64", weak=True), memory=NEW,
                       recompute=Recompute.NUMBER, fold=lambda *bounds: len(range(*bounds)), vjps=ZERO)
# Each item's len(range(start, stop, step)): max(0, (stop - start + step - sign(step)) // step).
trip_count.defbatch(lambda start, stop, step, batched: maximum(
    floor_divide(stop - start + step - where(step > 0, 1, -1), step), 0))


def _placeholder_text(types, dtype, ndim, listed, units=None, lengths=None):
    if listed:  # an empty list whose item type Numba can see from the item given
        return f"rt.empty_list({_placeholder_text(types, dtype, ndim, listed - 1)})"
    if ndim:
        return f"np.empty({(0,) * ndim}, np.{dtype})"
    return "False" if dtype == "bool" else f"np.{dtype}(0)"


# The value of a variable on a path that never assigns it (read only where it was assigned); and an
# empty list, the tape of a loop whose trip count is not known in advance.
placeholder = Primitive("placeholder", 0, _placeholder_text,
                        lambda dtype, ndim, listed, units=None, lengths=None: Type(dtype, ndim, False, units, listed,
                                                                                   lengths),
                        memory=BUFFER)
# The largest of a batch of trip counts (0 for none): how long a loop whose items each run their
# own number of trips runs (transforms/batch.py), and a batch of tapes for them (tape_array's rule).
longest = Primitive("longest", 1, "rt.longest(_0)", lambda trips: Type("int64", weak=True), memory=NEW, vjps=ZERO)
# a list of `items` values: `listed` one more than theirs
# A `for` loop's tape made before it: a row per iteration (n of them), each of the given lengths (none:
# the loop's numbers; an inner loop writing a row of it in place has the row's lengths first).
# (`units` and `lengths`: what the plan knows of its axes, as a Type says.)
tape_array = Primitive("tape_array", None,
                       lambda types, dtype, units=None, lengths=None:
                       f"np.empty(({', '.join(f'_{i}' for i in range(len(types)))},), np.{dtype})",
                       lambda n, *rows, dtype, units=None, lengths=None: Type(dtype, 1 + len(rows), False, units, 0, lengths),
                       memory=BUFFER, vjps=ZERO)


def _tape_array_batched(*operands, batched, dtype, units=None, lengths=None):
    """A batch of tapes (batch, rows, *lengths), as long as the longest item's where they differ."""
    batch = next(x for x, b in zip(operands, batched) if b)
    return empty(dim(batch, axis=0), *(longest(x) if b else x for x, b in zip(operands, batched)), dtype=dtype)


tape_array.defbatch(_tape_array_batched)
# A list tape's ops have no derivative rules: they are differentiated only in a gradient spliced
# into a function that is differentiated again, and refused there (never taken for constants).
# Forward mode carries a list of tangents beside the list (of the items appended, read back).
TAPE_REFUSAL = ("differentiating the gradient of a loop that keeps its values in a list (arrays whose shape "
                "changes between iterations, or is not proved the same) is not supported",
                "for this second derivative, give the loop's arrays one shape in every iteration (preallocate "
                "the result and write its rows), or take finite differences of the gradient")
# Arrays go on a tape contiguous (a view is copied), so every list Numba sees has one item type.
append = Primitive("append", 2, lambda types: "_0.append(np.ascontiguousarray(_1))"
                   if types[1].ndim and not types[1].listed else "_0.append(_1)",
                   lambda items, item: items, memory=UPDATE, refusal=TAPE_REFUSAL, jvps=Linear((0, 1)),
                   batch=lambda items, item, batched: append(items, item) if all(batched) else None)
list_get = Primitive("list_get", 2, "_0[_1]", lambda items, k: items.element, memory=VIEW, refusal=TAPE_REFUSAL,
                     jvps=Linear((0,)), batch=lambda items, k, batched: None if batched[1] else list_get(items, k))
# A batched tape is a list of batched items: a loop's carried list is batched when it appends
# batched items (transforms/batch.py makes its empty placeholder a list of batched items).
# `a, b, c = x`: x itself, checked at run time to have as many rows as there are names.
unpacked = Primitive("unpacked", 2, "rt.unpacked(_0, _1)", lambda x, n: x, memory=VIEW, jvps=LINEAR)
unpacked.defvjp(lambda g, x, n, out: g, None)


def _rows_template(types, dtype):
    dims = ", ".join(f"_{i}" for i in range(2, len(types)))
    item_dims = "".join(f"_{i}, " for i in range(3, len(types)))
    carried = f"rt.grown_rows(_0, ({item_dims}))" if item_dims else "_0"
    return f"({carried} if _1 else np.zeros(({dims},), np.{dtype}))"


# The rows of a list that a `for` loop grows (lowering/lists.py), before iteration k writes row k:
# the carried rows (operand 0) where k > 0, checked to have this item's dims (operands 3...: a
# ValueError, never an item broadcast into the first one's shape), else a new array of the dims
# (the trip count, then the item's). The carried value at k == 0 is the loop's placeholder, which
# takes no gradient, so the rule passes g on unchanged.
rows = Primitive("rows", None, _rows_template, lambda carried, k, *dims, dtype: carried, memory=VIEW, jvps=LINEAR)
rows.defvjp(lambda g, carried, *rest, out, dtype: g)
# Batched carried rows (batch, trips, *item): the batch is one more leading dim (the check reads
# the trailing ones; at k == 0 the carried value is a placeholder, empty, hence `length`). Rows
# whose trip count or item dims differ across the batch: not batched.
rows.defbatch(WithLength(lambda carried, k, *dims, batched, length, dtype:
                         None if any(batched[1:]) else rows(carried, k, length, *dims, dtype=dtype)))
# A list grown by a loop read as an array (np.array, np.stack, sum, NumPy's functions): its rows,
# after checking that there is one. NumPy makes an empty list an array of shape (0,), whatever its
# items would have been; the rows of array items have more axes, which would change what follows.
# Batched, the rows are along axis 1.
nonempty_rows = Primitive("nonempty_rows", 1, lambda types, axis=0: f"rt.nonempty_rows(_0, {axis})",
                          lambda rows, axis=0: rows, memory=VIEW, jvps=LINEAR,
                          batch=lambda rows, batched, axis=0: nonempty_rows(rows, axis=axis + 1))
nonempty_rows.defvjp(lambda g, rows, out, axis=0: g)

# The length of the chunks of a loop checkpointed under `memory=` (transforms/checkpoint.py): of
# `trips` iterations, each taping `step` bytes, with `snapshot` bytes of carried values per chunk, to
# fit in `budget` bytes; a ValueError naming the loop (`where`) when nothing fits.
checkpoint_chunk = Primitive("checkpoint_chunk", 4,
                             lambda types, where: f"rt.checkpoint_chunk(_0, _1, _2, _3, {where!r})",
                             lambda trips, budget, step, snapshot, where: Type("int64", weak=True), memory=NEW,
                             vjps=ZERO)

# Griewank's binomial checkpointing of a loop under `memory=` (transforms/checkpoint.py,
# rt.revolve_schedule): the schedule (an int64 array, changed in place by the ops that read it), the
# position a backward iteration restores, the slot an advanced iteration's values go to, and the
# snapshots of each carried value. Only the backward runs them; differentiating it is refused.
REVOLVE_REFUSAL = ("differentiating the gradient of a loop checkpointed under memory= is not supported",
                   "take the second derivative without memory=, or checkpoint the loop by hand")
revolve_schedule = Primitive("revolve_schedule", 4,
                             lambda types, where: f"rt.revolve_schedule(_0, _1, _2, _3, {where!r})",
                             lambda trips, budget, fixed, snapshot, where: Type("int64", 1), memory=NEW)
revolve_restore = Primitive("revolve_restore", 2, "rt.revolve_restore(_0, _1)",
                            lambda schedule, k: Type("int64", weak=True), memory=NEW)
revolve_take = Primitive("revolve_take", 2, "rt.revolve_take(_0, _1)",
                         lambda schedule, position: Type("int64", weak=True), memory=NEW)
snapshot_stack = Primitive("snapshot_stack", 2,
                           lambda types, dtype: f"rt.snapshot_{'stack' if types[0].ndim else 'numbers'}(_0, _1, np.{dtype})",
                           lambda initial, schedule, dtype: Type(dtype, initial.ndim + 1), memory=NEW,
                           refusal=REVOLVE_REFUSAL)
snapshot_get = Primitive("snapshot_get", 3,
                         lambda types: "rt.snapshot_get(_0, _1, _2)" if types[0].ndim > 1 else "_0[_1[1] - 1]",
                         lambda stack, schedule, position: Type(stack.dtype, stack.ndim - 1), memory=NEW,
                         refusal=REVOLVE_REFUSAL)
snapshot_put = Primitive("snapshot_put", 3,
                         lambda types: f"rt.{'snapshot' if types[0].ndim else 'number'}_put(_0, _1, _2)",
                         lambda value, stack, slot: value, memory=VIEW, refusal=REVOLVE_REFUSAL)


# ---------------------------------------------------------------- choosing per item

def _chosen_type(broadcast: Type) -> Type:
    """select's result: the broadcast's dtype and rank, its lengths unknown (x's or y's shape)."""
    return Type(broadcast.dtype, broadcast.ndim)


# Each item's x or y by its condition, as np.where, where x and y are the values of one variable
# (batching's `selected` and `masked`, transforms/batch.py): unless every item takes the same side,
# each item's x and y must have one shape (the last `rank` axes; a ValueError otherwise, where
# np.where would broadcast one to the other), and an empty one (a variable not assigned yet: a
# placeholder) gives way to the other.
select = Primitive("select", 3, lambda types, rank=0: f"rt.select(_0, _1, _2, {rank})",
                   lambda c, x, y, rank=0: _chosen_type(promote(x, y, c.with_dtype("bool"))), memory=NEW)


def _select_batched(c, x, y, batched, rank=0):
    """select in each item of an outer batch: every operand batched (an unbatched one repeated,
    read-only) and aligned, so that where every item takes one side its result keeps the batch."""
    like = (c, x, y)[batched.index(True)]
    logical = max(v.type.ndim - b for v, b in zip((c, x, y), batched))
    return select(*(aligned(v if b else repeated_over(v, like), True, logical) for v, b in zip((c, x, y), batched)),
                  rank=rank)


select.defbatch(_select_batched)
