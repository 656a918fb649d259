"""The primitive table: every primitive of the IR, declared by family (elementwise.py, special.py,
shapes.py, reductions.py, linalg.py, indexing.py, creation.py, arrays.py, internal.py, sequences.py,
library.py, decompositions.py; the record itself in primitive.py), and the NumPy and `math` functions that are one primitive each (each declares its own `binds`).
The table names each primitive as its family does (`primitives.add`), so a new primitive needs
nothing here."""
from __future__ import annotations

import sys

from . import (arrays, creation, decompositions, elementwise, indexing, internal, library, linalg, reductions,
               sequences, shapes, special)
from .primitive import (BUFFER, DIAGONAL, IDENTITY, NEW, UPDATE, VIEW, ZERO, Linear, Memory, Primitive, Recompute,
                        Sym, as_operand, broadcast_units, floating, is_const, join, literal_lengths, promote,
                        same_type)

FAMILIES = (elementwise, special, shapes, reductions, linalg, internal, indexing, creation, arrays, sequences,
            library, decompositions)  # each after those it imports
PRIMITIVES = {name: value for family in FAMILIES for name, value in vars(family).items()
              if isinstance(value, Primitive)}
globals().update(PRIMITIVES)
ALL = tuple(dict.fromkeys(PRIMITIVES.values()))

# NumPy and math functions that are one primitive each (the rest are lowered in frontend/calls/);
# a bind written "module.name" (SciPy's) joins once the user's code has imported its module
# (`primitive_of`): importing adcompiler does not import SciPy.
FUNCTIONS: dict = {}
NAMED_BINDS: dict = {}
for _prim in ALL:
    for _function in _prim.binds:
        _table = NAMED_BINDS if isinstance(_function, str) else FUNCTIONS
        assert _table.setdefault(_function, _prim) is _prim, f"{_function} is bound to two primitives"


def primitive_of(function):
    """The primitive that the (hashable) library function `function` is, or None."""
    prim = FUNCTIONS.get(function)
    if prim is None and _UNSEEN_MODULES and function not in _BOUND_BY_NAME:
        imported = {m for m in _UNSEEN_MODULES if m in sys.modules}
        _UNSEEN_MODULES.difference_update(imported)
        for name, named in NAMED_BINDS.items():
            module, _, attribute = name.rpartition(".")
            if module in imported:
                _BOUND_BY_NAME.setdefault(getattr(sys.modules[module], attribute), named)
    return prim or _BOUND_BY_NAME.get(function)


_BOUND_BY_NAME: dict = {}  # the functions NAMED_BINDS names, once their modules are imported
_UNSEEN_MODULES = {name.rpartition(".")[0] for name in NAMED_BINDS}  # empty: every one bound, no walk


__all__ = ["BUFFER", "DIAGONAL", "ZERO", "Linear", "IDENTITY", "NEW", "UPDATE", "VIEW", "Memory", "Primitive",
           "Recompute", "Sym", "as_operand", "broadcast_units", "literal_lengths", "floating", "is_const", "join",
           "promote", "same_type", "FAMILIES", "ALL", "FUNCTIONS", "NAMED_BINDS", "primitive_of", *PRIMITIVES]
