"""The typed SSA IR: values, constants, ops, structured control flow, blocks and functions, with a
printer and a verifier.

Invariants (checked by `verify`): every value is defined once, by a block argument, an op or a
structured op, before it is used, and is used only in its block and the blocks nested in it; every
op's result type is what its primitive's type rule gives for its arguments; a structured op's block
arguments, yields and results agree in dtype and rank with its operands; every block ends in a
terminator. Values compare by identity; their `hint` is only a name for printing.
"""
from __future__ import annotations

import keyword
from dataclasses import astuple, dataclass, field, replace
from collections.abc import Iterator
from typing import ClassVar, Union

from ..errors import CompileError, Loc
from ..trees import Node, unflatten


FLOAT_DTYPES = ("float32", "float64")
SUPPORTED_DTYPES = ("float64", "float32", "int64", "bool")
# The most elements of an item a vmap is specialised by the shape of and keeps as numbers
# (api.py, transforms/scalarise.py).
SMALL = 256


@dataclass(frozen=True)
class Type:
    """The static type of a value: dtype and rank. `weak` marks a Python literal, which takes the
    dtype of whatever it meets (NumPy's NEP 50 rule), so `x32 * 2.0` stays float32. `lengths`
    are the axes' lengths where a specialisation fixes them (a recursion on shapes, api.py), carried
    by the primitives' `lengths` rules; an axis of known length has its `units` entry from it."""

    dtype: str
    ndim: int = 0
    weak: bool = False
    units: tuple = None  # per axis: True (length 1), False (not 1) or None (unknown); None: all unknown
    listed: int = 0  # > 0: a list (of lists ...) of such values, the tape of a loop
    lengths: tuple = None  # per axis: the length, or None (unknown); None: all unknown

    def __post_init__(self):
        if self.units is None:
            object.__setattr__(self, "units", (None,) * self.ndim)
        if self.lengths is None:
            object.__setattr__(self, "lengths", (None,) * self.ndim)
        assert len(self.units) == self.ndim and len(self.lengths) == self.ndim, (self.units, self.lengths, self.ndim)
        if any(n is not None for n in self.lengths):
            object.__setattr__(self, "units", tuple(u if n is None else n == 1
                                                    for u, n in zip(self.units, self.lengths)))

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def shape(self) -> tuple | None:
        """The shape, when every length is known."""
        return None if None in self.lengths else self.lengths

    def same_kind(self, other: "Type") -> bool:
        """Whether values of the two types can live in one variable: same dtype and rank."""
        return self.dtype == other.dtype and self.ndim == other.ndim and self.listed == other.listed

    def with_dtype(self, dtype: str) -> "Type":
        """The same shape with another dtype (never weak)."""
        return Type(dtype, self.ndim, False, self.units, self.listed, self.lengths)

    def with_lengths(self, lengths: tuple) -> "Type":
        """The same type with these axis lengths (None where unknown)."""
        return replace(self, lengths=tuple(lengths))

    @property
    def element(self) -> "Type":
        """The type of an item of a list type."""
        return Type(self.dtype, self.ndim, False, self.units, self.listed - 1, self.lengths)

    def __str__(self) -> str:
        short = _SHORT_DTYPES[self.dtype]
        if self.weak:
            return f"weak {short}"
        if self.listed:
            return f"list[{self.element}]"
        axes = ",".join(str(n) if n is not None else {True: "1", False: "n", None: "?"}[u]
                        for u, n in zip(self.units, self.lengths))
        return short if self.ndim == 0 else f"{short}[{axes}]"

    def describe(self) -> str:
        """In words, as NumPy says it: `a float64 scalar`, `a 2-D float32 array`."""
        return f"a {self.dtype} scalar" if self.ndim == 0 else f"a {self.ndim}-D {self.dtype} array"

    @property
    def tag(self) -> str:
        """A name-safe spelling, such as `f64_2d` (`f64_4x4` where the shape is fixed)."""
        if self.ndim and self.shape is not None:
            return _SHORT_DTYPES[self.dtype] + "_" + "x".join(map(str, self.shape))
        return _SHORT_DTYPES[self.dtype] + (f"_{self.ndim}d" if self.ndim else "")


@dataclass(frozen=True)
class Fixed:
    """An integer argument whose value is a constant of the specialisation (so that recursion on
    it is unrolled): each value is compiled on its own."""

    type: Type
    value: int

    def __str__(self) -> str:
        return f"{self.type} = {self.value}"

    @property
    def tag(self) -> str:
        return f"{self.type.tag}_{self.value}".replace("-", "m")


_SHORT_DTYPES = {"float64": "f64", "float32": "f32", "int64": "i64", "bool": "bool"}


@dataclass(eq=False)
class Value:
    """An SSA value. `hint` is the user's variable name, never an identity; without one, `derived`
    (prefix, value) names it after another value (`("d_", x)`: the adjoint of x, `("tape_", x)`: the
    tape of x's values in a loop); else it is a temporary, named `t`."""

    type: Type
    hint: str = ""
    derived: tuple | None = None

    def renewed(self) -> "Value":
        """A new value of the same type and name (a result or block argument standing for this one)."""
        return Value(self.type, self.hint, self.derived)

    def __repr__(self) -> str:
        return f"Value({self.hint}: {self.type})"


@dataclass(frozen=True)
class Const:
    """A literal operand, written inline where it is used."""

    value: Union[float, int, bool]

    @property
    def type(self) -> Type:
        kind = {bool: "bool", int: "int64", float: "float64"}[type(self.value)]
        return Type(kind, 0, weak=True)


Operand = Union[Value, Const]


class IndexItem:
    """An item of the static index of `getitem`, `setitem`, `index_add` and `index_accumulate`:
    their param `index` is a tuple of items, and their last operands are the items' values in
    order. Items are frozen, so params that hold them are hashable (CSE compares them); the IR
    prints each as a tuple of its name and fields, `('int',)` or `('slice', True, False, False)`."""

    name: ClassVar[str]
    advanced: ClassVar[bool] = False  # NumPy's advanced indexing (an array of indices): a copy, not a view
    operands: ClassVar[int] = 1  # how many of the op's operands are this item's

    def __repr__(self) -> str:
        return repr((self.name, *astuple(self)))


@dataclass(frozen=True, repr=False)
class IndexInt(IndexItem):
    """An integer: one scalar operand; the axis is dropped."""

    name = "int"


@dataclass(frozen=True, repr=False)
class IndexSlice(IndexItem):
    """A slice, `lower:upper:step`: one scalar operand for each part that is given."""

    name = "slice"
    lower: bool = False
    upper: bool = False
    step: bool = False

    @property
    def given(self) -> tuple:
        """For each of lower, upper and step, whether it is given."""
        return self.lower, self.upper, self.step

    @property
    def operands(self) -> int:
        return sum(self.given)


@dataclass(frozen=True, repr=False)
class IndexArray(IndexItem):
    """An integer array (1-D) or boolean mask (of the array's rank), the index's only item."""

    name = "array"
    advanced = True


def index_items(index: tuple, operands) -> Iterator[tuple]:
    """`(axis, item, its operands)` for each item of `index`, `operands` being the values after the
    indexed array (or anything standing for them, in the same order)."""
    operands = iter(operands)
    for axis, item in enumerate(index):
        yield axis, item, [next(operands) for _ in range(item.operands)]


def basic_index(index: tuple) -> bool:
    """Whether `index` has no array: NumPy's basic indexing, whose result is a view."""
    return not any(item.advanced for item in index)


@dataclass(eq=False)
class Op:
    """`result = prim(*args, **params)`, made at `loc` in the user's source."""

    prim: object  # a rules.primitive.Primitive (the IR does not import the rules)
    args: tuple
    result: Value
    loc: Loc
    params: tuple = ()  # sorted (name, value) pairs; hashable, so ops can be compared for CSE

    @property
    def param_dict(self) -> dict:
        return dict(self.params)


@dataclass(eq=False)
class Return:
    """Terminator: return these operands (a tuple when several)."""

    values: tuple
    loc: Loc


@dataclass(eq=False)
class Yield:
    """Terminator of a nested block: these operands are the block's values (the next loop-carried
    values, or the results of an `if`)."""

    values: tuple
    loc: Loc


@dataclass(eq=False)
class Block:
    args: list
    ops: list = field(default_factory=list)
    terminator: Return | Yield | None = None


@dataclass(eq=False)
class Structured:
    """Structured control flow: an op with nested blocks ending in `Yield`, one of `If`, `For` and
    `While`, each of which gives its layout: `inits`, the operands that the blocks take as carried
    values, and `carried_results`, the results that are the carried values after the op; the
    carried values of the blocks, the initial ones and the results line up position by position."""

    args: tuple
    blocks: tuple
    results: tuple
    loc: Loc

    name: ClassVar[str]  # as printed
    block_names: ClassVar[tuple]  # as printed, one per block
    control: ClassVar[str | None] = None  # the dtype of the scalar first operand (cond, trips), if any
    index_args: ClassVar[int] = 0  # leading block arguments that are not carried values (For's k)

    @property
    def carried_results(self) -> tuple:
        return self.results

    @property
    def test(self) -> Block | None:
        """The block that yields one bool instead of the carried values (a while loop's)."""
        return None

    def carried_args(self, block: Block) -> list:
        """The arguments of `block` that are carried values."""
        return block.args[self.index_args:]

    def rebuilt(self, args: tuple, blocks: tuple, results: tuple) -> Structured:
        """An op of the same kind, at the same place, with these parts."""
        return replace(self, args=args, blocks=blocks, results=results)


@dataclass(eq=False)
class If(Structured):
    """`if`: args (cond,), a scalar bool; blocks (then, orelse), without arguments, each yielding
    the results."""

    name, block_names, control = "if", ("then", "else"), "bool"
    inits = ()

    def sources(self, position: int) -> tuple:
        """The operands whose value result `position` may have: each branch's yield."""
        return tuple(b.terminator.values[position] for b in self.blocks)


@dataclass(eq=False)
class Loop(Structured):
    """A `For` or `While`: its last block, the body, takes the carried values and yields the next
    ones; the results are the carried values after the last iteration."""

    @property
    def body(self) -> Block:
        return self.blocks[-1]

    def sources(self, position: int) -> tuple:
        """The operands whose value carried result `position` may have: the initial value, or the
        body's yield (of the iteration before)."""
        return self.inits[position], self.body.terminator.values[position]


@dataclass(eq=False)
class For(Loop):
    """`for k in range(trips)`: args (trips, *inits), trips a scalar int64; blocks (body,), taking
    (k, *carried) for k = 0 .. trips-1 and yielding the next carried values; results: the last
    carried values."""

    name, block_names, control, index_args = "for", ("body",), "int64", 1

    @property
    def inits(self) -> tuple:
        return self.args[1:]

    @property
    def trips(self) -> Operand:
        return self.args[0]


@dataclass(eq=False)
class Checkpointed(For):
    """A `For` whose iterations reverse mode recomputes from snapshots of the carried values
    instead of taping their values (transforms/checkpoint.py): the user's `checkpoint(range(n))`,
    a `checkpoint(f)` call (one iteration), or the outer loop of a loop split under `memory=`."""

    name = "checkpointed for"


@dataclass(eq=False)
class While(Loop):
    """`while`: args (*inits); blocks (test, body): test takes the carried values and yields one
    bool, body takes them and yields the next; results (trips, *carried), trips (a scalar int64)
    the number of iterations run."""

    name, block_names = "while", ("test", "body")

    @property
    def inits(self) -> tuple:
        return self.args

    @property
    def carried_results(self) -> tuple:
        return self.results[1:]

    @property
    def test(self) -> Block:
        return self.blocks[0]

    @property
    def trips(self) -> Value:
        return self.results[0]


def results_of(op) -> tuple:
    """The values an op or a structured op defines."""
    return op.results if isinstance(op, Structured) else (op.result,)


def walk(ops):
    """Every op of `ops` and of the blocks nested in them, in program order."""
    for op in ops:
        yield op
        if isinstance(op, Structured):
            for block in op.blocks:
                yield from walk(block.ops)


def defined_in(block: Block) -> set:
    """Ids of the values defined in `block` and the blocks nested in it (arguments, results)."""
    ids = {id(a) for a in block.args}
    for op in walk(block.ops):
        ids.update(id(r) for r in results_of(op))
        if isinstance(op, Structured):
            ids.update(id(a) for b in op.blocks for a in b.args)
    return ids


def read_in(block: Block) -> list:
    """The operands that `block` (with its nested blocks) reads, its terminator included."""
    operands = []

    def visit(b):
        for op in b.ops:
            operands.extend(op.args)
            if isinstance(op, Structured):
                for inner in op.blocks:
                    visit(inner)
        operands.extend(b.terminator.values)

    visit(block)
    return operands


def read_counts(block: Block) -> dict:
    """{id(value): how many times `block` (its nested blocks and terminators too) reads it}."""
    counts: dict = {}
    for operand in read_in(block):
        if isinstance(operand, Value):
            counts[id(operand)] = counts.get(id(operand), 0) + 1
    return counts


def live(ops, roots) -> list:
    """`ops` without those whose results nothing (transitively) reads; structured ops keep only
    the results, and loops the carried values, that something reads."""
    needed = {id(v) for v in roots if isinstance(v, Value)}
    kept = []
    for op in reversed(ops):
        if isinstance(op, Structured):
            op = _pruned(op, needed)
            if op is not None:
                kept.append(op)
                needed.update(id(a) for a in op.args if isinstance(a, Value))
                needed.update(id(v) for b in op.blocks for v in read_in(b) if isinstance(v, Value))
        elif id(op.result) in needed:
            kept.append(op)
            needed.update(id(a) for a in op.args if isinstance(a, Value))
    return kept[::-1]


def _pruned(op: Structured, needed: set):
    """`op` with the results in `needed` and what they depend on, or None when none is needed."""
    carried = op.carried_results
    keep = {i for i, r in enumerate(carried) if id(r) in needed}
    while True:
        blocks = []
        for block in op.blocks:
            yields = block.terminator.values if block is op.test else _kept(block.terminator.values, keep)
            blocks.append(Block(block.args, live(block.ops, yields), Yield(yields, block.terminator.loc)))
        read = {id(v) for b in blocks for v in read_in(b)}
        wider = keep | {i for b in op.blocks for i, a in enumerate(op.carried_args(b)) if id(a) in read}
        if wider == keep:
            break
        keep = wider
    counts = op.results[:len(op.results) - len(carried)]
    if not keep and not any(id(r) in needed for r in counts):
        return None
    blocks = tuple(Block(b.args[:op.index_args] + list(_kept(op.carried_args(b), keep)), b.ops, b.terminator)
                   for b in blocks)
    args = op.args[:len(op.args) - len(op.inits)] + _kept(op.inits, keep)
    return op.rebuilt(args, blocks, counts + _kept(carried, keep))


def _kept(values, positions: set) -> tuple:
    return tuple(v for i, v in enumerate(values) if i in positions)


def copy_block(block: Block) -> Block:
    """A copy of `block` whose op lists and structured ops are new (values and ops are shared), so
    a pass may insert ops and extend structured ops without changing the original."""
    ops = [op.rebuilt(tuple(op.args), tuple(copy_block(b) for b in op.blocks), tuple(op.results))
           if isinstance(op, Structured) else op for op in block.ops]
    terminator = type(block.terminator)(tuple(block.terminator.values), block.terminator.loc)
    return Block(list(block.args), ops, terminator)


@dataclass(eq=False)
class Function:
    """A function of the IR. `params` are the entry block's arguments; the last `len(captured)` of
    them are bound to `captured`, arrays read from the user's globals or closure at compile time.
    `assumptions` are the (scope, name, object) reads of globals and closure cells the function was
    lowered with (`still_valid` tells whether they still hold). `structure` is how the returned
    values nest: None for one value, else a `trees.Node` (tuples, lists, dicts and namedtuples)
    whose leaves are None."""

    name: str
    blocks: list
    loc: Loc
    captured: tuple = ()
    assumptions: tuple = ()
    structure: Node | None = None

    def nest(self, leaves, lowered: bool = False):
        """What the function returns, from the values its `Return` holds, in order (its lists
        `Listed` when `lowered`, in a caller's lowering)."""
        return unflatten(self.structure, iter(leaves), lowered)

    @property
    def params(self) -> list:
        return self.blocks[0].args

    @property
    def entry(self) -> Block:
        return self.blocks[0]


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


@dataclass(frozen=True)
class Adjoint:
    """A forward/backward pair. The forward returns `(out, *residuals)`; the backward takes
    `(*residuals, g)`, the i-th residual parameter standing for the forward's i-th residual."""

    forward: Function
    backward: Function
    wrt: tuple
    plans: tuple = ()  # what the backward of each loop and `if` reads of the forward (transforms/plan.py)

    @property
    def residuals(self) -> list:
        """Pairs (forward operand, backward parameter)."""
        return list(zip(self.forward.entry.terminator.values[1:], self.backward.params[:-1]))


RESERVED_NAMES = frozenset({"np", "rt", "krt", "jit", "math"}) | frozenset(keyword.kwlist)


class Namer:
    """Deterministic, readable, unique names: the hint itself first, then `hint_1`, `hint_2`, ...
    A derived value is named `prefix + x` after the value named x (`d_x`, `tape_x`); when that is
    taken, `prefix + x_n` for the first n such that no value is named `x_n` (nor ever will be:
    `x_n` is reserved), so `d_x_n` is the adjoint of `x_n` where there is one, and otherwise
    another adjoint of x."""

    def __init__(self, taken=()):
        self.names: dict[int, str] = {}
        self.keep: list = []  # the named values, kept alive so that their ids stay unique
        self.used = set(RESERVED_NAMES) | set(taken)

    def alias(self, value: Value, same_as: Value) -> None:
        """Give `value` the name of `same_as` (a residual parameter and the forward value it holds)."""
        self.names[id(value)] = self(same_as)

    def copy(self) -> "Namer":
        """A namer with these names, whose aliases and new names do not change this one."""
        other = Namer()
        other.names, other.keep, other.used = dict(self.names), list(self.keep), set(self.used)
        return other

    def name_function(self, fn: Function) -> None:
        """Name the values of `fn` in the order they are defined: a structured op's block arguments
        (a loop's body first: its carried variables), then its blocks' values, then its results."""
        def visit(block):
            for arg in block.args:
                self(arg)
            for op in block.ops:
                if isinstance(op, Structured):
                    for inner in op.blocks[::-1]:
                        for arg in inner.args:
                            self(arg)
                    for inner in op.blocks:
                        visit(inner)
                for result in results_of(op):
                    self(result)
        visit(fn.entry)

    def __call__(self, value: Value) -> str:
        key = id(value)
        if key not in self.names:
            if value.hint or value.derived is None:
                name = self._fresh(value.hint or "t")
            else:
                prefix, source = value.derived
                base = self(source)
                name, n = prefix + base, 0
                while name in self.used:
                    n += 1
                    if f"{base}_{n}" not in self.used:
                        name = f"{prefix}{base}_{n}"
                self.used.update({name, f"{base}_{n}"} if n else {name})
            self.names[key] = name
            self.keep.append(value)
        return self.names[key]

    def reserve(self, base: str) -> str:
        """A name no value has or will have (a module-level function's), `base` or `base_n`."""
        return self._fresh(base)

    def _fresh(self, base: str) -> str:
        name, n = base, 0
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


def format_operand(operand: Operand, name: Namer) -> str:
    return repr(operand.value) if isinstance(operand, Const) else "%" + name(operand)


def print_function(fn: Function, name: Namer | None = None) -> str:
    """Stable text of `fn`: one op a line, with its type and the user's file:line. Passes that
    share a `name`r print shared values under one name (a residual as in the forward)."""
    name = name or Namer()
    name.name_function(fn)
    params = ", ".join(f"%{name(p)}: {p.type}" for p in fn.params)
    lines = [f"func {fn.name}({params}) {{"]
    for block in fn.blocks:
        _print_block(block, name, "  ", lines)
    lines.append("}")
    return "\n".join(lines)


def _print_block(block: Block, name: Namer, indent: str, lines: list) -> None:
    def operands(values):
        return ", ".join(format_operand(a, name) for a in values)

    def typed(values):
        return ", ".join(f"%{name(v)}: {v.type}" for v in values)

    for op in block.ops:
        if isinstance(op, Structured):
            results = ", ".join(f"%{name(r)}" for r in op.results)
            head = f"{indent}{results} = {op.name} {operands(op.args)}"
            for position, (inner, label) in enumerate(zip(op.blocks, op.block_names)):
                lines.append(f"{head if position == 0 else indent + '}'} {label}({typed(inner.args)}) {{")
                _print_block(inner, name, indent + "  ", lines)
            lines.append(f"{f'{indent}}} : ' + ', '.join(str(r.type) for r in op.results):<60} # {op.loc.short}")
            continue
        params_text = "".join(f", {k}={v!r}" for k, v in op.params)
        text = f"{indent}%{name(op.result)} = {op.prim.name} {operands(op.args)}{params_text} : {op.result.type}"
        lines.append(f"{text:<60} # {op.loc.short}")
    keyword_text = "return" if isinstance(block.terminator, Return) else "yield"
    lines.append(f"{indent}{keyword_text} {operands(block.terminator.values)}")


def verify(fn: Function) -> Function:
    """Check the IR's invariants; raise CompileError naming the broken one. Returns `fn`."""
    def fail(message, loc):
        raise CompileError(f"IR verification failed in {fn.name}: {message}", loc)

    def define(value, loc, scope):
        if not isinstance(value, Value):
            fail(f"{value!r} is defined but is not a Value", loc)
        if id(value) in everywhere:
            fail(f"%{value.hint or 't'} is defined twice", loc)
        everywhere.add(id(value))
        scope.add(id(value))

    def use(operand, loc, scope):
        if not isinstance(operand, (Value, Const)):
            fail(f"{operand!r} is an operand but neither a Value nor a Const", loc)
        if isinstance(operand, Value) and id(operand) not in scope:
            where = "outside its block" if id(operand) in everywhere else "before it is defined"
            fail(f"%{operand.hint or 't'} is used {where}", loc)

    def agree(what, values, types, loc):
        if len(values) != len(types):
            fail(f"{what}: {len(values)} values for {len(types)} places", loc)
        for value, expected in zip(values, types):
            if not value.type.same_kind(expected):
                fail(f"{what}: {value.type} where {expected} is expected", loc)

    def block(b, scope, loc, terminator_kind):
        scope = set(scope)
        for arg in b.args:
            define(arg, loc, scope)
        for op in b.ops:
            for arg in op.args:
                use(arg, op.loc, scope)
            if isinstance(op, Structured):
                structured(op, scope)
                for result in op.results:
                    define(result, op.loc, scope)
                continue
            if op.prim.arity is not None and len(op.args) != op.prim.arity:
                fail(f"{op.prim.name} takes {op.prim.arity} operand(s), got {len(op.args)}", op.loc)
            expected = op.prim.infer_type(op.args, **op.param_dict)
            if expected != op.result.type:
                fail(f"{op.prim.name} gives {expected}, but %{op.result.hint or 't'} is {op.result.type}", op.loc)
            define(op.result, op.loc, scope)
        if b.terminator is None:
            fail("a block has no terminator", loc)
        if not isinstance(b.terminator, terminator_kind):
            fail(f"a block does not end in {terminator_kind.__name__.lower()}", loc)
        for value in b.terminator.values:
            use(value, b.terminator.loc, scope)

    def structured(op, scope):
        carried = [r.type for r in op.carried_results]
        if isinstance(op, While) and not (op.results and op.results[0].type.dtype == "int64"):
            fail("a while loop's first result is not its iteration count", op.loc)
        if op.control and not (op.args and op.args[0].type.ndim == 0 and op.args[0].type.dtype == op.control):
            fail(f"the first operand of {op.name} is not a scalar {op.control}", op.loc)
        for b in op.blocks:
            if isinstance(op, For) and not (b.args and b.args[0].type.dtype == "int64"):
                fail("a for body does not take the iteration number first", op.loc)
            agree(f"{op.name} block arguments", op.inits, [a.type for a in op.carried_args(b)], op.loc)
            block(b, scope, op.loc, Yield)
            yields = b.terminator.values
            if b is op.test:
                if len(yields) != 1 or yields[0].type.dtype != "bool" or yields[0].type.ndim:
                    fail("a while test does not yield one bool", op.loc)
            else:
                agree(f"{op.name} yields", yields, carried, op.loc)
        if isinstance(op, Loop):
            agree(f"{op.name} initial values", op.inits, carried, op.loc)

    everywhere: set[int] = set()
    block(fn.entry, set(), fn.loc, Return)
    return fn
