"""ADBench's GMM and LSTM gradients timed (bench/adbench.py's objectives, row-wise and element by
element): adcompiler (fused and, row-wise, unfused) against JAX jit and the objectives compiled by
numba.njit as they are written, in a fresh process for one thread and for two, fastest of N calls
taken in turn.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/adbench_gradients.py [--calls 20] [--workloads GMM] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cores  # noqa: E402

if "--measure" in sys.argv:  # the child that times, with its parent's thread count
    cores.limit(os.environ["OMP_NUM_THREADS"])
import adbench as A  # noqa: E402
import peers  # noqa: E402

FORMULATIONS = {  # workload -> formulation -> (objective, differentiated parameters)
    "GMM": {"rows": (A.gmm_objective, 3), "elements": (A.gmm_objective_elements, 3)},
    "LSTM": {"rows": (A.lstm_objective, 2), "elements": (A.lstm_objective_elements, 2)},
}
INPUTS = {"GMM": ("gmm/1k/gmm_d10_K25.txt", A.read_gmm), "LSTM": ("lstm/lstm_l2_c1024.txt", A.read_lstm)}


def _least_times(functions: dict, calls: int) -> dict:
    """{name: seconds of the fastest call} of `functions` {name: (function, args)}, called in turn
    `calls` times after one warm-up call each (in turn: a shared machine's load changes under all alike)."""
    import time
    for function, args in functions.values():
        function(*args)
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(calls):
        for name, (function, args) in functions.items():
            start = time.perf_counter()
            function(*args)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


HELPERS = ("log_gamma_half", "log_multigamma_half", "inverse_cholesky", "logsumexp", "log_wishart_prior", "sigmoid",
           "lstm_model", "lstm_predict", "lstm_predict_elements")


def njit_objective(objective):
    """`objective` and the helpers it calls compiled by numba.njit as they are written (the hand
    Numba objective: the same loops)."""
    import numba
    namespace = dict(vars(A))
    for name in (*HELPERS, objective.__name__):
        function = getattr(A, name)
        namespace[name] = numba.njit(types.FunctionType(function.__code__, namespace, name))
    return namespace[objective.__name__]


def measure(calls: int, workloads) -> dict:
    """{workload: {tool: {"gradient": s, "objective": s}}} in this process (its thread count is set
    by the caller's environment). "adcompiler rows, unfused" is compiled with ADCOMPILER_FUSION=0."""
    import adcompiler
    from adcompiler.backend import fuse

    os.environ["ADCOMPILER_COMPILE"] = "sync"
    results = {"BLAS": _blas()}
    for workload in workloads:
        formulations = FORMULATIONS[workload]
        path, reader = INPUTS[workload]
        args = list(reader(A.data_dir() / path))
        functions = {}
        for formulation, (objective, n_params) in formulations.items():
            for fused in ("1", "0") if formulation == "rows" else ("1",):
                os.environ[fuse.FUSION_ENVIRONMENT_VARIABLE] = fused  # read when the function compiles
                tool = f"adcompiler {formulation}" + (", unfused" if fused == "0" else "")
                gradient = adcompiler.value_and_grad(objective, wrt=tuple(range(n_params)))
                functions[tool, "gradient"] = gradient, args
                functions[tool, "objective"] = adcompiler.jit(objective), args
                gradient(*args), functions[tool, "objective"][0](*args)  # compiled now, as fusion says
            os.environ.pop(fuse.FUSION_ENVIRONMENT_VARIABLE)
            functions[f"numba.njit {formulation}", "objective"] = njit_objective(objective), args
        convert, forward, value_and_grad, _ = peers.jax_tools(workload, FORMULATIONS[workload]["rows"][1])
        jax_args = convert(args)
        functions["JAX jit", "gradient"] = value_and_grad, jax_args
        functions["JAX jit", "objective"] = forward, jax_args
        row = results[workload] = {}
        for (tool, what), seconds in _least_times(functions, calls).items():
            row.setdefault(tool, {})[what] = seconds
    return results


def _blas() -> str:
    from threadpoolctl import threadpool_info
    return ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
                     if i["user_api"] == "blas")


def main(argv=None) -> None:
    """Runs `measure` in a fresh process per thread count (1 and 2) and prints times and ratios."""
    parser = argparse.ArgumentParser(description="ADBench GMM and LSTM: adcompiler against JAX jit and numba.njit")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--workloads", nargs="+", choices=tuple(FORMULATIONS), default=tuple(FORMULATIONS),
                        help="the workloads to time (all by default)")
    parser.add_argument("--threads", nargs="+", choices=("1", "2"), default=("1", "2"),
                        help="the thread counts to time, each in a fresh process (1 and 2 by default)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.measure:
        print(json.dumps(measure(options.calls, options.workloads)))
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; fastest of {options.calls} calls")
    for threads in options.threads:
        env = {**os.environ, "OMP_NUM_THREADS": threads, "ADCOMPILER_THREADS": threads}
        for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            env.pop(variable, None)
        output = subprocess.run([sys.executable, __file__, "--measure", "--calls", str(options.calls),
                                 "--workloads", *options.workloads], env=env,
                                check=True, capture_output=True, text=True).stdout
        results = json.loads(output.strip().splitlines()[-1])
        print(f"\n{threads} thread{'s' if threads != '1' else ''} (BLAS: {results.pop('BLAS')})")
        for workload, row in results.items():
            jax = row["JAX jit"]
            for tool, times in row.items():
                gradient, objective = times.get("gradient"), times["objective"]
                text = f"  {workload:5} {tool:22} objective {objective * 1e3:8.3f} ms"
                if gradient is not None:
                    text += (f"  gradient {gradient * 1e3:8.3f} ms  gradient/objective {gradient / objective:5.2f}"
                             f"  gradient/JAX's {gradient / jax['gradient']:5.2f}")
                else:
                    text += f"  objective/JAX's {objective / jax['objective']:5.2f}"
                print(text)


if __name__ == "__main__":
    main()
