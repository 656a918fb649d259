"""Lowering: a fenced gast function and its argument types become a typed SSA `Function`.

Straight-line code needs only an environment from names to SSA values; a reassigned name simply
gets a new value. Names that are not local are read at compile time from the function's closure,
its module globals and the builtins: numbers become constants, arrays hidden parameters, NumPy and
math functions primitives (`primitives.FUNCTIONS`) or small lowerings (`calls.CALLS`). Anything
else is refused with the user's line.
"""
from __future__ import annotations

import builtins
import functools
import inspect

import gast
import numpy as np

from . import primitives as P
from .builder import Builder, current_builder
from .calls import CALLS, METHODS, Method, Static
from .custom import CustomVJP
from .errors import CompileError
from .ir import SUPPORTED_DTYPES, Block, Const, Function, Return, Type, Value
from .fence import fence
from .parse import ParsedFunction, parse
from .primitives import Sym

BINARY_OPERATORS = {gast.Add: P.add, gast.Sub: P.sub, gast.Mult: P.mul, gast.Div: P.div, gast.Pow: P.power}
COMPARISONS = {
    gast.Lt: P.less, gast.LtE: P.less_equal, gast.Gt: P.greater, gast.GtE: P.greater_equal,
    gast.Eq: P.equal, gast.NotEq: P.not_equal,
}
OPERATOR_SYMBOLS = {
    gast.FloorDiv: "//", gast.Mod: "%", gast.LShift: "<<", gast.RShift: ">>", gast.BitOr: "|",
    gast.BitXor: "^", gast.BitAnd: "&", gast.Invert: "~", gast.Not: "not", gast.Is: "is",
    gast.IsNot: "is not", gast.In: "in", gast.NotIn: "not in",
}
LIBRARY_MODULES = ("numpy", "math", "builtins", "scipy")
VIEWS = {"getitem", "reshape", "transpose", "permute", "expand_dims", "squeeze"}  # may share memory


def lower(parsed: ParsedFunction, arg_types: list[Type]) -> Function:
    """The typed SSA form of `parsed` for arguments of `arg_types`."""
    lowering = Lowering(parsed, Builder(parsed.loc(parsed.tree)), captured={}, assumptions=[])
    params = [Value(t, name) for name, t in zip(lowering.names, arg_types)]
    with lowering.builder.active():
        result = lowering.body([Sym(p) for p in params])
    last = parsed.tree.body[-1]
    values = result if isinstance(result, tuple) else (result,)
    terminator = Return(tuple(lowering.operand(v, last).operand for v in values), parsed.loc(last))
    captured = list(lowering.captured.values())
    block = Block(params + [param for param, _ in captured], lowering.builder.ops, terminator)
    assumptions = {(id(scope), name): (scope, name, value) for scope, name, value in lowering.assumptions}
    return Function(parsed.name, [block], parsed.loc(parsed.tree), tuple(array for _, array in captured),
                    tuple(assumptions.values()))


def still_valid(function: Function) -> bool:
    """Whether every global and closure variable `function` was lowered with still holds the same
    object (a number: an equal one): generated code is never run with a stale constant."""
    for scope, name, value in function.assumptions:
        current = scope.cell_contents if name is None else scope.get(name, _MISSING)
        if current is not value and not (isinstance(value, (int, float)) and type(current) is type(value)
                                         and current == value):
            return False
    return True


_MISSING = object()


def inline(function, args: list) -> object:
    """Lower a call of `function` (a plain Python function) on the symbols `args` into the
    current builder, as a derivative rule does; its result is a symbol or a tuple of them."""
    lowering = Lowering(_checked(function), current_builder(), captured=None, assumptions=[])
    return lowering.body(list(args))


class Lowering:
    """The state of lowering one function body into `builder`: the names in scope. Calls of the
    user's own functions are lowered inline by child lowerings that share the builder, the
    captured arrays (None where arrays cannot be captured) and the stack of functions being lowered,
    which detects recursion."""

    def __init__(self, parsed: ParsedFunction, builder: Builder, captured: dict | None, assumptions: list,
                 stack: tuple = ()):
        self.parsed = parsed
        self.builder = builder
        self.names = [a.id for a in parsed.tree.args.posonlyargs + parsed.tree.args.args]
        function = parsed.function
        self.cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ()))
        self.captured = captured  # id(array) -> (its hidden parameter, the array)
        self.assumptions = assumptions  # (scope, name, object) of every non-local read, shared
        self.stack = stack + (function,)
        self.env: dict[str, object] = {}
        self.node = parsed.tree  # the node being lowered, for messages

    def body(self, args: list):
        """Lower the body with its parameters bound to `args`; the returned value."""
        self.env = dict(zip(self.names, args))
        result = None
        for statement in self.parsed.tree.body:
            result = self.statement(statement)
        last = self.parsed.tree.body[-1]
        if not isinstance(last, gast.Return) or last.value is None:
            self.refuse(last, "the function does not return a value",
                        "return the value to differentiate at the end of the function")
        return result

    def call_user(self, function, name: str, args, kwargs, node):
        """A call of the user's own function, lowered inline."""
        if function in self.stack:
            self.refuse(node, f"`{name}` calls itself (recursion) and cannot be differentiated",
                        "write it without recursion, for example as NumPy array operations")
        parsed = _checked(function)
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its parameters: {error}")
        bound.apply_defaults()
        values = [v if isinstance(v, (Sym, tuple, Static)) else self.static(v, node) for v in bound.arguments.values()]
        return Lowering(parsed, self.builder, self.captured, self.assumptions, self.stack).body(values)

    # ------------------------------------------------------------ statements

    def statement(self, node):
        self.at(node)
        if isinstance(node, gast.Assign):
            value = self.expression(node.value)
            if not isinstance(node.value, gast.Name) and self.bound_elsewhere(value):
                value = P.fresh(value)  # `b = -(-a)` or `b = +a` makes a new array in NumPy
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, gast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expression(node.value))
        elif isinstance(node, gast.AugAssign):
            if not isinstance(node.target, gast.Name):
                self.refuse(node.target, "augmented assignment to an element or attribute is not supported yet",
                            "assign to a name: `y = y + ...`")
            current = self.operand(self.read(node.target.id, node.target), node.target)
            sharing = self.sharing(node.target.id, current) if current.type.ndim else None
            if sharing is not None:
                self.refuse(node, f"augmented assignment to the array `{node.target.id}`, which shares its "
                                  f"memory with `{sharing}`, is not supported (NumPy would change both)",
                            f"write `{node.target.id} = {node.target.id} <op> ...` to make a new array")
            value = self.binary(node.op, current, self.operand(self.expression(node.value), node.value), node)
            self.assign(node.target, value)
        elif isinstance(node, gast.Return):
            return self.expression(node.value) if node.value is not None else None
        return None

    def sharing(self, name: str, value: Sym):
        """Another name whose array shares memory with `value` (the same array, or a view of it or
        of what it views), or None. In-place updates are refused there: NumPy would change both."""
        mine = self.view_chain(value.operand)
        for other, bound in self.env.items():
            if other != name and isinstance(bound, Sym) and mine & self.view_chain(bound.operand):
                return other
        return None

    def bound_elsewhere(self, value) -> bool:
        """Whether `value` is an array some name already holds."""
        return isinstance(value, Sym) and value.type.ndim > 0 and any(
            isinstance(bound, Sym) and bound.operand is value.operand for bound in self.env.values())

    def view_chain(self, operand) -> set:
        """Ids of `operand` and of the arrays it is a view of (through indexing, reshapes, transposes)."""
        chain = set()
        while isinstance(operand, Value):
            chain.add(id(operand))
            producer = self.builder.producers.get(id(operand))
            if producer is None or producer.prim.name not in VIEWS or producer.result.type.ndim == 0 or (
                    producer.prim is P.getitem and ("array",) in producer.param_dict["index"]):
                break
            operand = producer.args[0]
        return chain

    def assign(self, target, value):
        if isinstance(target, gast.Name):
            if isinstance(value, Sym) and isinstance(value.operand, Value) and not value.operand.hint:
                value.operand.hint = target.id  # name a new result after the user's variable
            self.env[target.id] = value
        elif isinstance(target, gast.Tuple):
            if not isinstance(value, tuple):
                self.refuse(target, "unpacking a value that is not a tuple is not supported",
                            "unpack only tuples, such as `a, b = x, y` or `n, m = X.shape`")
            if len(value) != len(target.elts):
                self.refuse(target, f"{len(value)} values cannot be unpacked into {len(target.elts)} names")
            for element, item in zip(target.elts, value):
                self.assign(element, item)
        elif isinstance(target, gast.Subscript):
            self.refuse(target, "assignment to an element (`x[...] = ...`) is not supported yet",
                        "build the array with np.where, np.concatenate or arithmetic instead")
        else:
            self.refuse(target, f"assignment to `{type(target).__name__}` is not supported", "assign to a name")

    # ------------------------------------------------------------ expressions

    def expression(self, node):
        """Lower `node`; ops made for it carry its line (restored after its operands are lowered)."""
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            self.refuse(node, f"`{type(node).__name__}` is not supported")
        saved = self.builder.loc, self.node
        self.at(node)
        try:
            return method(node)
        finally:
            self.builder.loc, self.node = saved

    def at(self, node):
        self.builder.loc = self.parsed.loc(node)
        self.node = node

    def expr_Constant(self, node):
        if node.value is None:
            return Static(None)
        if isinstance(node.value, (bool, int, float)):
            return Sym(node.value)
        self.refuse(node, f"the constant {node.value!r} is not supported", "use numbers only")

    def expr_Name(self, node):
        return self.read(node.id, node)

    def expr_Tuple(self, node):
        return tuple(self.expression(e) for e in node.elts)

    expr_List = expr_Tuple

    def expr_UnaryOp(self, node):
        operand = self.operand(self.expression(node.operand), node.operand)
        if isinstance(node.op, gast.USub):
            return -operand
        if isinstance(node.op, gast.UAdd):
            return operand
        self.refuse(node, f"the operator `{OPERATOR_SYMBOLS[type(node.op)]}` is not supported")

    def expr_BinOp(self, node):
        left = self.operand(self.expression(node.left), node.left)
        return self.binary(node.op, left, self.operand(self.expression(node.right), node.right), node)

    def binary(self, op, left: Sym, right: Sym, node):
        if isinstance(op, gast.MatMult):
            if left.type.ndim == 0 or right.type.ndim == 0:
                self.refuse(node, "`@` with a scalar operand is not supported (NumPy refuses it too)",
                            "multiply by a scalar with `*`")
            return self.matmul(left, right)
        prim = BINARY_OPERATORS.get(type(op))
        if prim is None:
            self.refuse(node, f"the operator `{OPERATOR_SYMBOLS[type(op)]}` is not supported",
                        "use + - * / ** and @, and NumPy functions")
        return prim(left, right)

    def matmul(self, left: Sym, right: Sym) -> Sym:
        """`left @ right` (np.dot with a scalar is a product), operands made one float dtype."""
        if left.type.ndim == 0 or right.type.ndim == 0:
            return left * right
        common = P.promote(left.type, right.type)
        dtype = common.dtype if common.is_float else "float64"
        left, right = (x if x.type.dtype == dtype else P.cast(x, dtype=dtype) for x in (left, right))
        return left @ right

    def expr_Compare(self, node):
        if len(node.ops) != 1:
            self.refuse(node, "a chained comparison is not supported", "compare two values at a time")
        prim = COMPARISONS.get(type(node.ops[0]))
        if prim is None:
            self.refuse(node, f"the comparison `{OPERATOR_SYMBOLS[type(node.ops[0])]}` is not supported")
        left = self.operand(self.expression(node.left), node.left)
        return prim(left, self.operand(self.expression(node.comparators[0]), node.comparators[0]))

    def expr_Attribute(self, node):
        base = self.expression(node.value)
        if isinstance(base, Static):
            if not hasattr(base.obj, node.attr):
                self.refuse(node, f"`{self.dotted(node)}` does not exist")
            return self.static(getattr(base.obj, node.attr), node)
        operand = self.operand(base, node.value)
        if node.attr == "T":
            return operand.T
        if node.attr == "shape":
            return tuple(P.dim(operand, axis=axis) for axis in range(operand.type.ndim))
        if node.attr == "ndim":
            return Sym(operand.type.ndim)
        if node.attr == "size":
            return P.size(operand) if operand.type.ndim else Sym(1)
        if node.attr in METHODS:
            return Method(operand, node.attr)
        self.refuse(node, f"the attribute `.{node.attr}` is not supported",
                    f"supported: .T, .shape, .ndim, .size and the methods {', '.join(sorted(METHODS))}")

    def expr_Call(self, node):
        callee = self.expression(node.func)
        args = [self.expression(a) for a in node.args]
        kwargs = {k.arg: self.expression(k.value) for k in node.keywords}
        if None in kwargs:
            self.refuse(node, "`**` arguments are not supported", "pass each argument by name")
        if isinstance(callee, Method):
            return self.call(METHODS[callee.name], f".{callee.name}()", [callee.receiver, *args], kwargs, node)
        if not isinstance(callee, Static):
            self.refuse(node, "calling a value that is not a function is not supported")
        return self.call(callee.obj, self.dotted(node.func), args, kwargs, node)

    def call(self, function, name: str, args, kwargs, node):
        prim = P.FUNCTIONS.get(function) if _hashable(function) else None
        if prim is not None:
            if kwargs:
                self.refuse(node, f"`{name}` takes no keyword arguments here (got `{next(iter(kwargs))}=`)",
                            "pass its operands by position")
            if len(args) != prim.arity:
                self.refuse(node, f"`{name}` takes {prim.arity} arguments here, not {len(args)}")
            return prim(*(self.operand(a, node) for a in args))
        lowering = CALLS.get(function) if _hashable(function) else None
        if lowering is not None:
            try:
                inspect.signature(lowering).bind(self, *args, **kwargs)
            except TypeError as error:
                self.refuse(node, f"`{name}` called with arguments it does not support: {error}",
                            "see docs/supported.md for the supported arguments")
            return lowering(self, *args, **kwargs)
        module = getattr(function, "__module__", None) or ""
        if module.split(".")[0] in LIBRARY_MODULES or inspect.isbuiltin(function) or isinstance(function, type):
            self.refuse(node, f"`{name}` has no derivative rule",
                        "see docs/supported.md for the supported functions, or declare a rule")
        if getattr(function, "build_for", None) is not None:  # an adcompiler transform
            return self.call_transformed(function, name, args, kwargs, node)
        if isinstance(function, CustomVJP):
            return function.lower_call(self, [self.operand(a, node) for a in args], kwargs, node)
        if inspect.isfunction(function):
            return self.call_user(function, name, args, kwargs, node)
        self.refuse(node, f"calling `{name}` is not supported", "call NumPy functions or your own functions")

    def call_transformed(self, transformed, name: str, args, kwargs, node):
        """`grad(f)(...)` or `value_and_grad(f)(...)` inside compiled code: f's forward and backward
        IR, spliced here with the call's arguments (so gradients of gradients are IR too)."""
        if transformed.kind not in ("grad", "value_and_grad"):
            self.refuse(node, f"calling `{name}` ({transformed.kind}) inside compiled code is not supported",
                        "call grad or value_and_grad transforms")
        try:
            bound = transformed.signature.bind(*args, **kwargs)
        except TypeError as error:
            self.refuse(node, f"the call of `{name}` does not match its parameters: {error}")
        bound.apply_defaults()
        operands = [self.operand(v if isinstance(v, (Sym, tuple, Static)) else self.static(v, node), node)
                    for v in bound.arguments.values()]
        for position in transformed.wrt:
            if not operands[position].type.is_float:
                self.refuse(node, f"`{name}` differentiates parameter {position}, "
                                  f"which is {operands[position].type.describe()} here")
        built = transformed.build_for(tuple(o.type.with_dtype(o.type.dtype) for o in operands))
        self.assumptions.extend(built.primal.assumptions)
        adjoint = built.program
        forward, backward = adjoint.forward, adjoint.backward
        hidden = forward.params[len(operands):]
        value_of = {id(p): o.operand for p, o in zip(forward.params, operands)}
        value_of.update((id(p), self.capture(a, node).operand) for p, a in zip(hidden, forward.captured))
        self.splice(forward.entry.ops, value_of)
        out, *sources = forward.entry.terminator.values
        value_of.update((id(p), _lookup(value_of, s)) for p, s in zip(backward.params, sources))
        seed = backward.params[-1]
        value_of[id(seed)] = Const(1.0) if seed.type.dtype == "float64" else P.cast(Sym(1.0), dtype=seed.type.dtype).operand
        self.splice(backward.entry.ops, value_of)
        grads = tuple(Sym(_lookup(value_of, v)) for v in backward.entry.terminator.values)
        grads = grads[0] if transformed.single else grads
        return grads if transformed.kind == "grad" else (Sym(_lookup(value_of, out)), grads)

    def splice(self, ops, value_of: dict) -> None:
        """Re-make `ops` here (typed and folded again), their operands looked up in `value_of`."""
        saved = self.builder.loc
        for op in ops:
            self.builder.loc = op.loc
            args = [_lookup(value_of, a) for a in op.args]
            value_of[id(op.result)] = self.builder.emit(op.prim, args, op.param_dict, op.result.hint)
        self.builder.loc = saved

    def expr_Subscript(self, node):
        base = self.expression(node.value)
        items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if isinstance(base, tuple):
            index = self.constant(self.expression(node.slice), "a tuple index")
            if isinstance(index, int) and not -len(base) <= index < len(base):
                self.refuse(node, f"index {index} is out of range for a tuple of {len(base)} values")
            return base[index]
        return self.index(self.operand(base, node.value), items, node)

    def expr_Slice(self, node):
        parts = [None if p is None else self.expression(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def index(self, x: Sym, items, node) -> Sym:
        """`x[items]`: basic indexing (integers, slices, None) or one integer or boolean array."""
        structure, operands, new_axes, position = [], [], [], 0
        for item in items:
            value = self.expression(item)
            if isinstance(value, Static) and value.obj is None:
                new_axes.append(position)
                position += 1
            elif isinstance(value, slice):
                parts = [value.start, value.stop, value.step]
                structure.append(("slice", *(p is not None and not _is_none(p) for p in parts)))
                operands += [self.integer(p, item) for p in parts if p is not None and not _is_none(p)]
                position += 1
            else:
                value = self.operand(value, item)
                if value.type.ndim == 0:
                    structure.append(("int",))
                    operands.append(self.integer(value, item))
                else:
                    if len(items) != 1 or (value.type.dtype == "bool" and value.type.ndim != x.type.ndim) \
                            or value.type.dtype not in ("bool", "int64") or (value.type.dtype == "int64" and value.type.ndim != 1):
                        self.refuse(item, "this array index is not supported",
                                    "index with one 1-D integer array, or one boolean mask of the array's shape")
                    structure.append(("array",))
                    operands.append(value)
                    position += 1
        if len(structure) > x.type.ndim:
            self.refuse(node, f"too many indices for a {x.type.ndim}-D array")
        if structure == [("array",)] and operands[0].type.dtype == "bool" and operands[0].type.ndim > 1:
            # Numba takes 1-D masks only: index the flattened array with the flattened mask.
            x, operands = P.reshape(x, Sym(-1)), [P.reshape(operands[0], Sym(-1))]
        result = P.getitem(x, *operands, index=tuple(structure)) if structure else x
        for axis in new_axes:
            result = P.expand_dims(result, axis=axis)
        return result

    # ------------------------------------------------------------ values

    def integer(self, value, node, what: str = "an index") -> Sym:
        value = self.operand(value, node)
        if value.type.dtype not in ("int64", "bool") or value.type.ndim:
            self.refuse(node, f"{what} must be an integer, not {value.type.describe()}")
        return value

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
        if name in self.env:
            return self.env[name]
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

    def static(self, obj, node):
        if isinstance(obj, (np.floating, np.integer, np.bool_)):  # before float: np.float64 is one
            return Sym(obj.item())
        if isinstance(obj, (bool, int, float)):
            return Sym(obj)
        if isinstance(obj, np.ndarray):
            return self.capture(obj, node)
        return Static(obj)

    def capture(self, array: np.ndarray, node) -> Sym:
        """A global or closure array: a hidden parameter, bound to this array at every call."""
        if str(array.dtype) not in SUPPORTED_DTYPES:
            self.refuse(node, f"the global array `{self.dotted(node)}` has dtype {array.dtype}, which is not supported",
                        f"use one of {', '.join(SUPPORTED_DTYPES)}")
        if self.captured is None:
            self.refuse(node, f"the global array `{self.dotted(node)}` cannot be read in a derivative rule",
                        "pass it to the function as an argument")
        if id(array) not in self.captured:
            units = tuple(n == 1 for n in array.shape)
            param = Value(Type(str(array.dtype), array.ndim, False, units), self.dotted(node).replace(".", "_"))
            self.captured[id(array)] = (param, array)
        return Sym(self.captured[id(array)][0])

    def operand(self, value, node) -> Sym:
        if isinstance(value, Sym):
            return value
        what = (("a list" if isinstance(node, gast.List) else "a tuple") if isinstance(value, tuple)
                else f"`{self.dotted(node)}`")
        self.refuse(node, f"{what} cannot be used as a number or array")

    def dotted(self, node) -> str:
        if isinstance(node, gast.Attribute):
            return f"{self.dotted(node.value)}.{node.attr}"
        return node.id if isinstance(node, gast.Name) else type(node).__name__

    def refuse(self, node, message: str, hint: str = ""):
        raise CompileError(message, self.parsed.loc(node), hint)


@functools.lru_cache(maxsize=None)
def _checked(function) -> ParsedFunction:
    return fence(parse(function))


def _lookup(value_of: dict, operand):
    return operand if isinstance(operand, Const) else value_of[id(operand)]


def _is_none(value) -> bool:
    return isinstance(value, Static) and value.obj is None


def _hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True
