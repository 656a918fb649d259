"""Checkpointing under a memory budget: W3's recurrence at 1,000,000 steps, its fully taped gradient
against `grad(..., memory=B)` for budgets from 64 KB down to 1 KB, in one run, one thread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 python bench/checkpoint.py [--steps N] [--repeats 7]

W3 keeps 16 bytes per iteration (two floats) and carries two floats (a 16-byte snapshot), so two
levels fit from about 45.3 KB at 10^6 steps (`rt.checkpoint_chunk`); 45,000 bytes and below are
reversed by the binomial schedule, with `rt.revolve_schedule`'s snapshots (24 bytes each with the
schedule's entry, besides 392 fixed bytes). For each budget: the
schedule, the iterations the backward advances (runs without keeping) per iteration of the loop
(besides running each once more keeping its values; revolve's minimum,
r n - C(s + r, s + 1), which tests/test_checkpoint.py counts), the minimum over interleaved calls of
the gradient time (Numba kernels compiled before timing) and its ratio to the taped one (the
issue's goal at 64 KB: at most 3x), the largest relative difference from the taped gradient
(goal: 1e-12), and the peak growth of the resident set during one call (`run.peak_rss_growth`,
page-grained; the exact bytes, below the budget, are measured by tests/test_checkpoint.py with
tracemalloc).

Then the same recurrence written as a loop that holds another loop (blocks of 100 steps) and as a
`while` loop (until the time reaches n dt; memory= runs it once to count its steps, then again as a
checkpointed `for`), at a tenth of the steps: each budget's time against that form's fully taped
gradient, and the largest relative difference from it.
"""
import argparse
import sys
import time
from math import comb
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import peak_rss_growth  # noqa: E402  (run sets one thread and compiles kernels before first calls)
import workloads as W  # noqa: E402

from adcompiler import grad  # noqa: E402
from adcompiler.backend import runtime  # noqa: E402
from adcompiler.transforms.plan import ARRAY_OVERHEAD  # noqa: E402

BUDGETS = (64_000, 46_000, 45_000, 8_000, 2_000, 1_000)
WRT = (0, 1, 2, 3)
STEP = SNAPSHOT = 16  # W3's bytes kept per iteration, and of its carried values


def blocked(x0, p0, p1, p2, dt, n):
    """W3 as n // 100 blocks of 100 steps (n a multiple of 100)."""
    x = x0
    total = 0.0
    for b in range(n // 100):
        for i in range(100):
            x = x + dt * (np.sin(x) * p0 - x * x * p1 + p2)
            total = total + x * x
    return dt * total


def until(x0, p0, p1, p2, dt, n):
    """W3 as a `while` loop until the time reaches (n - 1/2) dt: n steps."""
    x = x0
    total = 0.0
    t = 0.0
    while t < (n - 0.5) * dt:
        x = x + dt * (np.sin(x) * p0 - x * x * p1 + p2)
        total = total + x * x
        t = t + dt
    return dt * total


def call_time(function, args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def schedule(budget: int, steps: int) -> tuple:
    """(name, iterations advanced in the backward per loop iteration) of W3 under `budget`."""
    if runtime.checkpoint_chunk(steps, budget, STEP, SNAPSHOT, "W3"):
        return "two levels", 0.0
    slots = runtime.revolve_schedule(steps, budget, STEP + 2 * ARRAY_OVERHEAD, SNAPSHOT, "W3")[0]
    reps = 0
    while comb(slots + reps, slots) < steps:
        reps += 1
    return f"revolve, {slots} snapshots", (reps * steps - comb(slots + reps, slots + 1)) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    args = W.recurrence_inputs(options.steps)
    gradients = {"taped": grad(W.recurrence_loss, wrt=WRT)}
    gradients.update((budget, grad(W.recurrence_loss, wrt=WRT, memory=budget)) for budget in BUDGETS)
    expected = gradients["taped"](*args)
    differences = {}
    for name, function in gradients.items():  # compiles each
        differences[name] = max(abs(a - e) / abs(e) for a, e in zip(function(*args), expected))
    times = {name: [] for name in gradients}
    for _ in range(options.repeats):
        for name, function in gradients.items():
            times[name].append(call_time(function, args))
    taped = min(times["taped"])
    print(f"W3, {options.steps:,} steps, one thread, minimum of {options.repeats} interleaved calls")
    print(f"  {'memory=':>8} {'schedule':<26} {'advanced':>8} {'time':>9} {'ratio':>6} {'rel. diff':>9} "
          f"{'peak RSS growth':>16}")
    for name, function in gradients.items():
        kind, advanced = ("fully taped", 0.0) if name == "taped" else schedule(name, options.steps)
        best = min(times[name])
        print(f"  {name if name == 'taped' else format(name, ','):>8} {kind:<26} {advanced:8.2f} "
              f"{best * 1e3:6.1f} ms {best / taped:5.2f}x {differences[name]:9.1e} "
              f"{peak_rss_growth(function, args):>10,} bytes")
    other_forms(options.steps // 10, options.repeats)


def other_forms(steps: int, repeats: int) -> None:
    args = W.recurrence_inputs(steps)
    print(f"\nW3 as nested loops and as a while loop, {steps:,} steps, minimum of {repeats} interleaved calls")
    print(f"  {'form':<12} {'memory=':>8} {'time':>9} {'ratio':>6} {'rel. diff':>9}")
    for form in (blocked, until):
        gradients = {"taped": grad(form, wrt=WRT)}
        gradients.update((budget, grad(form, wrt=WRT, memory=budget)) for budget in (64_000, 8_000, 4_000))
        expected = gradients["taped"](*args)
        differences = {name: max(abs(a - e) / abs(e) for a, e in zip(function(*args), expected))
                       for name, function in gradients.items()}
        times = {name: [] for name in gradients}
        for _ in range(repeats):
            for name, function in gradients.items():
                times[name].append(call_time(function, args))
        taped = min(times["taped"])
        for name in gradients:
            best = min(times[name])
            print(f"  {form.__name__:<12} {name if name == 'taped' else format(name, ','):>8} {best * 1e3:6.1f} ms "
                  f"{best / taped:5.2f}x {differences[name]:9.1e}")


if __name__ == "__main__":
    main()
