"""The user's verbs: `grad`, `value_and_grad`, `vjp`, `jvp`, `hvp`, `jit`, `vmap`, `jacrev`, `jacfwd`, `jacobian`, `hessian` and `show`.

A transformed function is checked (parsed and fenced) when it is made (unless the disk cache kept a
build of the same source, which passed), and specialised on first call for the types of its
arguments (dtype and rank, like Numba's dispatcher): each new signature builds and compiles its own
forward and backward, or finds them in the disk cache of builds (build_cache.py).
"""
from __future__ import annotations

import functools
import inspect
import math
import threading
from typing import TYPE_CHECKING, Callable, Sequence, Union

import numpy as np

from . import build_cache, trees
from .errors import CompileError, UnendedRecursion
from .rules import is_custom
from .ir.core import SMALL, SUPPORTED_DTYPES, Fixed, Type, still_valid
from .frontend.transforms_seen import Transforms
from .frontend.parse import ParsedFunction, def_name
from .backend.executable import Executable
from .portable import Specialisation

if TYPE_CHECKING:
    from .pipeline import Build

Wrt = Union[int, str, Sequence[Union[int, str]]]
_MAX_SEEN = 64  # fingerprints of calls kept per transformed function (cleared when full)


class Transformed:
    """`kind` of `function` ("grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "jacobian", "jit" or "vmap", which
    batches the parameters `wrt` over the axes `in_axes`, one per parameter) with respect to `wrt`.
    `function` may itself be transformed (or a custom_vjp): the outer transform then lowers a call
    of it, so `grad(grad(f))` is the second derivative."""

    def __init__(self, function: Callable, wrt: Wrt, jit: bool | str, kind: str, in_axes: tuple = (), out_axes: int = 0,
                 memory: int | None = None):
        if jit not in (True, False, "whole"):
            raise ValueError(f"jit must be True (NumPy, with Numba kernels for loops), False (NumPy only) or "
                             f"'whole' (each generated function compiled whole by Numba), not {jit!r}")
        if isinstance(function, Loaded):
            raise TypeError(f"{function.title} was unpickled: it runs its compiled signatures but cannot be "
                            f"transformed again without its source; transform the original function")
        if memory is not None and (isinstance(memory, bool) or not isinstance(memory, (int, np.integer))
                                   or memory <= 0):
            raise ValueError(f"memory must be a positive number of bytes (the budget of each long loop's tape "
                             f"and snapshots), not {memory!r}")
        self.memory = None if memory is None else int(memory)
        self.function = function
        self.kind = kind
        self.title = f"{kind}({_title(function)})"
        self.print = _print_of(function)  # its fingerprint (build_cache.py), None: builds are not kept
        if isinstance(function, Transformed) or is_custom(function):
            self.signature = _signature_of(function)
            self._parsed = _composition(self, function)
        else:
            # parsed now, so that what is refused is refused here, unless the disk cache kept a build of
            # this very source (so it passed): then when a build needs it
            known = self.print is not None and build_cache.known_function(self.print)
            self._parsed = None if known else _pipeline().check(function)
            self.signature = inspect.signature(function, follow_wrapped=False)
        self.names = list(self.signature.parameters)  # of the function's own arguments
        # of the generated functions (`<name>_value_and_grad`, ...): the `def`'s name
        self.name = self._parsed.name if self._parsed is not None else def_name(function.__code__)
        if kind == "vmap":
            in_axes = _in_axes(in_axes, self.names)
            wrt = tuple(i for i, axis in enumerate(in_axes) if axis is not None)
        self.in_axes, self.out_axes = in_axes, out_axes
        described = self._parsed.described if self._parsed is not None else self.name
        self.wrt, self.single = _positions(wrt, self.names, described) if kind != "jit" else ((), False)
        if kind == "jvp":  # called with the tangents after the arguments
            Parameter = inspect.Parameter
            self.signature = inspect.Signature(
                [p.replace(kind=Parameter.POSITIONAL_OR_KEYWORD, default=Parameter.empty)
                 for p in self.signature.parameters.values()] + [Parameter("tangents", Parameter.POSITIONAL_OR_KEYWORD)])
        self.jit = jit
        self._specialisations: dict = {}
        self._first_pattern: dict = {}  # dtypes and ranks -> the first pattern of length-1 axes
        self._seen: dict = {}  # `_fingerprint` of a call -> (Build, Executable, argument structures)
        self._fixing = 0  # what recursion made constants of the specialisation: 0 nothing, then integers, shapes
        self._lock = threading.Lock()
        # The name and docstring of `function`, but not its attributes or `__wrapped__`: whatever
        # reads this object's source must read the transform, never the function inside it.
        functools.update_wrapper(self, function, updated=())
        del self.__wrapped__
        self.__signature__ = self.signature

    @property
    def parsed(self) -> ParsedFunction:
        """The function parsed, fenced and canonicalised (`pipeline.check`)."""
        if self._parsed is None:
            self._parsed = _pipeline().check(self.function)
        return self._parsed

    def __reduce__(self):
        """Pickled as its compiled specialisations (generated source and signature, no IR and no
        user source): the other side loads them from its cache folder or compiles them
        (portable.py); it runs those signatures only."""
        with self._lock:
            records = {types: built if isinstance(built, Specialisation) else Specialisation.of(built)
                       for types, (built, _) in self._specialisations.items()}
            state = dict(kind=self.kind, name=self.name, title=self.title, wrt=self.wrt, single=self.single,
                         jit=self.jit, fixing=self._fixing, first_pattern=dict(self._first_pattern),
                         specialisations=records, doc=self.__doc__, qualname=self.__qualname__,
                         in_axes=self.in_axes, out_axes=self.out_axes,
                         parameters=[(n, p.default) for n, p in self.signature.parameters.items()])
        return Loaded, (state,)

    def cache_print(self, fingerprint: Callable) -> str:
        """What a kept build that read this transform is keyed by (build_cache.py): its settings and
        `fingerprint` of its function."""
        return f"transformed:{self.kind}:{self.wrt}:{self.jit!r}:{self.memory}:{self.in_axes}:" \
               f"{self.out_axes}:{fingerprint(self.function)}"

    def _signature(self, types: tuple, *_) -> tuple:
        """The specialisation to use: the first pattern of length-1 axes seen for given dtypes and
        ranks is compiled for exactly that pattern (static broadcasting); any other pattern (a last
        batch of one, say) shares one version that checks broadcasting at run time, so the number
        of compilations per dtype and rank signature is at most two."""
        if types in self._specialisations:
            return types
        general = tuple(trees.map_leaves(t, lambda leaf, path: Type(leaf.dtype, leaf.ndim)) for t in types)
        with self._lock:
            first = self._first_pattern.setdefault(general, types)
        return types if first == types else general

    @property
    def specialisations(self) -> dict:
        """{argument types: (Build, Executable or None)} of the signatures seen so far (a signature
        whose code came from the disk cache is lowered again here, for its IR)."""
        with self._lock:
            kept = [types for types, (built, _) in self._specialisations.items() if not _lowered(built)]
        for types in kept:
            self.specialise(types)
        with self._lock:
            return dict(self._specialisations)

    def build_for(self, arg_types: tuple) -> Build:
        """The IR and source for these argument types (what a caller compiled by adcompiler splices)."""
        return self.specialise(arg_types, compiled=False)[0]

    def specialise(self, arg_types: tuple, compiled: bool = True, values: tuple | None = None,
                   kept: bool = False) -> tuple:
        """(Build, Executable or None) for these argument types, made once (thread-safe). `values`
        (of a first call) let Numba compile the kernels in the background for exactly their types.
        With `kept` (a call, which needs no IR), the Build may be a `CachedSpecialisation` found in
        the disk cache (build_cache.py); a new Build is kept there."""
        _check_keys(self.names, arg_types)  # every call: a key True finds the specialisation of a key 1
        with self._lock:
            built, executable = self._specialisations.get(arg_types, (None, None))
            if built is not None and not _current(built):  # a global it read was rebound
                built, executable = None, None
            if built is None and kept and compiled:
                built = self._cache_entry(arg_types, lambda key: build_cache.find(self.print, key, self._top))
            if built is None or not (kept or _lowered(built)):
                fresh = _pipeline().build(self.parsed, list(arg_types), self.wrt, self.kind, TRANSFORMS, self._mode, self.memory)
                if built is None and compiled:
                    self._cache_entry(arg_types, lambda key: build_cache.keep(self.print, key, fresh, self._top,
                                                                               _tangents_at(fresh, self.kind)))
                elif built is not None and built.source != fresh.source:
                    executable = None
                built = fresh
            if compiled and executable is None:
                captured, tangents_at = (built.primal.captured, _tangents_at(built, self.kind)) \
                    if _lowered(built) else (built.captured, built.tangents_at)
                warm = None if values is None else functools.partial(self._warm, captured, tangents_at,
                                                                     tuple(map(_copy, values)))
                executable = Executable(built.source, built.stem, bool(self.jit), warm)
            self._specialisations[arg_types] = (built, executable)
            return built, executable

    @property
    def _mode(self) -> str:
        return "whole" if self.jit == "whole" else "auto"

    @property
    def _top(self):
        """The function whose globals and closure the disk cache's entries name (build_cache.py)."""
        return self.parsed.function if isinstance(self.function, Transformed) or is_custom(self.function) \
            else self.function

    def _cache_entry(self, arg_types: tuple, use):
        """`use(key)` with the disk cache's key of these argument types; None when builds of this
        function are not kept (no fingerprint)."""
        if self.print is None:
            return None
        try:
            key = build_cache.key(self.print, (self.kind, self.wrt, self.in_axes, self.out_axes, self.jit, self.memory,
                                               self._mode, self.name, self.title), arg_types)
        except build_cache.Unprintable:
            return None
        return use(key)

    def _warm(self, captured: tuple, tangents_at: tuple, values: tuple, module) -> None:
        """One call of `module`'s code (compiling its kernels), its results dropped."""
        name, own, values = self.name, values, (*values, *captured)
        if self.kind in _ONE_FUNCTION:
            getattr(module, name)(*values)
        elif self.kind == "jvp":
            getattr(module, name)(*own, *(own[i] for i in tangents_at), *captured)
        elif self.kind == "vjp":
            out, *residuals = getattr(module, f"{name}_forward")(*values)
            getattr(module, f"{name}_backward")(*residuals, np.ones_like(out)[()])
        else:
            getattr(module, f"{name}_value_and_grad")(*values)

    def _specialise_call(self, types: tuple, originals: tuple, values: tuple, kept: bool = False) -> tuple:
        """`specialise` for a call. Once recursion needs them (`UnendedRecursion`), the integer
        arguments are constants of the specialisation (`Fixed`: one build per value), and if that
        does not end it either, the arrays' shapes are fixed too (`Type.lengths`: one build per
        shape); each step is taken once per transformed function, for every later call."""
        integers = any(map(_is_integer, originals))
        steps = [(0, self._signature), *([(1, self._fixed_integers)] if integers else []),
                 *([(2, self._fixed_shapes)] if _has_arrays(types) else [])]  # (what `_fixing` calls it, the key)
        steps = [step for step in steps if step[0] >= self._fixing] or steps[-1:]
        for position, (level, key) in enumerate(steps):
            try:
                return self.specialise(key(types, originals, values), values=values, kept=kept)
            except UnendedRecursion:
                if position + 1 == len(steps):
                    raise
                self._fixing = max(self._fixing, steps[position + 1][0])

    def _fixed_integers(self, types: tuple, originals: tuple, values: tuple) -> tuple:
        return tuple(Fixed(t, int(v)) if _is_integer(v) else t for t, v in zip(types, originals))

    def _fixed_shapes(self, types: tuple, originals: tuple, values: tuple) -> tuple:
        """The integers fixed, and every array leaf's type with its shape (`values`: the leaves)."""
        return _with_lengths(self._fixed_integers(types, originals, values), values, lambda shape: shape)

    def __call__(self, *args, **kwargs):
        plain_call = not kwargs and len(args) == len(self.names) and self.kind not in ("vmap", "jvp")
        if plain_call:
            fingerprint, leaves = self._fingerprint(args)
            seen = self._seen.get(fingerprint)
            if seen is not None and _current(seen[0]):
                return self._finish(*seen, args, leaves)  # a call like one before: checked then
        types, originals, values = self.arguments(args, kwargs)
        built, executable = self._specialise_call(types, originals, values, kept=True)
        record = built if isinstance(built, Specialisation) else Specialisation.of(built, keep=True)
        fingerprint = self._fingerprint(args)[0] if plain_call else None
        if fingerprint is not None:
            if len(self._seen) >= _MAX_SEEN:
                self._seen.clear()
            self._seen[fingerprint] = (record, executable, types)
        try:
            return self._finish(record, executable, types, originals, values)
        finally:
            executable.called()

    def arguments(self, args: tuple, kwargs: dict) -> tuple:
        """(types, the arguments in order, their flat leaves) of a call with `args` and `kwargs`."""
        if kwargs or len(args) != len(self.signature.parameters):
            try:
                bound = self.signature.bind(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{self.name}(): {error}") from None
            bound.apply_defaults()
            args = tuple(bound.arguments.values())
        if self.kind == "vmap":
            args = _batch_first(args, self.names, self.in_axes)
        own = args[:len(self.names)]  # a jvp's last argument: the tangents
        differentiated = () if self.kind == "vmap" else self.wrt
        flat = [_argument(v, n, i in differentiated) for i, (n, v) in enumerate(zip(self.names, own))]
        if self.kind == "vmap":
            flat = [(_with_lengths((structure,), leaves, functools.partial(_small_item, axis is not None))[0], leaves)
                    for (structure, leaves), axis in zip(flat, self.in_axes)]
        return tuple(structure for structure, _ in flat), args, tuple(leaf for _, leaves in flat for leaf in leaves)

    def _fingerprint(self, args: tuple) -> tuple:
        """(What decides the specialisation, the checks and the conversions of a call, the leaves
        to pass to generated code) for arguments that are arrays, Python numbers, and dicts, lists,
        tuples and namedtuples of them: their classes, dtypes and shapes, containers' kinds and
        keys (and integers' values once they are fixed); (None, None) for anything else (a list of
        numbers, which is an array, NumPy scalars), which takes the full path. A call with a
        fingerprint seen before skips straight to the code."""
        key, leaves = [], []
        for a in args:
            kind = type(a)
            if kind is np.ndarray:
                key.append((a.dtype, a.shape))
                leaves.append(a if a.ndim else a[()])
            elif kind is float or kind is bool or (kind is int and not self._fixing):
                key.append(kind)
                leaves.append(a)
            elif kind is int:
                key.append((kind, a))
                leaves.append(a)
            elif not _tree_fingerprint(a, key, leaves):
                return None, None
        return tuple(key), leaves

    def _finish(self, record: Specialisation, executable: Executable, types: tuple, originals: tuple, values: tuple):
        """Run the specialisation on the leaves `values` of the arguments `originals` (of `types`)
        and give its results as the user's objects."""
        module = executable.module
        name = self.name
        if self.kind == "jvp":
            *originals, tangents = originals
            leaves = self._tangent_leaves(tangents, originals)
            return trees.unflatten(record.structure, iter(self._run(getattr(module, name),
                                                                    (*values, *leaves, *record.captured), record)))
        values = (*values, *record.captured)
        if self.kind in _ONE_FUNCTION:
            result = self._run(getattr(module, name), values, record)  # a tuple when it returns several
            result = result if record.outputs > 1 else (result,)
            if self.kind == "vmap":
                result = tuple(np.moveaxis(r, 0, self.out_axes) for r in result)
            if self.kind in _JACOBIANS:  # each parameter's Jacobians nested as it is
                result = iter(np.asarray(r) for r in result)
                nested = tuple(trees.unflatten(types[i], result) for i in self.wrt)
                return nested[0] if self.single else nested
            return trees.unflatten(record.structure, iter(result))
        if self.kind == "vjp":
            out, *residuals = self._run(getattr(module, f"{name}_forward"), values, record)
            backward = getattr(module, f"{name}_backward")
            pullback = functools.partial(self._pullback, backward, residuals, record, originals, types, np.shape(out))
            return _output(out, record), pullback
        value, grads = self._run(getattr(module, f"{name}_value_and_grad"), values, record)
        grads = self._gradients(grads, originals, types)
        return grads if self.kind == "grad" else (_output(value, record), grads)

    def _tangent_leaves(self, tangents, originals) -> list:
        """The leaves of `tangents` (one per `wrt` argument, a tuple when several), each checked to
        have its argument's structure and shape, and given its dtype."""
        per_argument = (tangents,) if self.single else tuple(tangents) if isinstance(tangents, (tuple, list)) else None
        if per_argument is None or len(per_argument) != len(self.wrt):
            raise TypeError(f"{self.name}(): tangents must be {'one' if self.single else len(self.wrt)} "
                            f"tangent{'' if self.single else 's (a tuple)'}, one per differentiated argument")
        leaves = []
        for position, tangent in zip(self.wrt, per_argument):
            name, original = self.names[position], originals[position]
            if trees.flatten(tangent, _no_leaf) != trees.flatten(original, _no_leaf):
                raise TypeError(f"the tangent of {name!r} must have its structure {trees.describe(trees.flatten(original, _no_leaf))}")
            for leaf, like in zip(trees.tree_leaves(tangent), trees.tree_leaves(original)):
                like = np.asarray(like)
                leaf = np.asarray(leaf, dtype=like.dtype)
                if leaf.shape != like.shape:
                    raise ValueError(f"the tangent of {name!r} must have its shape {like.shape}, not {leaf.shape}")
                leaves.append(leaf[()] if leaf.ndim == 0 else leaf)
        return leaves

    def _pullback(self, backward, residuals, record, originals, types, shape, cotangent):
        seed = np.asarray(cotangent, dtype=record.out.dtype)
        if seed.shape != shape:
            raise ValueError(f"the cotangent of {self.name}'s output must have its shape {shape}, "
                             f"not {seed.shape}")
        seed = seed[()] if seed.ndim == 0 else seed
        return self._gradients(self._run(backward, (*residuals, seed), record), originals, types)

    def _gradients(self, grads, originals, types):
        """The flat gradients of the leaves of the parameters `wrt`, each parameter's nested as it
        is (a tree's in a tree of the same structure), each leaf the kind of object it belongs to."""
        grads = iter(grads)
        nested = []
        for i in self.wrt:
            if isinstance(types[i], trees.Node):
                nested.append(trees.unflatten_like(types[i], grads, originals[i], _like))
            else:
                nested.append(_like(next(grads), originals[i]))
        return nested[0] if self.single else tuple(nested)

    def _run(self, compiled, values, record: Specialisation):
        """Call generated code; a failure inside it is reported with the user's function and shapes."""
        try:
            return compiled(*values)
        except _numba_errors(self.jit) as error:
            built = record.build
            if built is None:  # loaded from a pickle: no IR to point at
                raise CompileError(f"Numba could not compile the code generated for {self.name} ({record.path}): "
                                   f"{error}", record.loc, "this is a bug in adcompiler; jit=False runs the same code as "
                                   "plain Python") from None
            from .rules.library import function_name, library_call_named_in
            library = library_call_named_in(built.primal.entry.ops, str(error))
            if library is not None:
                raise CompileError(f"Numba cannot compile `{function_name(library)}` with these arguments",
                                   library.loc,
                                   "compile this function with jit=False (the same code as plain NumPy), or compute "
                                   "this value outside it and pass it in") from None
            raise CompileError(f"Numba could not compile the code generated for {self.name} "
                               f"({built.path}): {error}", built.primal.loc,
                               "this is a bug in adcompiler; jit=False runs the same code as plain Python") from None
        except (ValueError, IndexError, ZeroDivisionError, AssertionError) as error:
            shapes = ", ".join(f"{hint}: {np.shape(v)}" for hint, v in zip(record.hints, values))
            raise ValueError(f"{self.name}({shapes}) failed in its generated code {record.path}: "
                             f"{error}") from error


class Loaded(Transformed):
    """A transformed function unpickled (portable.py): it runs the specialisations it was pickled
    with, each compiled on its first call (or found in the cache folder), and refuses other
    argument types: without the user's source it cannot lower them."""

    def cache_print(self, fingerprint: Callable) -> str:
        raise build_cache.Unprintable("an unpickled transform")

    def __init__(self, state: dict):
        self.function = None  # the user's function is not here, only its compiled specialisations
        self.kind, self.name, self.title, self.wrt, self.single, self.jit = (
            state[key] for key in ("kind", "name", "title", "wrt", "single", "jit"))
        self.signature = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d)
                                            for n, d in state["parameters"]])
        self.names = [n for n, _ in state["parameters"]]
        self._fixing, self._first_pattern, self._seen = state["fixing"], state["first_pattern"], {}
        self.in_axes, self.out_axes = state["in_axes"], state["out_axes"]
        self._specialisations = {types: (record, None) for types, record in state["specialisations"].items()}
        self._lock = threading.Lock()
        self.__name__, self.__qualname__, self.__doc__ = self.name, state["qualname"], state["doc"]
        self.__signature__ = self.signature

    @property
    def specialisations(self) -> dict:
        """{argument types: (Specialisation, Executable)} of the signatures it has run."""
        with self._lock:
            return {types: pair for types, pair in self._specialisations.items() if pair[1] is not None}

    def specialise(self, arg_types: tuple, compiled: bool = True, values: tuple | None = None,
                   kept: bool = False) -> tuple:
        """(Specialisation, Executable) for argument types that were pickled; others are refused."""
        with self._lock:
            if arg_types not in self._specialisations:
                have = "; ".join(f"({_described(self.names, types)})" for types in self._specialisations)
                raise TypeError(f"{self.title} was unpickled with the compiled signatures {have or '(none)'} and "
                                f"cannot compile ({_described(self.names, arg_types)}) without the source of "
                                f"{self.name}: call the original with such arguments before pickling it")
            record, executable = self._specialisations[arg_types]
        if compiled and executable is None:
            with _LOADED_LOCK:  # one module per source in a process, however many objects unpickled it
                key = (record.source, record.stem, bool(self.jit))
                executable = _LOADED.get(key) or _LOADED.setdefault(key, Executable(*key))
            with self._lock:
                self._specialisations[arg_types] = (record, executable)
        return record, executable


# The Executables of unpickled specialisations, by (source, stem, jit): a worker that unpickles the
# same function for every task imports its module once.
_LOADED: dict = {}
_LOADED_LOCK = threading.Lock()


def _in_axes(in_axes, names: list) -> tuple:
    """One batch axis (an int, or None: not batched) per parameter."""
    axes = tuple(in_axes) if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(names)
    if len(axes) != len(names) or not all(a is None or (isinstance(a, int) and not isinstance(a, bool)) for a in axes):
        raise ValueError(f"in_axes must be an int, None, or a tuple of one of them per parameter {names}, "
                         f"not {in_axes!r}")
    if all(a is None for a in axes):
        raise ValueError("in_axes batches no parameter")
    return axes


def _batch_first(args: tuple, names: list, in_axes: tuple) -> tuple:
    """The arguments with each batched one's batch axis moved first (views); their batch sizes
    must agree."""
    moved, sizes = [], {}

    def first(leaf, name, axis):
        leaf = np.asarray(leaf)
        if leaf.ndim == 0 or not -leaf.ndim <= axis < leaf.ndim:
            raise ValueError(f"vmap: argument {name!r} has shape {leaf.shape}, which has no axis {axis} to batch over")
        sizes.setdefault(leaf.shape[axis], name)
        if len(sizes) > 1:
            raise ValueError(f"vmap: the batched arguments have different batch sizes "
                             f"({', '.join(f'{n!r}: {k}' for k, n in sizes.items())})")
        return np.moveaxis(leaf, axis, 0)

    for value, name, axis in zip(args, names, in_axes):
        moved.append(value if axis is None else trees.tree_map(lambda leaf: first(leaf, name, axis), value))
    return tuple(moved)


def _with_lengths(structures, leaves, lengths) -> tuple:
    """`structures` with each array leaf's type given the lengths `lengths(its value's shape)` (None:
    left as it is); `leaves` are the values of their leaves, in order."""
    shapes = iter(np.shape(leaf) for leaf in leaves)

    def shaped(leaf, path):
        shape = next(shapes)
        known = lengths(shape) if isinstance(leaf, Type) and leaf.ndim else None
        return leaf if known is None else leaf.with_lengths(known)
    return tuple(trees.map_leaves(structure, shaped) for structure in structures)


def _small_item(batched: bool, shape: tuple):
    """The lengths a vmap keys an array argument of `shape` by where its items (a batched argument's;
    the whole of another) have at most `SMALL` elements, so that it runs as a loop over their numbers
    (transforms/scalarise.py); None otherwise."""
    item = shape[1:] if batched else shape
    return None if math.prod(item) > SMALL else ((None,) if batched else ()) + item


def _is_integer(value) -> bool:
    """Whether an argument is an integer (not a bool): what `Fixed` may hold."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _has_arrays(types: tuple) -> bool:
    return any(leaf.ndim for t in types if not isinstance(t, Fixed) for leaf in trees.leaves_of(t))


def _no_leaf(leaf, path):
    return None


def _tangents_at(built: Build, kind: str) -> tuple:
    """For a jvp, the positions of the arguments a warm-up call passes as tangents: the
    differentiated leaves themselves."""
    if kind != "jvp":
        return ()
    params = built.primal.params
    own = len(params) - len(built.primal.captured)
    return tuple(next(i for i, p in enumerate(params) if p is tangent.derived[1])
                 for tangent in built.program.params[own:len(built.program.params) - len(built.primal.captured)])


def _tree_fingerprint(value, key: list, leaves: list) -> bool:
    """`Transformed._fingerprint` of a tree argument (and of its leaves: arrays and Python numbers)
    into `key` and `leaves`; False for anything else. A dict's keys are in the key with their
    classes (1 and True are equal keys, but only one is refused)."""
    kind = type(value)
    if kind is np.ndarray:
        key.append((value.dtype, value.shape))
        leaves.append(value if value.ndim else value[()])
        return True
    if kind is float or kind is bool or kind is int:
        key.append(kind)
        leaves.append(value)
        return True
    if kind is dict:
        key.append((dict, tuple(value), tuple(map(type, value))))
        items = value.values()
    elif kind is list or kind is tuple or (issubclass(kind, tuple) and hasattr(kind, "_fields")):
        if not value or all(type(item) in (float, int, bool) for item in value):
            return False  # a list of numbers is one array leaf; an empty one: the full path
        key.append((kind, len(value)))
        items = value
    else:
        return False
    return all(_tree_fingerprint(item, key, leaves) for item in items)


def _pipeline():
    """pipeline.py, imported at the first build: a call served from the disk cache runs none of its
    passes, nor imports them."""
    from . import pipeline
    return pipeline


def _lowered(built) -> bool:
    """Whether `built` is a Build (lowered in this process: it has IR), not a Specialisation (a
    record found in the disk cache or unpickled)."""
    return not isinstance(built, Specialisation)


def _current(built) -> bool:
    """Whether a specialisation may still run: the globals and closure values its build read still
    hold (`still_valid`; a Build's IR, a disk cache entry's reads, found again in this process); an
    unpickled one's were fixed when it was pickled."""
    if _lowered(built):
        return still_valid(built.primal)
    if isinstance(built, build_cache.CachedSpecialisation):
        return still_valid(built)  # it holds `assumptions` as a Function does
    build_of = getattr(built, "build", None)
    return build_of is None or still_valid(build_of.primal)


def _print_of(function) -> str | None:
    """The fingerprint of a transformed function (build_cache.py); None when it has none."""
    try:
        return build_cache.fingerprint(function)
    except Exception:  # noqa: BLE001 - Unprintable, or a source that cannot be read: parse says why
        return None


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _numba_errors(jit: bool) -> tuple:
    """What Numba raises when it cannot compile, for code compiled with `jit` (Numba is imported
    then); nothing for plain Python, which has not imported Numba."""
    if not jit:
        return ()
    from numba.core.errors import NumbaError
    return (NumbaError,)


def _composition(outer: Transformed, inner) -> ParsedFunction:
    """What `outer` lowers for its transformed (or custom_vjp) `inner`: a call of it. What can be
    refused without argument types is refused here, naming both transforms."""
    kind = getattr(inner, "kind", f"custom_{getattr(inner, 'mode', 'vjp')}")
    check, check_call = _pipeline().check, _pipeline().check_call
    where = inner.parsed if isinstance(inner, Transformed) else check(inner.function)
    at = where.loc(where.tree)
    if kind == "vjp":
        raise CompileError(f"{outer.title}: vjp returns (value, pullback), and a pullback function cannot be "
                           f"{'compiled' if outer.kind == 'jit' else 'differentiated'}", at,
                           "transform value_and_grad or grad instead, or f itself")
    if kind == "jvp" and outer.kind in _DIFFERENTIATES:  # the directional derivative is the loss
        return check_call(inner, list(outer.signature.parameters), f"{outer.kind}_of_{where.name}", outer.title,
                          where, pick=1)
    if outer.kind not in ("jit", "vmap", "jvp") and (kind == "value_and_grad" or (kind == "grad" and not inner.single)):
        what = "(value, gradients)" if kind == "value_and_grad" else f"a tuple of {len(inner.wrt)} gradients"
        raise CompileError(f"{outer.title}: {_title(inner)} returns {what}, a tuple, but {outer.kind} needs "
                           f"one {'float' if outer.kind == 'vjp' else 'scalar'} output", at,
                           "transform grad(f) with one `wrt` (a gradient) or f itself (the value) instead; "
                           "jit compiles a function that returns a tuple")
    return check_call(inner, list(outer.signature.parameters), f"{outer.kind}_of_{where.name}", outer.title, where)


_DIFFERENTIATES = ("grad", "value_and_grad", "vjp")  # the kinds that differentiate one output in reverse
_JACOBIANS = ("jacrev", "jacfwd", "jacobian")
_ONE_FUNCTION = ("jit", "vmap", *_JACOBIANS)  # the kinds whose program is one Function of the arguments


def _title(function) -> str:
    return getattr(function, "title", None) or getattr(function, "__name__", repr(function))


def _signature_of(function) -> inspect.Signature:
    if isinstance(function, Transformed):
        return function.signature
    return inspect.signature(function.function, follow_wrapped=False)


def _positions(wrt: Wrt, names: list, function_name: str) -> tuple:
    """The positions named by `wrt` (indices or parameter names) and whether it named just one."""
    single = isinstance(wrt, (int, str))
    if not single and not isinstance(wrt, (tuple, list)):
        raise TypeError(f"wrt must be a position, a parameter name or a tuple of them, not {wrt!r}")
    positions = []
    for item in ([wrt] if single else list(wrt)):
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise TypeError(f"wrt must be a position, a parameter name or a tuple of them, not {item!r}")
        if isinstance(item, str):
            if item not in names:
                raise ValueError(f"wrt={item!r}: {function_name} has no parameter {item!r} (it has {names})")
            item = names.index(item)
        if not isinstance(item, int) or not 0 <= item < len(names):
            raise ValueError(f"wrt={item!r}: {function_name} has {len(names)} parameters {names}")
        if item in positions:
            raise ValueError(f"wrt names the parameter {names[item]!r} twice")
        positions.append(item)
    if not positions:
        raise ValueError("wrt names no parameter")
    return tuple(positions), single


def _argument(value, name: str, differentiated: bool):
    """(the structure of `value`, the leaves to pass to generated code): a leaf's structure is its
    Type; a tree's (dict, list, tuple or namedtuple) is a `trees.Node` of the Types of its leaves."""
    leaves = []

    def leaf(item, path):
        item, kind = _leaf_argument(item, _Path(name, path) if path else name, differentiated)
        leaves.append(item)
        return kind
    return trees.flatten(value, leaf), leaves


class _Path:
    """The name of a leaf in messages (`params['W1']`), spelled only when a message needs it."""

    def __init__(self, name: str, path: tuple):
        self.name, self.path = name, path

    def __repr__(self):
        return repr(trees.path_text(self.name, self.path))


def _check_keys(names: list, types: tuple) -> None:
    """Refuse dict keys that are neither strings nor integers."""
    for name, structure in zip(names, types):
        for node in trees.nodes_of(structure):
            for key in node.keys if node.kind is dict else ():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"argument {name!r} is a dict with the key {key!r}; the keys of a parameter "
                                    f"tree must be strings or integers")


def _leaf_argument(value, name: str, differentiated: bool):
    """(the value to pass to generated code, its Type); refuses what generated code cannot take."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if isinstance(value, bool):
        kind = Type("bool")
    elif isinstance(value, int):
        kind = Type("int64")
    elif isinstance(value, float):
        kind = Type("float64")
    elif isinstance(value, (np.ndarray, np.generic)):
        kind = _array_type(value.dtype, tuple(n == 1 for n in value.shape))
        if value.ndim == 0:
            value = value[()]
    else:
        raise TypeError(f"argument {name!r} is a {type(value).__name__}; pass a number, a NumPy array or a "
                        f"dict, list or tuple of them")
    if kind.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"argument {name!r} has dtype {kind.dtype}; supported: {', '.join(SUPPORTED_DTYPES)}")
    if differentiated and not kind.is_float:
        raise TypeError(f"cannot differentiate with respect to {name!r}: it is {kind.dtype}, not a float; "
                        f"pass a float (such as 3.0) or a float array")
    return value, kind


@functools.lru_cache(maxsize=None)
def _array_type(dtype: np.dtype, units: tuple) -> Type:
    """The type of arrays of `dtype` whose axes of length 1 are `units` (generated code sums a
    broadcast gradient over exactly the axes that broadcasting stretched, known from these)."""
    return Type(str(dtype), len(units), False, units)


def _like(gradient, original):
    """`gradient` as the same kind of object as the argument it belongs to."""
    if isinstance(original, np.generic):  # before float: np.float64 is a float
        return original.dtype.type(gradient)
    if isinstance(original, float):
        return float(gradient)
    if isinstance(original, np.ndarray) and original.ndim == 0:
        return np.array(gradient, dtype=original.dtype)
    return gradient


def _output(value, record: Specialisation):
    out = record.out
    if out.ndim == 0:
        return np.float32(value) if out.dtype == "float32" else float(value)
    return value


def _transform(kind: str, function, wrt, jit, memory=None):
    if function is None:
        return lambda f: Transformed(f, wrt, jit, kind, memory=memory)
    return Transformed(function, wrt, jit, kind, memory=memory)


def grad(function: Callable = None, wrt: Wrt = 0, jit: bool = True, memory: int | None = None):
    """The gradient of scalar-valued `function` with respect to the parameters `wrt` (positions or
    names): one array per parameter, with its shape and dtype; a tuple when `wrt` is a sequence.
    Use as `grad(f)`, `@grad` or `@grad(wrt=("W", "b"))`. The generated code runs its array
    statements as NumPy and its loops as Numba kernels (compiled in the background: until they are
    ready, calls run them as plain Python); `jit=False` runs everything as plain Python and NumPy,
    `jit="whole"` compiles each generated function whole with Numba. `memory` (bytes) bounds what
    each `for` loop outside other loops keeps for the backward: a loop whose tape would not fit is
    checkpointed (transforms/checkpoint.py), in two levels (each iteration recomputed once) where
    they fit, else by the binomial schedule (revolve)."""
    return _transform("grad", function, wrt, jit, memory)


def value_and_grad(function: Callable = None, wrt: Wrt = 0, jit: bool = True, memory: int | None = None):
    """Like `grad`, but the result is `(value, gradients)`."""
    return _transform("value_and_grad", function, wrt, jit, memory)


def vjp(function: Callable = None, wrt: Wrt = 0, jit: bool = True, memory: int | None = None):
    """`vjp(f)(*args)` returns `(value, pullback)`; `pullback(cotangent)` returns the
    vector-Jacobian products for the parameters `wrt`. The value may be an array. `memory`: as
    for `grad`."""
    return _transform("vjp", function, wrt, jit, memory)


def jit(function: Callable = None, jit: bool = True):
    """`function` compiled as it is, without differentiation: for code that calls gradients, such
    as a whole training step (`grad(loss)(...)` inside it is computed in the compiled code)."""
    return _transform("jit", function, 0, jit)


def vmap(function: Callable = None, in_axes=0, out_axes: int = 0, jit: bool = True):
    """`function` applied to each item of a batch at once: the arguments batched by `in_axes` (an
    int, None, or a tuple of one per parameter; None: the same for all items) carry the batch along
    that axis, and each result carries it along `out_axes`. One compiled function does the whole
    batch (transforms/batch.py): what does not depend on the batched arguments is computed once."""
    if function is None:
        return lambda f: Transformed(f, (), jit, "vmap", in_axes, out_axes)
    return Transformed(function, (), jit, "vmap", in_axes, out_axes)


def jacrev(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """The Jacobian of `function` with respect to the parameters `wrt`, by reverse mode: one forward
    pass, and one backward pass over the whole identity basis of cotangents at once. Each Jacobian
    has the shape `out.shape + x.shape` (JAX's convention); a tuple when `wrt` is a sequence."""
    return _transform("jacrev", function, wrt, jit)


def jacfwd(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """The Jacobian of `function` with respect to the parameters `wrt`, by forward mode: the values
    once and the tangents over the whole identity basis of tangents at once (one block of columns
    per differentiated argument). Shaped as `jacrev`'s; a tuple when `wrt` is a sequence."""
    return _transform("jacfwd", function, wrt, jit)


def jacobian(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """The Jacobian of `function` with respect to `wrt`, by forward mode where the differentiated
    arguments have at most as many numbers as the output (a tall Jacobian), else by reverse mode:
    one compiled Function holding both, which chooses by the sizes at each call."""
    return _transform("jacobian", function, wrt, jit)


def hessian(function: Callable = None, wrt: int | str = 0, jit: bool = True):
    """The Hessian of scalar `function` with respect to one parameter `wrt`, forward over reverse
    (jacfwd of grad): shape `x.shape + x.shape`."""
    if function is None:
        return lambda f: hessian(f, wrt, jit)
    if not isinstance(wrt, (int, str)):
        raise TypeError(f"hessian differentiates one argument; wrt={wrt!r} (take jacfwd(grad(f, wrt=...)) per pair)")
    return Transformed(Transformed(function, wrt, jit, "grad"), wrt, jit, "jacfwd")




def jvp(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """Forward mode: `jvp(f)(*args, tangents)` returns `(value, tangent)`, f's value and its
    directional derivative along `tangents` (one per parameter in `wrt`, a tuple when `wrt` is a
    sequence; a tree's tangent a tree of the same structure), in one pass. The value may be an
    array or a tree of them; the tangent has its structure. `grad(jvp(f))` differentiates the
    tangent (f's directional derivative, a scalar when f is) with respect to the arguments and
    the tangents (the position after f's own parameters, or "tangents")."""
    return _transform("jvp", function, wrt, jit)


def hvp(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """`hvp(f)(*args, v)` returns `(gradient, hessian_vector_product)`: jvp(grad(f)), forward mode
    over the gradient, so the Hessian of scalar f (with respect to `wrt`) times `v` is one pass
    and the Hessian is never formed."""
    if function is None:
        return lambda f: hvp(f, wrt, jit)
    return Transformed(Transformed(function, wrt, jit, "grad"), wrt, jit, "jvp")


FACTORIES = (grad, value_and_grad, vjp, jvp, hvp, jit, vmap, jacrev, jacfwd, jacobian, hessian)
# What lowering knows of these transforms: `grad(f)(x)` inside compiled code is made at compile time
# and a call of a transformed function splices its IR.
TRANSFORMS = Transforms(is_factory=lambda obj: any(obj is factory for factory in FACTORIES),
                        transform_of=lambda obj: obj if isinstance(obj, Transformed) and not isinstance(obj, Loaded) else None)


def show(function: Callable, *args, wrt: Wrt = 0, print_it: bool = True) -> str:
    """The SSA IR of `function`, its forward and backward IR, and the generated Python, for
    arguments like `args` (every parameter a float64 scalar when none are given). Without `args`,
    a transformed function that has been called shows each specialisation it compiled, and what
    runs now (the plain version while kernels compile, then what was measured faster, per region)."""
    transformed = function if isinstance(function, Transformed) else Transformed(function, wrt, False, "vjp")
    if isinstance(function, Loaded) and (args or not function.specialisations):
        raise TypeError(f"{function.title} was unpickled: show({function.name}) without arguments shows the code of "
                        f"the signatures it has run")
    compiled = transformed.specialisations if function is transformed and not args else {}
    if compiled:
        text = "\n\n".join(f"# {transformed.title} for ({_described(transformed.names, types)})\n\n{built.describe()}"
                           f"\n\n# what runs now: {executable.state}" for types, (built, executable) in compiled.items())
    else:
        if not args:
            args = tuple(0.0 for _ in transformed.names)
        if transformed.kind == "vmap":
            args = _batch_first(args, transformed.names, transformed.in_axes)
        differentiated = () if transformed.kind == "vmap" else transformed.wrt
        types = tuple(_argument(v, n, i in differentiated)[0]
                      for i, (n, v) in enumerate(zip(transformed.names, args)))
        kind = transformed.kind if transformed.kind in ("jvp", *_ONE_FUNCTION) else "vjp"
        text = _pipeline().build(transformed.parsed, list(types), transformed.wrt, kind, TRANSFORMS,
                     memory=getattr(transformed, "memory", None)).describe()
    if print_it:
        print(text)
    return text


def _described(names: list, types: tuple) -> str:
    return ", ".join(f"{n}: {trees.describe(t)}" for n, t in zip(names, types))
