"""Simplification of a forward/backward pair: common subexpressions, dead code, unused residuals.

After `simplify`: no two ops of a pass compute the same primitive on the same operands; a backward
op that repeats a forward op reads the forward's result instead (a rule's `cos(x)` reuses a `cos(x)`
the user computed); every op's result is used; every residual is read by the backward.
"""
from __future__ import annotations

from ..ir.core import Adjoint, Block, Const, Function, Op, Return, Structured, Value, live, read_in, results_of
from ..rules.primitive import BUFFER


def simplify(program):
    """Common-subexpression and dead-code elimination: of a Function, or of both passes of an
    Adjoint, followed by residual pruning."""
    if isinstance(program, Function):
        ops, rename = _deduplicate(program.entry.ops, known={}, translate={})
        values = _renamed_values(program.entry.terminator.values, rename)
        return Function(program.name, [Block(program.params, live(ops, values),
                                             Return(values, program.entry.terminator.loc))],
                        program.loc, program.captured, program.assumptions, program.structure)
    adjoint = program
    forward, backward = adjoint.forward, adjoint.backward
    forward_ops, rename = _deduplicate(forward.entry.ops, known={}, translate={})
    # An identity op's result is its operand at run time (emission gives both one name): a residual
    # is passed as the operand it stands for, so two residuals never share a name.
    identities = _identities(forward_ops, rename)
    rename = {dropped: identities.get(id(value), value) for dropped, value in rename.items()}
    rename.update(identities)
    forward_values = _renamed_values(forward.entry.terminator.values, rename)
    out, sources = forward_values[0], forward_values[1:]
    residuals = list(zip(sources, backward.params[:-1]))

    known = {_key(op, {}): op.result for op in forward_ops if not isinstance(op, Structured)}
    stands_for = {id(param): source for source, param in residuals}
    backward_ops, rename = _deduplicate(backward.entry.ops, known, stands_for)
    forward_defined = {id(v) for v in forward.params} | {id(r) for op in forward_ops for r in results_of(op)}
    param_of, duplicates, unique = {}, {}, []
    for source, param in residuals:  # forward CSE can make two residuals one value
        if id(source) in param_of:
            duplicates[id(param)] = param_of[id(source)]
        else:
            param_of[id(source)] = param
            unique.append((source, param))
    residuals = unique
    for value in list(rename.values()):
        if id(value) in forward_defined and id(value) not in param_of:
            # The forward computed it: the backward reads it as a residual.
            param_of[id(value)] = value.renewed()
            residuals.append((value, param_of[id(value)]))
    rename = {dropped: param_of.get(id(value), value) for dropped, value in rename.items()}
    rename.update((id(source), param_of[id(source)]) for source, _ in residuals)
    rename.update(duplicates)
    backward_ops = [_renamed(op, rename) for op in backward_ops]
    grads = _renamed_values(backward.entry.terminator.values, rename)
    backward_ops = live(backward_ops, grads)

    read = {id(v) for v in read_in(Block([], backward_ops, Return(grads, None)))}
    residuals = [(source, param) for source, param in residuals if id(param) in read]
    forward_values = (out,) + tuple(source for source, _ in residuals)
    forward = Function(forward.name, [Block(
        forward.params, live(forward_ops, forward_values),
        Return(forward_values, forward.entry.terminator.loc))], forward.loc, forward.captured)
    backward = Function(backward.name, [Block(
        [param for _, param in residuals] + [backward.params[-1]], backward_ops,
        Return(grads, backward.entry.terminator.loc))], backward.loc)
    return Adjoint(forward, backward, adjoint.wrt, adjoint.plans)


def _identities(ops, rename: dict) -> dict:
    """{id(result): operand} for the identity ops (template `_0`) of `ops`, chains followed."""
    identity: dict[int, object] = {}
    for op in ops:
        if not isinstance(op, Structured) and op.prim.identity:
            operand = op.args[0]
            identity[id(op.result)] = identity.get(id(operand), rename.get(id(operand), operand))
    return identity


def _key(op: Op, translate: dict):
    """What `op` computes: primitive, operands (through `translate`) and params."""
    args = tuple(a if isinstance(a, Const) else id(translate.get(id(a), a)) for a in op.args)
    return (op.prim, args, op.params)


def _deduplicate(ops, known: dict, translate: dict):
    """`ops` without repeats, and the renaming {dropped result id: value that holds it}. An op
    whose key is in `known` is dropped too, renamed to the known value."""
    seen = dict(known)
    rename: dict[int, Value] = {}
    kept = []
    for op in ops:
        op = _renamed(op, rename)
        if isinstance(op, Structured):  # values made inside a block are not seen outside it
            blocks = []
            for block in op.blocks:
                inner, inner_rename = _deduplicate(block.ops, seen, translate)
                rename.update(inner_rename)
                blocks.append(Block(block.args, inner, _terminated(block.terminator, rename)))
            kept.append(op.rebuilt(op.args, tuple(blocks), op.results))
            continue
        key = _key(op, translate)
        if op.prim.memory_of(op.param_dict) is BUFFER:  # each buffer is filled on its own (or a random draw)
            kept.append(op)
            continue
        if key in seen:
            rename[id(op.result)] = seen[key]
            continue
        seen[key] = op.result
        kept.append(op)
    return kept, rename


def _renamed(op, rename: dict):
    if isinstance(op, Structured):
        blocks = tuple(Block(b.args, [_renamed(o, rename) for o in b.ops], _terminated(b.terminator, rename))
                       for b in op.blocks)
        return op.rebuilt(_renamed_values(op.args, rename), blocks, op.results)
    if not any(isinstance(a, Value) and id(a) in rename for a in op.args):
        return op
    return Op(op.prim, _renamed_values(op.args, rename), op.result, op.loc, op.params)


def _terminated(terminator, rename: dict):
    return type(terminator)(_renamed_values(terminator.values, rename), terminator.loc)


def _renamed_values(values, rename: dict) -> tuple:
    return tuple(rename.get(id(v), v) if isinstance(v, Value) else v for v in values)
