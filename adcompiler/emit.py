"""Emission: a forward/backward pair becomes the source of a Python module.

Each op becomes one assignment built as a gast statement from its primitive's template and printed
with the standard library's `ast.unparse` (astunparse 1.6.3 prints `y[1:3, None]` as the invalid
`y[(1:3, None)]` on Python 3.11). Every line ends with the user's `file:line` it comes from. The
module defines `<name>_forward`, `<name>_backward` and `<name>_value_and_grad`, each decorated with
`@jit`, a name the loader provides: numba.njit(cache=True), or the identity for plain Python.
"""
from __future__ import annotations

import ast
import copy
import functools

import gast

from .ir import Function, Namer, Op, Value
from .reverse import Adjoint

INDENT = "    "


def emit_python(adjoint: Adjoint, name: str, header: str) -> str:
    """Module source for `adjoint`; its functions are named after `name`. The two passes share one
    namer, so a residual has the same name in the backward as in the forward."""
    forward, backward = adjoint.forward, adjoint.backward
    namer = Namer()
    forward_source = _function_source(f"{name}_forward", forward, namer)
    for source, param in adjoint.residuals:
        namer.alias(param, source)
    backward_source = _function_source(f"{name}_backward", backward, namer)
    glue = _value_and_grad_source(name, forward, backward, Namer())
    imports = "import numpy as np\n\nfrom adcompiler import runtime as rt"
    return "\n\n\n".join([header.rstrip("\n") + "\n\n" + imports, forward_source, backward_source, glue]) + "\n"


def _function_source(py_name: str, fn: Function, name: Namer) -> str:
    params = ", ".join(name(p) for p in fn.params)
    lines = ["@jit", f"def {py_name}({params}):"]
    statements = [(_assignment(op, name), op.loc) for op in fn.entry.ops]
    values = [_operand(v, name, None) for v in fn.entry.terminator.values]
    statements.append((gast.Return(value=gast.Tuple(elts=values, ctx=gast.Load())),
                       fn.entry.terminator.loc))
    for statement, loc in statements:
        code = ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(statement)))
        lines.append(f"{INDENT}{code:<44} # {loc.short}")
    return "\n".join(lines)


def _value_and_grad_source(name: str, forward: Function, backward: Function, namer: Namer) -> str:
    params = ", ".join(namer(p) for p in forward.params)
    results = [namer(v) if isinstance(v, Value) else "_" for v in forward.entry.terminator.values]
    out, residuals = results[0], results[1:]
    seed = _seed_literal(backward.params[-1].type.dtype)
    return "\n".join([
        "@jit",
        f"def {name}_value_and_grad({params}):",
        f"{INDENT}{', '.join(results)}{',' if len(results) == 1 else ''} = {name}_forward({params})",
        f"{INDENT}return {out}, {name}_backward({''.join(r + ', ' for r in residuals)}{seed})",
    ])


def _seed_literal(dtype: str) -> str:
    return "1.0" if dtype == "float64" else f"np.{dtype}(1.0)"


def _assignment(op: Op, name: Namer):
    target = gast.Name(id=name(op.result), ctx=gast.Store(), annotation=None, type_comment=None)
    template = _template(op.prim.python(tuple(a.type for a in op.args), op.param_dict))
    operands = [_operand(a, name, op.result.type.dtype) for a in op.args]
    return gast.Assign(targets=[target], value=_Substitute(operands).visit(copy.deepcopy(template)),
                       type_comment=None)


def _operand(operand, name: Namer, dtype):
    """A gast expression for `operand`; a literal in a float32 op is written `np.float32(c)`, since
    Numba would otherwise promote the op to float64."""
    if isinstance(operand, Value):
        return gast.Name(id=name(operand), ctx=gast.Load(), annotation=None, type_comment=None)
    literal = gast.Constant(value=operand.value, kind=None)
    if dtype == "float32" and not isinstance(operand.value, bool):
        return gast.parse(f"np.float32({operand.value!r})").body[0].value
    return literal


@functools.lru_cache(maxsize=None)
def _template(text: str):
    return gast.parse(text).body[0].value


class _Substitute(gast.NodeTransformer):
    """Replace the placeholders `_0`, `_1`, ... of a template by operand expressions."""

    def __init__(self, operands):
        self.operands = operands

    def visit_Name(self, node):
        if node.id.startswith("_") and node.id[1:].isdigit():
            return self.operands[int(node.id[1:])]
        return node


