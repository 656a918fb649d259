"""`python -m adcompiler export FILE.py:FUNCTION --args ... --wrt ... -o OUT.py` writes a standalone
module: it runs without adcompiler (in a fresh venv holding only NumPy) and gives adcompiler's value
and gradient, which finite differences confirm."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import adcompiler
from adcompiler.__main__ import main
from adcompiler.backend import runtime
from adcompiler.export import _helpers, parse_types
from fd import fd_grad

REPO = Path(adcompiler.__file__).resolve().parent.parent
SEED = 180

MODEL = textwrap.dedent("""\
    import numpy as np
    from adcompiler import nn

    SCALE = np.array([0.5, 2.0, 1.5])  # a global array: embedded in the export


    def loss(W1, b1, W2, X, Y):
        h = np.tanh(X @ W1 + b1)
        return nn.softmax_cross_entropy((h @ W2) * SCALE, Y) + np.sum(np.cumsum(b1) ** 2)


    def looped(x, n):
        total = 0.0
        for i in range(n):
            total = total + np.sum(np.sin(x) * i)
        return total
    """)

ARGS = "f64[4,5], f64[5], f64[5,3], f64[6,4], f64[6,3]"

DRIVER = textwrap.dedent("""\
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import exported
    arrays = np.load(sys.argv[2])
    args = [arrays[f"a{i}"] for i in range(len(arrays.files))]
    value, grads = exported.value_and_grad(*args)
    out, *residuals = exported.forward(*args)
    again = exported.backward(*residuals, 1.0)
    print(json.dumps({"value": float(value), "grads": [g.tolist() for g in grads],
                      "again": [g.tolist() for g in again], "value_again": float(out),
                      "adcompiler": "adcompiler" in sys.modules, "modules": sorted(m for m in ("scipy", "numba") if m in sys.modules)}))
    """)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(the folder of exported.py, the model module, arguments saved as args.npz, the arguments)."""
    folder = tmp_path_factory.mktemp("export")
    (folder / "model.py").write_text(MODEL)
    out = folder / "out"
    out.mkdir()
    assert main(["export", f"{folder / 'model.py'}:loss", "--args", ARGS, "--wrt", "W1,b1,W2",
                 "-o", str(out / "exported.py")]) == 0
    (folder / "driver.py").write_text(DRIVER)
    rng = np.random.default_rng(SEED)
    args = [rng.normal(size=np.shape(a)) for a in parse_types(ARGS)]
    args[4] = np.eye(3)[rng.integers(0, 3, 6)]
    np.savez(folder / "args.npz", **{f"a{i}": a for i, a in enumerate(args)})
    sys.path.insert(0, str(folder))
    try:
        import model
    finally:
        sys.path.remove(str(folder))
    return folder, model, args


def check_results(result, model, args):
    value, grads = adcompiler.value_and_grad(model.loss, wrt=(0, 1, 2))(*args)
    assert result["value"] == pytest.approx(value, rel=1e-12) and result["value_again"] == pytest.approx(value, rel=1e-12)
    for k, (theirs, again, mine) in enumerate(zip(result["grads"], result["again"], grads, strict=True)):
        np.testing.assert_allclose(theirs, mine, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(again, mine, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(theirs, fd_grad(model.loss, args, k), rtol=1e-7, atol=1e-9)
    assert not result["adcompiler"]


def run_driver(python, folder):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-I", str(folder / "driver.py"), str(folder / "out"), str(folder / "args.npz")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_exported_module_gives_adcompilers_gradient(exported):
    folder, model, args = exported
    text = (folder / "out" / "exported.py").read_text()
    assert "adcompiler" not in "".join(line for line in text.splitlines() if line.startswith(("import", "from")))
    assert "def cumsum_axis" in text and "def index_add" not in text  # the helpers it uses, only those
    result = run_driver(sys.executable, folder)  # isolated (-I): adcompiler is not on its path
    check_results(result, model, args)
    assert result["modules"] == []


@pytest.mark.slow
def test_the_exported_module_runs_in_a_fresh_venv_with_only_numpy(exported, tmp_path):
    folder, model, args = exported
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "numpy"], check=True, timeout=600)
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=json"], capture_output=True, text=True,
                            check=True).stdout
    assert {p["name"] for p in json.loads(listed)} <= {"numpy", "pip", "setuptools"}
    check_results(run_driver(venv / "bin" / "python", folder), model, args)


def test_a_module_with_kernels_exports(exported, tmp_path):
    folder, model, _ = exported
    target = tmp_path / "looped.py"
    assert main(["export", f"{folder / 'model.py'}:looped", "--args", "f64[3], i64", "-o", str(target)]) == 0
    namespace = {}
    exec(compile(target.read_text(), str(target), "exec"), namespace)
    x = np.array([0.3, -1.2, 2.0])
    value, (gradient,) = namespace["value_and_grad"](x, 4)
    expected_value, expected = adcompiler.value_and_grad(model.looped, jit=False)(x, 4)
    assert value == pytest.approx(expected_value, rel=1e-12)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12)
    np.testing.assert_allclose(gradient, 6 * np.cos(x), rtol=1e-12)  # sum over i < 4 of i cos(x)


@pytest.mark.parametrize("name", runtime.HELPERS)
def test_every_runtime_helper_exports_on_its_own(name):
    blocks, imports = _helpers([name])
    namespace = {}
    exec("\n".join([*imports, *blocks]), namespace)
    assert callable(namespace[name]) and namespace[name].__code__.co_code == getattr(runtime, name).__code__.co_code


@pytest.mark.parametrize("args, message", [("f65[3]", "cannot read the argument type"), ("f64[3] f64", "expected a comma")])
def test_bad_argument_types_are_refused(args, message, exported, capsys):
    folder, _, _ = exported
    with pytest.raises(SystemExit):
        main(["export", f"{folder / 'model.py'}:loss", "--args", args])
    assert message in capsys.readouterr().err


def test_a_wrong_number_of_argument_types_is_an_error(exported, capsys):
    folder, _, _ = exported
    assert main(["export", f"{folder / 'model.py'}:loss", "--args", "f64[3]"]) == 1
    assert "loss has 5 parameters" in capsys.readouterr().err
