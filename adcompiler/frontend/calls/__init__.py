"""How NumPy calls that are not one primitive each are lowered: one function per NumPy function,
with NumPy's own parameter names, so `inspect.signature` checks a call's arguments before it is
lowered. Axes, `keepdims` and dtypes must be compile-time constants; shapes may be computed
(`np.zeros(X.shape[0])`). One module per family; each declares its `CALLS` (function -> lowering)
and `METHODS` (`x.name(...)` -> the function it is lowered as, with the receiver first).
"""
from __future__ import annotations

from . import creation, elementwise, reductions, shapes, trees
from .common import Method, Static, hashable

FAMILIES = (reductions, elementwise, shapes, creation, trees)
CALLS: dict = {}
METHODS: dict = {}
for _family in FAMILIES:
    for _table, _entries in ((CALLS, _family.CALLS), (METHODS, getattr(_family, "METHODS", {}))):
        for _key, _value in _entries.items():
            assert _table.setdefault(_key, _value) is _value, f"{_key} is lowered twice"

__all__ = ["CALLS", "METHODS", "FAMILIES", "Method", "Static", "hashable"]
