"""Parameter trees (dicts, lists, tuples and namedtuples of arrays and numbers, nested) as arguments,
gradients and results: gradients against float64 central finite differences of each leaf
(tests/fd.py), the structure and types of what comes back, the specialisation on the structure,
the refusals (message and line), the optimisers of adcompiler.nn on trees, and `show`."""
from __future__ import annotations

import collections
import copy
import sys

import numpy as np
import pytest

import adcompiler
from adcompiler import CompileError, grad, jit, nn, tree_leaves, tree_map, value_and_grad, vjp
from fd import fd_tree_grad
from test_errors import check_error

RNG = np.random.default_rng(19)
Layer = collections.namedtuple("Layer", "W b")


def normal(*shape):
    return RNG.normal(size=shape)


X = normal(5, 3)
PARAMS = {"W1": normal(3, 4), "b1": normal(4), "W2": normal(4)}
NESTED = {"layer1": {"W": normal(3, 4), "b": normal(4)}, "layer2": {"W": normal(4, 2), "b": normal(2)}, "scale": 0.7}
LAYERS = [Layer(normal(3, 3), normal(3)), Layer(normal(3, 2), normal(2))]
PAIRS = [(normal(3, 3), normal(3)), (normal(3, 2), normal(2))]


def assert_tree_close(actual, expected, rtol=1e-6, atol=1e-9):
    """Same structure (container types, keys, lengths), leaves of the same kinds and close values."""
    assert type(actual) is type(expected)
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_tree_close(actual[key], expected[key], rtol, atol)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_tree_close(a, e, rtol, atol)
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def assert_grad_matches_fd(function, args, wrt, jit_mode):
    """grad of `function` w.r.t. the tree arguments `wrt` equals finite differences leaf by leaf,
    in the structure and leaf kinds of each argument."""
    grads = grad(function, wrt=wrt, jit=jit_mode)(*args)
    grads = grads if isinstance(wrt, tuple) else (grads,)
    for k, g in zip(wrt if isinstance(wrt, tuple) else (wrt,), grads):
        expected = fd_tree_grad(function, args, k)
        assert max(np.max(np.abs(leaf)) for leaf in tree_leaves(expected)) > 1e-3, "a vanishing gradient checks nothing"
        assert_tree_close(g, expected)
    return grads


# ---------------------------------------------------------------- programs with tree arguments

def dict_mlp(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.sum(np.sin(h * params["W2"]))


def nested_dicts(params, x):
    first, second = params["layer1"], params["layer2"]
    h = np.tanh(x @ first["W"] + first["b"])
    return params["scale"] * np.sum(np.sin(h @ second["W"] + second["b"]))


def namedtuple_layers(layers, x):
    for layer in layers:
        x = np.tanh(x @ layer.W + layer.b)
    return np.sum(np.sin(x)) * len(layers)


def unpacked_layers(layers, x):
    for W, b in layers:
        x = np.tanh(x @ W + b)
    return np.sum(np.sin(x))


def indexed_layers(layers, x):
    W, b = layers[0]
    h = np.tanh(x @ W + b)
    last = layers[len(layers) - 1]
    return np.sum(np.sin(h @ last[0] + last[1]))


def dict_methods(params, x):
    total = 0.0
    for key, value in params.items():
        total = total + np.sum(np.sin(value))
    for key in params.keys():
        total = total + np.sum(params[key] ** 2)
    for value in params.values():
        total = total * 1.5 + np.mean(value)
    return total


def with_helper(params, x):
    return dict_mlp(scaled(params, 2.0), x)


def scaled(params, factor):
    """A helper that takes a tree and returns one (a dict literal)."""
    return {"W1": factor * params["W1"], "b1": params["b1"], "W2": params["W2"] / factor}


def tree_and_array(params, x):
    return dict_mlp(params, x) * np.sum(x)


def trees_through_an_if(params, x):
    if np.sum(x) > 0.0:
        q = {"W1": params["W1"] * 2.0, "b1": params["b1"]}
        layer = Layer(params["W2"], 1.0)
    else:
        q = {"W1": params["W1"], "b1": params["b1"] * 3.0}
        layer = Layer(W=params["W2"] * 0.5, b=2.0)
    return np.sum(np.sin(np.tanh(x @ q["W1"] + q["b1"]) * layer.W)) * layer.b


PROGRAMS = [
    (dict_mlp, (PARAMS, X), 0),
    (nested_dicts, (NESTED, X), 0),
    (namedtuple_layers, (LAYERS, X), 0),
    (unpacked_layers, (PAIRS, X), 0),
    (indexed_layers, (PAIRS, X), 0),
    (dict_methods, (PARAMS, X), 0),
    (with_helper, (PARAMS, X), 0),
    (tree_and_array, (PARAMS, X), (0, 1)),
    (trees_through_an_if, (PARAMS, X), 0),
    (trees_through_an_if, (PARAMS, -X), 0),
]


@pytest.mark.parametrize("function, args, wrt", PROGRAMS, ids=[f"{p[0].__name__}{k}" for k, p in enumerate(PROGRAMS)])
def test_tree_gradients_match_finite_differences_nojit(function, args, wrt):
    assert_grad_matches_fd(function, args, wrt, jit_mode=False)


@pytest.mark.parametrize("function, args, wrt", [PROGRAMS[1], PROGRAMS[2]], ids=["nested_dicts", "namedtuple_layers"])
def test_tree_gradients_match_finite_differences_jit(function, args, wrt):
    assert_grad_matches_fd(function, args, wrt, jit_mode=True)


def test_gradient_has_the_structure_and_leaf_kinds_of_the_argument():
    params = {"w": np.float32(1.5) * np.ones(3, dtype=np.float32), "c": 2.0, "n": {"s": np.float64(0.5)}}

    def f(params):
        return np.sum(params["w"] * params["c"]) * params["n"]["s"]

    g = grad(f, jit=False)(params)
    assert list(g) == ["w", "c", "n"] and list(g["n"]) == ["s"]
    assert g["w"].dtype == np.float32 and g["w"].shape == (3,)
    assert type(g["c"]) is float and g["c"] == pytest.approx(4.5 * 0.5)
    assert type(g["n"]["s"]) is np.float64 and g["n"]["s"] == pytest.approx(4.5 * 2.0)
    g = grad(namedtuple_layers, jit=False)(LAYERS, X)
    assert type(g) is list and all(type(layer) is Layer for layer in g)
    g = grad(unpacked_layers, jit=False)(tuple(PAIRS), X)
    assert type(g) is tuple and all(type(layer) is tuple for layer in g)
    by_name = grad(tree_and_array, wrt=("x", "params"), jit=False)(PARAMS, X)
    by_position = grad(tree_and_array, wrt=(1, 0), jit=False)(PARAMS, X)
    assert type(by_name[1]) is dict
    np.testing.assert_array_equal(by_name[0], by_position[0])
    assert_tree_close(by_name[1], by_position[1], rtol=0, atol=0)


def test_arguments_are_not_modified():
    params = copy.deepcopy(NESTED)
    grad(nested_dicts, jit=False)(params, X)
    assert_tree_close(params, NESTED, rtol=0, atol=0)


def test_value_and_grad_and_vjp_of_trees():
    value, g = value_and_grad(dict_mlp, jit=False)(PARAMS, X)
    assert value == pytest.approx(dict_mlp(PARAMS, X), rel=1e-14)
    assert_tree_close(g, grad(dict_mlp, jit=False)(PARAMS, X), rtol=1e-14)

    def hidden(params, x):
        return np.tanh(x @ params["W1"] + params["b1"])

    out, pullback = vjp(hidden, jit=False)(PARAMS, X)
    u = normal(*out.shape)
    expected = fd_tree_grad(lambda p, x: np.sum(u * hidden(p, x)), (PARAMS, X), 0)
    assert_tree_close(pullback(u), {"W1": expected["W1"], "b1": expected["b1"], "W2": expected["W2"]})


def test_check_grad_checks_trees_leaf_by_leaf():
    assert adcompiler.check_grad(nested_dicts, NESTED, X, mode="element", jit=False) < 1e-6

    with pytest.raises(adcompiler.GradientMismatch, match=r"params\['layer2'\]\['b'\]"):
        adcompiler.check_grad(wrong_on_one_leaf, NESTED, X, jit=False)


def wrong_on_one_leaf(params, x):
    """nested_dicts, with a custom rule that halves the gradient of params["layer2"]["b"]."""
    second = {"W": params["layer2"]["W"], "b": halved_gradient(params["layer2"]["b"])}
    return nested_dicts({"layer1": params["layer1"], "layer2": second, "scale": params["scale"]}, x)


@adcompiler.custom_vjp
def halved_gradient(x):
    return x * 1.0


@halved_gradient.defvjp
def _halved_gradient_rule(g, x, out):
    return 0.5 * g


# ---------------------------------------------------------------- results and compiled steps

def returns_trees(params, x):
    return {"h": x @ params["W1"], "both": (params["b1"] * 2.0, Layer(params["W2"], x))}, [params["b1"]]


@pytest.mark.parametrize("mode", [False, True], ids=["nojit", "jit"])
def test_jit_returns_trees(mode):
    out, listed = jit(returns_trees, jit=mode)(PARAMS, X)
    assert list(out) == ["h", "both"] and type(out["both"]) is tuple and type(out["both"][1]) is Layer
    np.testing.assert_allclose(out["h"], X @ PARAMS["W1"], rtol=1e-14)
    np.testing.assert_array_equal(out["both"][1].b, X)
    assert type(listed) is list and len(listed) == 1
    np.testing.assert_array_equal(listed[0], PARAMS["b1"])


def sgd(param, gradient, lr):
    return param - lr * gradient


dict_mlp_grad = value_and_grad(dict_mlp, jit=False)


@jit(jit=False)
def sgd_step(params, x, lr):
    value, g = dict_mlp_grad(params, x)
    return value, tree_map(sgd, params, g, lr=lr)


def test_compiled_step_returns_new_params():
    value, new = sgd_step(PARAMS, X, 0.1)
    expected_value, g = value_and_grad(dict_mlp, jit=False)(PARAMS, X)
    assert value == pytest.approx(expected_value, rel=1e-14)
    assert_tree_close(new, {k: PARAMS[k] - 0.1 * g[k] for k in PARAMS}, rtol=1e-14, atol=0)


def test_tree_map_and_leaves_run_as_python():
    doubled = tree_map(lambda a, b, scale: scale * a + b, NESTED, NESTED, scale=2.0)
    assert_tree_close(doubled, tree_map(lambda a: 3.0 * a, NESTED), rtol=1e-15)
    assert len(tree_leaves(NESTED)) == 5 and len(tree_leaves(LAYERS)) == 4
    with pytest.raises(ValueError, match="keys"):
        tree_map(sgd, PARAMS, {"W1": 1.0}, lr=0.1)
    with pytest.raises(ValueError, match="items"):
        tree_map(sgd, LAYERS, LAYERS[:1], lr=0.1)


# ---------------------------------------------------------------- specialisation

def test_same_structure_does_not_recompile_another_does():
    transformed = grad(namedtuple_layers, jit=False)
    transformed(LAYERS, X)
    transformed([Layer(2.0 * l.W, l.b) for l in LAYERS], X)  # same structure and leaf types
    assert len(transformed.specialisations) == 1
    transformed(LAYERS[:1] + [Layer(normal(3, 3), normal(3))] + LAYERS[1:], X)  # a list of 3
    transformed(tuple(LAYERS), X)  # a tuple, not a list
    assert len(transformed.specialisations) == 3
    keyed = grad(dict_methods, jit=False)
    keyed(PARAMS, X)
    keyed({"W1": PARAMS["W1"], "b1": PARAMS["b1"]}, X)  # other keys
    keyed({**PARAMS, "W2": PARAMS["W2"].astype(np.float32)}, X)  # another leaf dtype
    assert len(keyed.specialisations) == 3


# ---------------------------------------------------------------- refusals

def variable_key(params, x, key):
    return np.sum(params[key] * x)  # <- HERE


def missing_key(params, x):
    return np.sum(params["W3"] * x)  # <- HERE


def missing_field(layers, x):
    return np.sum(layers[0].bias)  # <- HERE


def tree_as_number(params, x):
    return np.sum(params * x)  # <- HERE


def tree_rebound_in_loop(params, x):
    for i in range(3):  # <- HERE
        params = {"W1": params["W1"] * 2.0}
    return np.sum(params["W1"])


def returns_a_dict(params, x):
    y = np.sum(params["W1"])
    return {"loss": y, "also": y * 2.0}  # <- HERE


def tree_map_of_other_structures(params, x):
    other = {"W1": x}
    doubled = tree_map(sgd, params, other, lr=0.5)  # <- HERE
    return np.sum(doubled["W1"])


def branches_of_other_key_orders(params, x):
    if np.sum(x) > 0.0:  # <- HERE
        q = {"W1": params["W1"], "b1": params["b1"]}
    else:
        q = {"b1": params["b1"], "W1": params["W1"]}
    return np.sum(x @ q["W1"])


def branches_of_other_nestings(params, x):
    if np.sum(x) > 0.0:  # <- HERE
        t = ((x, x), x)
    else:
        t = (x, (x, x))
    return np.sum(t[0])


def layer_of_missing_field(params, x):
    layer = Layer(params["W1"])  # <- HERE
    return np.sum(layer.W)


@pytest.mark.parametrize("function, args, says, hint", [
    (branches_of_other_key_orders, (PARAMS, X), ["`q`", "different kinds"], "keys in the same order"),
    (branches_of_other_nestings, (PARAMS, X), ["`t`", "different kinds"], "same nesting"),
    (layer_of_missing_field, (PARAMS, X), ["`Layer`", "fields", "missing"], None),
    (variable_key, ({0: X, 1: X}, X, 1), ["dict key", "constant"], "literal"),
    (missing_key, (PARAMS, X), ["`params`", "no key 'W3'", "'W1', 'b1', 'W2'"], "keys"),
    (missing_field, (LAYERS, X), ["Layer", "no field `bias`", "W, b"], None),
    (tree_as_number, (PARAMS, X), ["`params`", "tree", "dict", "cannot be used as a number"], None),
    (tree_rebound_in_loop, (PARAMS, X), ["`params`", "loop"], "dicts"),
    (tree_map_of_other_structures, (PARAMS, X), ["tree_map", "different structures"], "same keys"),
    (returns_a_dict, (PARAMS, X), ["returns a dict of 2 values"], "single value"),
], ids=["key orders", "nestings", "namedtuple field missing", "variable key", "missing key", "missing field",
        "tree as number", "rebound in loop", "tree_map structures", "differentiated dict output"])
def test_refusals_name_the_construct_and_line(function, args, says, hint):
    with pytest.raises(CompileError) as info:
        grad(function, jit=False)(*args)
    check_error(info.value, function, says=says, hint=hint, file=__file__)


def first_weight(params):
    return np.sum(params["W1"])


def first_layer(layers):
    return np.sum(layers[0].W)


@pytest.mark.parametrize("function, tree, says", [
    (first_weight, {"W1": PARAMS["W1"], "n": 3}, ["params['n']", "int64", "not a float"]),
    (first_weight, {"W1": PARAMS["W1"], "name": "relu"}, ["params['name']", "str"]),
    (first_layer, [Layer(PARAMS["W1"], np.arange(3))], ["layers[0].b", "int64"]),
    (first_weight, {"W1": PARAMS["W1"], 1.5: PARAMS["W1"]}, ["key 1.5", "strings or integers"]),
], ids=["int leaf", "str leaf", "int leaf of namedtuple", "float key"])
def test_bad_leaves_of_differentiated_trees_are_refused(function, tree, says):
    with pytest.raises(TypeError) as info:
        grad(function, jit=False)(tree)
    for words in says:
        assert words in str(info.value)


def test_integer_leaves_of_a_tree_not_differentiated_are_used():
    def f(x, config):
        return np.sum(x[: config["n"]]) * config["scale"]

    g = grad(f, jit=False)(np.arange(5.0), {"n": 3, "scale": 2.0})
    np.testing.assert_array_equal(g, [2.0, 2.0, 2.0, 0.0, 0.0])


# ---------------------------------------------------------------- adcompiler.nn on trees

def test_optimisers_update_trees_as_their_leaves():
    params = nn.init_mlp(np.random.default_rng(0), [3, 4, 2])
    assert [list(layer) for layer in params] == [["W", "b"], ["W", "b"]]
    assert params[0]["W"].shape == (3, 4) and params[1]["b"].shape == (2,)
    grads = tree_map(lambda p: RNG.normal(size=np.shape(p)), params)
    velocity = tree_map(lambda p: RNG.normal(size=np.shape(p)), params)
    new, new_velocity = nn.sgd_momentum(params, grads, velocity, lr=0.1, momentum=0.9)
    for layer, g, v, n, nv in zip(params, grads, velocity, new, new_velocity):
        for key in ("W", "b"):
            expected = nn.sgd_momentum(layer[key], g[key], v[key], 0.1, 0.9)
            np.testing.assert_array_equal(n[key], expected[0])
            np.testing.assert_array_equal(nv[key], expected[1])
    state = nn.init_adam(params)
    assert state["step"] == 0.0 and np.all(state["m"][1]["W"] == 0.0)
    new, state = nn.adam_step(params, grads, state, lr=0.01)
    assert state["step"] == 1.0
    for layer, g, n in zip(params, grads, new):  # the first Adam step moves each parameter by lr
        for key in ("W", "b"):
            np.testing.assert_allclose(n[key], layer[key] - 0.01 * np.sign(g[key]), rtol=1e-6)


def mlp_loss(params, x, y):
    return nn.softmax_cross_entropy(nn.mlp(params, x), y)


MLP_PARAMS = nn.init_mlp(np.random.default_rng(1), [3, 5, 4])
MLP_Y = np.eye(4)[RNG.integers(0, 4, 5)]


@pytest.mark.parametrize("mode", [False, True], ids=["nojit", "jit"])
def test_compiled_adam_step_on_a_tree(mode):
    loss_and_grads = value_and_grad(mlp_loss, jit=mode)

    def step(params, state, batch, lr):
        x, y = batch
        value, grads = loss_and_grads(params, x, y)
        params, state = nn.adam_step(params, grads, state, lr)
        return value, params, state

    compiled = jit(step, jit=mode)
    state = nn.init_adam(MLP_PARAMS)
    value, params, state = compiled(MLP_PARAMS, state, (X, MLP_Y), 0.01)
    value, params, state = compiled(params, state, (X, MLP_Y), 0.01)
    assert len(compiled.specialisations) == 1
    expected_state = nn.init_adam(MLP_PARAMS)
    expected = MLP_PARAMS
    for _ in range(2):
        expected_value, g = value_and_grad(mlp_loss, jit=False)(expected, X, MLP_Y)
        expected, expected_state = nn.adam_step(expected, g, expected_state, 0.01)
    assert value == pytest.approx(expected_value, rel=1e-12)
    assert_tree_close(params, expected, rtol=1e-12, atol=1e-15)
    assert_tree_close(state["m"], expected_state["m"], rtol=1e-12, atol=1e-18)
    assert state["step"] == 2.0
    g = grad(mlp_loss, jit=False)(MLP_PARAMS, X, MLP_Y)
    assert_tree_close(g, fd_tree_grad(mlp_loss, (MLP_PARAMS, X, MLP_Y), 0))


# ---------------------------------------------------------------- show

def test_show_names_the_leaves_after_their_paths(capsys):
    text = adcompiler.show(nested_dicts, NESTED, X, print_it=False)
    assert "def nested_dicts_forward(params_layer1_W, params_layer1_b, params_layer2_W, params_layer2_b, " \
           "params_scale, x)" in text
    assert "params_layer1_W = params['layer1']['W']" in text
    transformed = grad(namedtuple_layers, jit=False)
    transformed(LAYERS, X)
    text = adcompiler.show(transformed, print_it=False)
    assert "layers: [Layer(W=f64[n,n], b=f64[n]), Layer(W=f64[n,n], b=f64[n])]" in text
    assert "layers_1_b = layers[1].b" in text


def test_command_line_show_with_a_tree(capsys):
    from adcompiler.__main__ import main
    assert main(["show", f"{__file__}:dict_mlp", "--args",
                 "{'W1': np.ones((3, 4)), 'b1': np.ones(4), 'W2': np.ones(4)}, np.ones((5, 3))"]) == 0
    out = capsys.readouterr().out
    assert "d_params_W1" in out and "params_W2 = params['W2']" in out


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


# ---------------------------------------------------------------- calls like earlier ones (api's fast path)

def test_later_calls_with_trees_like_earlier_ones_are_checked_and_right():
    """A call whose trees have the structure, leaf classes, dtypes and shapes of an earlier one
    skips the checks it passed then (`Transformed._fingerprint`): new values give their own
    gradients, of the argument's kinds, and anything else takes the full path."""
    transformed = grad(nested_dicts, jit=False)
    first = transformed(NESTED, X)
    other = tree_map(lambda leaf: 2.0 * leaf + 0.25, NESTED)
    again = transformed(other, X)
    assert_tree_close(again, grad(nested_dicts, jit=False)(other, X), rtol=0, atol=0)
    assert_tree_close(again, fd_tree_grad(nested_dicts, (other, X), 0), rtol=1e-6, atol=1e-8)
    assert type(again["scale"]) is float and type(first["scale"]) is float
    assert not any(a is b for a, b in zip(tree_leaves(first), tree_leaves(again)))
    assert len(transformed.specialisations) == 1

    listed = grad(first_weight, jit=False)
    listed({"W1": np.array([1.0, 2.0])})
    g = listed({"W1": [1.0, 2.0]})  # a list of numbers: one array leaf, as before
    np.testing.assert_array_equal(g["W1"], [1.0, 1.0])


def test_a_bool_dict_key_is_refused_after_an_equal_integer_key():
    transformed = grad(first_weight, jit=False)
    transformed({"W1": PARAMS["W1"], 1: PARAMS["W1"]})
    with pytest.raises(TypeError, match="strings or integers"):
        transformed({"W1": PARAMS["W1"], True: PARAMS["W1"]})  # 1 == True: the classes differ


def test_a_leaf_of_another_class_is_another_signature():
    def weighted(params):
        return np.sum(params["w"]) * params["k"]

    transformed = grad(weighted, jit=False)
    assert type(transformed({"w": np.ones(3), "k": 2.0})["k"]) is float
    with pytest.raises(TypeError, match="not a float"):
        transformed({"w": np.ones(3), "k": 2})  # an int leaf cannot be differentiated
    assert transformed({"w": np.ones(3), "k": 2.0})["k"] == pytest.approx(3.0)
