"""Lowering: a fenced gast function and its argument types become a typed SSA `Function`.

Straight-line code needs only an environment from names to SSA values; a reassigned name simply
gets a new value. Names that are not local are read at compile time from the function's closure,
its module globals and the builtins: numbers become constants, arrays hidden parameters, NumPy and
math functions primitives (`primitives.primitive_of`) or small lowerings (`calls.lowering_of`). Anything
else is refused with the user's line.

This module holds the entry `lower`, the statement and expression dispatch and indexing; the
`Lowering` class is composed of one mixin per other job: `control` (if, loops, joins), `aliasing`
(what shares memory, refusals of updates), `names` (resolution, capture, compile-time values) and
`inlining` (calls of user functions, custom_vjp, transforms).
"""
from __future__ import annotations

import inspect
import types

import gast
import numpy as np

from .. import trees
from ..rules import primitives as P
from ..ir.builder import Builder
from .calls import METHODS, Method, Static, hashable, lowering_of
from .calls.arrays import advanced_index
from .calls.common import ListRows, is_none
from ..trees import Listed
from .calls.library import LIBRARY_MODULES, NUMPY_METHODS, is_library, library_call
from .calls.shapes import as_array
from .calls.values import rows_of_lists
from ..rules.custom import Custom
from .checkpoint import CheckpointedFunction, checkpoint
from ..errors import CompileError
from ..ir.core import Block, Const, Function, IndexArray, IndexInt, IndexSlice, Return, Value, basic_index
from .aliasing import Aliasing
from .control import ControlFlow
from .inlining import Closure, ClosureTransform, Inlining, recursion_key
from .transforms_seen import Transforms
from .lists import Lists
from .names import Names
from .parse import ParsedFunction
from .trees import TreeValues
from ..rules.primitives import Sym

BINARY_OPERATORS = {gast.Add: P.add, gast.Sub: P.sub, gast.Mult: P.mul, gast.Div: P.div, gast.Pow: P.power,
                    gast.FloorDiv: P.floor_divide, gast.Mod: P.remainder}
COMPARISONS = {
    gast.Lt: P.less, gast.LtE: P.less_equal, gast.Gt: P.greater, gast.GtE: P.greater_equal,
    gast.Eq: P.equal, gast.NotEq: P.not_equal,
}
# NumPy's names for a function's array operands: a list or tuple passed there is made an array,
# as NumPy does (not for shapes, axes or the sequences that joins take).
DATA_PARAMETERS = frozenset({"a", "b", "x", "y", "m", "v"})
OPERATOR_SYMBOLS = {
    gast.LShift: "<<", gast.RShift: ">>", gast.BitOr: "|",
    gast.BitXor: "^", gast.BitAnd: "&", gast.Invert: "~", gast.Not: "not", gast.Is: "is",
    gast.IsNot: "is not", gast.In: "in", gast.NotIn: "not in",
}


def lower(parsed: ParsedFunction, arg_types: list, transforms: Transforms, constants: dict | None = None) -> Function:
    """The typed SSA form of `parsed` for arguments of `arg_types` (a Type, or a `trees.Node` of
    Types for a tree argument: one parameter per leaf, named after its path, and the body sees the
    tree); calls of the API's `transforms` in it are lowered as the transforms say. The arguments at
    the positions of `constants` (position -> int) are that constant in the body (the parameter
    stays, unread)."""
    lowering = Lowering(parsed, Builder(parsed.loc(parsed.tree)), captured={}, assumptions=[], transforms=transforms)
    params, args = [], []
    constants = constants or {}
    for position, (name, structure) in enumerate(zip(lowering.names, arg_types)):
        named = trees.map_leaves(structure, lambda t, path: Value(t, trees.path_name(name, path)))
        leaves = trees.leaves_of(named)
        params += leaves
        args.append(Sym(constants[position]) if position in constants else
                    trees.unflatten(named, iter([Sym(p) for p in leaves]), lowered=True))
    with lowering.builder.active():
        result = lowering.body(args)
    last = parsed.tree.body[-1]
    leaves = []

    def leaf(value):
        if isinstance(value, Closure):
            lowering.refuse(last, f"the function `{value.name}` defined inside `{parsed.name}` cannot be returned "
                                  f"from it", "call it inside the function and return the values it computes")
        leaves.append(lowering.operand(value, last).operand)

    structure = _structure(result, leaf)
    terminator = Return(tuple(leaves), parsed.loc(last))
    captured = list(lowering.captured.values())
    block = Block(params + [param for param, _ in captured], lowering.builder.ops, terminator)
    assumptions = {(id(scope), name): (scope, name, value) for scope, name, value in lowering.assumptions}
    return Function(parsed.name, [block], parsed.loc(parsed.tree), tuple(array for _, array in captured),
                    tuple(assumptions.values()), structure)


def _structure(result, leaf) -> trees.Node | None:
    """`Function.structure` of `result`, calling `leaf` on each of its values in order."""
    return trees.flatten(result, lambda value, path: leaf(value))


class Lowering(ControlFlow, Aliasing, Names, Inlining, Lists, TreeValues):
    """The state of lowering one function body into `builder`: the names in scope. Calls of the
    user's own functions are lowered inline by child lowerings that share the builder, the
    captured arrays (None where arrays cannot be captured), the transforms and the stack of
    functions being lowered, which bounds the unrolling of recursion."""

    def __init__(self, parsed: ParsedFunction, builder: Builder, captured: dict | None, assumptions: list,
                 transforms: Transforms, stack: tuple = (), enclosing: Lowering | None = None):
        self.parsed = parsed
        self.builder = builder
        arguments = parsed.tree.args
        self.names = [a.id for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
        self.enclosing = enclosing  # the lowering a function defined in the user's code reads free variables from
        self.locals = self.local_names() if enclosing is not None else frozenset()
        function = parsed.function
        self.cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ()))
        self.captured = captured  # id(array) -> (its hidden parameter, the array)
        self.assumptions = assumptions  # (scope, name, object) of every non-local read, shared
        self.transforms = transforms
        self.stack = stack + (recursion_key(parsed, enclosing),)
        self.env: dict[str, object] = {}
        self.protected: set[int] = set()  # ids of the arguments and globals, which are never written
        self.node = parsed.tree  # the node being lowered, for messages
        self.growing: dict = {}  # lists that a loop being lowered grows (lists.py)
        self.appended: list = []  # (list name, array) appended to a grown list, which NumPy's list holds (lists.py)
        self.iterations: dict = {}  # id(loop node) -> its iteration number while its body is lowered
        self.incoming_rows: dict = {}  # a grown list's name -> its rows as its loop's iteration starts (lists.py)
        self.item_types: dict = {}  # a grown list's name -> the type of its items, by the last append lowered

    def body(self, args: list):
        """Lower the body with its parameters bound to `args`; the returned value."""
        self.env = dict(zip(self.names, args))
        self.protected = {id(a.operand) for a in trees.tree_leaves(args) if isinstance(a, Sym)}
        last = self.parsed.tree.body[-1]
        if not isinstance(last, gast.Return) or last.value is None:
            self.refuse(last, "the function does not return a value",
                        "return the value to differentiate at the end of the function")
        self.statements(self.parsed.tree.body[:-1])
        self.at(last)
        return self.expression(last.value)

    def statements(self, nodes) -> None:
        for node in nodes:
            self.statement(node)

    # ------------------------------------------------------------ statements

    def statement(self, node):
        self.at(node)
        method = getattr(self, "stmt_" + type(node).__name__, None)
        if method is not None:
            return method(node)
        if isinstance(node, gast.Assign):
            value = self.expression(node.value)
            if _always_new(node.value) and (self.bound_elsewhere(value) or self.folded_to_a_view(value)):
                value = P.fresh(value)  # `b = -(-a)`, `b = +a[0]` make a new array in NumPy
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, gast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expression(node.value))
        elif isinstance(node, gast.AugAssign):
            if isinstance(node.target, gast.Subscript):
                current = self.expression(node.target)
                value = self.binary(node.op, current, self.operand(self.expression(node.value), node.value), node)
                return self.assign(node.target, value)
            if not isinstance(node.target, gast.Name):
                self.refuse(node.target, "augmented assignment to an attribute is not supported",
                            "assign to a name: `y = y + ...`")
            current = self.operand(self.read(node.target.id, node.target), node.target)
            self.check_augmented(node, current)
            value = self.binary(node.op, current, self.operand(self.expression(node.value), node.value), node)
            self.assign(node.target, value)
        else:  # the fence lets only docstrings, `name.append(...)` and np.add.at(...) through as Expr
            self.refuse(node, f"the statement `{type(node).__name__}` is not supported")
        return None

    def add_at_statement(self, node) -> None:
        """`np.add.at(y, index, v)`: y is rebound to its updated value (lowered as a call)."""
        if self.expression(node.value) != Static(None):  # `x.add.at(...)` of something else than np.add
            self.refuse(node, "an expression statement whose value is unused is not supported",
                        "assign the value to a name, or remove the statement")

    def assign(self, target, value):
        if isinstance(target, gast.Name):
            if isinstance(value, Sym) and isinstance(value.operand, Value) and not value.operand.hint:
                value.operand.hint = target.id  # name a new result after the user's variable
            self.env[target.id] = value
        elif isinstance(target, (gast.Tuple, gast.List)):
            if isinstance(value, Sym) and value.type.ndim and not value.type.listed:
                value = self.rows(value, len(target.elts))
            if not isinstance(value, tuple):
                self.refuse(target, "unpacking a value that is not a tuple or an array is not supported",
                            "unpack tuples, such as `a, b = x, y` or `n, m = X.shape`, or arrays along their first axis")
            if len(value) != len(target.elts):
                self.refuse(target, f"{len(value)} values cannot be unpacked into {len(target.elts)} names")
            for element, item in zip(target.elts, value):
                self.assign(element, item)
        elif isinstance(target, gast.Subscript):
            self.assign_element(target, self.operand(value, target))
        else:
            self.refuse(target, f"assignment to `{type(target).__name__}` is not supported", "assign to a name")

    def rows(self, x: Sym, count: int) -> tuple:
        """The `count` rows of `x` (`a, b, c = x`), checked at run time to be all of them."""
        checked = P.unpacked(x, Sym(count))
        return tuple(P.getitem(checked, Sym(k), index=(IndexInt(),)) for k in range(count))

    def assign_element(self, target, value: Sym) -> None:
        """`y[index] = value`: y becomes a new value (written in place by emission where that is
        safe). Refused where NumPy would change another name's array too."""
        if not isinstance(target.value, gast.Name):
            self.refuse(target, "assignment into this expression is not supported", "write `y[i, j] = ...` on a name")
        name = target.value.id
        y = self.read(name, target.value)
        if not isinstance(y, Sym) or y.type.ndim == 0:
            self.refuse(target, f"`{name}` is not an array, so its elements cannot be assigned")
        self.check_element_write(target, name, y)
        items = target.slice.elts if isinstance(target.slice, gast.Tuple) else [target.slice]
        structure, operands, new_axes = self.index_items(y, items, target)
        if new_axes or not basic_index(structure):
            self.refuse(target, "assignment with `None` or array indices is not supported",
                        "assign with integers and slices")
        self.env[name] = P.setitem(y, self.converted(value, y.type), *operands, index=tuple(structure))

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
        if isinstance(node.value, str):  # a static argument (einsum subscripts, a mode), like a global string
            return Static(node.value)
        self.refuse(node, f"the constant {node.value!r} is not supported", "use numbers and strings only")

    def expr_Name(self, node):
        return self.read(node.id, node)

    def expr_Tuple(self, node):
        return tuple(self.expression(e) for e in node.elts)

    def expr_Dict(self, node):
        """A dict literal of constant keys: a tree (`{"W": W - lr * gW, "b": b}`)."""
        if any(key is None for key in node.keys):
            self.refuse(node, "`**` in a dict literal is not supported", "write each key and value")
        keys = [self.constant(self.expression(key), "a dict key") for key in node.keys]
        return dict(zip(keys, (self.expression(value) for value in node.values)))

    def expr_UnaryOp(self, node):
        operand = self.operand(self.expression(node.operand), node.operand)
        if isinstance(node.op, gast.USub):
            return -operand
        if isinstance(node.op, gast.UAdd):
            return operand
        if isinstance(node.op, gast.Not):
            return P.logical_not(self.condition(node.operand))
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
                        "use + - * / // % ** and @, and NumPy functions")
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
        if trees.is_namedtuple_type(type(base)) or isinstance(base, dict):
            return self.tree_attribute(base, node)
        if isinstance(base, Static):
            if not hasattr(base.obj, node.attr):
                self.refuse(node, f"`{self.dotted(node)}` does not exist")
            value = getattr(base.obj, node.attr)
            if isinstance(base.obj, types.ModuleType) and base.obj.__name__.split(".")[0] not in LIBRARY_MODULES:
                self.assumptions.append((vars(base.obj), node.attr, value))  # `helpers.f`, `config.SCALE`
            return self.static(value, node)
        operand = self.operand(base, node.value)
        if node.attr == "T":
            return operand.T
        if node.attr == "shape":
            return tuple(P.dim(operand, axis=axis) for axis in range(operand.type.ndim))
        if node.attr == "ndim":
            return Sym(operand.type.ndim)
        if node.attr == "dtype":
            return Static(np.dtype(operand.type.dtype))
        if node.attr == "size":
            return P.size(operand) if operand.type.ndim else Sym(1)
        if node.attr in METHODS or node.attr in NUMPY_METHODS:
            return Method(operand, node.attr)
        self.refuse(node, f"the attribute `.{node.attr}` is not supported",
                    f"supported: .T, .shape, .ndim, .size, .dtype and the methods {', '.join(sorted(METHODS))}")

    def expr_Call(self, node):
        callee = self.expression(node.func)
        args = [self.expression(a) for a in node.args]
        kwargs = {k.arg: self.expression(k.value) for k in node.keywords}
        if None in kwargs:
            self.refuse(node, "`**` arguments are not supported", "pass each argument by name")
        if isinstance(callee, Method):
            function = METHODS.get(callee.name) or getattr(np, callee.name)
            return self.call(function, f".{callee.name}()", [callee.receiver, *args], kwargs, node)
        if isinstance(callee, Closure):
            return self.call_closure(callee, self.dotted(node.func), args, kwargs, node)
        if not isinstance(callee, Static):
            self.refuse(node, "calling a value that is not a function is not supported")
        return self.call(callee.obj, self.dotted(node.func), args, kwargs, node)

    def call(self, function, name: str, args, kwargs, node):
        args = rows_of_lists(function, args) if hashable(function) else args
        prim = P.primitive_of(function) if hashable(function) else None
        if prim is not None:
            if kwargs:
                self.refuse(node, f"`{name}` takes no keyword arguments here (got `{next(iter(kwargs))}=`)",
                            "pass its operands by position")
            if len(args) != prim.arity:
                self.refuse(node, f"`{name}` takes {prim.arity} arguments here, not {len(args)}")
            return prim(*(self.operand(as_array(self, a) if isinstance(a, tuple) else a, node) for a in args))
        if self.transforms.is_factory(function):  # `grad(f, wrt=...)`: made now, called below
            args, kwargs = [self.known(a, name, node) for a in args], {k: self.known(v, name, node) for k, v in kwargs.items()}
            if any(isinstance(a, (Closure, ClosureTransform)) for a in (*args, *kwargs.values())):
                return Static(ClosureTransform(function, tuple(args), kwargs))  # made when it is called
            return Static(function(*args, **kwargs))
        if isinstance(function, ClosureTransform):
            return self.call_transformed(function.made(self, node), name, args, kwargs, node)
        if function is checkpoint:  # `checkpoint(f)`: known now, called below
            if len(args) != 1 or kwargs or not isinstance(args[0], (Static, Closure)) or \
                    not (isinstance(args[0], Closure) or inspect.isfunction(args[0].obj)):
                self.refuse(node, "checkpoint takes one function here (or the range of a for loop)",
                            "write checkpoint(f) of your own function f, or `for i in checkpoint(range(n)):`")
            return Static(CheckpointedFunction(args[0] if isinstance(args[0], Closure) else args[0].obj))
        if isinstance(function, CheckpointedFunction):
            return self.call_checkpointed(function, name, args, kwargs, node)
        lowering = lowering_of(function)
        if lowering is not None:
            try:
                bound = inspect.signature(lowering).bind(self, *args, **kwargs)
            except TypeError as error:
                self.refuse(node, f"`{name}` called with arguments it does not support: {error}",
                            "see docs/supported.md for the supported arguments")
            numpy = (getattr(function, "__module__", None) or "").split(".")[0] in ("numpy", "scipy")
            for parameter in DATA_PARAMETERS & bound.arguments.keys() if numpy else ():  # np.sum([1.0, a * a])
                if isinstance(bound.arguments[parameter], tuple) and not trees.is_namedtuple_type(
                        type(bound.arguments[parameter])):
                    bound.arguments[parameter] = as_array(self, bound.arguments[parameter])
            return lowering(*bound.args, **bound.kwargs)
        if trees.is_namedtuple_type(function):  # a tree: `Layer(W, b)`
            return self.namedtuple(function, name, args, kwargs, node)
        if is_library(function):  # run as it is; refused by reverse mode where a gradient reaches it
            return library_call(self, function, name, args, kwargs)
        transformed = self.transforms.transform_of(function)
        if transformed is not None:  # an adcompiler transform
            return self.call_transformed(transformed, name, args, kwargs, node)
        if isinstance(function, Custom):
            return function.lower_call(self, self.rule_inliner(), [self.operand(a, node) for a in args], kwargs, node)
        if inspect.isfunction(function):
            return self.call_user(function, name, args, kwargs, node)
        self.refuse(node, f"calling `{name}` is not supported", "call NumPy functions or your own functions")

    def expr_Subscript(self, node):
        if isinstance(node.value, gast.Name) and node.value.id in self.growing:
            return self.earlier_item(node, node.value.id)
        base = self.expression(node.value)
        if isinstance(base, dict):
            return self.dict_item(base, self.constant(self.expression(node.slice), "a dict key"), node)
        items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if isinstance(base, ListRows):  # an item of a list grown in a loop is a row
            item = self.index(base.rows, items, node)
            return ListRows(item) if item.type.ndim == base.rows.type.ndim else item
        if isinstance(base, tuple):
            index = self.expression(node.slice)
            if isinstance(index, Sym) and not isinstance(index.operand, Const) and index.type.ndim == 0 \
                    and all(isinstance(item, Sym) for item in base):  # `x[i]` of numbers: of their array
                return self.index(as_array(self, base), items, node)
            index = self.constant(index, "a tuple index")
            if isinstance(index, int) and not -len(base) <= index < len(base):
                self.refuse(node, f"index {index} is out of range for a tuple of {len(base)} values",
                            f"index it from {-len(base)} to {len(base) - 1}")
            return base[index]
        return self.index(self.operand(base, node.value), items, node)

    def expr_Slice(self, node):
        parts = [None if p is None else self.expression(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def index(self, x: Sym, items, node) -> Sym:
        """`x[items]`: basic indexing (integers, slices, None), one 1-D integer array or boolean mask
        (getitem), or NumPy's advanced indexing by integer arrays mixed with integers and slices."""
        structure, operands, new_axes = self.index_items(x, items, node)
        if not basic_index(structure) and not (structure == [IndexArray()] and (
                operands[0].type.dtype == "bool" or operands[0].type.ndim == 1)):
            return advanced_index(self, x, structure, operands, new_axes)  # several arrays, or with slices
        if structure == [IndexArray()] and operands[0].type.dtype == "bool" and operands[0].type.ndim > 1:
            # Numba takes 1-D masks only: index the flattened array with the flattened mask.
            x, operands = P.reshape(x, Sym(-1)), [P.reshape(operands[0], Sym(-1))]
        result = P.getitem(x, *operands, index=tuple(structure)) if structure else x
        for axis in new_axes:
            result = P.expand_dims(result, axis=axis)
        return result

    def index_items(self, x: Sym, items, node):
        """The structure, operands and new axes (None) of the index `items` of `x`."""
        structure, operands, new_axes, position = [], [], [], 0
        for item in items:
            value = self.expression(item)
            if isinstance(value, Static) and value.obj is None:
                new_axes.append(position)
                position += 1
            elif isinstance(value, slice):
                parts = [value.start, value.stop, value.step]
                structure.append(IndexSlice(*(p is not None and not is_none(p) for p in parts)))
                operands += [self.integer(p, item) for p in parts if p is not None and not is_none(p)]
                position += 1
            else:
                value = as_array(self, value) if isinstance(item, gast.List) else self.operand(value, item)
                if value.type.ndim == 0:
                    structure.append(IndexInt())
                    operands.append(self.integer(value, item))
                else:
                    if value.type.dtype not in ("bool", "int64") or value.type.dtype == "bool" and (
                            len(items) != 1 or value.type.ndim != x.type.ndim):
                        self.refuse(item, "this array index is not supported",
                                    "index with integer arrays (and slices), or one boolean mask of the array's shape")
                    structure.append(IndexArray())
                    operands.append(value)
                    position += 1
        if len(structure) > x.type.ndim:
            self.refuse(node, f"too many indices for a {x.type.ndim}-D array",
                        f"index it with at most {x.type.ndim} (or add axes first: `np.reshape`, `None`)")
        return structure, operands, new_axes

    # ------------------------------------------------------------ values

    def integer(self, value, node, what: str = "an index") -> Sym:
        value = self.operand(value, node)
        if value.type.dtype not in ("int64", "bool") or value.type.ndim:
            self.refuse(node, f"{what} must be an integer, not {value.type.describe()}",
                        "use an integer: a literal, an int argument, a loop's index or `int(...)`")
        return value

    def operand(self, value, node) -> Sym:
        if isinstance(value, Sym):
            return value
        what = (f"`{self.dotted(node)}`, a tree (a {trees.children(value)[0].__name__}),"
                if isinstance(value, dict) or trees.is_namedtuple_type(type(value))
                else ("a list" if isinstance(value, (Listed, ListRows)) else "a tuple") if isinstance(value, (tuple, ListRows))
                else f"the function `{node.id if isinstance(node, gast.Name) else value.name}`" if isinstance(value, Closure)
                else f"the string {value.obj!r}" if isinstance(value, Static) and isinstance(value.obj, str)
                else f"`{self.dotted(node)}`")
        hint = ("index it (`params['W']`) for its arrays" if isinstance(value, dict) or trees.is_namedtuple_type(type(value))
                else "make it an array with np.array(...) or np.stack(...)" if isinstance(value, (tuple, ListRows))
                else "call it where a value is needed, such as `np.sin(x)`" if isinstance(value, Closure) or callable(getattr(value, "obj", value))
                else "use a number or an array here")
        self.refuse(node, f"{what} cannot be used as a number or array", hint)

    def dotted(self, node) -> str:
        if isinstance(node, gast.Attribute):
            return f"{self.dotted(node.value)}.{node.attr}"
        return node.id if isinstance(node, gast.Name) else type(node).__name__

    def refuse(self, node, message: str, hint: str = ""):
        raise CompileError(message, self.parsed.loc(node), hint)


def _always_new(node) -> bool:
    """Whether NumPy gives a new array for the expression `node` (arithmetic, `np.<ufunc>(...)`),
    also where adcompiler folds it to an operand (`-(-a)`). A call of a helper may return an alias."""
    if isinstance(node, (gast.BinOp, gast.UnaryOp)):
        return True
    func = node.func if isinstance(node, gast.Call) else None
    return isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
        func.value.id in ("np", "numpy") and isinstance(getattr(np, func.attr, None), np.ufunc)

