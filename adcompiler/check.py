"""`check_grad`: compare adcompiler's gradient with central finite differences in float64."""
from __future__ import annotations

import inspect

import numpy as np

from .api import _positions, value_and_grad


class GradientMismatch(AssertionError):
    """The compiled gradient and finite differences disagree; the message says where and by how much."""


def check_grad(function, *args, wrt=0, mode="direction", eps=1e-6, rtol=1e-6, atol=1e-8,
               directions=3, jit=True, seed=0) -> float:
    """Check the gradient of scalar `function` at `args` against central finite differences of the
    original function in float64. `mode="direction"` compares <grad, v> with the directional
    derivative along `directions` random directions v (cheap for many parameters);
    `mode="element"` compares every element. Returns the worst relative error; raises
    GradientMismatch naming the parameter, the element and both values when they disagree."""
    names = list(inspect.signature(function).parameters)
    positions, single = _positions(wrt, names, function.__name__)
    _, grads = value_and_grad(function, wrt=positions, jit=jit)(*args)
    grads = [grads] if single else list(grads)
    point = [np.array(a, dtype=np.float64) if i in positions else a for i, a in enumerate(args)]

    def evaluate(position, delta):
        moved = list(point)
        moved[position] = point[position] + delta
        return float(function(*moved))

    def central(position, delta):
        return (evaluate(position, eps * delta) - evaluate(position, -eps * delta)) / (2 * eps)

    worst = 0.0
    rng = np.random.default_rng(seed)
    for position, gradient in zip(positions, grads):
        gradient = np.asarray(gradient, dtype=np.float64)
        shape = np.shape(point[position])
        if mode == "element":
            probes = [(index, _unit(shape, index)) for index in np.ndindex(shape)]
        elif mode == "direction":
            probes = [(None, rng.standard_normal(shape)) for _ in range(directions)]
        else:
            raise ValueError(f"mode must be 'direction' or 'element', not {mode!r}")
        for index, direction in probes:
            expected = central(position, direction)
            got = float(np.sum(gradient * direction))
            error = abs(got - expected)
            relative = error / max(abs(expected), abs(got), 1e-300)
            worst = max(worst, min(relative, error))
            if error > atol + rtol * max(abs(expected), abs(got)):
                where = f"element {index}" if index is not None else "a random direction"
                raise GradientMismatch(
                    f"{function.__name__}: the gradient w.r.t. {names[position]!r} disagrees with finite "
                    f"differences at {where}: adcompiler {got!r}, finite differences {expected!r} "
                    f"(absolute error {error:.3g}, relative {relative:.3g})")
    return worst


def _unit(shape, index):
    unit = np.zeros(shape)
    unit[index] = 1.0
    return unit
