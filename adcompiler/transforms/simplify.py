"""Simplification of a forward/backward pair: common subexpressions, dead code, unused residuals,
element adjoints zeroed and added back.

After `simplify`: no two ops of a pass compute the same primitive on the same operands; a backward
op that repeats a forward op reads the forward's result instead (a rule's `cos(x)` reuses a `cos(x)`
the user computed); every op's result is used; every residual is read by the backward; no
elementwise op reads a gradient spread by `broadcast_like` where its other operands stretch the
spread one to the same shape anyway (a scalar seed times an array stays a scalar multiply), no
`broadcast_like` spreads an array that is one scalar spread already, and no `if` has a literal
condition (its branch is inline: a Jacobian's choice by sizes that the shapes fix).
"""
from __future__ import annotations

from ..ir.core import (Adjoint, Block, Const, Function, If, Op, Return, Structured, Value, live, read_counts,
                       read_in, results_of)
from ..rules.primitive import BUFFER
from ..rules.indexing import getitem, index_accumulate, setitem
from ..rules.shapes import broadcast_like, expand_dims


def simplify(program):
    """Common-subexpression and dead-code elimination: of a Function, or of both passes of an
    Adjoint, followed by residual pruning."""
    if isinstance(program, Function):
        ops, rename = _deduplicate(_unspread(program.entry.ops, {}), known={}, translate={})
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
    restored_ops, restored = _restored(backward)
    backward_ops, rename = _deduplicate(_unspread(restored_ops, {}), known, stands_for)
    rename.update((dropped, rename.get(id(value), value)) for dropped, value in restored.items())
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
        if isinstance(op, If) and isinstance(op.args[0], Const):  # a literal condition: its branch, inline
            block = op.blocks[0 if op.args[0].value else 1]
            inner, inner_rename = _deduplicate(block.ops, seen, translate)
            rename.update(inner_rename)
            kept += inner
            rename.update((id(result), value) for result, value in
                          zip(op.results, _renamed_values(block.terminator.values, rename)))
            continue
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


def _unspread(ops, producers: dict) -> list:
    """`ops` with the spreads `broadcast_like(g, like)` that need not be made bypassed (dead code
    elimination then drops them): an elementwise op reads `g` itself where that gives the same
    result (`_covered`), and a spread of a spread scalar (through `expand_dims`) spreads the scalar.
    `producers`: {id(result): op} of the ops before, in this block and the blocks around it."""
    kept = []
    for op in ops:
        if isinstance(op, Structured):
            blocks = tuple(Block(b.args, _unspread(b.ops, dict(producers)), b.terminator) for b in op.blocks)
            kept.append(op.rebuilt(op.args, blocks, op.results))
            continue
        if op.prim is broadcast_like:
            scalar = _spread_scalar(op.args[0], producers)
            if scalar is not None and scalar is not op.args[0]:
                op = Op(op.prim, (scalar, op.args[1]), op.result, op.loc, op.params)
        elif op.prim.broadcasts is True:
            args = list(op.args)
            for position, arg in enumerate(args):
                spread = producers.get(id(arg)) if isinstance(arg, Value) else None
                others = args[:position] + args[position + 1:]
                if spread is not None and spread.prim is broadcast_like and \
                        _covered(spread.args[0], spread.args[1].type, others) and \
                        _same_dtype_however_weak(spread.args[0], others, op.result.type.dtype):
                    candidate = args[:position] + [spread.args[0]] + args[position + 1:]
                    if op.prim.infer_type(tuple(candidate), **op.param_dict) == op.result.type:
                        args = candidate
            if args != list(op.args):
                op = Op(op.prim, tuple(args), op.result, op.loc, op.params)
        producers[id(op.result)] = op
        kept.append(op)
    return kept


def _restored(backward: Function) -> tuple:
    """The backward's ops without the write-backs that restore an element: the adjoint of
    `x[i] = x[i] + v` reads `d = g[i]`, zeroes it (`g1 = setitem(g, 0.0, i)`) and adds `d` back at
    the same index (`g2 = index_accumulate(g1, d, i)`); where nothing else reads `g1`, `g2` is `g`
    (exactly: 0.0 + d is d, a zero's sign aside) and both updates go. Returns (ops, {id(dropped
    result): the value that holds it})."""
    reads = read_counts(backward.entry)

    def element(array, op, items):  # what names one element: the array, the index and its operands
        return (id(array), op.params, tuple(a.value if isinstance(a, Const) else id(a) for a in items))

    def visit(ops, rename):
        read_at, zeroed, kept = {}, {}, []  # id(a number read) -> its element; id(an array zeroed) -> the setitem
        for op in ops:
            op = _renamed(op, rename)
            if isinstance(op, Structured):
                blocks = tuple(Block(b.args, visit(b.ops, rename), _terminated(b.terminator, rename)) for b in op.blocks)
                kept.append(op.rebuilt(op.args, blocks, op.results))
                continue
            if op.prim is getitem and op.result.type.ndim == 0:
                read_at[id(op.result)] = element(op.args[0], op, op.args[1:])
            elif op.prim is setitem and isinstance(op.args[1], Const) and op.args[1].value == 0 and \
                    reads.get(id(op.result)) == 1:
                zeroed[id(op.result)] = op
            elif op.prim is index_accumulate and id(op.args[0]) in zeroed:
                zero = zeroed[id(op.args[0])]
                at = element(zero.args[0], zero, zero.args[2:])
                if read_at.get(id(op.args[1])) == at == element(zero.args[0], op, op.args[2:]):
                    del zeroed[id(op.args[0])]
                    kept.remove(zero)
                    rename[id(op.result)] = zero.args[0]
                    continue
            kept.append(op)
        return kept

    rename = {}
    ops = visit(backward.entry.ops, rename)
    return ops, rename


def _spread_scalar(value, producers: dict):
    """The 0-d value that `value` holds at every position (a `broadcast_like` of it, with axes
    added by `expand_dims`), or None."""
    if not isinstance(value, Value):
        return None
    if value.type.ndim == 0:
        return value
    op = producers.get(id(value))
    if op is not None and (op.prim is broadcast_like or op.prim is expand_dims):
        return _spread_scalar(op.args[0], producers)
    return None


def _same_dtype_however_weak(spread, others, dtype: str) -> bool:
    """Whether `spread`, read in place of its spread array, gives the result `dtype` whether or not
    NumPy takes it for a weak Python number (generated code holds a float64 seed as `1.0`, and
    NumPy makes `1.0 * x32` float32): an array does, a scalar where every other operand has it."""
    return not (isinstance(spread, Const) or spread.type.ndim == 0) or \
        all(o.type.dtype == dtype for o in others if isinstance(o, Value))


def _covered(spread, like, others) -> bool:
    """Whether broadcasting `others` with the operand `spread` gives the shape that broadcasting
    them with its spread to `like`'s shape gives: each axis of `like` (aligned from the last) is
    of length 1, or `spread` has it and not of length 1 (so as long), or another operand has it
    and not of length 1 (then it gives that length either way). The caller also checks the rank."""
    spread_units = spread.type.units if isinstance(spread, Value) else ()
    for axis in range(1, like.ndim + 1):
        if like.units[-axis] is True:
            continue
        if axis <= len(spread_units) and spread_units[-axis] is False:
            continue
        if not any(isinstance(o, Value) and axis <= o.type.ndim and o.type.units[-axis] is False for o in others):
            return False
    return True
