"""check_grad, the users' gradient checker: agrees where adcompiler is right, and names the
parameter, the element and both numbers where a (deliberately wrong) custom rule is not."""
import numpy as np
import pytest

import adcompiler
from adcompiler import GradientMismatch, check_grad


def tanh_layer(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


@adcompiler.custom_vjp
def slightly_wrong_sin(x):
    return np.sin(x)


@slightly_wrong_sin.defvjp
def slightly_wrong_sin_vjp(g, x, out):
    return g * np.cos(x) * 1.001  # 0.1 % off: a bug check_grad must catch


def uses_wrong_rule(x):
    return np.sum(slightly_wrong_sin(x))


RNG = np.random.default_rng(7)
W, X = RNG.normal(size=(3, 4)), RNG.normal(size=4)


@pytest.mark.parametrize("mode", ["direction", "element"])
def test_a_right_gradient_passes(mode):
    worst = check_grad(tanh_layer, W, X, wrt=(0, 1), mode=mode, jit=False)
    assert worst < 1e-7


@pytest.mark.parametrize("mode", ["direction", "element"])
def test_a_wrong_rule_is_caught_with_a_readable_message(mode):
    with pytest.raises(GradientMismatch) as caught:
        check_grad(uses_wrong_rule, X, mode=mode, jit=False)
    message = str(caught.value)
    assert "uses_wrong_rule" in message and "'x'" in message
    assert ("element (" in message) if mode == "element" else ("random direction" in message)
    assert "relative 0.001" in message or "relative 0.000999" in message


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        check_grad(tanh_layer, W, X, mode="diagonal", jit=False)
