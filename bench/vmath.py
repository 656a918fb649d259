"""Vector math (adcompiler/backend/vmath.py) and fused element loops (backend/fuse.py) in kernels:
W4's gradient (sum(2/sin(exp(-x))), 1e6 values) as adcompiler runs it by default (forward and
backward chains as one element loop, on one thread and on two: `fuse.set_threads`), with
jit="whole" and vector math on and off, next to PyTorch eager (one and two threads), JAX jit, NumPy
and Numba by hand; a tanh-heavy loop's (five layers h = tanh(0.9 h + 0.1) of 1e6 values); then
each function over 1e6 values: vmath's in a Numba loop, libm's in the same loop, and NumPy's ufunc
(SciPy's expit). In one run, the calls taking turns (the machine may be loaded: compare the ratios).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/vmath.py

BLAS and MKL run one thread, and JAX's calls run on one core (bench/cores.py: XLA's pool takes
every core the process may use); OpenMP and Numba keep every core for the rows that say two threads.
"""
import os
import sys
import time
from pathlib import Path

for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"
os.environ.pop("OMP_NUM_THREADS", None)  # (GNU OpenMP would cap Numba's pool)
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
os.environ["ADCOMPILER_COMPILE"] = "sync"

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cores  # noqa: E402
import peers  # noqa: E402
import workloads as W  # noqa: E402

import adcompiler  # noqa: E402
from adcompiler.backend import emit, fuse, vmath  # noqa: E402


def least_ms(tools: dict, calls=15) -> dict:
    """{name: the least milliseconds of `calls` calls of function(*args)} for tools {name:
    (function, args)}, after a warm-up call each; the calls take turns (tool by tool, round after
    round), so that a change of the machine's load falls on every tool alike."""
    for function, args in tools.values():
        function(*args)
    times = {name: [] for name in tools}
    for _ in range(calls):
        for name, (function, args) in tools.items():
            start = time.perf_counter()
            function(*args)
            times[name].append(time.perf_counter() - start)
    return {name: min(t) * 1e3 for name, t in times.items()}


def tanh_loss(x):
    """Five layers h = tanh(0.9 h + 0.1), summed."""
    h = x
    for _ in range(5):
        h = np.tanh(0.9 * h + 0.1)
    return np.sum(h)


def tanh_numpy(x):
    """tanh_loss's value and gradient by hand."""
    layers = [x]
    for _ in range(5):
        layers.append(np.tanh(0.9 * layers[-1] + 0.1))
    g = np.ones_like(x)
    for h in layers[:0:-1]:
        g = g * (1.0 - h * h) * 0.9
    return np.sum(layers[-1]), g


def torch_tanh(torch):
    def value_and_grad(x):
        h = x
        for _ in range(5):
            h = torch.tanh(0.9 * h + 0.1)
        value = h.sum()
        return value.item(), torch.autograd.grad(value, x)[0].numpy()
    return value_and_grad


def gradients(loss, x, torch_value_and_grad, numpy_value_and_grad) -> dict:
    """The tools: adcompiler (jit="whole", vector math on and off), PyTorch eager, NumPy by hand."""
    import torch

    torch.set_num_threads(1)
    tools = {}
    for setting in ("1", "0"):
        os.environ[emit.VECTOR_MATH_ENVIRONMENT_VARIABLE] = setting
        function = adcompiler.value_and_grad(loss, jit="whole")
        function(x)  # compiled now, with this setting (it is read when a function is compiled)
        tools[f"adcompiler whole, vector math {'on' if setting == '1' else 'off'}"] = (function, (x,))
    del os.environ[emit.VECTOR_MATH_ENVIRONMENT_VARIABLE]
    tools["PyTorch eager"] = (torch_value_and_grad, (torch.tensor(x, requires_grad=True),))
    tools["NumPy by hand"] = (numpy_value_and_grad, (x,))
    return tools


def on_threads(function, count: int, torch=None):
    """`function` called with adcompiler's element loops (or PyTorch) on `count` threads."""
    def call(*args):
        if torch is not None:
            torch.set_num_threads(count)
        fuse.set_threads(count)
        return function(*args)
    return call


def on_one_core(function):
    """`function` called with every thread of the process on one core."""
    def call(*args):
        with cores.pinned():
            return function(*args)
    return call


def w4() -> dict:
    import torch

    (x,) = W.toy_inputs()
    _, _, torch_value_and_grad, _ = peers.torch_tools("W4", 1)
    tools = gradients(W.toy_loss, x, torch_value_and_grad, W.toy_numpy)
    adcompiler_default = adcompiler.value_and_grad(W.toy_loss)
    tensor = torch.tensor(x, requires_grad=True)
    tools = {"adcompiler, 1 thread": (on_threads(adcompiler_default, 1), (x,)),
             "adcompiler, 2 threads": (on_threads(adcompiler_default, 2), (x,)),
             **{name: (on_threads(f, 1), args) for name, (f, args) in tools.items() if name.startswith("adcompiler")},
             "PyTorch eager": (on_threads(torch_value_and_grad, 1, torch), (tensor,)),
             "PyTorch eager, 2 threads": (on_threads(torch_value_and_grad, 2, torch), (tensor,)),
             "NumPy by hand": tools["NumPy by hand"]}
    convert, _, jax_value_and_grad, _ = peers.jax_tools("W4", 1)
    tools["JAX jit"] = (on_one_core(jax_value_and_grad), tuple(convert([x])))
    tools["Numba loop by hand (libm)"] = (W.toy_numba, (x,))
    times = least_ms(tools)
    torch.set_num_threads(1)
    fuse.set_threads(None)
    return times


def tanh_loop() -> dict:
    import torch

    x = np.random.default_rng(0).uniform(-3.0, 3.0, 1_000_000)
    return least_ms(gradients(tanh_loss, x, torch_tanh(torch), tanh_numpy))


def _loop(function, arity, summed=False):
    """A Numba loop writing function(x[i]) (of x[i], y[i] for arity 2) to out[i], or, `summed`,
    adding them into one float: a recurrence LLVM does not vectorise, so each call runs alone."""
    call = (lambda x, y, i: function(x[i], y[i])) if arity == 2 else (lambda x, y, i: function(x[i]))
    element = numba.njit(call, inline="always")
    if summed:
        @numba.njit
        def loop_summed(x, y, out):
            total = 0.0
            for i in range(x.size):
                total += element(x, y, i)
            out[0] = total
        return loop_summed

    @numba.njit
    def loop(x, y, out):
        for i in range(x.size):
            out[i] = element(x, y, i)
    return loop


def _libm_expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _libm_power(x, y):
    return x ** y


def functions() -> dict:
    """Per function: least ms of (vmath in a Numba loop, libm in that loop, NumPy's ufunc, vmath in
    a loop adding into a sum, libm in that loop)."""
    from scipy.special import expit

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.05, 10.0, 1_000_000), rng.uniform(-3.0, 3.0, 1_000_000)
    out = np.empty_like(x)
    rows = {}
    for name in ("exp", "expm1", "log", "log1p", "sin", "cos", "tanh", "expit", "power"):
        ours = vmath.scalar(f"{name}_reduced" if name in ("sin", "cos") else name)
        numpy = {"expit": expit}.get(name) or getattr(np, name)
        libm = numba.njit(_libm_expit) if name == "expit" else numba.njit(_libm_power) if name == "power" else numpy
        arity = 2 if name == "power" else 1
        times = least_ms({"vmath": (_loop(ours, arity), (x, y, out)), "libm": (_loop(libm, arity), (x, y, out)),
                          "numpy": (numpy, ((x, y) if arity == 2 else (x,)) + (out,)),
                          "vmath summed": (_loop(ours, arity, True), (x, y, out)),
                          "libm summed": (_loop(libm, arity, True), (x, y, out))})
        rows[name] = tuple(times.values())
    return rows


def _table(title, times):
    torch = times["PyTorch eager"]
    print(f"{title} (least of 15 calls, ms; ratio to PyTorch eager)")
    for tool, ms in times.items():
        print(f"  {tool:<40} {ms:8.2f}  {ms / torch:5.2f}x")


if __name__ == "__main__":
    from threadpoolctl import threadpool_info

    print("BLAS:", ", ".join(f"{i['internal_api']} {i.get('architecture')} {i['num_threads']} thread(s)"
                            for i in threadpool_info() if i["user_api"] == "blas"), "| load:", os.getloadavg())
    _table("W4 value and gradient, 1e6 values, one thread but where it says two", w4())
    _table("\ntanh loop (5 layers) value and gradient, 1e6 values, one thread", tanh_loop())
    print("\n1e6 values, one thread (ms): vmath in a Numba loop, libm in that loop, NumPy's ufunc; vmath and libm"
          " in a loop adding them into a sum (kernels call libm there: emit._vectorisable)")
    for name, (ours, libm, ufunc, ours_summed, libm_summed) in functions().items():
        print(f"  {name:<6} {ours:7.2f} {libm:7.2f} {ufunc:7.2f}   libm/vmath {libm / ours:4.1f}x   summed: "
              f"{ours_summed:7.2f} {libm_summed:7.2f}   libm/vmath {libm_summed / ours_summed:4.1f}x")
