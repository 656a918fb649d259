"""Fusion: in a kernel, a chain of elementwise ops on arrays of one length becomes one loop.

Numba compiles each array statement of a kernel (`t = x * w + b`) to a loop that allocates its
result, and checks that its operands broadcast. `fuse` groups a run of a block's ops into a `Fused`
chain: the emitter (emit.py) writes it as one `for` over the elements, in which a value that only
the chain reads is a number, and only the values read after the chain are arrays (allocated once,
written element by element). The chain's ops keep their order and their templates, so the loop
computes each element with the same operations in the same order as the array statements: the
results are bit-identical.

The loop needs every array the chain reads to have one length (then so have all it makes); that is
checked once, at run time, before the loop, and where it does not hold (an operand of length 1 that
broadcasts) the array statements run instead. Under that check the broadcast adjoints of the
backward (`unbroadcast`, `broadcast_like` of operands of the chain's length) are their operand, so
their checks vanish from the loop.

A fused op: an elementwise arithmetic op or function (`FUSED_PRIMITIVES`) with a float rank-1
result, of rank-1 arrays and numbers. Its template is the same of numbers and of arrays, but for sin
and cos (`ELEMENT_TEMPLATES`): in the loop they are vmath's branch-free sin and cos, right for
|x| < vmath.REDUCED only, and the loop counts the arguments beyond (NaN included); where any is, the
array statements run after it (libm's Payne-Hanek). Between fused ops, a run may hold ops that make
numbers or views (`w[b:2 * b]`, `2 * b`) and read nothing the chain makes: they are computed before
the loop. A run with fewer than two fused ops stays as it is.

An elementwise op of rank >= 2 is written in a kernel as loops of its own (`looped`), one `for` an
axis, each operand read at the result's index where its axis has the result's length and at 0
where it has length 1 (its step along the axis, 1 or 0, computed before the loops): Numba compiles
NumPy's array expressions of N-D arrays slowly (a 4-D `a * b` 26 s, its loops 1 s) and the loops
run at NumPy's speed. The element's template is the op's of numbers (vector math included), but
for `where` (`NUMBER_TEMPLATES`: NumPy's of numbers is a 0-d array); `//` and `%` stay array
statements (Python's division of numbers is not NumPy's of arrays, by zero).

Outside loops, a chain with vector math in it (`worth_a_kernel`) is a kernel region of its own
(placement.py): NumPy's ufuncs write a temporary per op, the loop none, and vmath vectorises. There
its loop is `prange`d over `threads()` threads: each element is computed alone, so the results are
the same bit for bit whatever the number of threads.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..ir.core import Structured, Value

# Elementwise primitives fused into element loops: their template applies to numbers as to arrays
# (with the same rounding), but for sin and cos, whose element spelling is ELEMENT_TEMPLATES'.
FUSED_PRIMITIVES = frozenset({"add", "sub", "mul", "div", "neg", "maximum", "minimum", "exp", "log", "log1p",
                              "expm1", "sqrt", "abs", "sin", "cos"})
# In an element loop (with vector math on) sin and cos are vmath's branch-free ones, whose argument
# the loop checks (`krt.beyond_reduced`): a kernel's vector sin of a number is libm's (vmath.py).
ELEMENT_TEMPLATES = {"sin": "krt.element_sin(_0)", "cos": "krt.element_cos(_0)"}
# What makes a chain outside loops worth a kernel: NumPy's ufunc of each is slower than vmath's loop.
VECTOR_MATH = frozenset({"exp", "log", "log1p", "expm1", "sin", "cos"})
# Broadcast adjoints: under the loop's length check, their first operand itself.
PASSED_THROUGH = frozenset({"unbroadcast", "broadcast_like"})
# Elementwise primitives' spellings of numbers in `looped` ops where the template's is not a number.
NUMBER_TEMPLATES = {"where": "_1 if _0 else _2"}
_ARRAY_STATEMENTS = frozenset({"floor_divide", "remainder"})  # never `looped`
FUSION_ENVIRONMENT_VARIABLE = "ADCOMPILER_FUSION"
THREADS_ENVIRONMENT_VARIABLE = "ADCOMPILER_THREADS"
_threads: list = []  # set_threads' setting, if any


def fusion() -> bool:
    """Whether kernels fuse chains: on unless $ADCOMPILER_FUSION is "0" (read when a function is compiled)."""
    return os.environ.get(FUSION_ENVIRONMENT_VARIABLE, "1") != "0"


def set_threads(count: int | None) -> None:
    """Run chains' element loops outside loops on `count` threads (None: back to the default,
    $ADCOMPILER_THREADS or every core). The results do not depend on it."""
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError(f"adcompiler.set_threads takes a number of threads >= 1 or None, not {count!r}")
    _threads[:] = [] if count is None else [count]


def threads() -> int:
    """The threads element loops run on: set_threads', else $ADCOMPILER_THREADS, else every core."""
    if _threads:
        return _threads[0]
    return int(os.environ.get(THREADS_ENVIRONMENT_VARIABLE, "0")) or os.cpu_count() or 1


@dataclass(frozen=True)
class Fused:
    """A chain written as one loop. `before`: ops computed before it (numbers, views); `ops`: the
    fused ops in program order; `inputs`: the rank-1 arrays they read that others made (the first
    gives the loop's length); `outputs`: the fused values read after the chain (arrays)."""

    before: tuple
    ops: tuple
    inputs: tuple
    outputs: tuple

    @property
    def loc(self):
        return self.ops[0].loc


def fuse(ops, readers: dict) -> list:
    """`ops` (a block's, in order) with each run of fusable ops (at least two) replaced by its
    `Fused` chain. `readers[id(value)]`: the ops that read a value (None for a block's yield)."""
    items, run = [], []
    for op in ops:
        if _fusable(op):
            run.append(op)
        elif run and _before(op) and not any(id(a) in _made(run) for a in op.args):
            run.append(op)
        else:
            items += _closed(run, readers)
            run = []
            items.append(op)
    return items + _closed(run, readers)


def looped(op) -> bool:
    """Whether a kernel writes `op` as loops over its result's elements (see the module docstring):
    an op `of_elements` of rank >= 2."""
    return of_elements(op) and op.result.type.ndim >= 2


def of_elements(op) -> bool:
    """Whether `op` may be computed element by element in a `looped` op's loops: an elementwise op
    whose template applies to numbers, of a float or bool array, of arrays and numbers (no lists)."""
    if isinstance(op, Structured) or op.prim.updates or op.prim.identity or not op.prim.elementwise or \
            op.prim.batch is not None or op.prim.name in _ARRAY_STATEMENTS:
        return False
    result = op.result.type
    return result.ndim >= 1 and not result.listed and result.dtype in ("float32", "float64", "bool") and \
        not any(isinstance(a, Value) and a.type.listed for a in op.args)


def worth_a_kernel(ops) -> set:
    """The ids of the ops (a function's top level, outside loops) of its chains that hold vector math
    and whose other ops read no array but through a view (no reduction: a kernel whose loop is
    `prange`d sums nothing, so its results do not depend on the number of threads)."""
    chosen = set()
    for item in fuse(ops, {}):
        if isinstance(item, Fused) and any(op.prim.name in VECTOR_MATH for op in item.ops) and all(
                op.prim.name in ("getitem", "dim", "size") or not any(isinstance(a, Value) and a.type.ndim for a in op.args)
                for op in item.before):
            chosen.update(id(op) for op in (*item.before, *item.ops))
    return chosen


# Reductions to a number, which `scheduled` may move after the ops that do not read them.
_REDUCTIONS = frozenset({"sum", "mean", "max", "min", "prod"})


def scheduled(ops) -> list:
    """`ops` (a block's, without structured ops) in an order where each reduction to a number, and
    the arithmetic of numbers on it, comes as late as what reads it allows, and before any update
    (which might change what it reads): so the elementwise ops around it (a forward's chain, then
    the backward's that does not read the forward's value) make one run. Ops that are not moved
    keep their order."""
    placed, deferred, waiting = [], [], set()
    for op in ops:
        movable = op.result.type.ndim == 0 and not op.result.type.listed and (
            op.prim.name in _REDUCTIONS or (op.prim.ufunc or op.prim.broadcasts is True) and
            any(id(a) in waiting for a in op.args))
        if movable:
            deferred.append(op)
            waiting.add(id(op.result))
            continue
        if op.prim.updates or any(id(a) in waiting for a in op.args):
            placed += deferred
            deferred, waiting = [], set()
        placed.append(op)
    return placed + deferred


def _made(run) -> set:
    return {id(op.result) for op in run if _fusable(op)}


def _closed(run, readers) -> list:
    """The run as a `Fused` chain, or as its ops where fewer than two fuse."""
    fused = [op for op in run if _fusable(op)]
    if len(fused) < 2:
        return list(run)
    made = _made(run)
    inputs = {}
    for op in fused:
        for arg in op.args:
            if isinstance(arg, Value) and arg.type.ndim == 1 and id(arg) not in made:
                inputs.setdefault(id(arg), arg)
    fused_ids = {id(op) for op in fused}
    outputs = [op.result for op in fused
               if any(reader is None or id(reader) not in fused_ids for reader in readers.get(id(op.result), []))]
    if not inputs:
        return list(run)
    return [Fused(tuple(op for op in run if id(op) not in fused_ids), tuple(fused), tuple(inputs.values()),
                  tuple(outputs))]


def _fusable(op) -> bool:
    if isinstance(op, Structured) or op.prim.updates or op.prim.identity:
        return False
    result = op.result.type
    if result.ndim != 1 or result.listed or result.dtype not in ("float32", "float64") or result.units[0] is True:
        return False
    arrays = [a for a in op.args if isinstance(a, Value) and a.type.ndim]
    if any(a.type.ndim != 1 or a.type.listed or a.type.units[0] is True for a in arrays) or \
            any(isinstance(a, Value) and a.type.listed for a in op.args):
        return False
    if op.prim.name in PASSED_THROUGH:
        return op.args[0].type.ndim in (0, 1) and op.args[1].type.ndim == 1
    return op.prim.name in FUSED_PRIMITIVES and (op.prim.ufunc or op.prim.broadcasts is True)


def _before(op) -> bool:
    """Whether `op` may run before the chain it sits in: it makes a number or a view, changes nothing."""
    if isinstance(op, Structured) or op.prim.updates or op.prim.identity:
        return False
    result = op.result.type
    return not result.listed and (result.ndim == 0 or op.prim.name == "getitem")
