"""How NumPy calls that are not one primitive each are lowered: one function per NumPy function,
with NumPy's own parameter names, so `inspect.signature` checks a call's arguments before it is
lowered. Axes, `keepdims` and dtypes must be compile-time constants; shapes may be computed
(`np.zeros(X.shape[0])`). One module per family; each declares its `CALLS` (function -> lowering)
and `METHODS` (`x.name(...)` -> the function it is lowered as, with the receiver first), and may
declare `SCIPY_CALLS` ({SciPy module: {name: lowering}}), which join `CALLS` once the user's code
has imported that module (`lowering_of`): importing adcompiler does not import SciPy.
"""
from __future__ import annotations

import sys

from . import arrays, creation, elementwise, linalg, reductions, shapes, special, statistics, trees, values
from .common import Method, Static, hashable

FAMILIES = (reductions, elementwise, shapes, creation, arrays, special, statistics, values, linalg, trees)
CALLS: dict = {}
METHODS: dict = {}
for _family in FAMILIES:
    for _table, _entries in ((CALLS, _family.CALLS), (METHODS, getattr(_family, "METHODS", {}))):
        for _key, _value in _entries.items():
            assert _table.setdefault(_key, _value) is _value, f"{_key} is lowered twice"


def lowering_of(function):
    """The lowering of the library function `function`, or None."""
    if not hashable(function):
        return None
    if function not in CALLS:
        _add_imported_scipy_calls()
    return CALLS.get(function)


def _add_imported_scipy_calls() -> None:
    for family in FAMILIES:
        for module_name, lowerings in getattr(family, "SCIPY_CALLS", {}).items():
            module = sys.modules.get(module_name)
            for name, lowering in (lowerings.items() if module is not None else ()):
                CALLS.setdefault(getattr(module, name), lowering)


__all__ = ["CALLS", "METHODS", "FAMILIES", "Method", "Static", "hashable", "lowering_of"]
