"""The user's `checkpoint` marker. In differentiated code, `for i in checkpoint(range(n)):` is a
loop whose backward recomputes each iteration from a snapshot of its carried values (ir/core.py's
`Checkpointed`, reversed by transforms/checkpoint.py), and a call of `checkpoint(f)` (or of a
function decorated `@checkpoint`) runs f without storing its intermediates: the backward
recomputes them from f's inputs. Run as plain Python, `checkpoint(range(n))` is the range itself
and `checkpoint(f)` calls f.
"""
from __future__ import annotations

import functools
import inspect


class CheckpointedFunction:
    """`checkpoint(f)`: f, whose intermediates a gradient recomputes rather than stores."""

    def __init__(self, function):
        self.function = function
        if inspect.isfunction(function):  # (lowering also wraps the functions defined in the code)
            functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)


def checkpoint(target):
    """Mark `target`, a function or the `range(...)` of a `for` loop, as recomputed in the backward
    instead of stored (see the module docstring)."""
    if isinstance(target, range):
        return target
    if inspect.isfunction(target):
        return CheckpointedFunction(target)
    raise TypeError(f"checkpoint marks a function (checkpoint(f), @checkpoint) or the range of a for loop "
                    f"(for i in checkpoint(range(n))), not {type(target).__name__}")
