"""Per-call overhead of a compiled gradient (issue #15): the time of `g(*args)` against the time of
calling its generated `<f>_value_and_grad` directly on the same (already converted) arguments, on
tiny functions where the generated code itself takes microseconds. The difference is what
`api.Transformed.__call__` adds: argument checks, tree flattening, signature lookup, gradient
conversion. Run with one thread:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 python bench/overhead.py
"""
import timeit

import numpy as np

import adcompiler


def scalar_square(x):
    return x * x + 1.0


def small_array(w, x):
    return np.sum(np.tanh(w * x))


def tree_of_two(params, x):
    return np.sum(params["w"] * x + params["b"])


CASES = [
    ("scalar", scalar_square, (1.5,), 0),
    ("array[8], 2 args", small_array, (np.linspace(0, 1, 8), np.linspace(1, 2, 8)), 0),
    ("tree {w, b}", tree_of_two, ({"w": np.ones(8), "b": np.zeros(8)}, np.linspace(1, 2, 8)), 0),
]


def best(run, number: int) -> float:
    """Seconds a call, the best of 7 repeats of `number` calls."""
    return min(timeit.repeat(run, number=number, repeat=7)) / number


def measure(function, args, wrt, number: int = 20000) -> tuple:
    g = adcompiler.grad(function, wrt=wrt)
    g(*args)
    ((built, executable),) = g.specialisations.values()
    executable.wait()
    generated = getattr(executable.module, f"{g.parsed.name}_value_and_grad")
    leaves = tuple(v for arg in args for v in adcompiler.trees.tree_leaves(arg))
    values = (*leaves, *built.primal.captured)
    return best(lambda: g(*args), number), best(lambda: generated(*values), number)


def main():
    print(f"{'function':<20} {'g(x) us':>9} {'generated us':>13} {'overhead us':>12}")
    for name, function, args, wrt in CASES:
        call, generated = measure(function, args, wrt)
        print(f"{name:<20} {call * 1e6:9.2f} {generated * 1e6:13.2f} {(call - generated) * 1e6:12.2f}")


if __name__ == "__main__":
    main()
