"""The user's verbs: `grad`, `value_and_grad`, `vjp`, `jvp`, `hvp`, `jit` and `show`.

A transformed function is checked (parsed and fenced) when it is made, and specialised on first
call for the types of its arguments (dtype and rank, like Numba's dispatcher): each new signature
builds and compiles its own forward and backward.
"""
from __future__ import annotations

import functools
import inspect
import threading
from typing import Callable, Sequence, Union

import numpy as np

from . import trees
from .rules.custom import Custom
from .errors import CompileError, UnendedRecursion
from .rules.library import function_name, library_call_named_in
from .ir.core import SUPPORTED_DTYPES, Type
from .frontend.inlining import Transforms
from .frontend.lower import still_valid
from .frontend.parse import ParsedFunction
from .backend.executable import Executable
from .pipeline import Build, Fixed, build, check, check_call

Wrt = Union[int, str, Sequence[Union[int, str]]]


class Transformed:
    """`kind` of `function` ("grad", "value_and_grad", "vjp", "jvp" or "jit") with respect to `wrt`.
    `function` may itself be transformed (or a custom_vjp): the outer transform then lowers a call
    of it, so `grad(grad(f))` is the second derivative."""

    def __init__(self, function: Callable, wrt: Wrt, jit: bool | str, kind: str):
        if jit not in (True, False, "whole"):
            raise ValueError(f"jit must be True (NumPy, with Numba kernels for loops), False (NumPy only) or "
                             f"'whole' (each generated function compiled whole by Numba), not {jit!r}")
        self.function = function
        self.kind = kind
        self.title = f"{kind}({_title(function)})"
        if isinstance(function, (Transformed, Custom)):
            self.signature = _signature_of(function)
            self.parsed = _composition(self, function)
        else:
            self.parsed = check(function)
            self.signature = inspect.signature(function, follow_wrapped=False)
        self.names = list(self.signature.parameters)  # of the function's own arguments
        self.wrt, self.single = _positions(wrt, self.names, self.parsed.described) if kind != "jit" else ((), False)
        if kind == "jvp":  # called with the tangents after the arguments
            Parameter = inspect.Parameter
            self.signature = inspect.Signature(
                [p.replace(kind=Parameter.POSITIONAL_OR_KEYWORD, default=Parameter.empty)
                 for p in self.signature.parameters.values()] + [Parameter("tangents", Parameter.POSITIONAL_OR_KEYWORD)])
        self.jit = jit
        self._specialisations: dict = {}
        self._first_pattern: dict = {}  # dtypes and ranks -> the first pattern of length-1 axes
        self._fixes_integers = False  # whether integer arguments are constants of the specialisation
        self._lock = threading.Lock()
        # The name and docstring of `function`, but not its attributes or `__wrapped__`: whatever
        # reads this object's source must read the transform, never the function inside it.
        functools.update_wrapper(self, function, updated=())
        del self.__wrapped__
        self.__signature__ = self.signature

    def _signature(self, types: tuple) -> tuple:
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
        """{argument types: (Build, Executable or None)} of the signatures seen so far."""
        with self._lock:
            return dict(self._specialisations)

    def build_for(self, arg_types: tuple) -> Build:
        """The IR and source for these argument types (what a caller compiled by adcompiler splices)."""
        return self.specialise(arg_types, compiled=False)[0]

    def specialise(self, arg_types: tuple, compiled: bool = True, values: tuple | None = None) -> tuple:
        """(Build, Executable or None) for these argument types, made once (thread-safe). `values`
        (of a first call) let Numba compile the kernels in the background for exactly their types."""
        with self._lock:
            built, executable = self._specialisations.get(arg_types, (None, None))
            if built is not None and not still_valid(built.primal):  # a global it read was rebound
                built, executable = None, None
            if built is None:
                _check_keys(self.names, arg_types)
                mode = "whole" if self.jit == "whole" else "auto"
                built = build(self.parsed, list(arg_types), self.wrt, self.kind, TRANSFORMS, mode)
            if compiled and executable is None:
                warm = None if values is None else functools.partial(self._warm, built, tuple(map(_copy, values)))
                executable = Executable(built.source, built.stem, bool(self.jit), warm)
            self._specialisations[arg_types] = (built, executable)
            return built, executable

    def _warm(self, built: Build, values: tuple, module) -> None:
        """One call of `module`'s code (compiling its kernels), its results dropped."""
        name, values = self.parsed.name, (*values, *built.primal.captured)
        if self.kind == "jit":
            getattr(module, name)(*values)
        elif self.kind == "jvp":
            getattr(module, name)(*_with_tangents(values, built, _warm_tangents(values, built)))
        elif self.kind == "vjp":
            out, *residuals = getattr(module, f"{name}_forward")(*values)
            getattr(module, f"{name}_backward")(*residuals, np.ones_like(out)[()])
        else:
            getattr(module, f"{name}_value_and_grad")(*values)

    def _specialise_call(self, types: tuple, originals: tuple, values: tuple) -> tuple:
        """`specialise` for a call; once recursion needs them (`UnendedRecursion`), the integer
        arguments are constants of the specialisation (`Fixed`): one build per value."""
        integers = [i for i, v in enumerate(originals) if isinstance(v, (int, np.integer)) and not isinstance(v, bool)]
        if not self._fixes_integers or not integers:
            try:
                return self.specialise(self._signature(types), values=values)
            except UnendedRecursion:
                if not integers:
                    raise
                self._fixes_integers = True
        fixed = list(types)
        for i in integers:
            fixed[i] = Fixed(types[i], int(originals[i]))
        return self.specialise(tuple(fixed), values=values)

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != len(self.signature.parameters):
            try:
                bound = self.signature.bind(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{self.parsed.name}(): {error}") from None
            bound.apply_defaults()
            args = tuple(bound.arguments.values())
        if self.kind == "jvp":
            *args, tangents = args
        originals = tuple(args)
        flat = [_argument(v, n, i in self.wrt) for i, (n, v) in enumerate(zip(self.names, originals))]
        types = tuple(structure for structure, _ in flat)
        values = tuple(leaf for _, leaves in flat for leaf in leaves)
        built, executable = self._specialise_call(types, originals, values)
        module = executable.module
        name = self.parsed.name
        if self.kind == "jvp":
            leaves = self._tangent_leaves(tangents, originals)
            return built.program.nest(self._run(getattr(module, name), _with_tangents(values, built, leaves), built))
        values = (*values, *built.primal.captured)
        if self.kind == "jit":
            result = self._run(getattr(module, name), values, built)  # a tuple when it returns several
            return built.primal.nest(result if len(built.primal.entry.terminator.values) > 1 else (result,))
        if self.kind == "vjp":
            out, *residuals = self._run(getattr(module, f"{name}_forward"), values, built)
            backward = getattr(module, f"{name}_backward")
            pullback = functools.partial(self._pullback, backward, residuals, built, originals, types, np.shape(out))
            return _output(out, built), pullback
        value, grads = self._run(getattr(module, f"{name}_value_and_grad"), values, built)
        grads = self._gradients(grads, originals, types)
        return grads if self.kind == "grad" else (_output(value, built), grads)

    def _tangent_leaves(self, tangents, originals) -> list:
        """The leaves of `tangents` (one per `wrt` argument, a tuple when several), each checked to
        have its argument's structure and shape, and given its dtype."""
        per_argument = (tangents,) if self.single else tuple(tangents) if isinstance(tangents, (tuple, list)) else None
        if per_argument is None or len(per_argument) != len(self.wrt):
            raise TypeError(f"{self.parsed.name}(): tangents must be {'one' if self.single else len(self.wrt)} "
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

    def _pullback(self, backward, residuals, built, originals, types, shape, cotangent):
        out = built.program.forward.entry.terminator.values[0].type
        seed = np.asarray(cotangent, dtype=out.dtype)
        if seed.shape != shape:
            raise ValueError(f"the cotangent of {self.parsed.name}'s output must have its shape {shape}, "
                             f"not {seed.shape}")
        seed = seed[()] if seed.ndim == 0 else seed
        return self._gradients(self._run(backward, (*residuals, seed), built), originals, types)

    def _gradients(self, grads, originals, types):
        """The flat gradients of the leaves of the parameters `wrt`, each parameter's nested as it
        is (a tree's in a tree of the same structure), each leaf the kind of object it belongs to."""
        grads = iter(grads)
        nested = tuple(trees.unflatten(types[i], iter([_like(next(grads), leaf)
                                                       for leaf in trees.tree_leaves(originals[i])]))
                       for i in self.wrt)
        return nested[0] if self.single else nested

    def _run(self, compiled, values, built: Build):
        """Call generated code; a failure inside it is reported with the user's function and shapes."""
        try:
            return compiled(*values)
        except _numba_errors(self.jit) as error:
            library = library_call_named_in(built.primal.entry.ops, str(error))
            if library is not None:
                raise CompileError(f"Numba cannot compile `{function_name(library)}` with these arguments",
                                   library.loc,
                                   "compile this function with jit=False (the same code as plain NumPy), or compute "
                                   "this value outside it and pass it in") from None
            raise CompileError(f"Numba could not compile the code generated for {self.parsed.name} "
                               f"({built.path}): {error}", built.primal.loc,
                               "this is a bug in adcompiler; jit=False runs the same code as plain Python") from None
        except (ValueError, IndexError, ZeroDivisionError, AssertionError) as error:
            shapes = ", ".join(f"{p.hint}: {np.shape(v)}" for p, v in zip(built.primal.params, values))
            raise ValueError(f"{self.parsed.name}({shapes}) failed in its generated code {built.path}: "
                             f"{error}") from error


def _no_leaf(leaf, path):
    return None


def _with_tangents(values: tuple, built: Build, tangents) -> tuple:
    """The arguments of a jvp's generated function: the arguments' leaves, the tangents' leaves,
    the captured arrays."""
    return (*values, *tangents, *built.primal.captured)


def _warm_tangents(values: tuple, built: Build) -> list:
    """Tangents for a warm-up call: the values of the differentiated leaves themselves."""
    params = built.primal.params
    return [values[next(i for i, p in enumerate(params) if p is tangent.derived[1])]
            for tangent in built.program.params[len(values):len(built.program.params) - len(built.primal.captured)]]


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
    where = inner.parsed if isinstance(inner, Transformed) else check(inner.function)
    at = where.loc(where.tree)
    if kind == "vjp":
        raise CompileError(f"{outer.title}: vjp returns (value, pullback), and a pullback function cannot be "
                           f"{'compiled' if outer.kind == 'jit' else 'differentiated'}", at,
                           "transform value_and_grad or grad instead, or f itself")
    if kind == "jvp" and outer.kind in _DIFFERENTIATES:  # the directional derivative is the loss
        return check_call(inner, list(outer.signature.parameters), f"{outer.kind}_of_{where.name}", outer.title,
                          where, pick=1)
    if outer.kind in _DIFFERENTIATES and (kind == "value_and_grad" or (kind == "grad" and not inner.single)):
        what = "(value, gradients)" if kind == "value_and_grad" else f"a tuple of {len(inner.wrt)} gradients"
        raise CompileError(f"{outer.title}: {_title(inner)} returns {what}, a tuple, but {outer.kind} needs "
                           f"one {'float' if outer.kind == 'vjp' else 'scalar'} output", at,
                           "transform grad(f) with one `wrt` (a gradient) or f itself (the value) instead; "
                           "jit compiles a function that returns a tuple")
    return check_call(inner, list(outer.signature.parameters), f"{outer.kind}_of_{where.name}", outer.title, where)


_DIFFERENTIATES = ("grad", "value_and_grad", "vjp")  # the kinds that differentiate one output in reverse


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
    """Refuse dict keys that are neither strings nor integers (checked once per structure)."""
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


def _output(value, built: Build):
    out = built.program.forward.entry.terminator.values[0].type
    if out.ndim == 0:
        return np.float32(value) if out.dtype == "float32" else float(value)
    return value


def _transform(kind: str, function, wrt, jit):
    if function is None:
        return lambda f: Transformed(f, wrt, jit, kind)
    return Transformed(function, wrt, jit, kind)


def grad(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """The gradient of scalar-valued `function` with respect to the parameters `wrt` (positions or
    names): one array per parameter, with its shape and dtype; a tuple when `wrt` is a sequence.
    Use as `grad(f)`, `@grad` or `@grad(wrt=("W", "b"))`. The generated code runs its array
    statements as NumPy and its loops as Numba kernels (compiled in the background: until they are
    ready, calls run them as plain Python); `jit=False` runs everything as plain Python and NumPy,
    `jit="whole"` compiles each generated function whole with Numba."""
    return _transform("grad", function, wrt, jit)


def value_and_grad(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """Like `grad`, but the result is `(value, gradients)`."""
    return _transform("value_and_grad", function, wrt, jit)


def vjp(function: Callable = None, wrt: Wrt = 0, jit: bool = True):
    """`vjp(f)(*args)` returns `(value, pullback)`; `pullback(cotangent)` returns the
    vector-Jacobian products for the parameters `wrt`. The value may be an array."""
    return _transform("vjp", function, wrt, jit)


def jit(function: Callable = None, jit: bool = True):
    """`function` compiled as it is, without differentiation: for code that calls gradients, such
    as a whole training step (`grad(loss)(...)` inside it is computed in the compiled code)."""
    return _transform("jit", function, 0, jit)


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


FACTORIES = (grad, value_and_grad, vjp, jvp, hvp, jit)
# What lowering knows of these transforms: `grad(f)(x)` inside compiled code is made at compile time
# and a call of a transformed function splices its IR.
TRANSFORMS = Transforms(is_factory=lambda obj: any(obj is factory for factory in FACTORIES),
                        transform_of=lambda obj: obj if isinstance(obj, Transformed) else None)


def show(function: Callable, *args, wrt: Wrt = 0, print_it: bool = True) -> str:
    """The SSA IR of `function`, its forward and backward IR, and the generated Python, for
    arguments like `args` (every parameter a float64 scalar when none are given). Without `args`,
    a transformed function that has been called shows each specialisation it compiled."""
    transformed = function if isinstance(function, Transformed) else Transformed(function, wrt, False, "vjp")
    compiled = transformed.specialisations if function is transformed and not args else {}
    if compiled:
        text = "\n\n".join(f"# {transformed.title} for ({_described(transformed.names, types)})\n\n{built.describe()}"
                           for types, (built, _) in compiled.items())
    else:
        if not args:
            args = tuple(0.0 for _ in transformed.names)
        types = tuple(_argument(v, n, i in transformed.wrt)[0]
                      for i, (n, v) in enumerate(zip(transformed.names, args)))
        kind = transformed.kind if transformed.kind in ("jit", "jvp") else "vjp"
        text = build(transformed.parsed, list(types), transformed.wrt, kind, TRANSFORMS).describe()
    if print_it:
        print(text)
    return text


def _described(names: list, types: tuple) -> str:
    return ", ".join(f"{n}: {trees.describe(t)}" for n, t in zip(names, types))
