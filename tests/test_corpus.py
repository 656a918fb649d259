"""The realistic programs of tests/corpus.py: each compiles, gives the plain function's value, and
has the gradient of central finite differences in float64 (every leaf of every `wrt` argument, trees
of arrays included), with `jit=False` and with `jit=True`.

`REFUSED` names the programs that are refused today, each with a fragment of its message: such a
program must be refused (a CompileError; a TypeError for arguments that are not arrays) with that
message (so a program that starts compiling, or one refused for
another reason, fails here and the list is brought up to date).
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompiler
from corpus import PROGRAMS
from fd import STEP

REFUSED: dict = {  # name -> the start of the refusal message
}

SEED = 20261202


def _leaves(tree, path=()):
    """(path, leaf) of every number or array in a tree of dicts, lists, tuples and namedtuples."""
    if isinstance(tree, dict):
        return [item for key in tree for item in _leaves(tree[key], path + (key,))]
    if isinstance(tree, (list, tuple)):
        return [item for k, value in enumerate(tree) for item in _leaves(value, path + (k,))]
    return [(path, tree)]


def _replaced(tree, path, leaf):
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        return {**tree, head: _replaced(tree[head], rest, leaf)}
    items = [_replaced(v, rest, leaf) if k == head else v for k, v in enumerate(tree)]
    return type(tree)(*items) if hasattr(tree, "_fields") else type(tree)(items)


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _fd_gradient(fn, args, k, path):
    """The gradient of fn w.r.t. the leaf at `path` of argument k, one coordinate at a time: central
    differences with steps h and h/2 combined by Richardson extrapolation (error O(h^4); some of these
    programs, rollouts of 15 to 100 steps, have third derivatives that a plain central difference with
    h = 1e-3 misses at 1e-6)."""
    leaf = _get(args[k], path)
    base = np.asarray(leaf, dtype=np.float64)
    grad = np.zeros_like(base)

    def at(index, offset):
        moved = base.copy()
        moved[index] += offset
        moved_leaf = float(moved) if np.ndim(leaf) == 0 and not isinstance(leaf, np.ndarray) else moved
        moved_args = list(args)
        moved_args[k] = _replaced(args[k], path, moved_leaf)
        return float(fn(*moved_args))

    for index in np.ndindex(base.shape):
        coarse, fine = ((at(index, h) - at(index, -h)) / (2 * h) for h in (STEP, STEP / 2))
        grad[index] = (4 * fine - coarse) / 3
    return grad


@pytest.fixture(scope="module", params=[False, True], ids=["nojit", "jit"])
def jit(request):
    return request.param


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_program(program, jit):
    args = program.make_args(np.random.default_rng([SEED, len(program.name)]))
    if program.name in REFUSED:
        with pytest.raises((adcompiler.CompileError, TypeError, ValueError)) as refusal:
            adcompiler.value_and_grad(program.fn, wrt=program.wrt, jit=jit)(*args)
        assert REFUSED[program.name] in str(refusal.value)
        return
    expected = program.fn(*args)
    value, grads = adcompiler.value_and_grad(program.fn, wrt=program.wrt, jit=jit)(*args)
    assert value == pytest.approx(expected, rel=1e-10, abs=1e-12)
    for k, grad in zip(program.wrt, grads):
        for path, leaf in _leaves(args[k]):
            got = np.asarray(_get(grad, path), dtype=np.float64)
            want = _fd_gradient(program.fn, args, k, path)
            assert got.shape == np.shape(leaf), f"argument {k}{list(path)}: gradient shape"
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7 * max(1.0, np.max(np.abs(want))),
                                       err_msg=f"{program.name}: gradient of argument {k}{list(path)}")


COMPILED_FLOOR = 55  # of 55 (13 when the corpus was written); the issues' goal is 47 of 50


def test_count():
    """How many programs compile (and are exact in both modes, by the test above): never fewer."""
    assert len(PROGRAMS) - len(REFUSED) >= COMPILED_FLOOR
