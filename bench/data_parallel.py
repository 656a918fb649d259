"""Data-parallel gradient throughput on W2 (bench/workloads.py: MLP 784 -> 512 -> 256 -> 10) with a
batch of 2048, in one run, each worker with one BLAS thread: one process on one core; the
hand-written NumPy gradient (workloads.mlp2_numpy) on one core and on two threads (half the batch
each, combined like data_parallel's shards: the ceiling of two threads on this machine); and
adcompiler.data_parallel over two shards on two threads, two processes (a ProcessPoolExecutor) and
a Dask LocalCluster of two worker processes, each both shipping the batch every call and with the
batch placed once (`.place(X=X, Y=Y)`: only the parameters travel). Prints the best and median
milliseconds a gradient (the runs take turns, a call each), the throughput ratio (best against
best) to the single core, the mean CPU milliseconds a gradient of this process and its workers
(and their ratio to the single core's: the work that parallelism adds, whatever the load) and the
largest relative difference of every gradient from the single process's.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/data_parallel.py [--batch 2048] [--repeats 15]
"""
import argparse
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"  # one BLAS thread in this process and in every worker it starts

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import workloads as W  # noqa: E402

import adcompiler  # noqa: E402

value_and_grad = adcompiler.value_and_grad(W.mlp2_loss, wrt=(0, 1, 2, 3, 4, 5))


def cpu_seconds() -> float:
    """CPU seconds (user and system) so far of this process and every process under it (the pool's
    workers, the Dask nannies and workers)."""
    here = psutil.Process()
    total = 0.0
    for process in [here, *here.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def seconds(runs: dict, repeats: int) -> dict:
    """name -> (best and median wall seconds of a call, mean CPU seconds a call of this process and
    its workers). The runs take turns, a call each, so that a change in the machine's load falls on
    all of them alike; the CPU seconds do not depend on the load."""
    for function, args in runs.values():
        function(*args)  # compiles, starts the pools
    times, cpu = {name: [] for name in runs}, {name: 0.0 for name in runs}
    for _ in range(repeats):
        for name, (function, args) in runs.items():
            start_cpu, start = cpu_seconds(), time.perf_counter()
            function(*args)
            times[name].append(time.perf_counter() - start)
            cpu[name] += cpu_seconds() - start_cpu
    return {name: (min(t), float(np.median(t)), cpu[name] / repeats) for name, t in times.items()}


def largest_difference(got, expected):
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1.0, float(np.max(np.abs(b)))))
               for a, b in zip(adcompiler.tree_leaves(got), adcompiler.tree_leaves(expected)))


def hand_numpy_on_threads(threads):
    """workloads.mlp2_numpy over `threads` slices of the batch on as many threads, the slices'
    losses and gradients weighted by their share of the batch and added."""
    pool = ThreadPoolExecutor(threads)

    def gradient(*args):
        n = len(args[-1])
        edges = np.linspace(0, n, threads + 1).round().astype(int)
        futures = [pool.submit(W.mlp2_numpy, *args[:-2], args[-2][a:b], args[-1][a:b])
                   for a, b in zip(edges[:-1], edges[1:])]
        weights = np.diff(edges) / n
        results = [adcompiler.tree_map(lambda leaf, w=w: leaf * w, future.result()) for future, w in zip(futures, weights)]
        return adcompiler.tree_map(lambda *leaves: sum(leaves[1:], leaves[0]), *results)
    return gradient


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=15)
    options = parser.parse_args()
    args = W.mlp_inputs([784, 512, 256, 10], options.batch)
    params, (X, Y) = args[:-2], args[-2:]
    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"W2, batch {options.batch}, float64; BLAS {blas}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (other sessions share the machine: ratios are of this one run)")
    from distributed import Client, LocalCluster
    warnings.filterwarnings("ignore", "Sending large graph")  # Dask, shipping the batch: what `place` avoids
    with threadpool_limits(limits=1), ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        expected = value_and_grad(*args)
        threads, processes, dask = (adcompiler.data_parallel(value_and_grad, client=c, shards=2)
                                    for c in (None, pool, client))
        placed = [parallel.place(X=X, Y=Y) for parallel in (threads, processes, dask)]
        runs = {"one process, one core": (value_and_grad, args),
                "hand NumPy, one core": (W.mlp2_numpy, args),
                "hand NumPy, 2 threads (the ceiling)": (hand_numpy_on_threads(2), args),
                "2 threads": (threads, args),
                "2 threads, placed batch": (placed[0], params),
                "2 processes (ProcessPoolExecutor)": (processes, args),
                "2 processes, placed batch": (placed[1], params),
                "Dask LocalCluster, 2 workers": (dask, args),
                "Dask 2 workers, placed batch": (placed[2], params)}
        measured = seconds(runs, options.repeats)
        single, _, single_cpu = measured["one process, one core"]
        for name, (function, inputs) in runs.items():
            best, median, cpu = measured[name]
            difference = largest_difference(function(*inputs), expected)
            print(f"{name:36s} {best * 1e3:7.1f} ms best {median * 1e3:7.1f} ms median   throughput x"
                  f"{single / best:.2f}   CPU {cpu * 1e3:6.1f} ms (x{cpu / single_cpu:.2f})   "
                  f"largest relative difference {difference:.1e}")
        for p in placed:
            p.close()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
