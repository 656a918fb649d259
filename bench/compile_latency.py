"""First-call latency over the project's corpus of realistic programs (tests/corpus.py), each in a
fresh process with an empty cache, as a user meets it: the time to import adcompiler, to the first
gradient (kernels compile in the background), and until the Numba kernels are ready; then the same
again in a second process served from the disk cache. Prints a table and the median and maximum.

    python bench/compile_latency.py [--only NAME,NAME] [--json bench/compile_latency.json]
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


def measure(name: str) -> dict:
    row = {"name": name}
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "ADCOMPILER_COMPILE"}
        env["ADCOMPILER_CACHE_DIR"] = cache
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated program names")
    parser.add_argument("--json", default="", help="write the rows here")
    options = parser.parse_args(argv)
    sys.path.insert(0, str(TESTS))
    from corpus import PROGRAMS
    names = [p.name for p in PROGRAMS if not options.only or p.name in options.only.split(",")]
    rows = []
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
        Path(options.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
