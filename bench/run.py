"""Benchmarks: adcompiler against hand-written NumPy and Numba gradients, PyTorch eager, JAX and
HIPS autograd, on the same mathematics in float64, in one run.

    python bench/run.py [--quick] [--only W1,W3,GMM] [--json bench/results.json] [--png bench/ratios.png]

For each workload and tool: median forward and gradient times, gradient/forward ratio, the ratio
to the hand-written Numba gradient, the first-call time and the largest difference of the value
and gradient from adcompiler's (from the hand-written Numba adjoint's where adcompiler refuses a
workload), element by element as ADBench compares gradients. W3-1M also reports the peak growth of
the resident set during one gradient call. ADBench's GMM and LSTM (bench/adbench.py, read from
ADBench's data folder) have no hand-written gradients: NumPy runs their vectorised objective
forward only, and there is no Numba adjoint to compare with. Peers that are not installed, and
tools too slow for a workload, are skipped with a note (`pip install -e '.[bench]'` installs the
peers). Cold and cached first-call times of adcompiler's W1 and W3 gradients are measured in fresh
processes. Last, where adcompiler stands against the issue's goals.
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, NamedTuple, Optional


def _threads_from_argv() -> str:
    """Thread counts must be set before NumPy, Numba, PyTorch or JAX start: read --threads early."""
    argv = sys.argv[1:]
    return argv[argv.index("--threads") + 1] if "--threads" in argv else "1"


THREADS = _threads_from_argv()
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cores  # noqa: E402

cores.limit(THREADS)

import numpy as np  # noqa: E402

import adbench as A  # noqa: E402
import peers  # noqa: E402
import workloads as W  # noqa: E402

import adcompiler  # noqa: E402

# Steady-state times are of the kernels: compile them before the first call (the first-call probes,
# in fresh processes, compile in the background as users' code does).
os.environ["ADCOMPILER_COMPILE"] = "sync"


class Workload(NamedTuple):
    description: str
    loss: Callable  # plain Python for adcompiler; its first `n_params` parameters are differentiated
    n_params: int
    inputs: Callable  # () -> the arguments
    numpy: Optional[Callable]  # value and gradient written by hand with NumPy; None: none is written
    numba: Optional[Callable]  # value and gradient written by hand with Numba (the practical limit)
    numba_forward: Optional[Callable] = None  # the value alone with Numba, for gradient/forward
    numpy_forward: Optional[Callable] = None  # the value alone without Numba (default: `numpy`'s value)
    numpy_note: str = "hand-written backprop"  # where `numpy` is None: why, shown for its gradient
    peer_name: str = ""  # the workload as the peers know it, when not its own name
    skip: dict = {}  # tool -> why it does not run on this workload
    memory: bool = False  # also report the peak RSS growth during one gradient call


TOO_SLOW = "a Python loop over 1,000,000 steps: too slow to time (100x its time on W3)"
RECURRENCE = dict(loss=W.recurrence_loss, n_params=4, numpy=W.recurrence_python, numba=W.recurrence_numba,
                  numba_forward=W.recurrence_numba_forward, numpy_forward=W.recurrence_loss,
                  numpy_note="plain-Python loops: the hand adjoint run by CPython (nothing to vectorise)")
# ADBench's objectives: adcompiler differentiates the loop-written one (adbench.py), NumPy times the
# vectorised one forward, the peers differentiate the vectorised one written with their own ops.
ADBENCH = dict(numpy=None, numba=None,
               numpy_note="none: no hand-written gradient (the vectorised objective forward only)",
               skip={"Numba by hand": "not written (a hand adjoint of ADBench's objective in Numba is a lot of work)"})
WORKLOADS = {
    "W1": Workload("MLP 128x64 -> tanh 128 -> softmax-CE 10", W.mlp1_loss, 4, W.mlp1_inputs,
                   W.mlp1_numpy, W.mlp1_numba),
    "W2": Workload("MLP 256x784 -> ReLU 512 -> ReLU 256 -> softmax-CE 10", W.mlp2_loss, 6, W.mlp2_inputs,
                   W.mlp2_numpy, W.mlp2_numba),
    "W3": Workload("scalar recurrence loop, 4 parameters, 10,000 steps", inputs=W.recurrence_inputs,
                   **RECURRENCE),
    "W3-1M": Workload("W3 with 1,000,000 steps: runs in bounded memory", inputs=W.recurrence_1m_inputs,
                      peer_name="W3", memory=True,
                      skip={"NumPy by hand": TOO_SLOW, "PyTorch": TOO_SLOW, "autograd": TOO_SLOW}, **RECURRENCE),
    "W4": Workload("sum(2/sin(exp(-x))), 1,000,000 values", W.toy_loss, 1, W.toy_inputs, W.toy_numpy, W.toy_numba),
    "GMM": Workload(f"ADBench GMM, d=10, K=25, n=1000 ({W.GMM_FILE}); gradient w.r.t. alphas, means, icf",
                    A.gmm_objective, 3, W.gmm_inputs, numpy_forward=A.gmm_objective_numpy, **ADBENCH),
    "LSTM": Workload(f"ADBench LSTM, 2 layers, 1024 characters ({W.LSTM_FILE}); gradient w.r.t. main and "
                     "extra parameters", A.lstm_objective, 2, W.lstm_inputs, numpy_forward=A.lstm_objective_numpy,
                     **ADBENCH),
}


class Timing(NamedTuple):
    budget: float  # seconds of timed calls per measurement
    least: int  # calls timed at the least, however long they take


def median_time(function, args, timing, warm_up=True):
    """Median seconds of `function(*args)` (after a warm-up call unless it was called already),
    over as many calls as fit in the budget."""
    if warm_up:
        function(*args)
    times = []
    deadline = time.perf_counter() + timing.budget
    while len(times) < timing.least or (time.perf_counter() < deadline and len(times) < 10_000):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(times)


def first_call(function, args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def peak_rss_growth(function, args):
    """Bytes by which one call of `function` raises the resident set above where it stood (Linux:
    the peak is reset through /proc/self/clear_refs); None where that is not available. Memory that
    malloc holds free is handed back first, so that what the call reuses of it counts too."""
    def status(key):
        with open("/proc/self/status") as file:
            return 1024 * int(next(line.split()[1] for line in file if line.startswith(key + ":")))
    try:
        ctypes.CDLL(None).malloc_trim(0)  # glibc
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        before = status("VmRSS")
    except OSError:
        return None
    function(*args)
    return status("VmHWM") - before


def refusal(error):
    where = f" ({error.loc.short})" if error.loc else ""
    return f"refused, CompileError: {error.message}{where}"


def scaled_difference(a, b):
    """The largest |a - b| / max(1, |a| + |b|) over the elements: ADBench's check of gradients
    (agreement to 1e-8 passes), absolute for small values and relative for large ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a) + np.abs(b)), initial=0.0))


def run_workload(name, timing):
    work = WORKLOADS[name]
    try:
        inputs = work.inputs()
    except OSError as error:  # ADBench's data folder is missing
        return work.description, [{"workload": name, "tool": "every tool", "skipped": f"no input: {error}"}]
    tools = {}  # tool -> (convert, forward, value_and_grad, first call, note), or why it is skipped

    def add(tool, make):
        try:
            tools[tool] = work.skip[tool] if tool in work.skip else make()
        except ImportError as error:
            tools[tool] = f"not installed ({error.name})"
        except adcompiler.CompileError as error:  # loops are refused until the compiler supports them
            tools[tool] = refusal(error)
        except Exception as error:  # a tool's failure is reported in its row, with its traceback on stderr
            traceback.print_exc()
            tools[tool] = f"failed, {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"

    def ad_tools():
        forward = adcompiler.jit(work.loss)
        grad = adcompiler.value_and_grad(work.loss, wrt=tuple(range(work.n_params)), jit=True)
        return list, forward, grad, first_call(grad, inputs) + first_call(forward, inputs), "value_and_grad: NumPy, loops as Numba kernels"

    def peer_tools(builder):
        convert, forward, value_and_grad, note = builder(work.peer_name or name, work.n_params)
        return convert, forward, value_and_grad, first_call(value_and_grad, convert(inputs)), note

    def hand_tools(forward, value_and_grad, note):  # value_and_grad None: the forward alone
        return list, forward, value_and_grad, first_call(value_and_grad or forward, inputs), note

    add("adcompiler", ad_tools)
    add("NumPy by hand", lambda: hand_tools(work.numpy_forward or (lambda *a: work.numpy(*a)[0]), work.numpy,
                                            work.numpy_note))
    add("Numba by hand", lambda: hand_tools(work.numba_forward, work.numba, "hand-written adjoint"))
    for peer, builder in peers.PEERS.items():
        add(peer, lambda: peer_tools(builder))
    reference = "adcompiler" if not isinstance(tools["adcompiler"], str) else "Numba by hand"
    reference_value, reference_grads = tools[reference][2](*inputs)
    rows = []
    for tool, spec in tools.items():
        if isinstance(spec, str):
            rows.append({"workload": name, "tool": tool, "skipped": spec})
            continue
        convert, forward, value_and_grad, first, note = spec
        args = convert(inputs)
        row = {"workload": name, "tool": tool, "note": note, "first_call_s": first, "compared_with": reference}
        if value_and_grad is not None:
            row["gradient_s"], row["repetitions"] = median_time(value_and_grad, args, timing, warm_up=False)
        row["forward_s"] = median_time(forward, args, timing)[0] if forward is not None else None
        value, grads = value_and_grad(*args) if value_and_grad is not None else (forward(*args), ())
        row["max_difference"] = max([scaled_difference(value, reference_value),
                                     *map(scaled_difference, grads, reference_grads)])
        if work.memory and value_and_grad is not None:
            row["peak_rss_growth_bytes"] = peak_rss_growth(value_and_grad, args)
        rows.append(row)
    numba_row = _row(rows, "Numba by hand")
    for row in rows:
        if "gradient_s" in row:
            row["gradient_over_forward"] = row["gradient_s"] / row["forward_s"] if row["forward_s"] else None
            row["over_numba_by_hand"] = row["gradient_s"] / numba_row["gradient_s"] if numba_row else None
    return work.description, rows


def _row(rows, tool):
    """The row of `tool` with a gradient time, or None."""
    return next((r for r in rows if r["tool"] == tool and "gradient_s" in r), None)


def run_training_step(timing):
    """Forward, backward and SGD update of W1, as one compiled step against the same in the peers."""
    inputs = W.mlp1_inputs()
    grad = adcompiler.value_and_grad(W.mlp1_loss, wrt=(0, 1, 2, 3))

    def step(W1, b1, W2, b2, X, Y, lr):
        value, (g1, gb1, g2, gb2) = grad(W1, b1, W2, b2, X, Y)
        return value, W1 - lr * g1, b1 - lr * gb1, W2 - lr * g2, b2 - lr * gb2

    compiled = adcompiler.jit(step)
    args = inputs + [0.1]
    rows = []
    first = first_call(compiled, args)
    for tool, function, first_s in [("adcompiler", compiled, first),
                                    ("NumPy by hand", W.train_step_numpy, 0.0),
                                    ("Numba by hand", W.train_step_numba, first_call(W.train_step_numba, args))]:
        rows.append({"workload": "W1 step", "tool": tool, "gradient_s": median_time(function, args, timing)[0],
                     "first_call_s": first_s})
    try:
        import torch

        torch.set_default_dtype(torch.float64)
        params = [torch.tensor(a, requires_grad=True) for a in inputs[:4]]
        X, Y = (torch.tensor(a) for a in inputs[4:])
        optimiser = torch.optim.SGD(params, lr=0.1)

        def torch_step():
            optimiser.zero_grad()
            h = torch.tanh(X @ params[0] + params[1])
            loss = -(Y * torch.log_softmax(h @ params[2] + params[3], dim=1)).sum(dim=1).mean()
            loss.backward()
            optimiser.step()
            return loss.item()

        rows.append({"workload": "W1 step", "tool": "PyTorch", "gradient_s": median_time(torch_step, (), timing)[0],
                     "first_call_s": first_call(torch_step, ())})
    except ImportError:
        rows.append({"workload": "W1 step", "tool": "PyTorch", "skipped": "not installed"})
    numba_time = _row(rows, "Numba by hand")["gradient_s"]
    for row in rows:
        if "gradient_s" in row:
            row["over_numba_by_hand"] = row["gradient_s"] / numba_time
    return "training step of W1 (forward, backward, SGD update)", rows


COMPILE_PROBE = """
import sys, time
sys.path.insert(0, {bench!r})
start = time.perf_counter()
import numpy as np, adcompiler, workloads as W
imported = time.perf_counter()
try:
    gradient = adcompiler.value_and_grad(W.{loss}, wrt={wrt})
    gradient(*W.{inputs}())
except adcompiler.CompileError as error:
    print("refused", error.message)
else:
    first = time.perf_counter()
    for _, executable in gradient.specialisations.values():
        executable.wait()  # the kernels, compiled in the background
    print(imported - start, first - imported, time.perf_counter() - imported)
"""
COMPILE_PROBED = ("W1", "W3")


def compile_times(names):
    """First call of each workload's gradient in a fresh process with an empty cache of its own,
    then in a second process served from that cache."""
    info = {}
    for name in names:
        work = WORKLOADS[name]
        probe = COMPILE_PROBE.format(bench=str(Path(__file__).resolve().parent), loss=work.loss.__name__,
                                     wrt=tuple(range(work.n_params)), inputs=work.inputs.__name__)
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, ADCOMPILER_CACHE_DIR=cache)  # with the thread settings above
            env.pop("ADCOMPILER_COMPILE")  # as users run it: kernels compile in the background
            for run in ("cold", "cached"):
                done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                      preexec_fn=cores.unpinned)  # first calls as users meet them
                out = done.stdout.split(maxsplit=1)
                if done.returncode:
                    info[f"{name}_skipped"] = f"failed, {(done.stderr.strip().splitlines() or ['no output'])[-1]}"
                    break
                if out[0] == "refused":
                    info[f"{name}_skipped"] = f"refused, CompileError: {out[1].strip()}"
                    break
                info[f"{name}_{run}_first_call_s"], info[f"{name}_{run}_kernels_ready_s"] = map(float, out[1].split())
                info["import_s"] = float(out[0])  # NumPy, Numba and adcompiler, from the cached run
    return info


def _ms(seconds):
    return "" if seconds is None else f"{seconds * 1e3:.3f} ms"


COLUMNS = {  # header: the cell of a measured row
    "forward": lambda r: _ms(r.get("forward_s")),
    "gradient": lambda r: _ms(r["gradient_s"]) if "gradient_s" in r else r["note"],
    "gradient/forward": lambda r: "" if r.get("gradient_over_forward") is None else f"{r['gradient_over_forward']:.2f}",
    "vs Numba by hand": lambda r: "n/a" if r.get("over_numba_by_hand") is None else f"{r['over_numba_by_hand']:.2f}x",
    "first call": lambda r: f"{r['first_call_s']:.2f} s",
    "max diff": lambda r: f"{r['max_difference']:.1e}" if "max_difference" in r else "",
}
MEMORY_COLUMN = {"peak RSS growth": lambda r: "n/a" if r["peak_rss_growth_bytes"] is None else
                 f"{r['peak_rss_growth_bytes'] / 2**20:.1f} MB"}


def table(description, rows):
    columns = {**COLUMNS, **(MEMORY_COLUMN if any("peak_rss_growth_bytes" in r for r in rows) else {})}
    compared = next((r["compared_with"] for r in rows if "compared_with" in r), None)
    lines = [f"### {rows[0]['workload']}: {description}", ""]
    if compared:
        lines += [f"max diff: largest difference of the value and gradient elements from {compared}'s "
                  "(of the value alone where a tool has no gradient), scaled as ADBench checks gradients: "
                  "|a - b| / max(1, |a| + |b|).", ""]
    lines += ["| tool | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in rows:
        cells = [f"skipped: {r['skipped']}"] + [""] * (len(columns) - 1) if "skipped" in r else \
            [cell(r) for cell in columns.values()]
        lines.append(f"| {r['tool']} | " + " | ".join(cells) + " |")
    return lines + [""]


def _measured(tables, workload, tool):
    return next((row for _, rows in tables if (row := _row(rows, tool)) and row["workload"] == workload), None)


def _fastest_peer(tables, workload, row):
    times = [r["gradient_s"] for r in (_measured(tables, workload, peer) for peer in peers.PEERS) if r]
    return row["gradient_s"] / min(times) if times else None


def _over_pytorch(tables, workload, row):
    torch_row = _measured(tables, workload, "PyTorch")
    return torch_row["gradient_s"] / row["gradient_s"] if torch_row else None


def _bytes_per_step(tables, workload, row):
    growth = row.get("peak_rss_growth_bytes")
    return None if growth is None else growth / WORKLOADS[workload].inputs()[-1]  # the last argument is n


GOALS = [  # goal, workloads, measure of a tool's row, met (None: reported only), format
    ("gradient/forward <= 2.5 on every workload", ("W1", "W2", "W3", "W4", "GMM", "LSTM"),
     lambda tables, w, r: r["gradient_over_forward"], lambda v: v <= 2.5, "{:.2f}"),
    ("W2 and W3 within 1.2x of hand-written Numba", ("W2", "W3"),
     lambda tables, w, r: r["over_numba_by_hand"], lambda v: v <= 1.2, "{:.2f}x"),
    ("W1 and W4 faster than the fastest peer", ("W1", "W4"), _fastest_peer, lambda v: v < 1.0,
     "{:.2f}x the fastest peer's time"),
    ("W3 at least 1000x faster than PyTorch eager", ("W3",), _over_pytorch, lambda v: v >= 1000, "{:.0f}x"),
    ("W3 with 1,000,000 steps runs in bounded memory (peak RSS growth of one gradient call)", ("W3-1M",),
     _bytes_per_step, None, "{:.1f} bytes per step"),
]


def _verdict(verdicts, met, expected):
    if not verdicts:
        return "not measured"
    if met is None:
        return "reported"
    if not all(verdicts):
        return "not met"
    return "met" if len(verdicts) == expected else "met where measured"


def goal_lines(tables, compile_info):
    """Where adcompiler stands against the issue's goals; where adcompiler did not run a workload,
    what the hand-written Numba adjoint reaches there."""
    lines = ["### Goals", "", "| goal | now |", "|---|---|"]
    for goal, workloads, measure, met, fmt in GOALS:
        parts, verdicts = [], []
        for workload in workloads:
            row, hand = _measured(tables, workload, "adcompiler"), _measured(tables, workload, "Numba by hand")
            value = measure(tables, workload, row) if row else None
            if value is not None:
                parts.append(f"{workload} {fmt.format(value)}")
                verdicts.append(met is None or met(value))
            elif hand is not None:
                bound = measure(tables, workload, hand)
                parts.append(f"{workload}: adcompiler did not run"
                             + ("" if bound is None else f" (Numba by hand: {fmt.format(bound)})"))
        if parts:
            lines.append(f"| {goal} | {', '.join(parts)}: {_verdict(verdicts, met, len(workloads))} |")
    if "W1_cold_first_call_s" in compile_info:
        cold, cached = compile_info["W1_cold_first_call_s"], compile_info["W1_cached_first_call_s"]
        lines.append(f"| first result of W1 <= 0.5 s with an empty cache | {cold:.2f} s, {cached:.2f} s "
                     f"from the cache: {'met' if cold <= 0.5 else 'not met'} |")
    return lines + [""]


def markdown(tables, compile_info, threads):
    lines = [f"Threads: {threads}. Times are medians; ratios are gradient time over the hand-written Numba "
             "gradient's (lower is better; n/a where there is none).", ""]
    for description, rows in tables:
        lines += table(description, rows)
    lines += goal_lines(tables, compile_info)
    for name in COMPILE_PROBED:
        if f"{name}_skipped" in compile_info:
            lines.append(f"- Compilation of {name}'s gradient: {compile_info[f'{name}_skipped']}")
        elif f"{name}_cold_first_call_s" in compile_info:
            lines.append(f"- First call of {name}'s gradient (fresh processes; kernels compile in the background): "
                         f"first result {compile_info[f'{name}_cold_first_call_s']:.2f} s with an empty cache, "
                         f"{compile_info[f'{name}_cached_first_call_s']:.2f} s from the disk cache; kernels ready "
                         f"{compile_info[f'{name}_cold_kernels_ready_s']:.2f} s and "
                         f"{compile_info[f'{name}_cached_kernels_ready_s']:.2f} s")
    if "import_s" in compile_info:
        lines.append(f"- Import of NumPy, Numba and adcompiler: {compile_info['import_s']:.2f} s")
    return "\n".join(lines)


def bar_chart(tables, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no chart)")
        return
    charted = [[r for r in rows if "gradient_s" in r] for _, rows in tables]
    charted = [rows for rows in charted if rows]
    figure, axes = plt.subplots(1, len(charted), figsize=(4 * len(charted), 3.5))
    for axis, rows in zip(np.atleast_1d(axes), charted):
        base = _row(rows, "Numba by hand") or _row(rows, "adcompiler") or rows[0]  # GMM, LSTM: no Numba
        axis.bar([r["tool"] for r in rows], [r["gradient_s"] / base["gradient_s"] for r in rows])
        axis.set(title=rows[0]["workload"], ylabel=f"gradient time / {base['tool']}", yscale="log")
        axis.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def blas_kernel() -> str:
    """Which BLAS library and kernel ran (threadpoolctl), and the variables that force a kernel."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl is not installed)"
    libraries = [f"{i['internal_api']} {i.get('version')}, kernel {i.get('architecture')}"
                 for i in threadpool_info() if i["user_api"] == "blas"]
    forced = [f"{name}={os.environ[name]}" for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ]
    return "; ".join(libraries) + (f" (forced by {', '.join(forced)})" if forced else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short timing budget")
    parser.add_argument("--only", default=",".join([*WORKLOADS, "step"]),
                        help=f"comma-separated workloads, of {', '.join([*WORKLOADS, 'step'])}")
    parser.add_argument("--json", default=str(Path(__file__).with_name("results.json")))
    parser.add_argument("--png", default=str(Path(__file__).with_name("ratios.png")))
    parser.add_argument("--threads", default="1", help="BLAS, OpenMP, Numba and PyTorch threads (default 1)")
    options = parser.parse_args(argv)
    timing = Timing(0.3, 2) if options.quick else Timing(2.0, 5)
    chosen = options.only.split(",")
    unknown = set(chosen) - {*WORKLOADS, "step"}
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}")
    tables = [run_workload(name, timing) for name in WORKLOADS if name in chosen]
    if "step" in chosen:
        tables.append(run_training_step(timing))
    compile_info = compile_times([name for name in COMPILE_PROBED if name in chosen])
    threads = (f"{THREADS} (OpenBLAS, OpenMP, MKL, Numba, PyTorch and XLA threads"
               f"{', the process pinned to one core' if THREADS == '1' else ''}), on a machine of "
               f"{os.cpu_count()} cores; BLAS: {blas_kernel()}")
    print(markdown(tables, compile_info, threads))
    Path(options.json).write_text(json.dumps({"tables": [{"description": d, "rows": r} for d, r in tables],
                                              "compile": compile_info, "threads": threads}, indent=1))
    bar_chart(tables, options.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
