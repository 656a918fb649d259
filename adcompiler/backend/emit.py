"""Emission: a forward/backward pair becomes the source of a Python module.

Each op becomes one assignment built as a gast statement from its primitive's template and printed
with the standard library's `ast.unparse` (astunparse 1.6.3 prints `y[1:3, None]` as the invalid
`y[(1:3, None)]` on Python 3.11). Every line ends with the user's `file:line` it comes from. The
module defines `<name>_forward`, `<name>_backward` and `<name>_value_and_grad`, plain Python
functions whose NumPy statements run as they are; each region that placement (placement.py) gives to
Numba is outlined into a kernel, a module-level function decorated with `@jit` (a name the loader
provides: numba.njit(cache=True), or the identity for plain Python) that takes the values it reads
and returns the values it makes for the code after it. Kernels call the runtime as `krt`, plain code
as `rt` (the loader binds the compiled and the plain helpers). In the "whole" mode every function is
one kernel.
"""
from __future__ import annotations

import ast
import copy
import functools
import math
import os
import re

import gast

from .fuse import ELEMENT_TEMPLATES, NUMBER_TEMPLATES, PASSED_THROUGH, Fused, fuse, fusion, looped, of_elements, scheduled
from .inplace import REFILLED, in_place_writes, out_ufunc
from .placement import place
from ..ir.core import (Adjoint, Block, For, Function, If, IndexInt, Loop, Namer, Op, Return, Structured, Value, While,
                       basic_index, results_of, walk)

INDENT = "    "
VECTOR_MATH_ENVIRONMENT_VARIABLE = "ADCOMPILER_VECTOR_MATH"


def vector_math() -> bool:
    """Whether kernels call vmath.py's vectorisable exp, log, sin, ... (`kernel_template`s) rather
    than NumPy's functions (libm's, under Numba): on unless $ADCOMPILER_VECTOR_MATH is "0". Read
    when a function is compiled (a specialisation already made keeps its code)."""
    return os.environ.get(VECTOR_MATH_ENVIRONMENT_VARIABLE, "1") != "0"


def names_for(*programs) -> Namer:
    """One namer for `programs` (Functions and Adjoints), naming their values in order (a residual
    parameter as the forward value it holds, a Function's parameters as the first program's, for which
    they stand: a batched parameter is named as the primal's): the names `show` prints and the Python uses."""
    namer = Namer()
    for program in programs:
        if isinstance(program, Function):
            first = programs[0]
            if program is not first and isinstance(first, Function) and len(program.params) == len(first.params):
                for param, original in zip(program.params, first.params):
                    namer.alias(param, original)
            namer.name_function(program)
            continue
        namer.name_function(program.forward)
        for source, param in program.residuals:
            namer.alias(param, source)
        namer.name_function(program.backward)
    return namer


def emit_python(program, name: str, header: str, names: Namer | None = None, mode: str = "auto",
                plain: Function | None = None) -> str:
    """Module source for `program`: a Function becomes one function `name`; an Adjoint becomes the
    three functions of `_adjoint_module`; the kernels they call come first. Values keep their names
    in `names` (by default `names_for(program)`), but for the variables Python shares between values
    (a loop's carried variable, an array updated in place), which take the name of one of them.
    `mode` is placement's ("auto", "numpy" or "whole"). `plain` is a Function that computes what
    `program` does and runs instead where the module has no kernels (`krt` is the plain runtime:
    jit=False, or while they compile): a vmap's batched NumPy code, whose `program` is a loop over
    the items' numbers (transforms/scalarise.py), fast compiled only."""
    imports = _imports(program, plain)
    namer = (names or names_for(program)).copy()
    module = _Module(namer, program, mode)
    if isinstance(program, Function):
        functions = [_function(module, name, program)]
    else:
        functions = _adjoint_module(program, name, module)
    kernels = module.kernels
    if plain is not None:
        plain_name, plain_module = namer.reserve(f"{name}_numpy"), _Module(namer, plain, mode)
        functions += [_function(plain_module, plain_name, plain),
                      f"if not krt.ELEMENT_LOOPS:  # no kernels: the NumPy version runs\n{INDENT}{name} = {plain_name}"]
        kernels = kernels + plain_module.kernels
    return "\n\n\n".join([header.rstrip("\n") + "\n\n" + imports, *kernels, *functions]) + "\n"


def _function(module: "_Module", name: str, fn: Function) -> str:
    """The Python function `name` of `fn`, which returns its one value as it is (several as a tuple)."""
    lines = module.body(fn, name)
    values = fn.entry.terminator.values
    if len(values) == 1:
        lines[-1] = f"{INDENT}{'return ' + _text([values[0]], module.namer):<44} # {fn.entry.terminator.loc.short}"
    return module.function(name, fn, lines)


class _Module:
    """What the functions of one module share: the namer, the kernels outlined so far, the mode,
    and each function's regions (placement). Where placement puts every statement of the functions
    in kernels (a scalar loop and what it returns), they are compiled whole: no Python between."""

    def __init__(self, namer: Namer, program, mode: str):
        self.namer, self.kernels = namer, []
        self.regions = {id(fn): place(fn) for fn in _functions(program)} if mode == "auto" else {}
        kernels = [region.kernel for regions in self.regions.values() for region in regions]
        self.mode = "whole" if kernels and all(kernels) else mode  # (a function of no ops has no kernel)

    def body(self, fn: Function, part: str, to_backward: bool = False) -> list:
        return _body(fn, self.namer, to_backward, self if self.mode == "auto" else None, part,
                     kernel=self.mode == "whole")

    def function(self, py_name: str, fn: Function, lines: list) -> str:
        params = ", ".join(self.namer(p) for p in fn.params)
        if self.mode == "whole":
            return "\n".join(["@jit", f"def {py_name}({params}):"] + [_in_kernel(line) for line in lines])
        return "\n".join([f"def {py_name}({params}):"] + lines)

    def kernel(self, part: str, loc, params: list, lines: list) -> str:
        """Define a kernel of `lines` (ending in its `return`) taking `params`; its name."""
        kernel_name = self.namer.reserve(f"{part}_loop_{loc.line}")
        self.kernels.append("\n".join(["@jit", f"def {kernel_name}({', '.join(params)}):"] +
                                       [_in_kernel(line) for line in lines]))
        return kernel_name


def _functions(program) -> list:
    """The Functions of `program`: itself, or an Adjoint's forward and backward."""
    return [program] if isinstance(program, Function) else [program.forward, program.backward]


def _in_kernel(line: str) -> str:
    """A line of a kernel: its runtime calls go to the compiled helpers (`krt`)."""
    code, mark, comment = line.partition("  # ")
    return re.sub(r"\brt\.", "krt.", code) + mark + comment


def _imports(*programs) -> str:
    """NumPy, and the modules that library calls name (`import math`, `import scipy.special`)."""
    modules = sorted({module for program in programs if program is not None for fn in _functions(program)
                      for op in walk(fn.entry.ops) if not isinstance(op, Structured)
                      for module in op.param_dict.get("imports", ())})
    return "\n".join(["import numpy as np", *(f"import {module}" for module in modules)])


def _adjoint_module(adjoint: Adjoint, name: str, module: "_Module") -> list:
    """Module source for `adjoint`, with functions named after `name`: `<name>_forward` and
    `<name>_backward` (for vjp), and `<name>_value_and_grad`, which runs both bodies in one function
    (one Numba compilation, no residual tuple). The passes share one namer, so a residual has the
    name of its forward value in the IR: the backward's parameter keeps it where the forward's Python
    writes the value into a variable of another name (a loop's result is its carried variable), and
    the fused body binds it there."""
    forward, backward, namer = adjoint.forward, adjoint.backward, module.namer
    forward_lines = module.body(forward, f"{name}_forward", to_backward=True)
    seam = [f"{INDENT}{namer(param)} = {namer(source)}" for source, param in adjoint.residuals
            if namer(param) != namer(source)]
    backward_lines = module.body(backward, f"{name}_backward")
    seed = backward.params[-1]
    returned = (f"{INDENT}return {_text([forward.entry.terminator.values[0]], namer)}, "
                f"{_text(backward.entry.terminator.values, namer)}")
    seeded = [f"{INDENT}{namer(seed)} = {_seed_literal(seed.type.dtype)}"]
    together = _one_chain(adjoint, module)
    if together is not None:  # forward and backward as one function: their chains as one loop
        fused = seeded + module.body(together, f"{name}_value_and_grad")[:-1] + [returned]
    else:
        fused = forward_lines[:-1] + seam + seeded + backward_lines[:-1] + [returned]
    # Numba returns a float32 number to Python as a float: the backward makes it float32 again.
    float32_numbers = [f"{INDENT}{namer(p)} = np.float32({namer(p)})" for p in backward.params[:-1]
                       if _float32_number(p)]
    return [module.function(f"{name}_forward", forward, forward_lines),
            module.function(f"{name}_backward", backward, float32_numbers + backward_lines),
            module.function(f"{name}_value_and_grad", forward, fused)]


def _one_chain(adjoint: Adjoint, module: "_Module") -> Function | None:
    """Where neither pass has a structured op, the value_and_grad's ops as one Function of the
    forward's parameters (a residual parameter read as its forward value, the seed as a number
    defined before), the reductions moved after what does not read them (`fuse.scheduled`); that
    Function (its regions recorded in `module`) if placement then puts ops of both passes in one
    elementwise chain's kernel, else None."""
    forward, backward = adjoint.forward, adjoint.backward
    if module.mode != "auto" or any(isinstance(op, Structured) for fn in (forward, backward) for op in fn.entry.ops):
        return None
    source_of = {id(param): source for source, param in adjoint.residuals}
    backward_ops = [Op(op.prim, tuple(source_of.get(id(a), a) for a in op.args), op.result, op.loc, op.params)
                    for op in backward.entry.ops]
    values = (forward.entry.terminator.values[0], *(source_of.get(id(v), v) for v in backward.entry.terminator.values))
    together = Function(f"{forward.name}_value_and_grad",
                        [Block(list(forward.params), scheduled(forward.entry.ops + backward_ops),
                               Return(values, backward.entry.terminator.loc))], forward.loc, forward.captured)
    backward_ids = {id(op) for op in backward_ops}
    regions = place(together, chains=True)
    if not any(region.kernel and len({id(op) in backward_ids for op in region.ops}) == 2 for region in regions):
        return None
    module.regions[id(together)] = regions
    return together


def _body(fn: Function, namer: Namer, to_backward: bool = False, module: "_Module | None" = None,
          part: str = "", kernel: bool = False) -> list:
    """One line per op and a final `return`, each with the user's file:line. A ufunc whose result
    only one other ufunc of the same block reads is written inside that one's expression
    (`2.0 / np.sin(np.exp(-x))`), which Numba compiles to one loop without temporary arrays.
    `to_backward`: the values returned go to a backward compiled apart (tapes as typed lists: Numba
    cannot pass it a reflected list of lists, and unboxes a reflected list element by element).
    `kernel`: the whole body is a kernel (else only the regions that `module` outlines)."""
    identities = {id(op.result): op.args[0] for op in walk(fn.entry.ops)
                  if not isinstance(op, Structured) and op.prim.identity}
    for key, value in identities.items():  # `fresh(fresh(x))` is x: the value whose name it has
        while id(value) in identities:
            value = identities[id(value)]
        identities[key] = value
    readers: dict[int, list] = {}

    def count(block):
        for op in block.ops:
            for arg in op.args:
                readers.setdefault(id(identities.get(id(arg), arg)), []).append(op)
            if isinstance(op, Structured):
                for inner in op.blocks:
                    count(inner)
                    for value in inner.terminator.values:
                        readers.setdefault(id(identities.get(id(value), value)), []).append(None)
        for value in block.terminator.values:
            readers.setdefault(id(identities.get(id(value), value)), []).append(None)

    count(fn.entry)
    emitter = _Emitter(namer, readers, in_place_writes(fn), fn.params, kernel, identities)
    if module is None:
        lines = emitter.block(fn.entry, INDENT)
    else:
        lines = emitter.regions(fn, module.regions[id(fn)], module, part)
    values = [_operand(v, namer, None) for v in fn.entry.terminator.values]
    if to_backward:
        values = [_filled(_template("rt.typed_list(_0)"), [node]) if v.type.listed else node
                  for v, node in zip(fn.entry.terminator.values, values)]
    lines.append(_line(INDENT, gast.Return(value=gast.Tuple(elts=values, ctx=gast.Load())), fn.entry.terminator.loc))
    return lines


def _line(indent: str, statement, loc) -> str:
    text = _unparse(statement)
    return f"{indent + text:<48} # {loc.short}" if "\n" not in text else indent + text


class _Emitter:
    """Writes blocks as indented statements; `nested` holds the expressions of values written
    inside their one reader; `kernel` says whether the statements written now are a kernel's."""

    def __init__(self, namer: Namer, readers: dict, in_place: dict, params, kernel: bool = False,
                 identities: dict | None = None):
        self.name = namer
        self.identities = identities or {}  # id(value) -> the value whose name it has (fresh, ...)
        self.kernel = kernel
        self.parallel = False  # writing a kernel of chains only (placement): their loops may be `prange`d
        self.vectorisable = False  # writing the body of a loop that LLVM may vectorise (`vector`)
        self.params = {id(p) for p in params}
        self.readers = readers
        self.in_place = in_place
        self.nested: dict[int, object] = {}
        self.buffers: dict[int, str] = {}  # id(zeros made in a kernel's loop again each iteration) -> its array's name
        self.pending: dict[int, Op] = {}  # the ops of the expressions in `nested`

    def block(self, block, indent: str, ops=None, fused: bool = True) -> list:
        """Statements of `block`'s ops (or of `ops`, some of them: a ufunc is written inside its
        reader's expression only where the reader is one of them too). In a kernel, with `fused`,
        elementwise chains become loops (fuse.py)."""
        lines = []
        ops = block.ops if ops is None else ops
        local = {id(op) for op in ops}
        defined = {id(a) for a in block.args} | {id(r) for op in block.ops for r in results_of(op)}
        for op in fuse(ops, self.readers) if fused and self.kernel and fusion() else ops:
            if isinstance(op, Fused):
                lines += self.flush(indent) + self.fused_loop(block, op, indent)
            elif isinstance(op, Structured):
                lines += self.flush(indent) + self.structured(op, indent, defined)
            elif op.prim.identity:  # stop_gradient, fresh, custom_vjp: no line, the operand's name
                self.name.alias(op.result, op.args[0])
            elif op.prim.updates:
                lines += self.flush(indent) + self.update(op, indent)
            elif id(op) in self.buffers:
                lines += self.refilled(op, indent)
            elif not self.kernel and id(op) in self.in_place and id(op.args[self.in_place[id(op)]]) not in self.nested:
                # what waits to be read is read before the array is written (its own operands in it)
                lines += self.flush(indent, keep={id(a) for a in op.args})
                lines.append(_line(indent, _assign([self.target(op.result)], self.written_out(op)), op.loc))
            elif self.nests(op, local):
                self.nested[id(op.result)] = _expression(op, self.name, self.nested, self.vector(op))
                self.pending[id(op.result)] = op
            elif self.kernel and fusion() and looped(op):
                lines += self.loops(op, indent)
            else:
                expression = _expression(op, self.name, self.nested, self.vector(op))
                lines.append(_line(indent, _assign([self.target(op.result)], expression), op.loc))
        return lines

    def nests(self, op: Op, local: set) -> bool:
        """Whether `op` is written inside its reader's expression: a ufunc read once, by a ufunc of
        `local`. In a kernel (with fusion) a `looped` reader (`where` too) computes the op in its
        loop, so takes only an op `of_elements`, and so does a reader `of_elements`; a `looped` op
        is nested in no other reader."""
        (reader, *others) = self.readers.get(id(op.result), [None, None])
        if not op.prim.ufunc or others or reader is None or id(reader) not in local or isinstance(reader, Structured):
            return False
        if not (self.kernel and fusion()):
            return reader.prim.ufunc
        if looped(reader):
            return of_elements(op)
        return reader.prim.ufunc and (of_elements(op) if of_elements(reader) else not looped(op))

    def vector(self, op: Op) -> bool:
        """Whether `op` is written with vector math (vmath.py, where it has a `kernel_template`): in a
        kernel, of arrays (whose loops are vectorisable) or of numbers in an innermost `for` that
        carries no number changing across its iterations (`_vectorisable`). Elsewhere a number's
        function runs once at a time, and libm's (NumPy's spelling, under Numba) is faster: vmath's
        branch-free exp takes 9 ns a call there, libm's 5 ns (bench/vmath.py, its summed loops)."""
        return self.kernel and (self.vectorisable or any(isinstance(a, Value) and a.type.ndim for a in op.args))

    def written_out(self, op):
        """`np.<ufunc>(..., out=<operand>)`: `op` written into the array of the operand that the
        in-place analysis lets it write (a variable, not a nested expression)."""
        dtype = op.result.type.dtype
        operands = [self.nested.pop(id(a)) if id(a) in self.nested else _operand(a, self.name, dtype) for a in op.args]
        array = _operand(op.args[self.in_place[id(op)]], self.name, dtype)
        return gast.Call(func=copy.deepcopy(_template(f"np.{out_ufunc(op)}")), args=operands,
                         keywords=[gast.keyword(arg="out", value=array)])

    def fused_loop(self, block, chain: Fused, indent: str) -> list:
        """`chain` as one loop over its elements, where its inputs have one length (else, or where
        a value it makes shares a variable with one it reads, as array statements). At a region
        kernel's top level (`self.parallel`) the loop is `krt.prange`d. Vector sin and cos count the
        arguments beyond their branch-free range; where there is any, the array statements run too."""
        lines = self.block(block, indent, chain.before) + self.flush(indent)
        inputs = [self.name(v) for v in chain.inputs]
        if {self.name(op.result) for op in chain.ops} & set(inputs):
            return lines + self.block(block, indent, chain.ops, fused=False) + self.flush(indent)
        length = f"{inputs[0]}.shape[0]"
        element = self.name.reserve("element")
        checked = [op for op in chain.ops if op.prim.name in ELEMENT_TEMPLATES] if vector_math() else []
        beyond = self.name.reserve("beyond") if checked else None
        inner = indent + INDENT
        body = [_line(inner, _assign([self.target(v)], _template(f"np.empty({length}, np.{v.type.dtype})")), chain.loc)
                for v in chain.outputs]
        if checked:
            body.append(_line(inner, f"{beyond} = 0", chain.loc))
        loop = "krt.prange" if self.parallel and indent == INDENT else "range"
        body.append(_line(inner, f"for {element} in {loop}({length}):", chain.loc))
        outputs = {id(v) for v in chain.outputs}
        elements = {id(v): _template(f"{self.name(v)}[{element}]") for v in chain.inputs}
        arguments = []  # of sin and cos

        def stored(op, value):
            """`op`'s element written to its array, where it is an output."""
            if id(op.result) in outputs:
                target = copy.deepcopy(_template(f"{self.name(op.result)}[{element}]"))
                target.ctx = gast.Store()
                body.append(_line(inner + INDENT, _assign([target], value), op.loc))

        for op in chain.ops:
            operands = [copy.deepcopy(elements[id(a)]) if id(a) in elements else
                        _operand(a, self.name, op.result.type.dtype) for a in op.args]
            if op.prim.name in PASSED_THROUGH:  # its operand
                elements[id(op.result)] = operands[0]
                stored(op, copy.deepcopy(operands[0]))
                continue
            if op in checked:
                if not any(op.args[0] is other.args[0] for other in checked[:checked.index(op)]):
                    arguments.append(copy.deepcopy(operands[0]))
                value = _filled(_template(ELEMENT_TEMPLATES[op.prim.name]), operands)
            else:
                value = _filled(_op_template(op, self.kernel), operands)  # (an element loop: vectorisable)
            # each element a number of its own name (the array statements' variables are arrays:
            # parfors takes no variable of two types), stored where it is an output (reading the
            # store back would keep LLVM from vectorising: the arrays might overlap)
            number = self.name.reserve(f"{self.name(op.result)}_element")
            body.append(_line(inner + INDENT, _assign([gast.Name(id=number, ctx=gast.Store(), annotation=None,
                                                                  type_comment=None)], value), op.loc))
            elements[id(op.result)] = _template(number)
            stored(op, _template(number))
        if checked:  # one update of the count an element (parfors takes no other)
            count = " + ".join(f"krt.beyond_reduced(_{number})" for number in range(len(arguments)))
            body.append(_line(inner + INDENT, _filled(_statement_template(f"{beyond} += {count}"), arguments), chain.loc))
        # compiled, and where the inputs have one length; plain Python runs the array statements
        same = " and ".join(["rt.ELEMENT_LOOPS", *(f"{name}.shape[0] == {length}" for name in inputs[1:])])
        if not checked:
            unfused = self.block(block, indent + INDENT, chain.ops, fused=False) + self.flush(indent + INDENT)
            return lines + [_line(indent, f"if {same}:", chain.loc), *body, indent + "else:", *unfused]
        done = self.name.reserve("elements_done")
        unfused = self.block(block, indent + INDENT, chain.ops, fused=False) + self.flush(indent + INDENT)
        return lines + [_line(indent, f"if {same}:", chain.loc), *body,
                        _line(inner, f"{done} = {beyond} == 0", chain.loc), indent + "else:",
                        _line(inner, f"{done} = False", chain.loc),
                        _line(indent, f"if not {done}:", chain.loc),
                        *unfused]

    def loops(self, op: Op, indent: str, expression=None) -> list:
        """`op` (fuse.looped) as one `for` an axis of its result, which is made empty first, each
        element computed with the ops nested in it (`nests`: its loop computes them too). An array
        of unknown length along an axis is read there at the index times its step, 1 or 0 (where
        the length is 1), along an axis known to be 1 at 0. Compiled only (`krt.ARRAY_LOOPS`, a
        constant to Numba, which drops the branch not taken): plain Python runs the array statement
        (`expression`, where the op's is built already: a nested op written before its reader)."""
        result, rank, loc = op.result, op.result.type.ndim, op.loc
        arrays = {}  # id -> an array the element reads

        def read(value):
            """The arrays `value`'s element reads: itself, or those of the op nested in it."""
            if id(value) in self.pending:
                for arg in self.pending[id(value)].args:
                    read(arg)
            elif isinstance(value, Value) and value.type.ndim:
                arrays.setdefault(id(value), value)

        for arg in op.args:
            read(arg)
        names = [self.name(a) for a in arrays.values()]
        if len(names) == 1 and next(iter(arrays.values())).type.ndim == rank:
            shape = f"{names[0]}.shape"
        else:
            shape = f"np.broadcast_shapes({', '.join(f'{name}.shape' for name in names)})"
        made = self.name(result) if self.name(result) not in names else self.name.reserve(f"{self.name(result)}_new")
        dtype = "np.bool_" if result.type.dtype == "bool" else f"np.{result.type.dtype}"
        inner = indent + INDENT
        body = [_line(inner, f"{made} = np.empty({shape}, {dtype})", loc)]
        indices = [self.name.reserve(f"i{axis}") for axis in range(rank)]
        elements = {}
        for array, name in zip(arrays.values(), names):
            unknown = [axis for axis, unit in enumerate(array.type.units) if unit is None]
            steps = self.name.reserve(f"{name}_steps") if len(arrays) > 1 and unknown else None
            if steps:
                each = ", ".join(f"int({name}.shape[{axis}] != 1)" for axis in unknown)
                body.append(_line(inner, f"{steps} = ({each}{',' if len(unknown) == 1 else ''})", loc))
            offset = rank - array.type.ndim
            index = ["0" if unit else f"{indices[offset + axis]} * {steps}[{unknown.index(axis)}]" if steps and unit is None
                     else indices[offset + axis] for axis, unit in enumerate(array.type.units)]
            elements[id(array)] = _template(f"{name}[{', '.join(index)}]")

        def element(of: Op):
            """The expression of `of`'s element, of its operands' (an op nested in it: its own)."""
            dtype = _literal_dtype(of)
            operands = []
            for arg in of.args:
                if id(arg) in self.pending:
                    self.nested.pop(id(arg), None)
                    operands.append(element(self.pending.pop(id(arg))))
                else:
                    operands.append(copy.deepcopy(elements[id(arg)]) if id(arg) in elements else
                                    _operand(arg, self.name, dtype))
            template = NUMBER_TEMPLATES.get(of.prim.name)
            return _filled(_template(template) if template else _op_template(of, True), operands)

        if expression is None:
            expression = _expression(op, self.name, self.nested, True)
        array_statement = _line(inner, _assign([self.target(result)], expression), loc)
        for axis, i in enumerate(indices):
            body.append(_line(inner + INDENT * axis, f"for {i} in range({made}.shape[{axis}]):", loc))
        target = copy.deepcopy(_template(f"{made}[{', '.join(indices)}]"))
        target.ctx = gast.Store()
        body.append(_line(inner + INDENT * rank, _assign([target], element(op)), loc))
        if made != self.name(result):
            body.append(_line(inner, _assign([self.target(result)], _template(made)), loc))
        return [_line(indent, "if krt.ARRAY_LOOPS:", loc), *body, indent + "else:", array_statement]

    def regions(self, fn: Function, regions, module: "_Module", part: str) -> list:
        """The entry block of `fn` with its kernel regions outlined: each kernel takes the values
        its ops read and others made, and returns those it makes that later code reads."""
        lines = []
        for number, region in enumerate(regions):
            if not region.kernel:
                lines += self.block(fn.entry, INDENT, region.ops)
                continue
            lines += self.flush(INDENT)
            self.kernel = True
            self.parallel = parallel = not any(isinstance(op, Structured) for op in region.ops)
            body = self.block(fn.entry, INDENT, region.ops) + self.flush(INDENT)
            self.kernel = self.parallel = False
            later = [op for later_region in regions[number + 1:] for op in later_region.ops]
            inputs, outputs = _interface(region.ops, later, fn.entry.terminator.values)
            params = list(dict.fromkeys(self.name(v) for v in inputs))
            outputs = list({self.name(v): v for v in outputs}.values())
            targets = ", ".join(self.name(v) for v in outputs) + ("," if len(outputs) == 1 else "")
            if outputs:  # a tape leaves as Numba's typed list, which the next kernel takes by reference
                returned = ", ".join(f"rt.typed_list({self.name(v)})" if v.type.listed else self.name(v)
                                     for v in outputs)
                body.append(f"{INDENT}return {returned}" + ("," if len(outputs) == 1 else ""))
            loc = next((op.loc for op in region.ops if isinstance(op, Structured)), region.ops[0].loc)
            kernel_params, body = _apart_from_parfors_names(params, body) if parallel else (params, body)
            call = f"{module.kernel(part, loc, kernel_params, body)}({', '.join(params)})"
            lines.append(_line(INDENT, f"{targets} = {call}" if outputs else call, loc))
            # Numba returns a float32 number to Python as a float: made float32 again
            lines += [_line(INDENT, f"{self.name(v)} = np.float32({self.name(v)})", loc)
                      for v in outputs if _float32_number(v)]
        return lines

    def flush(self, indent: str, keep=frozenset()) -> list:
        """Statements for the expressions still waiting for their reader (but those of `keep`): an
        update, an `out=` or a loop may change an array they read, so they are computed before it,
        where the user wrote them."""
        lines = []
        for key, op in list(self.pending.items()):
            if key not in self.nested or key in keep:
                continue
            expression = self.nested.pop(key)
            if self.kernel and fusion() and looped(op):
                lines += self.loops(op, indent, expression)
            else:
                lines.append(_line(indent, _assign([self.target(op.result)], expression), op.loc))
        self.pending = {key: op for key, op in self.pending.items() if key in keep}
        return lines

    def target(self, value):
        return gast.Name(id=self.name(value), ctx=gast.Store(), annotation=None, type_comment=None)

    def update(self, op, indent: str) -> list:
        """`y[i] = v` in place (the result is y), or on a copy when the old y is still needed."""
        lines = []
        if id(op) in self.in_place:
            self.name.alias(op.result, op.args[0])
        else:
            copy_of = _template(f"{self.name(op.args[0])}.copy()")
            lines.append(_line(indent, _assign([self.target(op.result)], copy_of), op.loc))
        operands = [self.name(op.result)] + [_operand(a, self.name, None) for a in op.args[1:]]
        operands[0] = gast.Name(id=operands[0], ctx=gast.Load(), annotation=None, type_comment=None)
        template = _statement_template(op.prim.python(tuple(a.type for a in op.args), op.param_dict))
        if self.kernel and op.prim.name in _INTO and _array_into_region(op):
            # `krt.assign_into(y[index], v)`: a helper compiled once, not Numba's slice assignment
            region = copy.deepcopy(template.targets[0] if isinstance(template, gast.Assign) else template.target)
            region.ctx = gast.Load()
            template = gast.Expr(value=gast.Call(func=_template(f"krt.{_INTO[op.prim.name]}"),
                                                 args=[region, _template("_1")], keywords=[]))
        lines.append(_line(indent, _filled(template, operands), op.loc))
        return lines

    def assign_all(self, targets, values, indent, loc) -> list:
        """`a, b = x, y` (nothing when every target already is its value)."""
        pairs = [(t, v) for t, v in zip(targets, values) if not (isinstance(v, Value) and self.name(v) == self.name(t))]
        if not pairs:
            return []
        names = [self.target(t) for t, _ in pairs]
        operands = [_operand(v, self.name, None) for _, v in pairs]
        if len(pairs) == 1:
            return [_line(indent, _assign(names, operands[0]), loc)]
        return [_line(indent, _assign([gast.Tuple(elts=names, ctx=gast.Store())],
                                      gast.Tuple(elts=operands, ctx=gast.Load())), loc)]

    def structured(self, op: Structured, indent: str, defined: set) -> list:
        """`op` as statements; `defined`: the values made in its block (each time the block runs)."""
        inner = indent + INDENT
        if isinstance(op, If):
            lines = [_line(indent, f"if {self.text(op.args[0])}:", op.loc)]
            for number, block in enumerate(op.blocks):
                if number:
                    lines.append(indent + "else:")
                body = self.block(block, inner) + self.assign_all(op.results, block.terminator.values, inner, op.loc)
                lines += body or [inner + "pass"]
            return lines
        body = op.body
        carried = op.carried_args(body)
        for arg, init in zip(carried, op.inits):
            init = self.identities.get(id(init), init)  # (the value whose name init has)
            if isinstance(init, Value) and id(init) in defined and id(init) not in self.params and \
                    self.readers.get(id(init)) == [op]:
                # the loop's variable takes the name of a value only it reads, made anew each time
                # the loop is reached (not one made once before an enclosing loop, nor a parameter)
                self.name.alias(arg, init)
        lines = self.assign_all(carried, op.inits, indent, op.loc)
        for result, arg in zip(op.carried_results, carried):
            self.name.alias(result, arg)
        outer, self.vectorisable = self.vectorisable, _vectorisable(op)
        if isinstance(op, For):
            lines += self.buffered(body, indent, op.loc)
            lines.append(_line(indent, f"for {self.name(body.args[0])} in range({self.text(op.trips)}):", op.loc))
        else:
            test = op.test
            for arg, same in zip(test.args, carried):
                self.name.alias(arg, same)
            trips = self.name(op.trips)
            lines += [_line(indent, f"{trips} = 0", op.loc), _line(indent, "while True:", op.loc)]
            lines += self.block(test, inner)
            lines.append(_line(inner, f"if not {self.text(test.terminator.values[0])}: break", op.loc))
        body_lines = self.block(body, inner) + self.assign_all(carried, body.terminator.values, inner, op.loc)
        if isinstance(op, While):
            body_lines.append(_line(inner, f"{trips} += 1", op.loc))
        self.vectorisable = outer
        return lines + (body_lines or [inner + "pass"])

    def buffered(self, body, indent: str, loc) -> list:
        """In a kernel, an empty array before a `for` for each zeros that its body (or a loop in
        it) makes and no later iteration sees (inplace.REFILLED): each iteration fills the one
        array again (`refilled`)."""
        lines = []
        for op in walk(body.ops) if self.kernel else ():
            if id(op) not in self.buffers and self.in_place.get(id(op)) == REFILLED:
                self.buffers[id(op)] = buffer = self.name.reserve(f"{self.name(op.result)}_memory")
                kind = op.result.type
                lines.append(_line(indent, f"{buffer} = np.empty({(0,) * kind.ndim}, np.{kind.dtype})", loc))
        return lines

    def refilled(self, op, indent: str) -> list:
        buffer = self.buffers[id(op)]
        shape = f"{self.text(op.args[0])}.shape" if op.prim.name == "zeros_like" else \
            f"({''.join(self.text(a) + ', ' for a in op.args)})"
        return [_line(indent, f"{buffer} = krt.refilled({buffer}, {shape})", op.loc),
                _line(indent, _assign([self.target(op.result)], _template(buffer)), op.loc)]

    def text(self, operand) -> str:
        return _unparse(_operand(operand, self.name, None))


# Updates of a region of an array by an array, which kernels write as runtime helpers (`update`).
_INTO = {"setitem": "assign_into", "index_accumulate": "add_into"}


def _array_into_region(op: Op) -> bool:
    """Whether update `op` (`y[index] = v`, `+=`) writes an array v into a view of y of rank >= 1
    (a basic index with fewer integers than y has axes)."""
    y, value = op.args[0], op.args[1]
    index = op.param_dict["index"]
    integers = sum(isinstance(item, IndexInt) for item in index)
    return isinstance(value, Value) and value.type.ndim >= 1 and not value.type.listed and not y.type.listed and \
        basic_index(index) and y.type.ndim - integers >= 1


def _float32_number(value) -> bool:
    return value.type.dtype == "float32" and value.type.ndim == 0 and not value.type.listed


_PARFORS_LIKE = re.compile(r"(?<![\w.])([A-Za-z]+)_(\d+)\b")


def _apart_from_parfors_names(params: list, body: list) -> tuple:
    """A kernel compiled parallel=True with its names like `g_1` written `g__1`. Numba's parfors
    (its prange loops, and its array statements made loops) pass the versions of a variable
    assigned twice, `g.1`, under legal names, `.` made `_` and `_` made `__`: `g_1`, which met a
    variable `g_1` of ours ("key already in dictionary"). No name of ours has `__`. Only the
    kernel's own names change: it is called with its arguments by position."""
    def renamed(code: str) -> str:
        code, hash_sign, comment = code.partition("#")
        return _PARFORS_LIKE.sub(r"\1__\2", code) + hash_sign + comment
    return [renamed(p) for p in params], [renamed(line) for line in body]


def _interface(ops, later, returned) -> tuple:
    """(inputs, outputs) of the region `ops`: the values its ops read that others made, and the
    values its top-level ops make that the `later` ops or the function's `returned` values read."""
    made_inside, read_inside = _reads(ops)
    inputs = [v for key, v in read_inside.items() if key not in made_inside and isinstance(v, Value)]
    _, read_later = _reads(later)
    read_later.update((id(v), v) for v in returned)
    outputs = [r for op in ops for r in results_of(op) if id(r) in read_later]
    return inputs, outputs


def _reads(ops) -> tuple:
    """(ids of the values `ops` make, {id: value} of the operands they read), nested blocks included."""
    made, read = set(), {}
    for op in walk(ops):
        for arg in op.args:
            read.setdefault(id(arg), arg)
        if isinstance(op, Structured):
            for block in op.blocks:
                made.update(id(a) for a in block.args)
                for value in block.terminator.values:
                    read.setdefault(id(value), value)
        made.update(id(r) for r in results_of(op))
    return made, read


def _assign(targets, value):
    return gast.Assign(targets=targets, value=value, type_comment=None)


def _text(values, namer: Namer) -> str:
    """Python text of the one operand in a list, or of a tuple of the operands in a tuple."""
    nodes = [_operand(v, namer, None) for v in values]
    return _unparse(gast.Tuple(elts=nodes, ctx=gast.Load()) if isinstance(values, tuple) else nodes[0])


def _unparse(node) -> str:
    if isinstance(node, str):  # a statement head such as `if c:`, whose body follows
        return node
    return ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(node)))


def _seed_literal(dtype: str) -> str:
    return "1.0" if dtype == "float64" else f"np.{dtype}(1.0)"


def _vectorisable(op: Loop) -> bool:
    """Whether LLVM may vectorise loop `op`: an innermost `for` whose carried numbers are the same
    in every iteration (a float sum is a recurrence it keeps in order; arrays and integers are not)."""
    carried = op.carried_args(op.body)
    return isinstance(op, For) and not any(isinstance(inner, Loop) for inner in walk(op.body.ops)) and \
        all(a.type.ndim or not a.type.is_float or following is a
            for a, following in zip(carried, op.body.terminator.values))


def _expression(op: Op, name: Namer, nested: dict, vector: bool = False):
    """`op`'s template filled with its operands (an operand in `nested` as its own expression); with
    `vector` (see `_op_template`), its `kernel_template` where it has one."""
    template = _op_template(op, vector)
    operands = [nested.pop(id(a)) if id(a) in nested else _operand(a, name, _literal_dtype(op)) for a in op.args]
    return _filled(template, operands)


def _literal_dtype(op: Op) -> str | None:
    """The dtype of `op`'s Python-number operands: Numba promotes float32 with a Python number to
    float64, where NumPy (NEP 50) makes the number float32; so in arithmetic and comparisons a
    number meeting float32 is written float32 (`x > np.float32(0.1)`: in float64, float32(0.1) >
    0.1 would be True). Elsewhere (an index, a dimension) numbers stay as they are (None)."""
    if not (op.prim.broadcasts or op.prim.ufunc):
        return None
    if op.result.type.dtype != "bool":
        return op.result.type.dtype
    operands = {a.type.dtype for a in op.args if isinstance(a, Value) and not a.type.weak}
    return "float32" if operands == {"float32"} else None


def _op_template(op: Op, vector: bool):
    """`op`'s template: with `vector` (in a kernel, where LLVM may vectorise it: `_Emitter.vector`),
    of float operands and with vector math on, its `kernel_template` where it has one."""
    types = tuple(a.type for a in op.args)
    if vector and op.prim.kernel_template and vector_math() and all(t.dtype in ("float32", "float64") for t in types):
        return _template(op.prim.kernel_template)
    return _template(op.prim.python(types, op.param_dict))


def _operand(operand, name: Namer, dtype):
    """A gast expression for `operand`; a literal in a float32 op is written `np.float32(c)`, since
    Numba would otherwise promote the op to float64."""
    if isinstance(operand, Value):
        if dtype == "float32" and operand.type.weak:
            return _template(f"np.float32({name(operand)})")
        return gast.Name(id=name(operand), ctx=gast.Load(), annotation=None, type_comment=None)
    value = operand.value
    if isinstance(value, float) and not math.isfinite(value):
        text = "np.nan" if math.isnan(value) else "np.inf" if value > 0 else "-np.inf"
    else:
        text = repr(value)
    if dtype == "float32" and not isinstance(value, bool):
        text = f"np.float32({text})"
    elif value < 0:
        text = f"({text})"  # a negative literal is an operand, never a negation of what follows
    return _template(text)


@functools.lru_cache(maxsize=None)
def _template(text: str):
    return gast.parse(text).body[0].value


@functools.lru_cache(maxsize=None)
def _statement_template(text: str):
    return gast.parse(text).body[0]


def _filled(template, operands):
    """A copy of `template` (cached: never changed) with `_0`, `_1`, ... replaced by `operands`."""
    return _Substitute(operands).visit(copy.deepcopy(template))


class _Substitute(gast.NodeTransformer):
    """Replace the placeholders `_0`, `_1`, ... of a template by operand expressions."""

    def __init__(self, operands):
        self.operands = operands

    def visit_Name(self, node):
        if node.id.startswith("_") and node.id[1:].isdigit():
            return self.operands[int(node.id[1:])]
        return node


