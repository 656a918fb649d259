"""Calls that lowering inlines: the user's own functions (by a child lowering sharing the
builder), the functions and lambdas defined inside them (`Closure`s), `@custom_vjp` functions, and
transformed functions (`grad(f)(...)`, `value_and_grad(f)(...)`, `jit(f)(...)`), whose IR is
spliced in. Recursion is unrolled: each call is inlined again, until a condition known at compile
time ends it, or it is refused `MAX_DEPTH` levels deep.

What lowering knows of the API's transforms comes in through `Transforms` (transforms_seen.py).
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
from dataclasses import dataclass
from typing import Callable

import gast

from .. import trees
from ..errors import UnendedRecursion
from ..rules import primitives as P
from ..ir.builder import current_builder, looked_up
from ..ir.core import Block, Checkpointed, Const, Function, Type, Value, Yield
from ..rules.primitives import Sym
from .calls import Static
from .canonical import canonicalise
from .fence import fence
from .parse import ParsedFunction, bound_names, parse
from .transforms_seen import Transforms

MAX_DEPTH = 64  # levels of recursion unrolled before it is refused
_MATCH_HINT = "pass the arguments its definition takes (as Python would)"


@dataclass(eq=False)
class Closure:
    """A function defined inside the one being lowered, by `def` or `lambda`: a value known at
    compile time. Its free variables are read in the lowering that defined it (`enclosing`) when it
    is called, as Python's late binding does; its defaults were lowered at its definition."""

    parsed: ParsedFunction  # fenced with the enclosing function, canonicalised on its own
    enclosing: object  # the Lowering it was defined in
    signature: inspect.Signature  # defaults are the lowered values

    @property
    def name(self) -> str:
        return self.parsed.name


@dataclass(frozen=True, eq=False)
class ClosureTransform:
    """`factory(*args, **kwargs)` (`grad(f, ...)`, `hessian(f)`, ...) where an argument is a function
    defined inside the compiled one (a `Closure`, or another ClosureTransform): made into the
    API's transform when it is called (`made`), when the values of its free variables are read,
    as Python reads them then."""

    factory: Callable
    args: tuple
    kwargs: dict

    def made(self, lowering, node):
        def real(value):
            if isinstance(value, Closure):
                return lift(value, lowering, node)
            return value.made(lowering, node) if isinstance(value, ClosureTransform) else value
        return self.factory(*map(real, self.args), **{k: real(v) for k, v in self.kwargs.items()})


class LiftedFunction:
    """A function defined inside compiled code, as a transform sees it: its `parsed` function reads
    its free variables from `parsed.free` (`Names.free_value`), and it has the closure's signature.
    It exists only while the code around it is compiled; it cannot be called."""

    def __init__(self, parsed: ParsedFunction, signature: inspect.Signature):
        self.parsed, self.__signature__ = parsed, signature
        self.__name__ = self.__qualname__ = parsed.name
        self.__module__, self.__doc__ = parsed.function.__module__, None

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.__name__} was defined inside compiled code: it runs only there")


@dataclass(frozen=True, eq=False)
class FreeValue:
    """What a hidden parameter of a lifted function's IR stands for (in `Function.captured`, beside
    captured arrays): `sym`, a value of the lowering whose builder is `builder`."""

    sym: Sym
    builder: object


def lift(closure: Closure, lowering, node, lifting: tuple = ()) -> LiftedFunction:
    """`closure` as a function a transform can compile on its own: each of its free variables that
    a function around it binds is read now (in `closure.enclosing`) and kept in `parsed.free` (a
    function defined there too, lifted in turn: `lifting` are those being lifted); the others
    (globals, builtins, the closure cells of the user's function) are read as its own."""
    tree = closure.parsed.tree
    own = bound_names(tree)
    read = {n.id for n in gast.walk(tree) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)} - own
    free = {}
    for name in sorted(read):
        scope = closure.enclosing
        while scope is not None and name not in scope.env and name not in scope.local_names():
            scope = scope.enclosing
        if scope is not None:
            free[name] = _free_leaves(closure.enclosing.read(name, node), name, closure, lowering, node,
                                      (*lifting, closure))
    name = tree.name if tree.name != "<lambda>" else f"lambda_{closure.parsed.loc(tree).line}"
    renamed = gast.copy_location(gast.FunctionDef(name=name, args=tree.args, body=tree.body, decorator_list=[],
                                                  returns=None, type_comment=None, type_params=[]), tree)
    return LiftedFunction(dataclasses.replace(closure.parsed, tree=renamed, free=free), closure.signature)


def _free_leaves(value, name: str, closure: Closure, lowering, node, lifting: tuple):
    """A free variable's value as the lifted function reads it: numbers, arrays, tuples and dicts of
    them, compile-time objects, and functions defined inside the compiled one, lifted too (a
    Closure that reads nothing from the lowering that defined it), unless they call themselves,
    take defaults computed there, or are transformed already."""
    if isinstance(value, tuple):
        return tuple(_free_leaves(v, name, closure, lowering, node, lifting) for v in value)
    if isinstance(value, dict):
        return {k: _free_leaves(v, name, closure, lowering, node, lifting) for k, v in value.items()}
    if isinstance(value, Sym):
        return value if isinstance(value.operand, Const) else FreeValue(value, lowering.builder)
    if isinstance(value, Static) and not isinstance(value.obj, ClosureTransform):
        return value
    if isinstance(value, Closure) and not any(value is other for other in lifting) and all(
            not isinstance(p.default, Sym) or isinstance(p.default.operand, Const)
            for p in value.signature.parameters.values()):
        return Closure(lift(value, lowering, node, lifting).parsed, None, value.signature)
    what = ("a function defined inside the compiled one that calls itself, takes a default computed there or is "
            "transformed already" if isinstance(value, (Closure, Static)) else "a value of a kind")
    transformed = lifting[0]  # lifting ends with `closure`, the function that reads `name`
    where = "" if transformed is closure else f" (through `{closure.name}`)"
    lowering.refuse(node, f"`{transformed.name}`, transformed here, reads `{name}`{where}, {what}, which a transformed "
                          f"function cannot read", f"pass `{name}` as an argument, or define it at module level")


class Inlining:
    """Lowering of calls of functions into this lowering's builder. Uses `transforms`, `stack` (the
    functions being lowered, by `recursion_key`: a call of one of them is unrolled recursion), and shares
    `builder`, `captured` and `assumptions` with the lowerings it makes."""

    def stmt_FunctionDef(self, node):
        self.env[node.name] = self.closure(node)

    def expr_Lambda(self, node):
        body = [gast.copy_location(gast.Return(value=node.body), node)]
        tree = gast.FunctionDef(name="<lambda>", args=node.args, body=body, decorator_list=[], returns=None,
                                type_comment=None, type_params=[])
        return self.closure(gast.copy_location(tree, node))

    def closure(self, tree: gast.FunctionDef) -> Closure:
        """The function `tree` defines here, its defaults lowered now (as Python evaluates them)."""
        args, Parameter = tree.args, inspect.Parameter
        positional = args.posonlyargs + args.args
        kinds = [Parameter.POSITIONAL_ONLY] * len(args.posonlyargs) + \
            [Parameter.POSITIONAL_OR_KEYWORD] * len(args.args) + [Parameter.KEYWORD_ONLY] * len(args.kwonlyargs)
        defaults = [None] * (len(positional) - len(args.defaults)) + args.defaults + args.kw_defaults  # nodes
        parameters = [Parameter(a.id, kind, default=Parameter.empty if d is None else self.expression(d))
                      for a, kind, d in zip(positional + args.kwonlyargs, kinds, defaults)]
        parsed = dataclasses.replace(self.parsed, tree=tree, title="", after_return=frozenset(), rebound_first={})
        return Closure(canonicalise(parsed), self, inspect.Signature(parameters))

    def call_closure(self, closure: Closure, name: str, args, kwargs, node):
        """A call of a function defined inside the user's code, lowered inline; its free variables
        are read from the lowering that defined it."""
        key = recursion_key(closure.parsed, closure.enclosing)
        self.check_depth(key, name, node)
        try:
            bound = closure.signature.bind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its parameters: {error}", _MATCH_HINT)
        bound.apply_defaults()
        child = type(self)(closure.parsed, self.builder, self.captured, self.assumptions, self.transforms,
                           self.stack, closure.enclosing)
        return self.inline_body(child, list(bound.arguments.values()), key, name, node)

    def check_depth(self, key, name: str, node) -> None:
        """Refuse a call that would unroll the recursion of the function `key` (see `recursion_key`)
        deeper than MAX_DEPTH."""
        if self.stack.count(key) >= MAX_DEPTH:
            raise self.unended(name, node)

    def inline_body(self, child, values: list, key, name: str, node):
        """`child.body(values)`; a recursion that exhausts Python's stack before MAX_DEPTH levels (a
        long body) is refused as one too deep."""
        try:
            return child.body(values)
        except RecursionError:
            if key not in self.stack:
                raise
            raise self.unended(name, node) from None

    def unended(self, name: str, node) -> UnendedRecursion:
        return UnendedRecursion(
            f"`{name}` calls itself (recursion) more than {MAX_DEPTH} levels deep (or deeper than Python's stack "
            f"allows): recursion is unrolled when compiling, so what ends it must be known then (integer arguments "
            f"and the arrays' shapes are), not an array's values", self.parsed.loc(node),
            "end the recursion on an integer (a literal, an integer argument of the differentiated function, "
            "`x.ndim`, `x.shape[0]`, `len(x)`, a tuple's length) that each call makes smaller, such as "
            "`power(x, n - 1)` or `det(minor)` of a smaller minor")

    def rule_inliner(self) -> Callable:
        """`inline(function, symbols)` as a custom_vjp lowers its body and its rule."""
        return functools.partial(inline, type(self), self.transforms)

    def call_user(self, function, name: str, args, kwargs, node):
        """A call of the user's own function, lowered inline by a child lowering that shares the
        builder, the captured arrays, the assumptions, the transforms and the stack."""
        self.check_depth(function, name, node)
        parsed = checked(function)
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its parameters: {error}", _MATCH_HINT)
        bound.apply_defaults()
        values = [v if isinstance(v, (Sym, tuple, dict, Static, Closure)) else self.static(v, node)
                  for v in bound.arguments.values()]
        child = type(self)(parsed, self.builder, self.captured, self.assumptions, self.transforms, self.stack)
        return self.inline_body(child, values, function, name, node)

    def call_checkpointed(self, checkpointed, name: str, args, kwargs, node):
        """A call of `checkpoint(f)`: f inlined as the body of a checkpointed loop of one iteration
        (ir/core.py's `Checkpointed`) whose one carried value is f's result, so that the backward
        recomputes f from the values it reads instead of keeping its intermediates."""
        function = checkpointed.function
        k = Value(Type("int64", weak=True), "k")
        with self.builder.nested() as body_ops:
            result = self.call_closure(function, name, args, kwargs, node) if isinstance(function, Closure) \
                else self.call_user(function, name, args, kwargs, node)
        if not isinstance(result, Sym) or result.type.listed:
            self.refuse(node, f"`{name}` is checkpointed, so it must return one number or array",
                        "checkpoint a function that returns one value, or return a tuple from functions it calls")
        if isinstance(result.operand, Const) or not result.type.is_float:
            self.builder.ops.extend(body_ops)  # nothing to recompute: no gradient flows through it
            return result
        kind = result.type.with_dtype(result.type.dtype)
        if kind != result.type:
            with self.builder.nested(body_ops):
                result = P.cast(result, dtype=kind.dtype)
        init = P.placeholder(dtype=kind.dtype, ndim=kind.ndim, listed=0, units=kind.units)
        loc = self.parsed.loc(node)
        body = Block([k, Value(kind, name)], body_ops, Yield((result.operand,), loc))
        out = Value(kind, name)
        self.builder.append(Checkpointed((Const(1), init.operand), (body,), (out,), loc))
        return Sym(out)

    def call_transformed(self, transformed, name: str, args, kwargs, node):
        """`grad(f)(...)`, `value_and_grad(f)(...)`, `jvp(f)(..., tangents)`, `jit(f)(...)`, `vmap(f)(...)`
        or a Jacobian (`jacrev`, `jacfwd`, `jacobian`) inside compiled code: f's IR (forward and backward for a gradient, values and
        tangents for a jvp, the one Function of the others), spliced here with the call's arguments, so
        that gradients of gradients are IR too."""
        if transformed.kind == "vjp":
            self.refuse(node, f"calling `{name}` (vjp) inside compiled code is not supported: its pullback is "
                              f"a function", "call grad or value_and_grad transforms")
        if transformed.kind == "vmap" and any(axis not in (0, None) for axis in (*transformed.in_axes,
                                                                                 transformed.out_axes)):
            self.refuse(node, f"calling `{name}` (vmap) with batch axes other than 0 inside compiled code is not "
                              f"supported", "move the batch axis first (np.moveaxis) and use in_axes=0")
        try:
            bound = transformed.signature.bind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its parameters: {error}", _MATCH_HINT)
        bound.apply_defaults()
        # each argument a symbol, or a tree of them (its leaves are the spliced function's parameters)
        arguments = [trees.flatten(v if isinstance(v, (Sym, tuple, dict, Static)) else self.static(v, node),
                                   lambda leaf, path: self.operand(leaf, node)) for v in bound.arguments.values()]
        operands = [leaf for argument in arguments for leaf in trees.leaves_of(argument)]
        for position in transformed.wrt:
            for leaf in trees.leaves_of(arguments[position]):
                if not leaf.type.is_float:
                    self.refuse(node, f"`{name}` differentiates parameter {position}, "
                                      f"which is or holds {leaf.type.describe()} here")
        own = arguments[:-1] if transformed.kind == "jvp" else arguments  # a jvp's last: the tangents
        built = transformed.build_for(tuple(trees.map_leaves(a, lambda o, path: o.type.with_dtype(o.type.dtype))
                                            for a in own))
        self.assumptions.extend(built.primal.assumptions)
        if transformed.kind == "jvp":
            return self.splice_jvp(transformed, built, own, arguments[-1], name, node)
        if transformed.kind in ("jit", "vmap"):
            results = self.splice_function(built.program, operands, node)
            return built.primal.nest(results, lowered=True)
        if transformed.kind in ("jacrev", "jacfwd", "jacobian"):  # one Function, whose Jacobians nest as the parameters do
            flat = iter(self.splice_function(built.program, operands, node))
            jacobians = tuple(trees.unflatten(arguments[position], flat, lowered=True) for position in transformed.wrt)
            return jacobians[0] if transformed.single else jacobians
        forward, backward = built.program.forward, built.program.backward
        value_of = {}
        out, *sources = self.splice_function(forward, operands, node, value_of)
        value_of.update((id(p), s.operand) for p, s in zip(backward.params, sources))
        seed = backward.params[-1]
        value_of[id(seed)] = Const(1.0) if seed.type.dtype == "float64" else P.cast(Sym(1.0), dtype=seed.type.dtype).operand
        self.splice(backward.entry.ops, value_of)
        flat = iter(Sym(looked_up(value_of, v)) for v in backward.entry.terminator.values)
        grads = tuple(trees.unflatten(arguments[position], flat, lowered=True) for position in transformed.wrt)
        grads = grads[0] if transformed.single else grads
        return grads if transformed.kind == "grad" else (out, grads)

    def splice_jvp(self, transformed, built, arguments: list, tangents, name: str, node):
        """`jvp(f)(*args, tangents)` here: the forward-mode Function spliced, with the tangents
        (one per `wrt` argument, a tuple when several, each of its argument's structure)."""
        if isinstance(tangents, trees.Node) and tangents.kind in (tuple, list):  # (as call_transformed flattens)
            tangents = tuple(tangents.children)
        per_argument = (tangents,) if transformed.single else tangents
        if not isinstance(per_argument, tuple) or len(per_argument) != len(transformed.wrt):
            self.refuse(node, f"`{name}` takes one tangent per differentiated argument "
                              f"({len(transformed.wrt)}{'' if transformed.single else ', a tuple'})")
        leaves = []
        for position, tangent in zip(transformed.wrt, per_argument):
            expected = trees.map_leaves(arguments[position], lambda o, path: (o.type.dtype, o.type.ndim))
            if trees.map_leaves(tangent, lambda o, path: (o.type.dtype, o.type.ndim)) != expected:
                self.refuse(node, f"the tangent of parameter {position} of `{name}` must have its structure, dtypes "
                                  f"and ranks", "pass an array like the argument (np.ones_like(x))")
            leaves += trees.leaves_of(tangent)
        operands = [leaf for argument in arguments for leaf in trees.leaves_of(argument)] + leaves
        return built.program.nest(self.splice_function(built.program, operands, node), lowered=True)

    def splice_function(self, function: Function, operands: list, node, value_of: dict | None = None) -> tuple:
        """`function`'s ops re-made here with its parameters bound to `operands` (its hidden ones to
        the arrays it captured); the symbols it returns."""
        value_of = {} if value_of is None else value_of
        hidden = function.params[len(operands):]
        value_of.update((id(p), o.operand) for p, o in zip(function.params, operands))
        value_of.update((id(p), self.free_operand(a, node) if isinstance(a, FreeValue) else self.capture(a, node).operand)
                        for p, a in zip(hidden, function.captured))
        self.splice(function.entry.ops, value_of)
        return tuple(Sym(looked_up(value_of, v)) for v in function.entry.terminator.values)

    def free_value(self, value, name: str, node):
        """A free variable of this lifted function (`lift`): its constants and compile-time objects as
        they are, each other number or array (a `FreeValue`) a hidden parameter standing for it."""
        if isinstance(value, tuple):
            return tuple(self.free_value(v, name, node) for v in value)
        if isinstance(value, dict):
            return {k: self.free_value(v, name, node) for k, v in value.items()}
        return Sym(self.free_operand(value, node, name)) if isinstance(value, FreeValue) else value

    def free_operand(self, free: FreeValue, node, name: str = ""):
        """The operand of `free` here: its value, where it is this lowering's (the function the
        transformed one was defined in); otherwise a hidden parameter standing for it, made once."""
        if free.builder is self.builder:
            return free.sym.operand
        if self.captured is None:
            self.refuse(node, f"`{name}`, read by a function defined inside the compiled one, cannot be read in a "
                              f"derivative rule", "pass it to the function as an argument")
        key = id(free.sym.operand)
        if key not in self.captured:
            self.captured[key] = (Value(free.sym.type, name or free.sym.operand.hint), free)
        self.protected.add(id(self.captured[key][0]))  # never written: it is the enclosing function's
        return self.captured[key][0]

    def splice(self, ops, value_of: dict) -> None:
        """Re-make `ops` here (`Builder.splice`)."""
        self.builder.splice(ops, value_of)


def recursion_key(parsed: ParsedFunction, enclosing) -> object:
    """What identifies a function on the stack of those being lowered: the Python function, or for
    one defined inside the user's code (which has no function object), its tree."""
    return parsed.tree if enclosing is not None else parsed.function


@functools.lru_cache(maxsize=None)
def checked(function) -> ParsedFunction:
    """`function` parsed, fenced and canonicalised (once)."""
    return canonicalise(fence(parse(function)))


def inline(lowering: type, transforms: Transforms, function, args: list) -> object:
    """Lower a call of `function` (a plain Python function) on the symbols `args` into the
    current builder, as a derivative rule does (by a `lowering` without captured arrays); its
    result is a symbol or a tuple of them."""
    return lowering(checked(function), current_builder(), None, [], transforms).body(list(args))
