"""`import adcompiler` does not import Numba, nor does plain Python (`jit=False`, `show`): Numba is
imported when the first function is compiled for it. Nor SciPy, whose functions are bound when the
user's code imports them. Dask (an optional extra) is never imported by adcompiler itself. Checked
in a fresh process."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import adcompiler

REPO = Path(adcompiler.__file__).resolve().parent.parent

CHILD = textwrap.dedent("""\
    import json
    import sys

    import numpy as np

    import adcompiler

    imported = ["numba" in sys.modules]
    scipy_at_import = "scipy" in sys.modules
    assert not any(name.split(".")[0] in ("dask", "distributed") for name in sys.modules)


    def loss(x, n):
        total = 0.0
        for i in range(n):
            if i % 2 == 0:
                total = total + np.sum(np.sin(x) * i)
            else:
                total = total - np.mean(np.max(x[None, :] * x[:, None], axis=0, keepdims=True))
        return total


    x = np.linspace(0.1, 1.0, 4)
    plain = adcompiler.grad(loss, jit=False)(x, 5)
    adcompiler.show(loss, x, 5, print_it=False)
    imported.append("numba" in sys.modules)
    compiled = adcompiler.grad(loss)(x, 5)
    imported.append("numba" in sys.modules)
    assert not any(name.split(".")[0] in ("dask", "distributed") for name in sys.modules)
    from scipy import special  # bound to primitives once imported


    def total_erf(z):
        return np.sum(special.erf(z))


    erf_gradient = adcompiler.grad(total_erf, jit=False)(x)
    print(json.dumps({"imported": imported, "plain": plain.tolist(), "compiled": compiled.tolist(),
                      "scipy_at_import": scipy_at_import, "erf_gradient": erf_gradient.tolist()}))
    """)


def test_numba_is_imported_by_the_first_compilation(tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    done = subprocess.run([sys.executable, str(tmp_path / "child.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == [False, False, True]
    assert result["scipy_at_import"] is False  # a quarter of a second, imported when the user's code does
    np.testing.assert_allclose(result["erf_gradient"], 2 / np.sqrt(np.pi) * np.exp(-np.linspace(0.1, 1.0, 4) ** 2),
                               rtol=1e-12)
    np.testing.assert_allclose(result["compiled"], result["plain"], rtol=1e-12)
