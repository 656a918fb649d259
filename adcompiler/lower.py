"""Lowering: a fenced gast function and its argument types become a typed SSA `Function`.

Straight-line code needs only an environment from names to SSA values; a reassigned name simply
gets a new value. Names that are not local are read at compile time from the function's closure,
its module globals and the builtins: numbers become constants, NumPy and math functions become
primitives. Anything else is refused with the user's line.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass

import gast
import numpy as np

from . import primitives as P
from .builder import Builder
from .errors import CompileError
from .ir import SUPPORTED_DTYPES, Block, Function, Return, Type, Value
from .parse import ParsedFunction
from .primitives import Sym

BINARY_OPERATORS = {
    gast.Add: P.add, gast.Sub: P.sub, gast.Mult: P.mul, gast.Div: P.div, gast.Pow: P.power,
    gast.MatMult: None,  # lowered by `_matmul`, which first makes the operand dtypes agree
}
COMPARISONS = {
    gast.Lt: P.less, gast.LtE: P.less_equal, gast.Gt: P.greater, gast.GtE: P.greater_equal,
    gast.Eq: P.equal, gast.NotEq: P.not_equal,
}
OPERATOR_SYMBOLS = {
    gast.FloorDiv: "//", gast.Mod: "%", gast.LShift: "<<", gast.RShift: ">>", gast.BitOr: "|",
    gast.BitXor: "^", gast.BitAnd: "&", gast.Invert: "~", gast.Not: "not", gast.Is: "is",
    gast.IsNot: "is not", gast.In: "in", gast.NotIn: "not in",
}
CASTS = {float: "float64", np.float64: "float64", np.float32: "float32"}


@dataclass(frozen=True)
class Static:
    """A Python object known at compile time (a module, a function, a bound method)."""

    obj: object


@dataclass(frozen=True)
class Method:
    """`receiver.name`, waiting to be called."""

    receiver: Sym
    name: str


def lower(parsed: ParsedFunction, arg_types: list[Type]) -> Function:
    """The typed SSA form of `parsed` for arguments of `arg_types`."""
    return _Lowering(parsed, arg_types).run()


class _Lowering:
    def __init__(self, parsed: ParsedFunction, arg_types: list[Type]):
        self.parsed = parsed
        self.builder = Builder(parsed.loc(parsed.tree))
        names = [a.id for a in parsed.tree.args.posonlyargs + parsed.tree.args.args]
        self.params = [Value(t, name) for name, t in zip(names, arg_types)]
        self.env: dict[str, object] = {name: Sym(p) for name, p in zip(names, self.params)}
        function = parsed.function
        closure = zip(function.__code__.co_freevars, function.__closure__ or ())
        self.nonlocals = {name: cell.cell_contents for name, cell in closure}
        self.captured: dict[int, tuple] = {}  # id(array) -> (its parameter, the array)

    def run(self) -> Function:
        result = None
        with self.builder.active():
            for statement in self.parsed.tree.body:
                self.builder.loc = self.parsed.loc(statement)
                result = self.statement(statement)
        last = self.parsed.tree.body[-1]
        if not isinstance(last, gast.Return) or last.value is None:
            self.refuse(last, "a function without `return value`",
                        "return the value to differentiate at the end of the function")
        values = result if isinstance(result, tuple) else (result,)
        terminator = Return(tuple(self.operand(v, last).operand for v in values), self.parsed.loc(last))
        captured = list(self.captured.values())
        block = Block(self.params + [param for param, _ in captured], self.builder.ops, terminator)
        return Function(self.parsed.name, [block], self.parsed.loc(self.parsed.tree),
                        tuple(array for _, array in captured))

    # ------------------------------------------------------------ statements

    def statement(self, node):
        if isinstance(node, gast.Assign):
            value = self.expression(node.value)
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, gast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expression(node.value))
        elif isinstance(node, gast.AugAssign):
            if not isinstance(node.target, gast.Name):
                self.refuse(node.target, "augmented assignment to this target", "assign to a name")
            current = self.read(node.target.id, node.target)
            self.assign(node.target, self.binary(node.op, current, self.expression(node.value), node))
        elif isinstance(node, gast.Return):
            return self.expression(node.value) if node.value is not None else None
        return None

    def assign(self, target, value):
        if isinstance(target, gast.Name):
            if isinstance(value, Sym) and isinstance(value.operand, Value) and value.operand.hint == "t":
                value.operand.hint = target.id  # name a new result after the user's variable
            self.env[target.id] = value
        elif isinstance(target, gast.Tuple):
            if not isinstance(value, tuple):
                self.refuse(target, "unpacking a value that is not a tuple",
                            "unpack only tuples written in the function, such as `a, b = x, y`")
            if len(value) != len(target.elts):
                self.refuse(target, f"unpacking {len(value)} values into {len(target.elts)} names")
            for element, item in zip(target.elts, value):
                self.assign(element, item)
        else:
            self.refuse(target, f"assignment to `{type(target).__name__}`", "assign to a name")

    # ------------------------------------------------------------ expressions

    def expression(self, node):
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            self.refuse(node, f"`{type(node).__name__}`")
        return method(node)

    def expr_Constant(self, node):
        if isinstance(node.value, (bool, int, float)):
            return Sym(node.value)
        self.refuse(node, f"the constant {node.value!r}", "use numbers only")

    def expr_Name(self, node):
        return self.read(node.id, node)

    def expr_Tuple(self, node):
        return tuple(self.expression(e) for e in node.elts)

    def expr_UnaryOp(self, node):
        operand = self.operand(self.expression(node.operand), node.operand)
        if isinstance(node.op, gast.USub):
            return -operand
        if isinstance(node.op, gast.UAdd):
            return operand
        self.refuse(node, f"the operator `{OPERATOR_SYMBOLS[type(node.op)]}`")

    def expr_BinOp(self, node):
        return self.binary(node.op, self.expression(node.left), self.expression(node.right), node)

    def binary(self, op, left, right, node):
        left, right = self.operand(left, node), self.operand(right, node)
        if isinstance(op, gast.MatMult):
            return self.matmul(left, right)
        prim = BINARY_OPERATORS.get(type(op))
        if prim is None:
            self.refuse(node, f"the operator `{OPERATOR_SYMBOLS[type(op)]}`",
                        "use + - * / ** and @ (and np functions)")
        return prim(left, right)

    def matmul(self, left: Sym, right: Sym) -> Sym:
        if left.type.ndim == 0 or right.type.ndim == 0:
            return left * right
        common = P.promote(left.type, right.type)
        dtype = common.dtype if common.is_float else "float64"
        left, right = (x if x.type.dtype == dtype else P.cast(x, dtype=dtype) for x in (left, right))
        return left @ right

    def expr_Compare(self, node):
        if len(node.ops) != 1:
            self.refuse(node, "a chained comparison", "compare two values at a time")
        prim = COMPARISONS.get(type(node.ops[0]))
        if prim is None:
            self.refuse(node, f"the comparison `{OPERATOR_SYMBOLS[type(node.ops[0])]}`")
        left = self.operand(self.expression(node.left), node)
        return prim(left, self.operand(self.expression(node.comparators[0]), node))

    def expr_Attribute(self, node):
        base = self.expression(node.value)
        if isinstance(base, Static):
            if not hasattr(base.obj, node.attr):
                self.refuse(node, f"`{self.dotted(node)}`, which does not exist")
            return self.static(getattr(base.obj, node.attr), node)
        operand = self.operand(base, node.value)
        if node.attr == "T":
            return operand.T
        if node.attr in ("sum", "mean", "dot"):
            return Method(operand, node.attr)
        self.refuse(node, f"the attribute `.{node.attr}`", "use .T, .sum(), .mean() or .dot()")

    def expr_Call(self, node):
        callee = self.expression(node.func)
        if node.keywords:
            self.refuse(node, f"the keyword argument `{node.keywords[0].arg}=` in a call",
                        "keyword arguments are not supported yet; pass arguments by position")
        args = [self.operand(self.expression(a), a) for a in node.args]
        if isinstance(callee, Method):
            return self.call_method(callee, args, node)
        if not isinstance(callee, Static):
            self.refuse(node, "calling a value that is not a function")
        return self.call_function(callee.obj, args, node)

    def call_function(self, function, args, node):
        name = self.dotted(node.func)
        prim = P.FUNCTIONS.get(function) if _hashable(function) else None
        if prim is not None:
            self.check_arity(name, args, prim.arity, node)
            return prim(*args)
        if function in (np.sum, np.mean):
            self.check_arity(name, args, 1, node)
            return self.reduce(function.__name__, args[0])
        if function is np.dot:
            self.check_arity(name, args, 2, node)
            return self.matmul(*args)
        if function is np.square:
            self.check_arity(name, args, 1, node)
            return args[0] * args[0]
        if _hashable(function) and function in CASTS:
            self.check_arity(name, args, 1, node)
            return P.cast(args[0], dtype=CASTS[function])
        if callable(function) and getattr(function, "__module__", "").startswith("numpy"):
            self.refuse(node, f"`{name}` has no derivative rule",
                        "see docs/supported.md for the supported NumPy functions")
        self.refuse(node, f"a call to `{name}`",
                    "calls to your own functions are not supported yet; inline the helper's body")

    def call_method(self, method: Method, args, node):
        if method.name == "dot":
            self.check_arity(f".{method.name}()", args, 1, node)
            return self.matmul(method.receiver, args[0])
        self.check_arity(f".{method.name}()", args, 0, node)
        return self.reduce(method.name, method.receiver)

    def reduce(self, name: str, x: Sym) -> Sym:
        if x.type.ndim == 0:
            return x if name == "sum" else P.cast(x, dtype=P.floating(x.type).dtype)
        return (P.total if name == "sum" else P.mean)(x)

    def check_arity(self, name, args, arity, node):
        if len(args) != arity:
            self.refuse(node, f"`{name}` with {len(args)} arguments (expected {arity})",
                        "axis=, keepdims= and other optional arguments are not supported yet")

    # ------------------------------------------------------------ names

    def read(self, name: str, node):
        if name in self.env:
            return self.env[name]
        for scope in (self.nonlocals, self.parsed.function.__globals__, vars(builtins)):
            if name in scope:
                return self.static(scope[name], node)
        self.refuse(node, f"the name `{name}`, which is not defined")

    def static(self, obj, node):
        if isinstance(obj, (bool, int, float)):
            return Sym(obj)
        if isinstance(obj, (np.floating, np.integer, np.bool_)):
            return Sym(obj.item())
        if isinstance(obj, np.ndarray):
            return self.capture(obj, node)
        return Static(obj)

    def capture(self, array: np.ndarray, node) -> Sym:
        """A global or closure array: a hidden parameter, bound to this array at every call."""
        if str(array.dtype) not in SUPPORTED_DTYPES:
            self.refuse(node, f"the global array `{self.dotted(node)}` of dtype {array.dtype}",
                        f"use one of {', '.join(SUPPORTED_DTYPES)}")
        if id(array) not in self.captured:
            param = Value(Type(str(array.dtype), array.ndim), self.dotted(node).replace(".", "_"))
            self.captured[id(array)] = (param, array)
        return Sym(self.captured[id(array)][0])

    def operand(self, value, node) -> Sym:
        if isinstance(value, Sym):
            return value
        what = "a tuple" if isinstance(value, tuple) else f"`{self.dotted(node)}`"
        self.refuse(node, f"{what} used as a number or array")

    def dotted(self, node) -> str:
        if isinstance(node, gast.Attribute):
            return f"{self.dotted(node.value)}.{node.attr}"
        return node.id if isinstance(node, gast.Name) else type(node).__name__

    def refuse(self, node, construct: str, hint: str = ""):
        raise CompileError(f"{construct} is not supported", self.parsed.loc(node), hint)


def _hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True

