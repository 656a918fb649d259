"""`@` in kernels (adcompiler/backend/runtime_numba.py's matmul): small products as loops, the rest
by BLAS, against BLAS for every product (Numba's `@`, item by item for a stack, as kernels did
before) and NumPy's matmul, on the shapes of a 4 x 4 or 3 x 3 transform (a stack of them: the 26
tangents of ADBench's hand tracking), and larger products, where the kernel's are BLAS's. In one run, the calls taking turns, one thread:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/small_matmul.py
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cores  # noqa: E402

cores.limit("1")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402
from vmath import least_ms  # noqa: E402

from adcompiler.backend import runtime, runtime_numba  # noqa: E402, F401 (runtime_numba: the overloads)

SHAPES = [((4, 4), (4, 4)), ((544, 3), (3, 3)), ((26, 4, 4), (4, 4)), ((26, 3, 3), (26, 3, 3)),
          ((4, 4), (26, 4, 4)), ((26, 66, 4), (4, 544)), ((8, 64, 8), (8, 64)), ((8, 64, 32), (32, 64)),
          ((8, 8, 64), (64, 8)), ((200, 200), (200, 200))]
REPEATS = 100  # products a call: the calls into Numba must not be what is timed


@numba.njit
def ends(x):
    """The first and the last element of `x` (read, so the product is made; summing it would time
    the sum: Numba's is sequential, NumPy's pairwise SIMD, 3x faster on (26, 66, 544))."""
    flat = x.ravel()
    return flat[0] + flat[flat.size - 1]


@numba.njit
def kernel(a, b):
    """REPEATS products as a kernel makes them."""
    total = 0.0
    for _ in range(REPEATS):
        total += ends(runtime.matmul(a, b))
    return total


@numba.njit
def blas(a, b):
    """REPEATS products by Numba's `@` (BLAS), item by item for stacks (both 3-D: `stacked`)."""
    total = 0.0
    for _ in range(REPEATS):
        if a.ndim == 2:
            total += ends(a @ b)
        else:
            out = np.empty((a.shape[0], a.shape[1], b.shape[2]))
            for i in range(a.shape[0]):
                out[i] = np.ascontiguousarray(a[i]) @ np.ascontiguousarray(b[i])
            total += ends(out)
    return total


def stacked(a, b):
    """a and b as stacks of one length where either is a stack (a matrix repeated), else as they are."""
    if a.ndim == b.ndim == 2:
        return a, b
    n = max(len(a) if a.ndim == 3 else 1, len(b) if b.ndim == 3 else 1)
    return tuple(np.ascontiguousarray(np.broadcast_to(x, (n, *x.shape[-2:]))) for x in (a, b))


def numpy(a, b):
    """REPEATS products by NumPy's matmul."""
    total = 0.0
    for _ in range(REPEATS):
        flat = np.matmul(a, b).ravel()
        total += flat[0] + flat[-1]
    return total


if __name__ == "__main__":
    print("BLAS:", ", ".join(f"{i['internal_api']} {i.get('architecture')} {i['num_threads']} thread(s)"
                            for i in threadpool_info() if i["user_api"] == "blas"), "| load:", os.getloadavg())
    print(f"one product, us (least of 15 calls of {REPEATS}); kernel: loops where a product (of a "
          f"stack: an item's) is at most 512 multiplications, else BLAS")
    print(f"  {'a':<14}{'b':<14}{'kernel':>9}{'BLAS':>9}{'NumPy':>9}  BLAS/kernel  NumPy/kernel")
    rng = np.random.default_rng(0)
    for a_shape, b_shape in SHAPES:
        a, b = rng.random(a_shape), rng.random(b_shape)
        assert np.allclose(kernel(a, b), numpy(a, b), rtol=1e-12)
        times = {name: ms * 1e3 / REPEATS for name, ms in
                 least_ms({"kernel": (kernel, (a, b)), "BLAS": (blas, stacked(a, b)), "NumPy": (numpy, (a, b))}).items()}
        print(f"  {str(a_shape):<14}{str(b_shape):<14}{times['kernel']:9.2f}{times['BLAS']:9.2f}{times['NumPy']:9.2f}"
              f"  {times['BLAS'] / times['kernel']:10.2f}x  {times['NumPy'] / times['kernel']:11.2f}x")
