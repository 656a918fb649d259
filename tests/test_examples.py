"""Short runs of the examples (examples/*.py), and checks of the gradients they train with.

For each example:
  * its loss's gradients at initialisation, with respect to every parameter, equal float64 central
    finite differences of the plain Python loss (tests/fd.py); adcompiler's side runs with
    jit=False (the same generated code as plain NumPy, no compilation);
  * one compiled training step from initialisation returns the loss and the Adam update that the
    jit=False gradient gives, so the compiled gradient is checked too;
  * a short training run (compiled, a few epochs) lowers the loss on the whole training set and
    beats a trivial predictor; `main` prints the final metric.
The tiny network's numbers are checked against the lecture notes (002), exactly and to the notes'
rounding, with the notes' rounding slip asserted as a slip.

Every compiled step costs seconds of Numba compilation, so each is compiled once (the examples keep
their compiled functions at module level, and the tests reuse them with the same argument types).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository: adcompiler and examples/
sys.path.insert(0, str(ROOT / "examples"))  # the examples' `import mlp`, as when run as scripts

import adcompiler  # noqa: E402
from adcompiler import nn  # noqa: E402
from examples import binary_classification, multilabel, regression, tiny_network, train_mlp  # noqa: E402
from fd import fd_grad, fd_tree_grad  # noqa: E402

FD_STEP = 1e-5   # small, so that no finite difference reaches across a kink (ReLU, |r|) checked below
FD_RTOL, FD_ATOL = 1e-6, 1e-9


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small matrices: one BLAS thread (multi-threaded OpenBLAS is ~100x slower on a busy machine)."""
    with threadpool_limits(limits=1):
        yield


def assert_gradients_match_fd(loss, args, wrt):
    """adcompiler's jit=False gradients of `loss` w.r.t. the positions `wrt` equal finite differences."""
    value, grads = adcompiler.value_and_grad(loss, wrt=wrt, jit=False)(*args)
    assert value == pytest.approx(float(loss(*args)), rel=1e-13)
    for k, g in zip(wrt, grads):
        expected = fd_grad(loss, args, k, h=FD_STEP)
        assert np.shape(g) == np.shape(args[k])
        assert np.max(np.abs(expected)) > 1e-6, "a vanishing gradient would check nothing"
        np.testing.assert_allclose(g, expected, rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"gradient w.r.t. argument {k}")
    return value, grads


def assert_compiled_step(train_step, loss, params, X, Y, lr=1e-3):
    """One compiled Adam step from zero state returns loss(params) and nn.adam's update for the
    jit=False gradient (the first Adam step is lr * g / (|g| + eps): it shows every gradient's sign)."""
    state = [np.zeros_like(p) for p in params for _ in (0, 1)]
    value, *rest = train_step(*params, *state, X, Y, 1.0, lr)
    _, grads = adcompiler.value_and_grad(loss, wrt=(0, 1, 2, 3), jit=False)(*params, X, Y)
    assert value == pytest.approx(float(loss(*params, X, Y)), rel=1e-12)
    for p, g, new, m, v in zip(params, grads, rest[:4], rest[4::2], rest[5::2]):
        expected, expected_m, expected_v = nn.adam(p, g, np.zeros_like(p), np.zeros_like(p), 1.0, lr)
        np.testing.assert_allclose(m, expected_m, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(v, expected_v, rtol=1e-9, atol=1e-30)
        np.testing.assert_allclose(new, expected, rtol=1e-12, atol=lr * 1e-6)
        assert not np.allclose(new, p), "the step moved nothing"


def final_metric(text, label):
    """The number printed after `label` at the start of a line of an example's output (the last such)."""
    found = re.findall(r"^" + re.escape(label) + r"\s*([-0-9.]+)", text, flags=re.MULTILINE)
    assert found, f"{label!r} not in the output:\n{text[-2000:]}"
    return float(found[-1])


# ---------------------------------------------------------------- regression (diabetes)

@pytest.fixture(scope="module")
def diabetes():
    return regression.load_data(0)


@pytest.mark.parametrize("name", ["mse", "mae"])
def test_regression_gradients_match_finite_differences(diabetes, name):
    X, y = diabetes[0][:25], diabetes[2][:25]  # an odd number: the MAE's d/db2 = mean(sign(r)) is not 0
    params = regression.init_params(np.random.default_rng(0), 10, 32)
    if name == "mae":  # keep the kink of |r| out of the finite differences' reach
        assert np.min(np.abs(regression.predict(*params, X) - y)) > 1e-3
    assert_gradients_match_fd(regression.LOSSES[name], (*params, X, y), (0, 1, 2, 3))


@pytest.mark.parametrize("name", ["mse", "mae"])
def test_regression_trains(diabetes, name):
    X_train, X_test, y_train, y_test = diabetes
    loss = regression.LOSSES[name]
    initial = regression.init_params(np.random.default_rng(0), 10, 32)  # what train starts from
    params, history = regression.train(name, epochs=5, data=diabetes, log=None)
    assert [h[0] for h in history] == [1, 2, 3, 4, 5]
    assert loss(*params, X_train, y_train) < 0.8 * loss(*initial, X_train, y_train)
    assert history[-1][1] < history[0][1]
    test_mse, test_mae = regression.errors(regression.predict(*params, X_test), y_test)
    assert (test_mse, test_mae) == pytest.approx(history[-1][2:], rel=1e-12)
    baseline_mse, baseline_mae = regression.errors(0.0 * y_test, y_test)  # predict the mean
    assert test_mse < 0.85 * baseline_mse and test_mae < 0.9 * baseline_mae
    assert_compiled_step(regression.TRAIN_STEPS[name], loss, initial, X_train[:32], y_train[:32])


def test_regression_main(capsys):
    assert regression.main(["--epochs", "20"]) == 0
    table = r"^(MSE|MAE|\(the mean\))" + r"\s+([0-9.]+)" * 4
    rows = {name: [float(x) for x in numbers] for name, *numbers in
            re.findall(table, capsys.readouterr().out, flags=re.MULTILINE)}
    assert set(rows) == {"MSE", "MAE", "(the mean)"}
    for name in ("MSE", "MAE"):
        train_mse, test_mse, train_mae, test_mae = rows[name]
        assert train_mse < 0.6 and test_mse < 0.7 and test_mae < 0.7
    assert rows["(the mean)"] == pytest.approx([1.0, 0.8376, 0.8600, 0.7564], abs=1e-4)


# ---------------------------------------------------------------- binary classification (breast cancer)

@pytest.fixture(scope="module")
def breast_cancer():
    return binary_classification.load_data(0)


def test_binary_gradients_match_finite_differences_and_both_loss_forms_agree(breast_cancer):
    X, y = breast_cancer[0][:25], breast_cancer[2][:25]
    assert 0 < y.sum() < len(y)
    params = binary_classification.init_params(np.random.default_rng(0), 30, 16)
    value, grads = assert_gradients_match_fd(binary_classification.loss, (*params, X, y), (0, 1, 2, 3))
    # nn.binary_cross_entropy(nn.sigmoid(z)) is the same function, value and gradient
    value2, grads2 = adcompiler.value_and_grad(binary_classification.loss_two_steps, wrt=(0, 1, 2, 3),
                                               jit=False)(*params, X, y)
    assert value2 == pytest.approx(value, rel=1e-12)
    for g, g2 in zip(grads, grads2):
        np.testing.assert_allclose(g2, g, rtol=1e-9, atol=1e-15)


def test_binary_trains(breast_cancer):
    X_train, X_test, y_train, y_test = breast_cancer
    loss = binary_classification.loss
    initial = binary_classification.init_params(np.random.default_rng(0), 30, 16)
    params, history = binary_classification.train(epochs=5, data=breast_cancer, log=None)
    assert len(history) == 5
    assert loss(*params, X_train, y_train) < 0.5 * loss(*initial, X_train, y_train)
    assert history[-1][1] < history[0][1]
    assert history[-1][2] == binary_classification.accuracy(params, X_test, y_test) >= 0.95
    assert_compiled_step(binary_classification.train_step, loss, initial, X_train[:32], y_train[:32])


def test_binary_main(capsys):
    assert binary_classification.main([]) == 0
    out = capsys.readouterr().out
    assert final_metric(out, "final test accuracy:") >= 0.95
    fused = final_metric(out, "test loss: binary_cross_entropy_with_logits(z, y) =")
    assert final_metric(out, "           binary_cross_entropy(sigmoid(z), y)    =") == fused > 0.0


# ---------------------------------------------------------------- multi-label

@pytest.fixture(scope="module")
def multilabel_data():
    return multilabel.load_data(0, n_samples=400)


def test_multilabel_gradients_match_finite_differences(multilabel_data):
    X, Y = multilabel_data[0][:25], multilabel_data[2][:25]
    params = multilabel.init_params(np.random.default_rng(0), multilabel.N_FEATURES, 32, multilabel.N_LABELS)
    assert_gradients_match_fd(multilabel.loss, (*params, X, Y), (0, 1, 2, 3))


def test_multilabel_scores_agree_with_scikit_learn():
    from sklearn.metrics import accuracy_score, hamming_loss
    rng = np.random.default_rng(1)
    Y = (rng.random((50, 5)) < 0.4).astype(np.float64)
    prediction = np.where(rng.random((50, 5)) < 0.15, 1.0 - Y, Y)
    per_label, subset, hamming = multilabel.scores(prediction, Y)
    assert hamming == pytest.approx(hamming_loss(Y, prediction), rel=1e-15)
    assert subset == pytest.approx(accuracy_score(Y, prediction), rel=1e-15)  # exact-match ratio
    np.testing.assert_allclose(per_label, [accuracy_score(Y[:, k], prediction[:, k]) for k in range(5)])
    assert 0.0 < subset < 1.0 and 0.0 < hamming < 1.0


def test_multilabel_trains(multilabel_data):
    X_train, X_test, Y_train, Y_test = multilabel_data
    loss = multilabel.loss
    initial = multilabel.init_params(np.random.default_rng(0), multilabel.N_FEATURES, 32, multilabel.N_LABELS)
    params, history = multilabel.train(epochs=5, data=multilabel_data, log=None)
    assert loss(*params, X_train, Y_train) < 0.8 * loss(*initial, X_train, Y_train)
    assert history[-1][1] < history[0][1]
    per_label, subset, hamming = multilabel.scores(multilabel.predict(*params, X_test), Y_test)
    majority = np.broadcast_to(Y_train.mean(axis=0) > 0.5, Y_test.shape).astype(np.float64)
    assert hamming == history[-1][2] < 0.85 * multilabel.scores(majority, Y_test)[2]
    assert per_label.shape == (multilabel.N_LABELS,)
    assert_compiled_step(multilabel.train_step, loss, initial, X_train[:32], Y_train[:32])


def test_multilabel_main(capsys):
    assert multilabel.main([]) == 0
    out = capsys.readouterr().out
    hamming, majority = re.search(r"final test Hamming loss: ([0-9.]+) \(majority answer ([0-9.]+)\)", out).groups()
    assert float(hamming) < 0.25 < 0.3 < float(majority)
    assert final_metric(out, "subset accuracy") > 0.3


# ---------------------------------------------------------------- the digits MLP (examples/train_mlp.py)

def test_train_mlp_gradients_match_finite_differences():
    """The loss takes the parameters as one tree (a list of {W, b} layers): its gradient is a tree
    of that structure, each leaf equal to finite differences."""
    X_train, _, Y_train, _ = train_mlp.load_data(0)
    X, Y = X_train[:16], Y_train[:16]
    params = nn.init_mlp(np.random.default_rng(0), [64, 12, 10])
    pre = X @ params[0]["W"] + params[0]["b"]
    assert np.min(np.abs(pre)) > 1e-3  # no ReLU kink within the finite differences' reach
    assert np.mean(pre > 0) > 0.2      # and some units active
    value, grads = adcompiler.value_and_grad(train_mlp.loss, jit=False)(params, X, Y)
    assert value == pytest.approx(float(train_mlp.loss(params, X, Y)), rel=1e-13)
    expected = fd_tree_grad(train_mlp.loss, (params, X, Y), 0, h=FD_STEP)
    assert type(grads) is list and len(grads) == 2
    for k, (layer, g, e) in enumerate(zip(params, grads, expected)):
        assert list(g) == ["W", "b"]
        for key in ("W", "b"):
            assert g[key].shape == layer[key].shape
            assert np.max(np.abs(e[key])) > 1e-6, "a vanishing gradient would check nothing"
            np.testing.assert_allclose(g[key], e[key], rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"layer {k} {key}")


def test_train_mlp_compiled_step():
    """One compiled step from initialisation returns the loss and nn.adam_step's update for the
    jit=False gradient, in the structure of the parameters and of Adam's state."""
    X_train, _, Y_train, _ = train_mlp.load_data(0)
    params = nn.init_mlp(np.random.default_rng(0), [64, 128, 10])
    batch = (X_train[:64], Y_train[:64])
    value, new, state = train_mlp.train_step(params, nn.init_adam(params), batch, 1e-3)
    expected_value, grads = adcompiler.value_and_grad(train_mlp.loss, jit=False)(params, *batch)
    expected, expected_state = nn.adam_step(params, grads, nn.init_adam(params), 1e-3)
    assert value == pytest.approx(expected_value, rel=1e-12)
    assert state["step"] == 1.0 and list(state) == ["step", "m", "v"]
    for layer, n, e, m, em in zip(params, new, expected, state["m"], expected_state["m"]):
        for key in ("W", "b"):
            np.testing.assert_allclose(m[key], em[key], rtol=1e-9, atol=1e-15)
            np.testing.assert_allclose(n[key], e[key], rtol=1e-12, atol=1e-9)
            assert not np.allclose(n[key], layer[key]), "the step moved nothing"


def test_train_mlp_show_code(capsys):
    assert train_mlp.main(["--show-code", "--hidden", "8"]) == 0
    out = capsys.readouterr().out
    assert "def loss_value_and_grad(params_0_W, params_0_b, params_1_W, params_1_b, X, Y)" in out
    assert "params_1_b = params[1]['b']" in out


def test_train_mlp_trains():
    params, history, step_seconds = train_mlp.train(epochs=3, log=None)
    assert [h[0] for h in history] == [1, 2, 3]
    losses = [h[1] for h in history]
    assert losses[0] > losses[1] > losses[2]
    assert losses[0] < 2.4 and losses[-1] < 0.8  # log(10) = 2.30 at chance
    assert history[-1][2] > 0.85
    assert 0.0 < step_seconds < 1.0


# ---------------------------------------------------------------- the notes' 2-2-1 network (seed 002)

NOTE_TOL = 0.0005 + 1e-12  # the notes print 3 decimals


def assert_note(value, note):
    assert abs(value - note) <= NOTE_TOL, f"{value!r} does not round to the notes' {note}"


def assert_note_slip(value, note, correct):
    """The notes print `note`, the true value rounds to `correct`, and the two are a propagated
    rounding error apart (at most 3 units in the last printed place), as in test_seed_examples.py."""
    assert abs(value - correct) <= NOTE_TOL, f"{value!r} does not round to {correct}"
    assert abs(value - note) > NOTE_TOL, f"{value!r} does round to the notes' {note}: not a slip"
    assert abs(value - note) <= 3 * NOTE_TOL


def hand_computed():
    """The notes' Steps 1-6 in float64, written out independently of the example."""
    x1, x2, y = 0.5, 1.0, 1.0
    z = 0.5 * x1 + 0.5 * x2
    h = 1.0 / (1.0 + np.exp(-z))
    z_out = 2.0 * h
    y_hat = 1.0 / (1.0 + np.exp(-z_out))
    delta_out = y_hat - y
    slope = h * (1.0 - h)
    delta = delta_out * 1.0 * slope
    return {"z1 = z2": z, "h1 = h2": h, "z_out": z_out, "y_hat": y_hat, "L": -np.log(y_hat),
            "delta_out = dL/dz_out": delta_out, "dL/dw1 = dL/dw2": delta_out * h,
            "sigma'(z1) = sigma'(z2)": slope, "delta_j = dL/dz_j": delta,
            "dL/dv11 = dL/dv12": delta * x1, "dL/dv21 = dL/dv22": delta * x2}


# The figures printed in 002_d0f46ccbd70fcfde.txt, Steps 1-6 (z1 = z2, h1 = h2, ... as in the notes).
NOTES_002 = [("z1 = z2", 0.75), ("h1 = h2", 0.679), ("z_out", 1.358), ("y_hat", 0.796), ("L", 0.228),
             ("delta_out = dL/dz_out", -0.204), ("dL/dw1 = dL/dw2", -0.139), ("sigma'(z1) = sigma'(z2)", 0.218),
             ("delta_j = dL/dz_j", -0.044), ("dL/dv11 = dL/dv12", -0.022), ("dL/dv21 = dL/dv22", -0.044)]


def test_tiny_network_matches_the_notes():
    T = tiny_network
    assert [(name, note) for name, note, _ in T.NOTES] == NOTES_002
    np.testing.assert_array_equal(T.X, [[0.5, 1.0]])
    np.testing.assert_array_equal(T.Y, [[1.0]])
    np.testing.assert_array_equal(T.V, np.full((2, 2), 0.5))
    np.testing.assert_array_equal(T.W, np.ones((2, 1)))
    result = T.backprop(T.V, T.W, T.X, T.Y, jit=False)
    exact = hand_computed()
    assert set(exact) == {name for name, _ in NOTES_002}
    for name, note, correct in T.NOTES:
        assert result[name] == pytest.approx(exact[name], rel=1e-12, abs=1e-15), name
        if correct is None:
            assert_note(result[name], note)
        else:
            assert_note_slip(result[name], note, correct)
    # the figures of the brief: dL/dw1 = -0.139, dL/dv11 = -0.022, dL/dv21 = -0.0446 (notes: -0.044)
    assert_note(float(result["dW"][0, 0]), -0.139)
    assert_note(float(result["dV"][0, 0]), -0.022)
    assert round(float(result["dV"][1, 0]), 4) == -0.0446
    assert_note_slip(float(result["dV"][1, 0]), -0.044, -0.045)
    # symmetric network: both hidden neurons get the same gradients; dL/dV = outer(x, delta)
    np.testing.assert_allclose(result["dV"], np.outer(T.X[0], result["delta"][0]), rtol=1e-14)
    assert result["dV"][0, 0] == result["dV"][0, 1] and result["dW"][0, 0] == result["dW"][1, 0]


def test_tiny_network_gradients_match_finite_differences_and_compiled():
    T = tiny_network
    value, grads = assert_gradients_match_fd(T.loss, (T.V, T.W, T.X, T.Y), (0, 1))
    compiled_value, compiled = adcompiler.value_and_grad(T.loss, wrt=("V", "W"))(T.V, T.W, T.X, T.Y)
    assert compiled_value == pytest.approx(value, rel=1e-14)
    for g, c in zip(grads, compiled):
        np.testing.assert_allclose(c, g, rtol=1e-13)


@pytest.mark.parametrize("lr", [0.1, 1.0, 3.0])
def test_tiny_network_gradient_step_lowers_the_loss(lr):
    T = tiny_network
    result = T.backprop(T.V, T.W, T.X, T.Y, jit=False)
    V, W = T.gradient_descent_step(T.V, T.W, result["dV"], result["dW"], lr)
    assert np.all(V > T.V) and np.all(W > T.W)  # all gradients are negative: every weight grows
    before, after = T.loss(T.V, T.W, T.X, T.Y), T.loss(V, W, T.X, T.Y)
    assert before == pytest.approx(0.228794, abs=5e-7)
    assert after < before
    # to first order the loss falls by lr * |gradient|^2
    predicted = lr * (np.sum(result["dV"] ** 2) + np.sum(result["dW"] ** 2))
    assert before - after == pytest.approx(predicted, rel=0.5)


def test_tiny_network_main(capsys):
    assert tiny_network.main(["--no-jit"]) == 0
    out = capsys.readouterr().out
    before, after = re.search(r"loss before ([0-9.]+), after ([0-9.]+)", out).groups()
    assert float(after) < float(before) == 0.228794
    assert "-0.044561" in out and "rounds to -0.045" in out
