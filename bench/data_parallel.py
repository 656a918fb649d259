"""Data-parallel gradient throughput on W2 (bench/workloads.py: MLP 784 -> 512 -> 256 -> 10) with a
batch of 2048: one process on one core against adcompiler.data_parallel over two shards on two
threads, two processes (a ProcessPoolExecutor) and a Dask LocalCluster of two worker processes,
each with one BLAS thread, in one run. Prints the median seconds a gradient, the throughput ratio
to the single core, this process's CPU seconds per wall second (above 1: its threads overlapped)
and the largest relative difference of every gradient from the single process's.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/data_parallel.py [--batch 2048] [--repeats 15]
"""
import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"  # one BLAS thread in this process and in every worker it starts

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import workloads as W  # noqa: E402

import adcompiler  # noqa: E402

value_and_grad = adcompiler.value_and_grad(W.mlp2_loss, wrt=(0, 1, 2, 3, 4, 5))


def median_seconds(function, args, repeats):
    """(median wall seconds of a call, this process's CPU seconds per wall second over the calls:
    above 1 when its threads ran at once)."""
    function(*args)  # compiles, starts the pools
    times = []
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), (time.process_time() - cpu) / (time.perf_counter() - wall)


def largest_difference(got, expected):
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(1.0, float(np.max(np.abs(b)))))
               for a, b in zip(adcompiler.tree_leaves(got), adcompiler.tree_leaves(expected)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=15)
    options = parser.parse_args()
    args = W.mlp_inputs([784, 512, 256, 10], options.batch)
    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"W2, batch {options.batch}, float64; BLAS {blas}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (other sessions share the machine: ratios are of this one run)")
    from distributed import Client, LocalCluster
    with threadpool_limits(limits=1), ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        expected = value_and_grad(*args)
        runs = {"one process, one core": value_and_grad,
                "2 threads": adcompiler.data_parallel(value_and_grad, shards=2),
                "2 processes (ProcessPoolExecutor)": adcompiler.data_parallel(value_and_grad, client=pool, shards=2),
                "Dask LocalCluster, 2 workers": adcompiler.data_parallel(value_and_grad, client=client, shards=2)}
        seconds = {}
        for name, function in runs.items():
            seconds[name], busy = median_seconds(function, args, options.repeats)
            difference = largest_difference(function(*args), expected)
            print(f"{name:36s} {seconds[name] * 1e3:8.1f} ms a gradient   throughput x"
                  f"{seconds['one process, one core'] / seconds[name]:.2f}   this process's CPU/wall {busy:.2f}   "
                  f"largest relative difference {difference:.1e}")


if __name__ == "__main__":
    main()
