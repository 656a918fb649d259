"""First-call latency, as a user meets it (issue #15), in fresh processes with one thread.

The benchmark workloads (W1..W4, ADBench GMM and LSTM, bench/run.py's): each gradient's first
result with an empty cache (kernels compile in the background), the same in a second process served
from the disk cache (adcompiler's cache of builds and Numba's of kernels; the best of `--repeat`
such processes), that second process's whole time from its start (the interpreter, `import
adcompiler` and the first call; not loading the benchmark's own module and data), and the steady
state (median call once the kernels are ready) beside them. GMM and LSTM are read from
bench/adbench.py alone, so their probes import Numba when their kernels need it, as a user's process
does; W1..W4 come from bench/workloads.py, which imports Numba for its hand-written peers before the
first call (the table says which). Then the project's corpus of programs
(tests/corpus.py): the time to the first gradient and until the Numba kernels are ready, with an
empty cache and from the disk cache; the median and maximum over the corpus.

    python bench/compile_latency.py [--only NAME,NAME] [--workloads W1,GMM | --workloads none]
                                    [--repeat 3] [--json bench/compile_latency.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
BENCH = Path(__file__).resolve().parent
WORKLOADS = ("W1", "W2", "W3", "W4", "GMM", "LSTM")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}

WORKLOAD_PROBE = """
import os, sys, time
def since_start():  # seconds since this process started (Linux; clock ticks)
    ticks = os.sysconf("SC_CLK_TCK")
    started = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / ticks
    return float(open("/proc/uptime").read().split()[0]) - started
import numpy as np, adcompiler
at_import = since_start()
sys.path.insert(0, {bench!r})
if {name!r} in ("GMM", "LSTM"):  # ADBench's objectives alone: nothing imports Numba before the call
    import adbench
    if {name!r} == "GMM":
        loss, n_params, args = adbench.gmm_objective, 3, list(adbench.read_gmm(adbench.data_dir() / {gmm!r}))
    else:
        loss, n_params, args = adbench.lstm_objective, 2, list(adbench.read_lstm(adbench.data_dir() / {lstm!r}))
else:
    from run import WORKLOADS  # which imports Numba (for the hand-written peers) and asks for sync compiles
    os.environ.pop("ADCOMPILER_COMPILE")  # kernels compile in the background, as users' code does
    work = WORKLOADS[{name!r}]
    loss, n_params, args = work.loss, work.n_params, work.inputs()
numba_before = "numba" in sys.modules
gradient = adcompiler.value_and_grad(loss, wrt=tuple(range(n_params)))
begin = time.perf_counter()
gradient(*args)
first = time.perf_counter() - begin
for _, executable in gradient.specialisations.values():
    executable.wait()
ready = time.perf_counter() - begin
calls = []
while len(calls) < 5 or (sum(calls) < 1.0 and len(calls) < 200):
    start = time.perf_counter()
    gradient(*args)
    calls.append(time.perf_counter() - start)
print(numba_before, at_import, first, ready, sorted(calls)[len(calls) // 2])
"""

PROBE = """
import sys, time
start = time.perf_counter()
import numpy as np, adcompiler
imported = time.perf_counter()
sys.path.insert(0, {tests!r})
from corpus import PROGRAMS
(program,) = [p for p in PROGRAMS if p.name == {name!r}]
args = program.make_args(np.random.default_rng(0))
try:
    gradient = adcompiler.value_and_grad(program.fn, wrt=program.wrt)
    begin = time.perf_counter()
    gradient(*args)
except adcompiler.CompileError as error:
    print("refused", str(error).splitlines()[0])
else:
    first = time.perf_counter()
    for _, executable in gradient.specialisations.values():
        executable.wait()
    ready = time.perf_counter()
    states = ";".join(executable.state for _, executable in gradient.specialisations.values())
    print(imported - start, first - begin, ready - begin, states)
"""


def _probe_environment(cache: str) -> dict:
    """A fresh process's environment as a user's: one thread, the cache folder `cache`, kernels
    compiled in the background, and Python's bytecode cache on (an installed package has one;
    without it, compiling adcompiler's modules at import takes longer than importing them)."""
    dropped = ("ADCOMPILER_COMPILE", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(ONE_THREAD, ADCOMPILER_CACHE_DIR=cache)
    return env


def measure(name: str) -> dict:
    row = {"name": name}
    with tempfile.TemporaryDirectory() as cache:
        env = _probe_environment(cache)
        for run in ("empty", "cached"):
            done = subprocess.run([sys.executable, "-c", PROBE.format(tests=str(TESTS), name=name)], env=env,
                                  capture_output=True, text=True, timeout=600)
            out = (done.stdout.strip().splitlines() or ["failed"])[-1]
            if done.returncode or out.startswith(("refused", "failed")):
                row["status"] = out if not done.returncode else f"failed: {done.stderr.strip().splitlines()[-1]}"
                return row
            imported, first, ready, state = out.split(maxsplit=3)
            row.update({f"{run}_import_s": float(imported), f"{run}_first_s": float(first),
                        f"{run}_ready_s": float(ready), "state": state})
    row["status"] = "ok"
    return row


def measure_workload(name: str, repeat: int) -> dict:
    """A workload's gradient in fresh processes sharing an empty cache folder: the first, then
    `repeat` served from the cache (the best of each figure)."""
    from workloads import GMM_FILE, LSTM_FILE
    row = {"name": name}
    probe = WORKLOAD_PROBE.format(bench=str(BENCH), name=name, gmm=GMM_FILE, lstm=LSTM_FILE)
    with tempfile.TemporaryDirectory() as cache:
        env = _probe_environment(cache)
        for run in ("empty", *["cached"] * repeat):
            done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=900)
            if done.returncode:
                row["status"] = f"failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}"
                return row
            before, *figures = done.stdout.split()[-5:]
            at_import, first, ready, steady = map(float, figures)
            for key, value in ((f"{run}_first_s", first), (f"{run}_ready_s", ready),
                               (f"{run}_process_s", at_import + first)):
                row[key] = min(row.get(key, value), value)
            row["steady_s"], row["numba_before"] = min(row.get("steady_s", steady), steady), before == "True"
    row["status"] = "ok"
    return row


def workload_table(names: list, repeat: int) -> list:
    rows = []
    print("| workload | first result, empty cache | kernels ready | first result, disk cache | second process "
          "(start to first result) | Numba imported before the call | steady state |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        row = measure_workload(name, repeat)
        rows.append(row)
        if row["status"] != "ok":
            print(f"| {name} | {row['status']} | | | | | |", flush=True)
        else:
            print(f"| {name} | {row['empty_first_s']:.3f} s | {row['empty_ready_s']:.2f} s | {row['cached_first_s']:.3f} s "
                  f"| {row['cached_process_s']:.3f} s | {'yes (workloads.py)' if row['numba_before'] else 'no'} "
                  f"| {row['steady_s'] * 1e3:.3f} ms |", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated program names of the corpus, or none")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated workloads, or none")
    parser.add_argument("--repeat", type=int, default=3, help="processes served from the cache per workload (best)")
    parser.add_argument("--json", default="", help="write the rows here")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:  # writes adcompiler's bytecode cache, as installing it does
        subprocess.run([sys.executable, "-c", "import adcompiler"], env=_probe_environment(cache), check=True)
    load = os.getloadavg()
    print(f"Load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; one thread.\n")
    sys.path.insert(0, str(BENCH))
    workload_rows = workload_table([] if options.workloads == "none" else options.workloads.split(","), options.repeat)
    print()
    sys.path.insert(0, str(TESTS))
    from corpus import PROGRAMS
    names = [p.name for p in PROGRAMS if not options.only or p.name in options.only.split(",")]
    rows = []
    if options.only == "none":
        names = []
    print("| program | first result, empty cache | kernels ready | first result, cached | kernels ready, cached | runs as |")
    print("|---|---|---|---|---|---|")
    for name in names:
        row = measure(name)
        rows.append(row)
        if row["status"] != "ok":
            print(f"| {name} | {row['status']} | | | | |")
        else:
            print(f"| {name} | {row['empty_first_s']:.3f} s | {row['empty_ready_s']:.2f} s | {row['cached_first_s']:.3f} s "
                  f"| {row['cached_ready_s']:.2f} s | {row['state']} |", flush=True)
    done = [r for r in rows if r["status"] == "ok"]
    if done:
        for key, what in (("empty_first_s", "first result, empty cache"), ("empty_ready_s", "kernels ready, empty cache"),
                          ("cached_first_s", "first result, cached"), ("cached_ready_s", "kernels ready, cached")):
            values = [r[key] for r in done]
            print(f"- {what}: median {statistics.median(values):.3f} s, maximum {max(values):.3f} s "
                  f"({max(done, key=lambda r: r[key])['name']}), over {len(done)} programs")
    if options.json:
        Path(options.json).write_text(json.dumps({"workloads": workload_rows, "corpus": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
