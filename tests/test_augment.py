"""The forward is augmented from the residual plans (transforms/augment.py), after the sweep that
builds the backward from them: the sweep leaves the forward as the user's program; then each plan's
outputs become new results of its loop or `if`, which the forward returns (residuals) or tapes."""
from __future__ import annotations

import numpy as np
import pytest

import programs
from adcompiler import grad
from fd import fd_grad
from adcompiler.api import TRANSFORMS
from adcompiler.frontend.lower import lower
from adcompiler.ir.core import If, Loop, Structured, Type, read_in, verify, walk
from adcompiler.pipeline import check
from adcompiler.transforms import augment as augment_module
from adcompiler.transforms import reverse as reverse_module
from adcompiler.transforms.plan import TAPED, Keep

ARG_TYPES = [Type("float64", 1, units=(False,)), Type("float64", 2), Type("int64")]


def lowered():
    return verify(lower(check(programs.loop_branch_nested), ARG_TYPES, TRANSFORMS))


def shape(fn) -> list:
    """How many results and block arguments each structured op of `fn` has, in program order."""
    return [(len(op.results), [len(b.args) for b in op.blocks]) for op in walk(fn.entry.ops) if isinstance(op, Structured)]


def test_plan_outputs_are_the_new_results_the_backward_reads(monkeypatch):
    seen = {}
    augment = augment_module.augment

    def recording(fn, plans):
        seen["before"] = shape(fn)  # the forward as the sweep left it
        augment(fn, plans)

    monkeypatch.setattr(reverse_module, "augment", recording)
    primal = lowered()
    adjoint = reverse_module.reverse(primal, (0, 1))
    verify(adjoint.forward)
    verify(adjoint.backward)
    assert seen["before"] == shape(primal), "the sweep changed the forward"
    assert shape(adjoint.forward) != shape(primal)
    structured = {id(op): op for op in walk(adjoint.forward.entry.ops) if isinstance(op, Structured)}
    read_by_forward = {id(v) for v in read_in(adjoint.forward.entry)}
    outputs = 0
    for plan in adjoint.plans:
        op = structured[id(plan.structured)]
        added = [output for output in plan.outputs if output is not None]
        assert all(any(output is result for result in op.results) for output in added)
        for (value, keep), output in zip(plan.decisions, plan.outputs):
            assert (output is not None) is (keep in (*TAPED, Keep.SURFACE))
            assert isinstance(op, If) is (keep is Keep.SURFACE)
            if output is not None:
                assert id(output) in read_by_forward, f"nothing reads the output for {value}"
                if isinstance(op, Loop):
                    assert output.derived == ("tape_", value)
                outputs += 1
    assert outputs >= 4


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_augmented_gradient_matches_finite_differences(jit):
    """The program of the pinned plan (a loop with a branch and a nested loop), in both modes."""
    rng = np.random.default_rng(5)
    args = (rng.uniform(-0.5, 0.5, 3), rng.uniform(-0.5, 0.5, (3, 3)), 3)
    gradients = grad(programs.loop_branch_nested, wrt=(0, 1), jit=jit)(*args)
    for k, gradient in enumerate(gradients):
        np.testing.assert_allclose(gradient, fd_grad(programs.loop_branch_nested, args, k), rtol=1e-6, atol=1e-8)
