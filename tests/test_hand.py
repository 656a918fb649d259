"""ADBench's hand tracking (bench/adbench.py) against ADBench's reference values (golden.json):
the objective and its Jacobian, simple and complicated, by jacfwd, jacrev and jacobian (plain Python; compiled
in the slow run), element by element as ADBench checks them; and at the benchmark's size (100
points) against float64 central finite differences.

The data is the vendored copy of ADBench's hand model and inputs in tests/data/adbench/hand (MIT
licence, see tests/data/adbench/LICENSE). Transformed functions are built once per module.
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompiler
from bench import adbench
from fd import fd_jacobian
from test_adbench import DATA, assert_adbench_equal

HAND = DATA / "hand"
JACOBIAN = "jacobian_calculation_correctness:expected_jacobian"
OBJECTIVE = "objective_calculation_correctness:expected_objective"


def instance(path, complicated):
    """The objective and its arguments for ADBench's hand input at `path`."""
    return adbench.hand_instance(HAND / "model", HAND / path, complicated)


CASES = {"simple": ("test.txt", False), "complicated": ("hand_complicated.txt", True)}
OBJECTIVES = {"simple": (adbench.hand_objective, 0), "complicated": (adbench.hand_objective_complicated, (0, 1))}
TRANSFORMS = {(kind, mode, jit): getattr(adcompiler, mode)(OBJECTIVES[kind][0], wrt=OBJECTIVES[kind][1], jit=jit)
              for kind in CASES for mode in ("jacfwd", "jacrev", "jacobian") for jit in (False, True)}


@pytest.fixture(scope="module")
def golden():
    import json
    with open(DATA / "golden.json") as handle:
        return json.load(handle)["hand"]


def test_read_hand():
    theta, us, model, correspondences, points = adbench.read_hand(HAND / "model", HAND / "test.txt")
    assert theta.shape == (26,) and us is None and points.shape == (2, 3) and correspondences.tolist() == [309, 387]
    assert model["parents"].shape == (22,) and model["parents"][0] == -1
    assert model["base_relatives"].shape == model["inverse_base_absolutes"].shape == (22, 4, 4)
    assert model["base_positions"].shape == (544, 4) and np.all(model["base_positions"][:, 3] == 1.0)
    assert model["weights"].shape == (544, 22) and model["triangles"].shape == (1084, 3)
    np.testing.assert_allclose(model["weights"].sum(axis=1), 1.0, atol=1e-6)
    _, us, _, _, _ = adbench.read_hand(HAND / "model", HAND / "hand_complicated.txt", complicated=True)
    assert us.shape == (2, 2) and us[0].tolist() == [0.2, 0.25]


@pytest.mark.parametrize("kind", CASES)
def test_hand_objective(golden, kind):
    objective, args = instance(*CASES[kind])
    assert_adbench_equal(objective(*args).ravel(), golden[f"{kind}_{OBJECTIVE}"], f"{kind} hand objective")


@pytest.mark.parametrize("mode", ["jacfwd", "jacrev", "jacobian"])
@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["python", "jit"])
def test_hand_jacobian(golden, kind, mode, jit):
    _, args = instance(*CASES[kind])
    jacobian = TRANSFORMS[kind, mode, jit](*args)
    ordered = adbench.hand_jacobian_order(*jacobian) if kind == "complicated" else adbench.hand_jacobian_order(jacobian)
    assert_adbench_equal(ordered, golden[f"{kind}_{JACOBIAN}"], f"{kind} hand Jacobian by {mode}")


@pytest.mark.parametrize("kind, path", [("simple", "simple_small/hand1_t26_c100.txt"),
                                        ("complicated", "complicated_small/hand1_t26_c100.txt")])
def test_hand_jacobian_at_benchmark_size_matches_finite_differences(kind, path):
    objective, args = instance(path, kind == "complicated")
    jacobian = TRANSFORMS[kind, "jacobian", False](*args)
    for k, part in enumerate(jacobian if kind == "complicated" else (jacobian,)):
        expected = fd_jacobian(objective, args, k)
        assert part.shape == expected.shape
        np.testing.assert_allclose(part, expected, rtol=1e-6, atol=1e-8, err_msg=f"{kind}: w.r.t. argument {k}")
