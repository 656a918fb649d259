"""Checkpointing under a memory budget: W3's recurrence at 1,000,000 steps, its fully taped gradient
against `grad(..., memory=64_000)`, in one run, one thread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/checkpoint.py [--steps 1000000] [--repeats 7]

Reports the median gradient time of each (Numba kernels, compiled before timing; calls of the two
interleaved, so that both see the same load of the machine), their ratio (the issue's goal: at most
3x), the largest relative difference of the two gradients (goal: 1e-12), and the peak growth of the
resident set during one call of each (`run.peak_rss_growth`; the exact bytes of tape and snapshots,
below the budget, are measured by tests/test_checkpoint.py with tracemalloc).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import peak_rss_growth  # noqa: E402  (run sets one thread and compiles kernels before first calls)
import workloads as W  # noqa: E402

from adcompiler import grad  # noqa: E402

BUDGET = 64_000
WRT = (0, 1, 2, 3)


def call_time(function, args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


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
    times = {"taped": [], "budgeted": []}
    for _ in range(options.repeats):
        times["taped"].append(call_time(taped, args))
        times["budgeted"].append(call_time(budgeted, args))
    t_taped, t_budgeted = statistics.median(times["taped"]), statistics.median(times["budgeted"])
    rss_taped, rss_budgeted = peak_rss_growth(taped, args), peak_rss_growth(budgeted, args)
    print(f"W3, {options.steps:,} steps, one thread, medians of {options.repeats} interleaved calls")
    print(f"  fully taped gradient       {t_taped * 1e3:8.1f} ms   peak RSS growth {rss_taped:>12,} bytes")
    print(f"  memory={BUDGET:,} gradient {t_budgeted * 1e3:8.1f} ms   peak RSS growth {rss_budgeted:>12,} bytes")
    print(f"  time ratio {t_budgeted / t_taped:.2f}x (goal <= 3x); largest relative difference of the "
          f"gradients {difference:.1e} (goal <= 1e-12)")


if __name__ == "__main__":
    main()
