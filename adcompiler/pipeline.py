"""The recipe: parse → fence → lower → reverse → simplify → emit → compile, verifying the IR
after every pass that makes IR."""
from __future__ import annotations

from typing import Callable
from dataclasses import dataclass
import numpy as np

from . import __version__, trees
from .backend.compile import PACKAGE_DIGEST, compile_module, module_path, numba_version
from .backend.emit import emit_python, names_for
from .backend.placement import describe as describe_placement
from .frontend.canonical import canonicalise
from .frontend.fence import fence
from .errors import CompileError
from .ir.core import Adjoint, Fixed, Function, Namer, Type, print_function, verify
from .frontend.transforms_seen import Transforms
from .frontend.inlining import LiftedFunction
from .frontend.lower import lower
from .frontend.parse import ParsedFunction, compose, parse
from .transforms.batch import batch
from .transforms.checkpoint import budgeted, recomputed_body
from .transforms.forward import forward
from .transforms.reverse import reverse
from .transforms.scalarise import scalarise
from .transforms.jacobian import chosen_jacobian, forward_jacobian, jacobian
from .transforms.shapes import data_shaped
from .transforms.simplify import simplify


@dataclass(frozen=True)
class Build:
    """Everything compiled for one function, argument types and `wrt`."""

    primal: Function
    program: Function | Adjoint  # a Function for "jit", "vmap", "jvp" and the Jacobians, the adjoint otherwise
    source: str
    stem: str
    names: Namer  # of the values of `primal` and `program`, in `describe` and in `source` alike
    mode: str = "auto"  # placement's (backend/placement.py)
    memory: int | None = None  # the budget of each loop's tape and snapshots (transforms/checkpoint.py)
    plain: Function | None = None  # what the module runs without kernels instead of `program` (a vmap's batch)

    @property
    def path(self):
        return module_path(self.source, self.stem)

    def describe(self) -> str:
        """The SSA of the function, the forward and backward IR, and the generated Python, where a
        value has one name throughout (a residual its forward name)."""
        if isinstance(self.program, Function):
            passes = ["# after simplification", print_function(self.program, self.names)]
            if self.plain is not None:
                passes[0] = "# after simplification: a loop over the items' numbers, compiled (transforms/scalarise.py)"
                passes += ["# the same batched as NumPy code, which runs without kernels (jit=False, or while they compile)",
                           print_function(self.plain, self.names)]
        else:
            passes = ["# forward and backward IR", print_function(self.program.forward, self.names),
                      print_function(self.program.backward, self.names)]
            if self.program.plans:
                budget = f" (memory={self.memory} bytes per loop)" if self.memory is not None else ""
                passes.append(f"# what each backward loop and `if` reads of the forward{budget}\n" +
                              "\n".join(plan.describe(self.names) for plan in self.program.plans))
        functions = [self.program] if isinstance(self.program, Function) else [self.program.forward,
                                                                                self.program.backward]
        placement = "\n".join(describe_placement(fn, self.mode) for fn in functions)
        return "\n\n".join(["# SSA", print_function(self.primal, self.names), *passes,
                             "# where each part runs with jit=True (jit=False: all of it as plain Python and NumPy)\n"
                             + placement, f"# generated Python ({self.path})", self.source])


def check(function: Callable) -> ParsedFunction:
    """Parse and fence: what can be refused without argument types is refused here (a function
    defined inside compiled code was, with the function it was defined in)."""
    if isinstance(function, LiftedFunction):
        return function.parsed
    return canonicalise(fence(parse(function)))


def check_call(callee: Callable, names: list, name: str, title: str, where: ParsedFunction,
               pick: int | None = None) -> ParsedFunction:
    """`check` of a function that only returns `callee(*names)` (its item `pick` when given; see
    `parse.compose`)."""
    return canonicalise(fence(compose(callee, names, name, title, where, pick)))


def build(parsed: ParsedFunction, arg_types: list, wrt: tuple, kind: str, transforms: Transforms,
          mode: str = "auto", memory: int | None = None) -> Build:
    """Lower `parsed` for `arg_types` (each a Type, a `Fixed` integer, or a `trees.Node` of Types for
    a tree argument; calls of `transforms` in it spliced) and, unless `kind` is "jit", differentiate
    it with respect to the parameters `wrt` (every leaf of a tree; "jvp": forward mode, whose
    program is one Function of the values and tangents); emit the result, placed by `mode`
    (backend/placement.py). "grad" and "value_and_grad" need one float scalar output. "vmap" batches
    the parameters `wrt` (transforms/batch.py): their `arg_types` have the batch axis first, which the
    lowered function does not see. "jacrev" makes one Function of the forward and the backward batched
    over the basis of cotangents, "jacfwd" one Function of the forward mode's values and tangents batched
    over the basis of tangents, "jacobian" one Function choosing between the two by the sizes at run
    time (transforms/jacobian.py). `memory`
    (bytes) checkpoints the top-level loops whose tapes it bounds (transforms/checkpoint.py)."""
    constants = {i: a.value for i, a in enumerate(arg_types) if isinstance(a, Fixed)}
    arg_types = [a.type if isinstance(a, Fixed) else a for a in arg_types]
    leaf_types = [t for structure in arg_types for t in trees.leaves_of(structure)]
    if kind == "vmap":
        arg_types = [trees.map_leaves(t, lambda leaf, path: item_type(leaf)) if i in wrt else t
                     for i, t in enumerate(arg_types)]
    primal = verify(lower(parsed, arg_types, transforms, constants))
    plain = None
    if kind == "jit":
        program, purpose = verify(simplify(primal)), "compiled as it is"
    elif kind == "vmap":
        leaves = leaf_positions(arg_types, wrt)
        simplified = verify(simplify(primal))
        looped = scalarise(simplified, leaves) if mode == "auto" else None
        unshaped = [trees.map_leaves(t, lambda leaf, path: leaf.with_lengths((None,) * leaf.ndim)) for t in arg_types]
        if unshaped != arg_types:  # batched as without the items' shapes (api.py keys them only for `scalarise`)
            relowered = verify(lower(parsed, unshaped, transforms, constants))
            simplified = verify(simplify(relowered))
            if looped is None:
                primal = relowered
        try:
            program = verify(simplify(verify(batch(simplified, leaves))))
        except CompileError:
            if looped is None:
                raise
            program = None  # what batching refuses (`@` of 4-D stacks), the loop over the items does
        if looped is not None:
            program, plain = verify(simplify(verify(looped))), program
        purpose = "batched over axis 0 of " + ", ".join(primal.params[i].hint for i in leaves)
    elif kind == "jacobian":
        check_output(primal, kind, parsed.described)
        check_shape_known(primal, parsed.described)
        leaves = leaf_positions(arg_types, wrt)
        simplified = verify(simplify(primal))
        by_forward = verify(forward_jacobian(verify(simplify(verify(forward(simplified, leaves)))), leaves, parsed.name))
        by_reverse = verify(jacobian(verify_adjoint(simplify(verify_adjoint(reverse(simplified, leaves)))), parsed.name))
        program = verify(simplify(verify(chosen_jacobian(simplified, by_forward, by_reverse, leaves, parsed.name))))
        purpose = "Jacobian (forward mode for a tall one, else reverse mode) with respect to " + \
            ", ".join(primal.params[i].hint for i in leaves)
    elif kind in ("jvp", "jacfwd"):
        check_output(primal, kind, parsed.described)
        leaves = leaf_positions(arg_types, wrt)
        program = verify(simplify(verify(forward(verify(simplify(primal)), leaves))))
        differentiated = ", ".join(primal.params[i].hint for i in leaves)
        purpose = "values and tangents (forward mode) with respect to " + differentiated
        if kind == "jacfwd":
            check_shape_known(primal, parsed.described)
            program = verify(simplify(verify(forward_jacobian(program, leaves, parsed.name))))
            purpose = "Jacobian (forward mode over a batch of tangents) with respect to " + differentiated
    else:
        check_output(primal, kind, parsed.described)
        leaves = leaf_positions(arg_types, wrt)
        simplified = verify(simplify(primal))
        if memory is not None:
            simplified = verify(budgeted(simplified, memory, reverse(simplified, leaves, recomputed_body).plans))
        program = verify_adjoint(simplify(verify_adjoint(reverse(simplified, leaves, recomputed_body))))
        purpose = "gradient with respect to " + ", ".join(primal.params[i].hint for i in leaves)
        if kind == "jacrev":
            check_shape_known(primal, parsed.described)
            program = verify(simplify(verify(jacobian(program, parsed.name))))
            purpose = "Jacobian (one backward pass over a batch of cotangents) with respect to " + \
                ", ".join(primal.params[i].hint for i in leaves)
    stem = "__".join([parsed.name, kind, *(t.tag for t in leaf_types), *([f"memory{memory}"] if memory else [])])
    signature = ", ".join(f"{p.hint}: {p.type}" for p in primal.params)
    header = (f"# Generated by adcompiler {__version__} ({PACKAGE_DIGEST}) from {parsed.file}:{parsed.line_offset + 1},\n"
              f"# function {parsed.name}({signature}), {purpose}.\n"
              f"{_tree_comment(parsed, arg_types)}"
              f"# NumPy {np.__version__}, Numba {numba_version()}. Do not edit: regenerated on change.\n"
              f"# Plain Python runs the NumPy statements; each `@jit` function is a Numba kernel (numba.njit(cache=True)),\n"
              f"# whose runtime helpers `krt` are compiled and cached once for all functions (`rt`: the plain helpers of\n"
              f"# adcompiler.backend.runtime). With jit=False, `jit` is the identity and `krt` is `rt`.\n")
    names = names_for(primal, program, *([plain] if plain is not None else []))
    return Build(primal, program, emit_python(program, parsed.name, header, names, mode, plain), stem, names, mode, memory,
                 plain)


def item_type(t: Type) -> Type:
    """The type of one item of a batch of type `t` (its first axis dropped)."""
    if t.ndim == 0 or t.listed:
        raise CompileError(f"a batched argument needs an axis to batch over, but it is {t.describe()}", None,
                           "pass arrays whose first axis is the batch, or in_axes=None for this argument")
    return Type(t.dtype, t.ndim - 1, False, t.units[1:], lengths=t.lengths[1:])


def leaf_positions(arg_types: list, positions: tuple) -> tuple:
    """The positions among the generated code's (flat) parameters of the leaves of the arguments at
    `positions`."""
    starts, count = [], 0
    for structure in arg_types:
        starts.append(count)
        count += len(trees.leaves_of(structure))
    return tuple(starts[i] + k for i in positions for k in range(len(trees.leaves_of(arg_types[i]))))


def _tree_comment(parsed: ParsedFunction, arg_types: list) -> str:
    """The header lines that say which parameters hold the leaves of tree arguments."""
    names = [a.id for a in parsed.tree.args.posonlyargs + parsed.tree.args.args]
    lines = [f"# {name} is a tree {trees.describe(structure)}, passed as its leaves "
             + ", ".join(trees.leaves_of(trees.map_leaves(structure, lambda t, path: f"{trees.path_name(name, path)} = "
                                                                                   f"{trees.path_text(name, path)}")))
             for name, structure in zip(names, arg_types) if isinstance(structure, trees.Node)]
    return "".join(line + ".\n" for line in lines)


def check_output(primal: Function, kind: str, name: str) -> None:
    """What `kind` differentiates: one float output, a scalar unless `kind` is "vjp" or a Jacobian's;
    "jvp" any float outputs (each gets a tangent)."""
    values = primal.entry.terminator.values
    loc = primal.entry.terminator.loc
    if kind == "jvp":
        for value in values:
            if not value.type.is_float or value.type.listed:
                raise CompileError(f"{name} returns {value.type.describe()}, which has no tangent", loc,
                                   "return only float values (compute integer results outside the jvp)")
        return
    if primal.structure is not None:
        what = "a tuple" if primal.structure.kind is tuple else f"a {primal.structure.kind.__name__}"
        raise CompileError(f"{name} returns {what} of {len(primal.structure.children)} values", loc,
                           "return a single value (the loss) to differentiate")
    out = values[0].type
    if not out.is_float:
        raise CompileError(f"{name} returns {out.dtype}, which has no gradient", loc,
                           "return a float value")
    if kind not in ("vjp", "jacrev", "jacfwd", "jacobian") and out.ndim:
        raise CompileError(f"{kind} needs a scalar output, but {name} returns a {out.ndim}-D array", loc,
                           "reduce it (np.sum, np.mean) or use adcompiler.vjp for array outputs")


def check_shape_known(primal: Function, name: str) -> None:
    """A Jacobian's output shape must not depend on data (transforms/shapes.py)."""
    cause = data_shaped(primal)
    if cause is not None:
        raise CompileError(f"the shape of what {name} returns depends on the values of its arguments here, so its "
                           f"Jacobian has no shape fixed by the argument types", cause.loc,
                           "return an array whose shape follows from the arguments' shapes (np.where instead of "
                           "a boolean mask, say)")


def verify_adjoint(adjoint: Adjoint) -> Adjoint:
    verify(adjoint.forward)
    verify(adjoint.backward)
    return adjoint


def load(built: Build, jit: bool):
    """The module of `built` (`<name>_forward`, `<name>_backward`, `<name>_value_and_grad` and the
    kernels they call), its kernels compiled by Numba now when `jit`."""
    return compile_module(built.source, built.stem, jit)
