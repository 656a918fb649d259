"""GradBench's `ode` eval (cmpad's an_ode): the gradient of the last component of a fourth-order
Runge-Kutta solution after s steps, with respect to all n parameters, in one run, one thread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/ode.py [--repeats 5]

Two formulations of the same function are compiled by adcompiler: row-wise (NumPy statements on
whole vectors, as GradBench's JAX tool writes it) and element by element (loops over the vector
updating one element at a time, as its C++ reference writes it). Both are timed against the JAX
tool's own code (`jax.lax.scan`, jitted) and a hand-written NumPy gradient of the row-wise
formulation. Each tool's gradient is checked against the JAX one before timing. GradBench's sizes:
n in 1000, 10000, 100000 and s in 1, 10, 100; the figure GradBench reports is the sum over them.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import blas_kernel  # noqa: E402  (run sets one thread and compiles kernels before first calls)

import numpy as np  # noqa: E402

from adcompiler import grad  # noqa: E402
from workloads import ode_elements, ode_rows  # noqa: E402

SIZES = [(n, s) for n in (1000, 10000, 100000) for s in (1, 10, 100)]


def median_time(function, args, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _shift_back(g):
    """The adjoint of y -> concatenate(([1], y[:-1])) with respect to y."""
    d = np.zeros_like(g)
    d[:-1] = g[1:]
    return d


def hand_gradient(x, s):
    """Reverse mode of ode_rows written by hand in NumPy: the forward stores each step's stages."""
    h = 2.0 / s
    y = np.zeros_like(x)
    stages = []
    for _ in range(s):
        shifted = [np.concatenate((np.ones(1), y[:-1]))]
        k1 = x * shifted[0]
        shifted.append(np.concatenate((np.ones(1), (y + h / 2 * k1)[:-1])))
        k2 = x * shifted[1]
        shifted.append(np.concatenate((np.ones(1), (y + h / 2 * k2)[:-1])))
        k3 = x * shifted[2]
        shifted.append(np.concatenate((np.ones(1), (y + h * k3)[:-1])))
        k4 = x * shifted[3]
        stages.append(shifted)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    d_y = np.zeros_like(x)
    d_y[-1] = 1.0
    d_x = np.zeros_like(x)
    for shifted in reversed(stages):
        d_k1, d_k2, d_k3, d_k4 = h / 6 * d_y, h / 3 * d_y, h / 3 * d_y, h / 6 * d_y
        d_y_next = d_y.copy()
        d_x += d_k4 * shifted[3]
        d_t = _shift_back(d_k4 * x)
        d_y_next += d_t
        d_k3 = d_k3 + h * d_t
        d_x += d_k3 * shifted[2]
        d_t = _shift_back(d_k3 * x)
        d_y_next += d_t
        d_k2 = d_k2 + h / 2 * d_t
        d_x += d_k2 * shifted[1]
        d_t = _shift_back(d_k2 * x)
        d_y_next += d_t
        d_k1 = d_k1 + h / 2 * d_t
        d_x += d_k1 * shifted[0]
        d_y_next += _shift_back(d_k1 * x)
        d_y = d_y_next
    return d_x


def jax_gradient():
    """GradBench's JAX tool (python/gradbench/gradbench/tools/jax/ode.py), or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def ode(x, s):
        def f(y):
            iota, rotated = jnp.arange(x.shape[0]), jnp.roll(y, shift=1)
            return jax.vmap(lambda i, xi, yi: jnp.where(i == 0, xi, xi * yi))(iota, x, rotated)

        h = 2.0 / s

        def step(y, _):
            k1 = f(y)
            k2 = f(y + h / 2 * k1)
            k3 = f(y + h / 2 * k2)
            k4 = f(y + h * k3)
            following = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            return following, following

        return jax.lax.scan(step, jnp.zeros_like(x), None, length=s)[1][-1]

    gradient = jax.jit(jax.grad(lambda x, s: ode(x, s)[-1]), static_argnums=1)
    return lambda x, s: np.asarray(gradient(x, s))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--largest", type=int, default=100000, help="skip sizes n above this")
    options = parser.parse_args()
    tools = {"adcompiler rows": grad(ode_rows), "adcompiler elements": grad(ode_elements),
             "hand NumPy": hand_gradient}
    reference = jax_gradient()
    if reference is not None:
        tools["JAX (GradBench's tool)"] = reference
    print(f"GradBench ode, one thread, median of {options.repeats}; BLAS: {blas_kernel()}")
    totals = dict.fromkeys(tools, 0.0)
    print(f"{'n':>7} {'s':>4} " + " ".join(f"{name:>24}" for name in tools))
    for n, s in SIZES:
        if n > options.largest:
            continue
        x = np.random.default_rng(31337).random(n) * 2.0  # GradBench's rand(n) underflows y_n at n >= 1000
        expected = tools.get("JAX (GradBench's tool)", hand_gradient)(x, s)
        row = []
        for name, tool in tools.items():
            difference = np.max(np.abs(tool(x, s) - expected)) / max(np.max(np.abs(expected)), 1e-300)
            assert difference < 1e-9, (name, n, s, difference)
            seconds = median_time(tool, (x, s), options.repeats)
            totals[name] += seconds
            row.append(f"{seconds * 1e3:21.2f} ms")
        print(f"{n:>7} {s:>4} " + " ".join(row), flush=True)
    print(f"{'sum':>12} " + " ".join(f"{totals[name] * 1e3:21.2f} ms" for name in tools))
    if reference is not None:
        jax_total = totals["JAX (GradBench's tool)"]
        print("ratios to JAX: " + ", ".join(f"{name} {totals[name] / jax_total:.2f}x" for name in tools))


if __name__ == "__main__":
    main()
