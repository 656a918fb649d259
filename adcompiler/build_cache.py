"""The disk cache of builds: what a later process needs to run a specialisation (its generated
source and the record of how to call it, portable.py's `Specialisation`) without parsing,
lowering, differentiating or emitting the user's function again.

An entry is found by a `key` of everything known before lowering that a build depends on: this
cache's format, adcompiler's version and source digest, the Python, NumPy and Numba versions, the
settings that change emission (placement mode, memory budget, fusion, vector math), the transform
(kind, wrt, axes, jit), the user's function (`fingerprint`: its source, file and line, defaults) and
the argument types. What lowering read besides, the global and closure values of
`Function.assumptions` (the functions it inlined among them, by their source), is known only after
lowering: the entry records each read as where to find it again (a module's global, a closure
cell of a function found so) with the fingerprint of the value then, and `find` resolves and
compares every one; any difference is a miss. The captured arrays are found again where they were
read (by identity, inside globals, tuples, dicts and defaults) or, for constants lowering computed
(read-only arrays reachable from no global), kept by value. A build that read anything without a
fingerprint (an instance of a user's class, say) is not kept. A missing, stale or unreadable entry
is a miss, never an error: the caller builds as if there were no cache.
"""
from __future__ import annotations

import hashlib
import pickle
import sys
import types
from dataclasses import dataclass

import numpy as np

from . import __version__
from .backend.compile import PACKAGE_DIGEST, cache_dir, numba_version, write_atomically
from .backend.emit import vector_math
from .backend.fuse import fusion
from .frontend.parse import code_positions, source_of
from .portable import Specialisation
from .rules import is_custom

FORMAT = 1  # of an entry; a new format ignores the old entries
LIBRARIES = ("numpy", "math", "builtins", "scipy")  # whose objects are fixed by their versions
_MAX_DEPTH = 12  # of nested containers in a fingerprinted value


class Unprintable(Exception):
    """A value whose fingerprint cannot be known (so a build that read it is not kept)."""


@dataclass(frozen=True)
class CachedSpecialisation(Specialisation):
    """A `Specialisation` found in the disk cache: `assumptions` are the global and closure reads
    its build was lowered with, resolved in this process ((scope, name, value), as
    `Function.assumptions`, checked at every call by `ir.core.still_valid`); `tangents_at` are the
    positions of the arguments a jvp's warm-up call passes as tangents."""

    assumptions: tuple = ()
    tangents_at: tuple = ()


def key(function_print: str, transform: tuple, arg_types: tuple) -> str:
    """The digest naming the entry of one specialisation: `function_print` is the user's function's
    `fingerprint`, `transform` what the transform adds (kind, wrt, settings)."""
    text = repr((FORMAT, __version__, PACKAGE_DIGEST, sys.version, sys.platform, np.__version__,
                 numba_version(), fusion(), vector_math(), transform, function_print, arg_types))
    if " at 0x" in text:  # an object spelled by its address: not the same in another process
        raise Unprintable(text)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def known_function(function_print: str) -> bool:
    """Whether an entry was kept for a function of this fingerprint, with this adcompiler (so its
    source passed the fence: parsing it can wait until a build needs it)."""
    return _folder(function_print).is_dir()


def find(function_print: str, entry_key: str, top) -> CachedSpecialisation | None:
    """The specialisation kept under `entry_key` if every global and closure value its build read,
    looked up again from `top` (the function whose globals and cells the entry names), has the
    fingerprint it had; None otherwise (no entry, a stale one, or one that cannot be read)."""
    try:
        with open(_folder(function_print) / f"{entry_key}.pickle", "rb") as file:
            entry = pickle.load(file)
        if entry["format"] != FORMAT or entry["key"] != entry_key:
            return None
        values = _Resolver(top, entry["reads"])
        assumptions = []
        for position, (_, expected) in enumerate(entry["reads"]):
            scope, name, value = values.read(position)
            if fingerprint(value) != expected:
                return None
            assumptions.append((scope, name, value))
        captured = tuple(values.array(where) for where in entry["captured"])
        return CachedSpecialisation(*entry["record"][:2], captured, *entry["record"][2:],
                                    assumptions=tuple(assumptions), tangents_at=entry["tangents_at"])
    except Exception:  # noqa: BLE001 - missing, stale, corrupt or from another version: a miss
        return None


def keep(function_print: str, entry_key: str, built, top, tangents_at: tuple) -> bool:
    """Write the entry of `built` (a `pipeline.Build`) under `entry_key`; False (nothing written)
    when something its lowering read has no fingerprint or cannot be found again from `top`."""
    try:
        reads = _reads(built.primal.assumptions, top)
        captured = [_where(array, built.primal.assumptions) for array in built.primal.captured]
        record = Specialisation.of(built)
        entry = dict(format=FORMAT, key=entry_key, reads=reads, captured=captured, tangents_at=tuple(tangents_at),
                     record=(record.source, record.stem, record.outputs, record.structure, record.out,
                             record.hints, record.loc))
        data = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
    except (Unprintable, pickle.PicklingError, TypeError, AttributeError):
        return False
    folder = _folder(function_print)
    try:
        write_atomically(folder / f"{entry_key}.pickle", data)
    except OSError:  # a read-only or full cache folder: the build runs all the same
        return False
    return True


def _folder(function_print: str):
    digest = hashlib.sha256(repr((FORMAT, PACKAGE_DIGEST, sys.version, function_print)).encode()).hexdigest()
    return cache_dir() / "builds" / digest[:24]


def fingerprint(value, deep: bool = False, depth: int = 0) -> str:
    """A text that is equal for two values (in this or another process) only if lowering makes the
    same code of them: a number's value, an array's dtype and shape (its values are arguments of the
    generated code), a container's items, a module's name, a library object's name and version, a
    user's function's place, source and defaults (with `deep`, also of the globals its code names:
    for functions lowered without recording their reads, the rules of custom_vjp), an adcompiler
    transform's settings and function. Raises `Unprintable` for anything else."""
    if depth > _MAX_DEPTH:
        raise Unprintable("too deeply nested")
    inner = depth + 1
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, np.generic):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, np.dtype):
        return f"dtype:{value.str}:{value!r}"
    if isinstance(value, np.ndarray):
        return f"array:{value.dtype.str}:{value.shape}"
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        return f"{type(value).__name__}(" + ",".join(fingerprint(v, deep, inner) for v in value) + ")"
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):  # a namedtuple of parameters, say
        return _class_print(type(value), deep, inner) + "(" + ",".join(fingerprint(v, deep, inner) for v in value) + ")"
    if type(value) is dict:
        return "dict(" + ",".join(f"{fingerprint(k, deep, inner)}:{fingerprint(v, deep, inner)}"
                                  for k, v in value.items()) + ")"
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}:{_library_version(value.__name__)}"
    if isinstance(value, type):
        return _class_print(value, deep, inner)
    if isinstance(value, types.FunctionType) and not _is_library(value):
        return _function_print(value, deep, inner)
    if isinstance(value, np.ufunc):
        return f"ufunc:{value.__name__}:{np.__version__}"
    transform = _transform_print(value, deep, inner)  # first: an unpickled transform's module is adcompiler's
    if transform is not None:
        return transform
    module = getattr(value, "__module__", None) or ""
    if callable(value) and _is_library(value):  # NumPy's dispatchers, builtins, math, SciPy, adcompiler's own
        return f"library:{module}.{getattr(value, '__qualname__', getattr(value, '__name__', ''))}:" \
               f"{_library_version(module)}"
    raise Unprintable(f"a {type(value).__name__}")


def _is_library(value) -> bool:
    module = (getattr(value, "__module__", None) or "").split(".")[0]
    return module in LIBRARIES or module == "adcompiler"  # adcompiler's own: PACKAGE_DIGEST is in the key


def _library_version(module: str) -> str:
    top = module.split(".")[0]
    if top == "adcompiler":
        return PACKAGE_DIGEST
    return str(getattr(sys.modules.get(top), "__version__", "")) if top in LIBRARIES else ""


def _function_print(function, deep: bool, depth: int) -> str:
    code = function.__code__
    try:
        source = source_of(code)
    except (OSError, TypeError) as error:
        raise Unprintable(f"no source for {function.__qualname__}") from error
    parts = [f"function:{function.__module__}.{function.__qualname__}", code.co_filename, str(code.co_firstlineno),
             source, fingerprint(function.__defaults__, deep, depth), fingerprint(function.__kwdefaults__, deep, depth),
             fingerprint(dict(vars(function)), deep, depth), ",".join(code.co_freevars),
             repr(code_positions(code)[:1])]  # which of the lambdas on its line
    if deep:
        scope = function.__globals__
        parts += [f"{name}={fingerprint(scope[name], True, depth)}" for name in sorted(_names(code)) if name in scope]
        parts += [f"{name}={fingerprint(cell.cell_contents, True, depth)}"
                  for name, cell in zip(code.co_freevars, function.__closure__ or ())]
    return "|".join(parts)


def _names(code) -> set:
    """The global and attribute names the code (and the code nested in it) reads."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names(constant)
    return names


_NAMEDTUPLE_MEMBERS = frozenset({"_fields", "_field_defaults", "_make", "_replace", "_asdict", "__new__",
                                 "__getnewargs__", "__match_args__", "__slots__", "__doc__", "__module__",
                                 "__repr__", "__orig_bases__", "__annotations__", "__qualname__", "__dict__",
                                 "__weakref__"})


def _class_print(kind: type, deep: bool, depth: int) -> str:
    """A library class by name; a namedtuple class by its fields, defaults and other members (what
    lowering can read of it); other classes of the user's have none."""
    if _is_library(kind):
        return f"class:{kind.__module__}.{kind.__qualname__}:{_library_version(kind.__module__)}"
    if not (issubclass(kind, tuple) and hasattr(kind, "_fields")):
        raise Unprintable(f"the class {kind.__qualname__}")
    members = [f"{name}={fingerprint(member, deep, depth)}" for name, member in vars(kind).items()
               if name not in _NAMEDTUPLE_MEMBERS and name not in kind._fields]
    return "|".join([f"namedtuple:{kind.__module__}.{kind.__qualname__}", ",".join(kind._fields),
                     fingerprint(dict(kind._field_defaults), deep, depth), *members])


def _transform_print(value, deep: bool, depth: int) -> str | None:
    """An adcompiler transform, custom rule or checkpoint marker: its settings and function(s)."""
    from .frontend.checkpoint import CheckpointedFunction
    printed = getattr(type(value), "cache_print", None)  # api.Transformed's (api imports this module)
    if printed is not None:
        return printed(value, lambda function: fingerprint(function, deep, depth))
    if is_custom(value):  # its body and rule are lowered without recording what they read
        return f"custom:{type(value).__name__}:{fingerprint(value.function, True, depth)}:" \
               f"{fingerprint(value.rule, True, depth)}"
    if isinstance(value, CheckpointedFunction):
        return f"checkpoint:{fingerprint(value.function, deep, depth)}"
    return None


def _owners(value, path: tuple = ()):
    """(path, function) of `value` and the functions it wraps (`.function`: transforms, custom
    rules, checkpoint markers), whose closure cells an entry may name."""
    if isinstance(value, types.FunctionType):
        yield path, value
    inner = getattr(value, "function", None)
    if inner is not None and not isinstance(value, types.FunctionType) and len(path) < 4:
        yield from _owners(inner, path + ("function",))


def _reads(assumptions: tuple, top) -> list:
    """[(where, fingerprint)] of each (scope, name, value) read: where is ("global", "top" or a
    module's name, name) or ("cell", owner, freevar), owner ("top" or the position of an earlier
    read whose value holds the function, the path to it)."""
    reads = []
    for scope, name, value in assumptions:
        if name is not None:
            if scope is top.__globals__:
                where = ("global", "top", name)
            else:
                module = sys.modules.get(scope.get("__name__", ""))
                if module is None or vars(module) is not scope:
                    raise Unprintable("a global of a module that cannot be imported")
                where = ("global", module.__name__, name)
        else:
            where = ("cell", *_cell_owner(scope, top, assumptions))
        reads.append((where, fingerprint(value)))
    return reads


def _cell_owner(cell, top, assumptions: tuple) -> tuple:
    candidates = [(("top", ()), top)] + [((position, path), function)
                                         for position, (_, _, value) in enumerate(assumptions)
                                         for path, function in _owners(value)]
    for owner, function in candidates:
        for freevar, held in zip(function.__code__.co_freevars, function.__closure__ or ()):
            if held is cell:
                return owner, freevar
    raise Unprintable("a closure cell of a function that cannot be found again")


def _where(array: np.ndarray, assumptions: tuple):
    """How to find a captured array again: ("read", position, path) inside the value of a read,
    or ("constant", array) for a read-only array no read holds (one lowering computed)."""
    for position, (_, _, value) in enumerate(assumptions):
        path = _path_to(array, value, ())
        if path is not None:
            return ("read", position, path)
    if array.flags.writeable:
        raise Unprintable("an array read from something that is not a global")
    return ("constant", array)


def _path_to(array, value, path: tuple):
    """The steps (("item", key) or ("attr", name)) from `value` to `array`, or None."""
    if value is array:
        return path
    if len(path) > 4:
        return None
    if isinstance(value, (tuple, list)):
        steps = [(("item", k), item) for k, item in enumerate(value)]
    elif type(value) is dict:
        steps = [(("item", k), item) for k, item in value.items()]
    elif isinstance(value, types.FunctionType):
        steps = [(("attr", "__defaults__"), value.__defaults__), (("attr", "__kwdefaults__"), value.__kwdefaults__)]
    elif isinstance(value, type):
        steps = [(("attr", name), item) for name, item in vars(value).items()]
    elif getattr(value, "function", None) is not None:
        steps = [(("attr", "function"), value.function)]
    else:
        return None
    for step, item in steps:
        found = _path_to(array, item, path + (step,))
        if found is not None:
            return found
    return None


class _Resolver:
    """The current values of an entry's reads, looked up from `top` (each once)."""

    def __init__(self, top, reads: list):
        self.top, self.reads, self.values = top, reads, {}

    def read(self, position: int) -> tuple:
        if position not in self.values:
            where = self.reads[position][0]
            if where[0] == "global":
                _, module, name = where
                scope = self.top.__globals__ if module == "top" else vars(sys.modules[module])
                self.values[position] = (scope, name, scope[name])
            else:
                _, (owner, path), freevar = where
                function = self.top if owner == "top" else self.read(owner)[2]
                for step in path:
                    function = getattr(function, step)
                cell = function.__closure__[function.__code__.co_freevars.index(freevar)]
                self.values[position] = (cell, None, cell.cell_contents)
        return self.values[position]

    def array(self, where: tuple) -> np.ndarray:
        if where[0] == "constant":
            return where[1]
        _, position, path = where
        value = self.read(position)[2]
        for how, step in path:
            value = value[step] if how == "item" else getattr(value, step)
        if not isinstance(value, np.ndarray):
            raise LookupError("the captured array is no longer there")
        return value
