"""The primitive records (adcompiler/rules/): each declares its memory effect, its bindings are
unique, and what a record says agrees with how it is emitted."""
import inspect
import re

import numpy as np
import pytest

from adcompiler.backend import runtime
from adcompiler.ir.core import IndexArray, IndexInt, IndexSlice, Type
from adcompiler.rules import primitives as P


def test_a_primitive_cannot_be_declared_without_its_memory_effect():
    with pytest.raises(TypeError, match="memory"):
        P.Primitive("view_of_something", 1, "_0[1:]", P.same_type)


@pytest.mark.parametrize("prim", P.ALL, ids=lambda prim: prim.name)
def test_the_memory_effect_agrees_with_the_template(prim):
    sample = {"index": (IndexInt(),), "axis": 0, "axes": (0,), "keepdims": False, "dtype": "float64",
              "ndim": 1, "listed": 0, "call": "np.argsort(_0)", "result": Type("int64", 1), "memory": "new",
              "imports": (), "k": 0, "lower": True, "trans": 0, "where": "model.py:3",
              "given": (True, True, False)}
    params = {k: v for k, v in sample.items() if k in _params_of(prim)}
    memory = prim.memory_of(params)
    assert isinstance(memory, P.Memory)
    text = prim.python([Type("float64", 1)] * (prim.arity or 2), params)
    # operand 0 itself in the generated code: IDENTITY, or FRESH (a new array as NumPy runs the user's code)
    assert (text == "_0") == (memory in (P.IDENTITY, P.Memory.FRESH)), (prim.name, text, memory)
    assert (" = " in text or " += " in text or ".append(" in text) == (memory is P.UPDATE), (prim.name, text)
    for helper in re.findall(r"\brt\.(\w+)", text):  # compiled for Numba only if it is listed
        assert helper in runtime.HELPERS, (prim.name, helper)


def _params_of(prim):
    """The params a templated primitive takes (from its callable template's signature)."""
    if isinstance(prim.template, str):
        return set()
    return set(inspect.signature(prim.template).parameters) - {"types"}


def test_gathers_make_new_arrays_and_basic_indexing_views():
    assert P.getitem.memory_of({"index": (IndexArray(),)}) is P.NEW
    assert P.getitem.memory_of({"index": (IndexInt(), IndexSlice(lower=True))}) is P.VIEW
    assert not P.getitem.recomputed(Type("float64", 1), {"index": (IndexArray(),)})
    assert P.getitem.recomputed(Type("float64", 1), {"index": (IndexSlice(lower=True, upper=True),)})


def test_every_bound_function_is_one_primitive():
    assert P.FUNCTIONS[np.arctan] is P.arctan and P.FUNCTIONS[abs] is P.absolute
    assert sum(len(prim.binds) for prim in P.ALL) >= len(P.FUNCTIONS) > 40
