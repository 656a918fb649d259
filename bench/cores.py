"""Thread counts of the benchmarks: one thread means one core.

Setting every library's thread count to 1 is not enough: XLA's CPU runtime (JAX 0.10) runs a dot
on a pool as large as the cores the process may use, whatever `--xla_cpu_multi_thread_eigen` says
(X @ W1, 256x784 @ 784x512 in float64, measured 1.67 ms wall and 3.14 ms CPU time; pinned to one
core 3.05 ms, OpenBLAS's 3.03 ms). So a one-thread run also pins every thread of the process to
one core. Import this before NumPy, Numba, PyTorch or JAX start, and call `limit`.
"""
import contextlib
import os

VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
ALL_CORES = frozenset(os.sched_getaffinity(0))


def limit(threads: str = "1") -> None:
    """Every library's thread count `threads`; with one thread, the process pinned to one core."""
    for variable in VARIABLES:
        os.environ[variable] = threads
    os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'true' if threads != '1' else 'false'} "
                               f"intra_op_parallelism_threads={threads}")
    if threads == "1":
        _pin({min(ALL_CORES)})


@contextlib.contextmanager
def pinned():
    """Every thread of the process (pools started before included) on one core, inside the block."""
    _pin({min(ALL_CORES)})
    try:
        yield
    finally:
        _pin(ALL_CORES)


def unpinned() -> None:
    """A child process's `preexec_fn`: every core back, as a user's process has them."""
    os.sched_setaffinity(0, ALL_CORES)


def _pin(cores) -> None:
    for thread in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that has just ended
            os.sched_setaffinity(int(thread), cores)
