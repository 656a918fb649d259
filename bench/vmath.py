"""Vector math (adcompiler/backend/vmath.py) in kernels: W4's gradient (sum(2/sin(exp(-x))), 1e6
values) with jit="whole", vector math on and off, next to PyTorch eager and NumPy by hand; then
each function over 1e6 values: vmath's in a Numba loop, libm's in the same loop, and NumPy's ufunc.
One thread, in one run (the machine may be loaded: compare the ratios).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/vmath.py
"""
import os
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = "1"
os.environ["ADCOMPILER_COMPILE"] = "sync"

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
import workloads as W  # noqa: E402

import adcompiler  # noqa: E402
from adcompiler.backend import emit, vmath  # noqa: E402


def best_ms(function, *args, calls=15):
    """The least milliseconds of `calls` calls (after a warm-up call): the least loaded one."""
    function(*args)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def w4() -> dict:
    (x,) = W.toy_inputs()
    tools = {}
    for setting in ("1", "0"):
        os.environ[emit.VECTOR_MATH_ENVIRONMENT_VARIABLE] = setting
        tools[f"adcompiler whole, vector math {'on' if setting == '1' else 'off'}"] = (
            adcompiler.value_and_grad(W.toy_loss, jit="whole"), (x,))
    del os.environ[emit.VECTOR_MATH_ENVIRONMENT_VARIABLE]
    convert, _, torch_value_and_grad, _ = peers.torch_tools("W4", 1)
    tools["PyTorch eager"] = (torch_value_and_grad, convert([x]))
    tools["NumPy by hand"] = (W.toy_numpy, (x,))
    tools["Numba loop by hand (libm)"] = (W.toy_numba, (x,))
    return {tool: best_ms(function, *args) for tool, (function, args) in tools.items()}


def functions() -> dict:
    x = np.random.default_rng(0).uniform(0.05, 10.0, 1_000_000)
    out = np.empty_like(x)
    rows = {}
    for name in ("exp", "expm1", "log", "log1p", "sin", "cos"):
        ours, libm = vmath.scalar(name if name not in ("sin", "cos") else f"{name}_reduced"), getattr(np, name)

        @numba.njit
        def with_vmath(x, out):
            for i in range(x.size):
                out[i] = ours(x[i])

        @numba.njit
        def with_libm(x, out):
            for i in range(x.size):
                out[i] = libm(x[i])

        rows[name] = (best_ms(with_vmath, x, out), best_ms(with_libm, x, out), best_ms(libm, x, out))
    return rows


if __name__ == "__main__":
    times = w4()
    torch = times["PyTorch eager"]
    print("W4 value and gradient, 1e6 values, one thread (least of 15 calls, ms; ratio to PyTorch eager)")
    for tool, ms in times.items():
        print(f"  {tool:<40} {ms:8.2f}  {ms / torch:5.2f}x")
    print("\n1e6 values, one thread (ms): vmath in a Numba loop, libm in that loop, NumPy's ufunc")
    for name, (ours, libm, numpy) in functions().items():
        print(f"  {name:<6} {ours:7.2f} {libm:7.2f} {numpy:7.2f}   libm/vmath {libm / ours:4.1f}x")
