"""Calls of library functions that need no derivative rule: a NumPy, `math`, SciPy or builtin
function called as it is (`np.triu_indices(n)`, `np.bincount(labels)`, `int(0.8 * n)`).

Lowering (`frontend/calls/library.py`) writes the call's Python text into the param `call`, with
the operands as `_0`, `_1`, ... (`np.triu_indices(_0, k=1)[0]`: one op per value of a tuple
result) and finds its result type (`result`) by calling the function at compile time on sample
arguments of the operand types. `memory` is "new", "view" (the result may share operand 0's
memory) or "fresh" (each call differs, as random draws do: never merged with an equal call);
`imports` are the modules its text needs besides NumPy.

- `library_value` has no derivative rule: a differentiated operand reaching it is refused, naming
  the function (its result is a float, so a gradient would have to flow through it).
- `library_index` gives an integer or boolean result (counts, indices, masks), or is a function
  constant between jumps (np.floor, round): piecewise constant in its operands, so their gradient
  is an exact zero almost everywhere (argmax, searchsorted).
"""
from __future__ import annotations

from ..ir.core import Structured, walk
from .primitive import BUFFER, NEW, VIEW, ZERO, Primitive

_MEMORY = {"new": NEW, "view": VIEW, "fresh": BUFFER}


def _template(types, call, result, memory, imports):
    return call


def _result(*operands, call, result, memory, imports):
    return result


def _memory(call, result, memory, imports):
    return _MEMORY[memory]


def _refusal(call, result, memory, imports):
    name = call.split("(")[0]  # the function, as `function_name` gives it
    return (f"`{name}` has no derivative rule, and a differentiated value reaches it",
            f"see docs/supported.md for the functions with derivatives; else compute its arguments from "
            f"values that are not differentiated, or call `{name}` in a function decorated with "
            f"adcompiler.custom_vjp that gives its derivative")


library_value = Primitive("library_value", None, _template, _result, memory=_memory, refusal=_refusal)
library_index = Primitive("library_index", None, _template, _result, memory=_memory, vjps=ZERO)


def library_call_named_in(ops, message: str):
    """The first library call of `ops` whose function `message` (an error of Numba's) names, or None."""
    for op in walk(ops):
        if not isinstance(op, Structured) and op.prim in (library_value, library_index):
            short = function_name(op).split(".")[-1]
            if any(needle in message for needle in (f"function {short} ", f"function {short}>", f"'{short}'",
                                                    f">>> {short}(")):
                return op
    return None


def function_name(op) -> str:
    """The function a library call calls, as the generated code names it (`np.bincount`)."""
    return op.param_dict["call"].split("(")[0]
