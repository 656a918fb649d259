"""Names in lowering: locals, then the closure, the module globals and the builtins, read at
compile time (every non-local read is recorded as an assumption, see `still_valid`); numbers become
constants, arrays captured hidden parameters, anything else a `Static`; values that must be known
when compiling."""
from __future__ import annotations

import builtins

import numpy as np

from ..ir.core import SUPPORTED_DTYPES, Const, Type, Value
from ..rules.primitives import Sym
from .calls import Static
from .control import Unassigned
from .inlining import Closure
from .parse import bound_names


class Names:
    """Name resolution and capture. Uses `env` (locals), `cells` (the closure), `parsed.function`
    (its globals), `assumptions` and `captured` (shared with child lowerings; `captured` is None
    in a derivative rule), `protected` (a captured array is never written) and, in a function
    defined inside the user's code, `enclosing` (the lowering its free variables are read from)."""

    def local_names(self) -> frozenset:
        """The names local to this function (parameters and everything its body binds), as Python
        decides them: a nested function never reads these from the enclosing function."""
        return frozenset(bound_names(self.parsed.tree))

    def constant(self, value, what: str):
        """The compile-time Python value of `value` (numbers, None, tuples of them, dtypes)."""
        if value is None or isinstance(value, (bool, int, float)):  # a default of a lowering
            return value
        if isinstance(value, tuple):
            return tuple(self.constant(v, what) for v in value)
        if isinstance(value, Static):
            return value.obj
        if isinstance(value, slice):
            return slice(*(self.constant(p, what) if p is not None else None
                           for p in (value.start, value.stop, value.step)))
        if isinstance(value, Sym) and isinstance(value.operand, Const):
            return value.operand.value
        self.refuse(self.node, f"{what} must be a constant known at compile time",
                    "write it as a literal or a module-level constant")

    def read(self, name: str, node):
        if name in self.growing:
            self.refuse(node, f"the list `{name}` is read in the loop that grows it, which is not supported",
                        "keep the last item in a variable of its own, or preallocate an array and assign its rows")
        if name in self.env:
            value = self.env[name]
            if isinstance(value, Unassigned):
                self.refuse(node, f"`{name}` is read here, but it is assigned only in {value.where} "
                                  f"(line {value.loc.line})", f"assign `{name}` before the `if`, or in every branch")
            return value
        if name in self.parsed.free:  # a free variable of a function a transform compiles on its own
            return self.free_value(self.parsed.free[name], name, node)
        if self.enclosing is not None:
            if name in self.locals:
                self.refuse(node, f"`{name}` is read here before `{self.parsed.name}` assigns it",
                            f"assign `{name}` before reading it, or give the local variable another name")
            value = self.enclosing.read(name, node)
            self.protected.update(id(leaf.operand) for leaf in _syms(value))  # the enclosing function's arrays
            return value
        if name in self.cells:
            value = self.cells[name].cell_contents
            self.assumptions.append((self.cells[name], None, value))
            return self.static(value, node)
        scope = self.parsed.function.__globals__
        if name in scope:
            self.assumptions.append((scope, name, scope[name]))
            return self.static(scope[name], node)
        if name in vars(builtins):
            return self.static(vars(builtins)[name], node)
        self.refuse(node, f"the name `{name}` is not defined", "define it before the function or pass it in")

    def known(self, value, name: str, node):
        """The Python object `value` stands for, which must be known when compiling (a function defined
        inside the compiled one is its `Closure`)."""
        if isinstance(value, tuple):
            return tuple(self.known(v, name, node) for v in value)
        if isinstance(value, Static):
            return value.obj
        if isinstance(value, Sym) and isinstance(value.operand, Const):
            return value.operand.value
        if isinstance(value, Closure):
            return value
        self.refuse(node, f"the arguments of `{name}` must be known when compiling",
                    "pass a function and constant positions or names")

    def static(self, obj, node):
        if isinstance(obj, (np.floating, np.integer, np.bool_)):  # before float: np.float64 is one
            return Sym(obj.item())
        if isinstance(obj, (bool, int, float)):
            return Sym(obj)
        if isinstance(obj, np.ndarray):
            return self.capture(obj, node)
        return Static(obj)

    def capture(self, array: np.ndarray, node, name: str = "") -> Sym:
        """A global or closure array (or a constant computed when compiling, named `name`): a hidden
        parameter, bound to this array at every call."""
        if str(array.dtype) not in SUPPORTED_DTYPES:
            self.refuse(node, f"the global array `{self.dotted(node)}` has dtype {array.dtype}, which is not supported",
                        f"use one of {', '.join(SUPPORTED_DTYPES)}")
        if self.captured is None:
            self.refuse(node, f"the global array `{self.dotted(node)}` cannot be read in a derivative rule",
                        "pass it to the function as an argument")
        if id(array) not in self.captured:
            units = tuple(n == 1 for n in array.shape)
            param = Value(Type(str(array.dtype), array.ndim, False, units), name or self.dotted(node).replace(".", "_"))
            self.captured[id(array)] = (param, array)
        self.protected.add(id(self.captured[id(array)][0]))
        return Sym(self.captured[id(array)][0])


def _syms(value) -> list:
    """The Syms of a binding (a tuple's, recursively)."""
    if isinstance(value, Sym):
        return [value]
    return [leaf for item in value for leaf in _syms(item)] if isinstance(value, tuple) else []
