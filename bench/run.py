"""Benchmarks: adcompiler against hand-written NumPy and Numba gradients, PyTorch eager, JAX and
HIPS autograd, on the same mathematics in float64, in one run.

    python bench/run.py [--quick] [--only W1,W4] [--json bench/results.json] [--png bench/ratios.png]

For each workload and tool: median forward and gradient times, gradient/forward ratio, the ratio
to the hand-written Numba gradient, the first-call time and the largest difference of the
gradient from adcompiler's. Peers that are not installed are skipped with a note
(`pip install -e '.[bench]'` installs them). Cold and cached first-call times of adcompiler are
measured in fresh processes.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _threads_from_argv() -> str:
    """Thread counts must be set before NumPy, Numba, PyTorch or JAX start: read --threads early."""
    argv = sys.argv[1:]
    return argv[argv.index("--threads") + 1] if "--threads" in argv else "1"


THREADS = _threads_from_argv()
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = THREADS
os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if THREADS != '1' else 'false'}"

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
import workloads as W  # noqa: E402

import adcompiler  # noqa: E402

WORKLOADS = {
    # name: (description, adcompiler loss, number of differentiated parameters, inputs, numpy, numba)
    "W1": ("MLP 128x64 -> tanh 128 -> softmax-CE 10", W.mlp1_loss, 4,
           lambda: W.mlp_inputs([64, 128, 10], 128), W.mlp1_numpy, W.mlp1_numba),
    "W2": ("MLP 256x784 -> ReLU 512 -> ReLU 256 -> softmax-CE 10", W.mlp2_loss, 6,
           lambda: W.mlp_inputs([784, 512, 256, 10], 256), W.mlp2_numpy, W.mlp2_numba),
    "W4": ("sum(2/sin(exp(-x))), 1,000,000 values", W.toy_loss, 1, W.toy_inputs, W.toy_numpy, W.toy_numba),
}
NOT_YET = {"W3": "scalar recurrence loop: needs loops (issue 3)",
           "GMM": "ADBench GMM: needs loops (issue 3)", "LSTM": "ADBench LSTM: needs loops (issue 3)"}


def median_time(function, args, budget):
    """Median seconds of `function(*args)` after a warm-up, over as many calls as fit in `budget`."""
    function(*args)
    times = []
    deadline = time.perf_counter() + budget
    while len(times) < 5 or (time.perf_counter() < deadline and len(times) < 10_000):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(times)


def first_call(function, args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def run_workload(name, budget):
    description, loss, n_params, make_inputs, numpy_grad, numba_grad = WORKLOADS[name]
    inputs = make_inputs()
    rows = []
    wrt = tuple(range(n_params))
    ad_forward, ad_grad = adcompiler.jit(loss), adcompiler.value_and_grad(loss, wrt=wrt)
    compile_first = first_call(ad_grad, inputs) + first_call(ad_forward, inputs)
    reference_value, reference = ad_grad(*inputs)
    tools = [("adcompiler", list, ad_forward, lambda *a: ad_grad(*a), compile_first, "value_and_grad, Numba"),
             ("NumPy by hand", list, lambda *a: numpy_grad(*a)[0], numpy_grad, 0.0, "hand-written backprop"),
             ("Numba by hand", list, None, numba_grad, first_call(numba_grad, inputs), "hand-written adjoint")]
    for peer, builder in peers.PEERS.items():
        try:
            convert, forward, value_and_grad, note = builder(name, n_params)
        except ImportError as error:
            rows.append({"workload": name, "tool": peer, "skipped": f"not installed ({error.name})"})
            continue
        peer_inputs = convert(inputs)
        tools.append((peer, convert, forward, value_and_grad, first_call(value_and_grad, peer_inputs), note))
    numba_time = None
    for tool, convert, forward, value_and_grad, first, note in tools:
        args = convert(inputs)
        grad_time, reps = median_time(value_and_grad, args, budget)
        forward_time = median_time(forward, args, budget)[0] if forward is not None else None
        value, grads = value_and_grad(*args)
        difference = max(float(np.max(np.abs(np.asarray(g) - r))) for g, r in zip(grads, reference))
        difference = max(difference, abs(float(value) - reference_value))
        if tool == "Numba by hand":
            numba_time = grad_time
        rows.append({"workload": name, "tool": tool, "note": note, "forward_s": forward_time,
                     "gradient_s": grad_time, "repetitions": reps, "first_call_s": first,
                     "max_difference": difference})
    for row in rows:
        if "gradient_s" in row:
            row["gradient_over_forward"] = row["gradient_s"] / row["forward_s"] if row["forward_s"] else None
            row["over_numba_by_hand"] = row["gradient_s"] / numba_time
    return description, rows


def run_training_step(budget):
    """Forward, backward and SGD update of W1, as one compiled step against the same in the peers."""
    inputs = W.mlp_inputs([64, 128, 10], 128)
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
        rows.append({"workload": "W1 step", "tool": tool, "gradient_s": median_time(function, args, budget)[0],
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

        rows.append({"workload": "W1 step", "tool": "PyTorch", "gradient_s": median_time(torch_step, (), budget)[0],
                     "first_call_s": first_call(torch_step, ())})
    except ImportError:
        rows.append({"workload": "W1 step", "tool": "PyTorch", "skipped": "not installed"})
    numba_time = next(r["gradient_s"] for r in rows if r["tool"] == "Numba by hand")
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
inputs = W.mlp_inputs([64, 128, 10], 128)
adcompiler.value_and_grad(W.mlp1_loss, wrt=(0, 1, 2, 3))(*inputs)
print(imported - start, time.perf_counter() - imported)
"""


def compile_times():
    """First call of W1's gradient in a fresh process with an empty cache, then in a second one."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, ADCOMPILER_CACHE_DIR=cache)  # with the thread settings above
        probe = COMPILE_PROBE.format(bench=str(Path(__file__).resolve().parent))
        results = []
        for _ in ("cold", "cached"):
            out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
            results.append([float(v) for v in out.stdout.split()])
    return {"W1_cold_first_call_s": results[0][1], "W1_cached_first_call_s": results[1][1],
            "import_s": results[1][0]}


def markdown(tables, compile_info, threads):
    lines = [f"Threads: {threads}. Times are medians; ratios are gradient time over the hand-written Numba "
             "gradient's (lower is better).", ""]
    for description, rows in tables:
        lines += [f"### {rows[0]['workload']}: {description}", "",
                  "| tool | forward | gradient | gradient/forward | vs Numba by hand | first call | max diff |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            if "skipped" in r:
                lines.append(f"| {r['tool']} | skipped: {r['skipped']} | | | | | |")
                continue
            fmt = lambda s: "" if s is None else f"{s * 1e3:.3f} ms"  # noqa: E731
            ratio = r.get("gradient_over_forward")
            lines.append(f"| {r['tool']} | {fmt(r.get('forward_s'))} | {fmt(r['gradient_s'])} | "
                         f"{'' if ratio is None else f'{ratio:.2f}'} | {r['over_numba_by_hand']:.2f}x | "
                         f"{r['first_call_s']:.2f} s | {r.get('max_difference', float('nan')):.1e} |")
        lines.append("")
    for name, reason in NOT_YET.items():
        lines.append(f"- {name}: not run yet, {reason}")
    lines += ["", "Compilation of W1's gradient (fresh processes): "
              f"cold {compile_info['W1_cold_first_call_s']:.2f} s, from the disk cache "
              f"{compile_info['W1_cached_first_call_s']:.2f} s (import of adcompiler {compile_info['import_s']:.2f} s)."]
    return "\n".join(lines)


def bar_chart(tables, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no chart)")
        return
    figure, axes = plt.subplots(1, len(tables), figsize=(4 * len(tables), 3.5))
    for axis, (description, rows) in zip(np.atleast_1d(axes), tables):
        rows = [r for r in rows if "gradient_s" in r]
        axis.bar([r["tool"] for r in rows], [r["over_numba_by_hand"] for r in rows])
        axis.set(title=rows[0]["workload"], ylabel="gradient time / Numba by hand", yscale="log")
        axis.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short timing budget")
    parser.add_argument("--only", default="W1,W2,W4,step", help="comma-separated workloads")
    parser.add_argument("--json", default=str(Path(__file__).with_name("results.json")))
    parser.add_argument("--png", default=str(Path(__file__).with_name("ratios.png")))
    parser.add_argument("--threads", default="1", help="BLAS, OpenMP, Numba and PyTorch threads (default 1)")
    options = parser.parse_args(argv)
    budget = 0.3 if options.quick else 2.0
    chosen = options.only.split(",")
    tables = [run_workload(name, budget) for name in WORKLOADS if name in chosen]
    if "step" in chosen:
        tables.append(run_training_step(budget))
    compile_info = compile_times()
    threads = (f"{THREADS} (OpenBLAS, OpenMP, MKL, Numba and PyTorch threads; XLA's Eigen pool "
               f"{'on' if THREADS != '1' else 'off'}), on a machine of {os.cpu_count()} cores")
    print(markdown(tables, compile_info, threads))
    Path(options.json).write_text(json.dumps({"tables": [{"description": d, "rows": r} for d, r in tables],
                                              "compile": compile_info, "threads": threads}, indent=1))
    bar_chart(tables, options.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
