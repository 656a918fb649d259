"""Checkpointing under a memory budget: W3's recurrence at 1,000,000 steps, its fully taped gradient
against `grad(..., memory=64_000)`, in one run, one thread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/checkpoint.py [--steps 1000000] [--repeats 7]

Reports the median gradient time of each (Numba kernels, compiled before timing), their ratio
(the issue's goal: at most 3x), the largest relative difference of the two gradients (goal: 1e-12),
and the bytes each keeps for the backward: the peak of memory allocated during one gradient call,
measured with tracemalloc while the same code runs as plain Python (jit=False: tracemalloc does not
see Numba's allocations), above what was allocated before it.
"""
import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = "1"
os.environ["ADCOMPILER_COMPILE"] = "sync"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads as W  # noqa: E402

from adcompiler import grad  # noqa: E402

BUDGET = 64_000
WRT = (0, 1, 2, 3)


def median_time(function, args, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_bytes(function, args) -> int:
    """Peak bytes allocated during one call of `function` (built before measuring)."""
    function(*args)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        function(*args)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    args = W.recurrence_inputs(options.steps)
    taped = grad(W.recurrence_loss, wrt=WRT)
    budgeted = grad(W.recurrence_loss, wrt=WRT, memory=BUDGET)
    expected, actual = taped(*args), budgeted(*args)  # compiles both
    difference = max(abs(a - e) / abs(e) for a, e in zip(actual, expected))
    # interleaved, so that both see the same load of the machine
    taped_times, budgeted_times = [], []
    for _ in range(options.repeats):
        taped_times.append(median_time(taped, args, 1))
        budgeted_times.append(median_time(budgeted, args, 1))
    t_taped, t_budgeted = statistics.median(taped_times), statistics.median(budgeted_times)
    bytes_taped = peak_bytes(grad(W.recurrence_loss, wrt=WRT, jit=False), args)
    bytes_budgeted = peak_bytes(grad(W.recurrence_loss, wrt=WRT, jit=False, memory=BUDGET), args)
    print(f"W3, {options.steps:,} steps, one thread, medians of {options.repeats} interleaved calls")
    print(f"  fully taped gradient        {t_taped * 1e3:8.1f} ms   peak {bytes_taped:>12,} bytes")
    print(f"  memory={BUDGET:,} gradient  {t_budgeted * 1e3:8.1f} ms   peak {bytes_budgeted:>12,} bytes")
    print(f"  time ratio {t_budgeted / t_taped:.2f}x (goal <= 3x); largest relative difference of the "
          f"gradients {difference:.1e} (goal <= 1e-12); budget kept: {bytes_budgeted <= BUDGET}")


if __name__ == "__main__":
    main()
