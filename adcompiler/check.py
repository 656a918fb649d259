"""`check_grad`: compare adcompiler's gradient with central finite differences in float64."""
from __future__ import annotations

import inspect

import numpy as np

from . import trees
from .api import _positions, value_and_grad


class GradientMismatch(AssertionError):
    """The compiled gradient and finite differences disagree; the message says where and by how much."""


def check_grad(function, *args, wrt=0, mode="direction", eps=1e-6, rtol=1e-6, atol=1e-8,
               directions=3, jit=True, seed=0) -> float:
    """Check the gradient of scalar `function` at `args` against central finite differences of the
    original function in float64. `mode="direction"` compares <grad, v> with the directional
    derivative along `directions` random directions v (cheap for many parameters);
    `mode="element"` compares every element. A parameter tree is checked leaf by leaf. Returns the
    worst relative error; raises GradientMismatch naming the parameter (the leaf of a tree:
    `params['W1']`), the element and both values when they disagree."""
    names = list(inspect.signature(function).parameters)
    positions, single = _positions(wrt, names, function.__name__)
    _, grads = value_and_grad(function, wrt=positions, jit=jit)(*args)
    grads = [grads] if single else list(grads)
    point = [trees.tree_map(_float64, a) if i in positions else a for i, a in enumerate(args)]

    worst = 0.0
    rng = np.random.default_rng(seed)
    for position, gradient in zip(positions, grads):
        paths = trees.flatten(point[position], lambda leaf, path: path)
        leaves = trees.tree_leaves(point[position])
        for k, (path, gradient_leaf) in enumerate(zip(trees.leaves_of(paths), trees.tree_leaves(gradient))):
            def evaluate(delta, k=k):
                moved = list(point)
                moved[position] = trees.unflatten(paths, iter(leaves[:k] + [leaves[k] + delta] + leaves[k + 1:]))
                return float(function(*moved))
            gradient_leaf = np.asarray(gradient_leaf, dtype=np.float64)
            for index, direction in _probes(mode, np.shape(leaves[k]), directions, rng):
                expected = (evaluate(eps * direction) - evaluate(-eps * direction)) / (2 * eps)
                got = float(np.sum(gradient_leaf * direction))
                error = abs(got - expected)
                relative = error / max(abs(expected), abs(got), 1e-300)
                worst = max(worst, min(relative, error))
                if error > atol + rtol * max(abs(expected), abs(got)):
                    where = f"element {index}" if index is not None else "a random direction"
                    raise GradientMismatch(
                        f"{function.__name__}: the gradient w.r.t. {trees.path_text(names[position], path)!r} "
                        f"disagrees with finite differences at {where}: adcompiler {got!r}, finite differences "
                        f"{expected!r} (absolute error {error:.3g}, relative {relative:.3g})")
    return worst


def _float64(leaf):
    return np.array(leaf, dtype=np.float64)


def _probes(mode: str, shape: tuple, directions: int, rng) -> list:
    """(element index or None, direction) pairs along which to compare for an array of `shape`."""
    if mode == "element":
        return [(index, _unit(shape, index)) for index in np.ndindex(shape)]
    if mode == "direction":
        return [(None, rng.standard_normal(shape)) for _ in range(directions)]
    raise ValueError(f"mode must be 'direction' or 'element', not {mode!r}")


def _unit(shape, index):
    unit = np.zeros(shape)
    unit[index] = 1.0
    return unit
