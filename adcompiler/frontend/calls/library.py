"""Calls of library functions without a primitive or a lowering, run as they are (`rules/library.py`):
`np.triu_indices(n)`, `np.bincount(labels)`, `int(0.8 * len(x))`, `np.argsort(x)`.

The call's text is the function's public spelling (`np.linalg.matrix_rank`, `math.floor`, `round`,
`scipy.special.comb`) with the operands as `_0`, `_1`, ... and static arguments as literals. Its
result type is found by calling the function at compile time on sample arguments of the operand
types, for three lengths of the axes whose length is not fixed (3, 2 and 1): a result whose dtype or
rank would depend on the lengths or values is refused, as are results that are not numbers, arrays
of a supported dtype or tuples of them (None: the function changes its arguments). A call whose
operands are all known when compiling (literals, strings, dtypes) is computed then: numbers become
literals, arrays captured constants. Random draws are never computed at compile time, nor merged.
"""
from __future__ import annotations

import builtins
import math
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from ...ir.core import SUPPORTED_DTYPES, Const, Type
from ...rules import primitives as P
from ...rules.primitives import Sym
from .common import Static, hashable

SAMPLE_LENGTHS = (3, 2, 1)  # lengths of the axes whose length the argument types do not fix
# Functions that are constant between jumps: their derivative is zero almost everywhere, as for
# functions with integer or boolean results.
PIECEWISE_CONSTANT = frozenset({np.floor, np.ceil, np.trunc, np.rint, np.round, np.around, np.fix, np.sign,
                                math.floor, math.ceil, math.trunc, round, int, bool})
# Array methods that are the NumPy function of the same name with the array first (`x.argmax(1)`
# is `np.argmax(x, 1)`), lowered as that function where no family declares the method.
NUMPY_METHODS = frozenset({"argmax", "argmin", "argsort", "nonzero", "any", "all", "round", "cumsum", "cumprod",
                           "std", "var", "trace", "diagonal", "searchsorted", "repeat", "take"})
_NUMPY_SUBMODULES = ("linalg", "fft", "random")  # spelled np.<submodule>.<name>; NumPy imports them at first use


LIBRARY_MODULES = ("numpy", "math", "builtins", "scipy")  # whose functions and globals are not the user's


def is_library(function) -> bool:
    """Whether `function` belongs to NumPy, math, SciPy or the builtins."""
    module = getattr(function, "__module__", None) or ""
    return module.split(".")[0] in LIBRARY_MODULES or isinstance(function, np.ufunc)


def library_call(lo, function, name: str, args, kwargs):
    """`function(*args, **kwargs)` run as it is: folded when every operand is known, else one op per
    value of its result (a tuple gives a tuple of values)."""
    spelled, imports = _spelling(lo, function, name)
    if "out" in kwargs:
        lo.refuse(lo.node, f"`{name}(..., out=...)` writes into an array, which is not supported",
                  "use the returned value instead of `out=`")
    operands: list = []
    positional = [_structure(lo, a, operands) for a in args]
    keywords = {k: _structure(lo, v, operands) for k, v in kwargs.items()}
    texts = [_text(lo, a) for a in positional] + [f"{k}={_text(lo, v)}" for k, v in keywords.items()]
    call = f"{spelled}({', '.join(texts)})"
    random = spelled.startswith("np.random.")
    if not random and all(isinstance(o.operand, Const) for o in operands):
        return _folded(lo, name, _run(lo, function, name, positional, keywords, [o.operand.value for o in operands]))
    samples = [[o.operand.value if isinstance(o.operand, Const) else _sample(lo, o.type, length) for o in operands]
               for length in SAMPLE_LENGTHS]
    state = np.random.get_state()  # sample draws leave the user's random stream as it was
    try:
        results = [_run(lo, function, name, positional, keywords, values, quiet=k > 0)
                   for k, values in enumerate(samples)]
    finally:
        np.random.set_state(state)
    result_type = _type_of(lo, name, results[0])
    if any(r is not _FAILED and _type_of(lo, name, r) != result_type for r in results[1:]):
        lo.refuse(lo.node, f"the result of `{name}` has a dtype or rank that depends on the lengths of its arguments",
                  "reshape its result to a known rank, or compute it before calling the function")
    memory = "fresh" if random else _memory(lo, name, results[0], samples[0])
    zero = function in PIECEWISE_CONSTANT if hashable(function) else False
    return _values(result_type, call, operands, zero, dict(memory=memory, imports=imports))


@dataclass(frozen=True)
class _Slot:
    """Where operand `index` goes in the arguments."""

    index: int


_FAILED = object()


def _structure(lo, value, operands: list):
    """`value` with its symbols replaced by slots (appended to `operands`), its statics by objects."""
    if isinstance(value, tuple):
        return tuple(_structure(lo, v, operands) for v in value)
    if isinstance(value, Static):
        return value.obj
    if isinstance(value, Sym):
        operands.append(value)
        return _Slot(len(operands) - 1)
    lo.refuse(lo.node, f"this argument of a library function is not supported: {value!r}",
              "pass numbers, arrays, tuples of them, strings or dtypes")


def _text(lo, structure) -> str:
    if isinstance(structure, _Slot):
        return f"_{structure.index}"
    if isinstance(structure, tuple):
        return "(" + ", ".join(_text(lo, s) for s in structure) + ("," if len(structure) == 1 else "") + ")"
    if structure is None or isinstance(structure, (str, bool, int, float)):
        return repr(structure)
    if isinstance(structure, np.dtype):
        return f"np.{structure.name}"
    return _spelling(lo, structure, repr(structure))[0]


def _filled(structure, values):
    if isinstance(structure, _Slot):
        return values[structure.index]
    if isinstance(structure, tuple):
        return tuple(_filled(s, values) for s in structure)
    return structure


def _spelling(lo, obj, name: str) -> tuple:
    """(the Python text that names `obj` in generated code, the modules it needs imported)."""
    short = getattr(obj, "__name__", None)
    if short and getattr(builtins, short, None) is obj:
        return short, ()
    if short and getattr(np, short, None) is obj:
        return f"np.{short}", ()
    for submodule in _NUMPY_SUBMODULES:
        if short and getattr(getattr(np, submodule), short, None) is obj:
            return f"np.{submodule}.{short}", ()
    if short and getattr(math, short, None) is obj:
        return f"math.{short}", ("math",)
    public = sorted((m for m, module in list(sys.modules.items()) if m.split(".")[0] == "scipy"
                     and not any(part.startswith("_") for part in m.split("."))
                     and short and getattr(module, short, None) is obj), key=len)
    if public:
        return f"{public[0]}.{short}", (public[0],)
    lo.refuse(lo.node, f"`{name}` has no public name in NumPy, math, SciPy or the builtins, so it cannot be called "
                       "from generated code", "call it by its public name, such as np.linalg.matrix_rank")


def _run(lo, function, name: str, positional, keywords, values, quiet: bool = False):
    """`function` called on `values` in place of its operands; a failure is refused unless `quiet`."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return function(*_filled(tuple(positional), values), **{k: _filled(v, values) for k, v in keywords.items()})
    except Exception as error:  # whatever the library raises for these arguments
        if quiet:
            return _FAILED
        lo.refuse(lo.node, f"`{name}` failed when called at compile time on arguments of these types: "
                           f"{type(error).__name__}: {error}", "check its arguments against the library's documentation")


def _sample(lo, t: Type, length: int):
    """A value of type `t` whose axes not fixed to 1 by `t` have `length` (at least 2 where `t`
    says they are not 1): floats in (0, 1), integers that index such axes, alternating booleans."""
    if t.listed:
        lo.refuse(lo.node, "a list cannot be passed to a library function", "make an array of it with np.stack")
    shape = tuple(1 if unit else length if unit is None or length > 1 else 2 for unit in t.units)
    size = math.prod(shape)
    if t.dtype == "bool":
        values = np.arange(size) % 2 == 0
    elif t.dtype == "int64":
        values = np.arange(size) % length
    else:
        values = np.linspace(0.25, 0.75, size).astype(t.dtype)
    if t.ndim:
        return values.reshape(shape)
    scalar = values[0] if t.dtype != "int64" else np.int64(length)
    return scalar.item() if t.weak else scalar


def _type_of(lo, name: str, value):
    """The Type of a result (a tuple of them for a tuple)."""
    if isinstance(value, tuple):
        return tuple(_type_of(lo, name, v) for v in value)
    if isinstance(value, (np.ndarray, np.generic)) and str(value.dtype) in SUPPORTED_DTYPES:  # (np.float64 is a float)
        return Type(str(value.dtype), value.ndim)
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        return Const(value).type
    what = "None (it changes its arguments in place)" if value is None else \
        f"an array of dtype {value.dtype}" if isinstance(value, (np.ndarray, np.generic)) else f"a {type(value).__name__}"
    lo.refuse(lo.node, f"`{name}` returns {what}, which is not supported",
              f"use functions that return numbers or arrays of {', '.join(SUPPORTED_DTYPES)} (or tuples of them)")


def _memory(lo, name: str, result, samples) -> str:
    """"view" when the result may share the memory of operand 0, "new" when it shares none."""
    arrays = [r for r in (result if isinstance(result, tuple) else (result,)) if isinstance(r, np.ndarray)]
    shared = [k for k, s in enumerate(samples) if isinstance(s, np.ndarray) and any(np.shares_memory(r, s) for r in arrays)]
    if shared and shared != [0]:
        lo.refuse(lo.node, f"`{name}` returns a view of an argument other than its first, which is not supported",
                  "copy its result with .copy(), or pass that argument first")
    return "view" if shared else "new"


def _values(result_type, call: str, operands: list, zero: bool, params: dict):
    """The op (ops, for a tuple) that computes `call`, typed `result_type`; `zero`: its derivative is
    zero almost everywhere, whatever its dtype."""
    if isinstance(result_type, tuple):
        return tuple(_values(t, f"{call}[{k}]", operands, zero, params) for k, t in enumerate(result_type))
    prim = P.library_index if zero or result_type.dtype in ("int64", "bool") else P.library_value
    return prim(*operands, call=call, result=result_type, **params)


def _folded(lo, name: str, value):
    """A result computed at compile time, as a literal (numbers) or a captured constant (arrays)."""
    if isinstance(value, tuple):
        return tuple(_folded(lo, name, v) for v in value)
    _type_of(lo, name, value)  # refuses what is not supported
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return lo.capture(value, lo.node.func)
    return lo.static(value, lo.node)
