"""Placement: which statements of a generated function run as NumPy calls from plain Python and which
are outlined into Numba kernels.

NumPy runs whole-array statements at full speed (SIMD ufuncs, BLAS for `@`) with nothing to compile;
Numba is what makes a loop fast, since Python runs each iteration's statements one by one. So, at the
top level of each generated function:

- a loop (`for`, `while`, or an `if` with a loop inside) is a kernel seed, and so, in a
  value_and_grad without loops, is an elementwise chain with vector math in it (fuse.py's
  `worth_a_kernel`: the forward's and the backward's chains as one loop over the elements, no
  temporaries, vectorised exp/log/sin/cos, on every core), whose kernel only it is;
- statements on numbers and lists (a size, a scalar update, an empty tape) go with a neighbouring
  kernel, and a run of them between two kernels joins them into one;
- everything else (array statements outside loops) runs as NumPy.

A program without loops compiles nothing but such a value_and_grad's chains. Whether a kernel pays
is then measured (executable.py): the NumPy twin runs where it is faster. `place` returns the regions in program order; the emitter
writes each kernel as a function of its own with explicit inputs and outputs (a loop's tape is an
output of the forward's kernel and an input of the backward's), but where every region of a
program's functions is a kernel it compiles the functions whole (no Python between kernels).
"""
from __future__ import annotations

from dataclasses import dataclass

from .fuse import fusion, worth_a_kernel
from ..ir.core import Function, If, Loop, Structured, walk

# The modes a user chooses from (`jit=` of the transforms): "auto" places as above, "numpy" runs
# everything as NumPy (the plain version, which `jit=False` also gives), "whole" compiles each
# generated function whole with Numba (no NumPy regions).
MODES = ("auto", "numpy", "whole")


@dataclass(frozen=True)
class Region:
    """Consecutive top-level ops of a function, run as NumPy or as one Numba kernel."""

    ops: tuple
    kernel: bool

    @property
    def reason(self) -> str:
        if not self.kernel:
            return "NumPy: whole-array statements (SIMD ufuncs, BLAS), nothing to compile"
        loops = sum(isinstance(op, Structured) for op in self.ops)
        return f"Numba kernel: {loops} loop{'s' if loops > 1 else ''} and the scalar statements around " \
               "them, which Python would run one iteration at a time"


def place(fn: Function, mode: str = "auto", chains: bool = False) -> list[Region]:
    """The regions of `fn`'s top-level ops. "numpy" and "whole" give one region (NumPy, or a
    kernel: the whole function). `chains`: elementwise chains with vector math seed kernels too (for
    a value_and_grad without loops, whose forward and backward chains make one loop: emit.py)."""
    ops = list(fn.entry.ops)
    chained = worth_a_kernel(ops) if chains and mode == "auto" and fusion() else set()
    if mode != "auto" or not (chained or any(_has_loop(op) for op in ops)):
        return [Region(tuple(ops), mode == "whole")] if ops else []
    kinds = ["loop" if _has_loop(op) else "chain" if id(op) in chained else "flexible" if _scalar(op) else "array"
             for op in ops]
    in_kernel = [kind in ("loop", "chain") for kind in kinds]
    for order in (range(len(ops)), range(len(ops) - 1, -1, -1)):  # grow each loop's kernel over its neighbours
        previous = None
        for i in order:
            if kinds[i] == "flexible" and previous is not None and in_kernel[previous] and kinds[previous] != "chain":
                in_kernel[i] = True
            previous = i if kinds[i] != "flexible" or in_kernel[i] else None
    regions, start = [], 0
    for i in range(1, len(ops) + 1):
        if i == len(ops) or in_kernel[i] != in_kernel[start]:
            regions.append(Region(tuple(ops[start:i]), in_kernel[start]))
            start = i
    return regions


def _has_loop(op) -> bool:
    return isinstance(op, Loop) or (isinstance(op, If) and any(isinstance(inner, Loop) for inner in walk(
        [o for block in op.blocks for o in block.ops])))


def _scalar(op) -> bool:
    """Whether `op` makes only numbers or lists (cheap anywhere, and a kernel's own business)."""
    if isinstance(op, Structured):
        return all(r.type.ndim == 0 or r.type.listed for r in op.results)
    return op.result.type.ndim == 0 or bool(op.result.type.listed) or op.prim.name in ("placeholder", "tape_array")


def describe(fn: Function, mode: str) -> str:
    """One line per region of `fn`: where it runs, its source lines, and why."""
    lines = []
    for region in place(fn, mode):
        places = sorted({op.loc.line for op in region.ops})
        span = f"line {places[0]}" if len(places) == 1 else f"lines {places[0]}-{places[-1]}"
        lines.append(f"{fn.name}: {span}: {region.reason}")
    return "\n".join(lines)
