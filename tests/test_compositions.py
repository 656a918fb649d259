"""Transforms of transformed functions: `grad(grad(f))`, `grad(jit(f))`, `value_and_grad(grad(f))`,
`vjp(grad(f))`, mixed partials, third derivatives and stacked decorators, in both modes, through
loops and branches. Each result is checked against central finite differences of the inner
transformed function (and closed forms where the mathematics gives one); what cannot be composed
is refused at once with both transforms named. The random programs of tests/program_generator.py
are composed too (`test_random_compositions`), so that this class of bug is caught by the generator."""
import functools
import inspect
import math
import os

import numpy as np
import pytest
from hypothesis import assume, given, settings

import adcompiler as ad
from adcompiler import CompileError, custom_vjp, grad, jit, value_and_grad, vjp
from program_generator import RandomChooser, generate
from test_random_programs import (EXCLUDE, SETTINGS, NotSmooth, Refused, _copy, _signature, check_gradients,
                                  check_program, load, programs)

MODES = pytest.mark.parametrize("compiled", [False, True], ids=["python", "jit"])
H = 1e-5


def central(function, x, h=H):
    """Richardson-extrapolated central difference of a function of one number."""
    return (4 * (function(x + h / 2) - function(x - h / 2)) / h - (function(x + h) - function(x - h)) / (2 * h)) / 3


def quartic_sine(a):
    return a ** 4 * np.sin(a)


def d1(a):
    return 4 * a ** 3 * np.sin(a) + a ** 4 * np.cos(a)


def d2(a):
    return 12 * a ** 2 * np.sin(a) + 8 * a ** 3 * np.cos(a) - a ** 4 * np.sin(a)


def d3(a):
    return 24 * a * np.sin(a) + 36 * a ** 2 * np.cos(a) - 12 * a ** 3 * np.sin(a) - a ** 4 * np.cos(a)


def two_parameters(a, b):
    return np.sin(a * b) * a ** 3 + b ** 2 * a


def mixed_partial(a, b):  # d/da d/db two_parameters = d/da (a^4 cos(ab) + 2ab), by hand
    return 4 * a ** 3 * np.cos(a * b) - a ** 4 * b * np.sin(a * b) + 2 * b


def recurrence(x, p):
    """A for loop with a branch in its body: x is carried through both."""
    total = 0.0
    for i in range(6):
        if x > 0.5:
            x = np.sin(x) * p + 0.3 * x
        else:
            x = x * x * p + 0.7
        total = total + x * x
    return total


def while_loop(x):
    n = 0
    while n < 4:
        x = np.sin(x) * 1.1 + 0.2
        n = n + 1
    return x


def rows_loop(W, x):
    """A for loop that tapes arrays (h is carried)."""
    h = x
    for k in range(3):
        h = np.tanh(W @ h)
    return np.sum(h)


def cubes(x):
    return np.sum(x ** 3 * np.sin(x))


@pytest.fixture(scope="module")
def transforms():
    """The compositions under test, made once for the module (both modes)."""
    made = {}
    for compiled in (False, True):
        def t(transform, *args, **kwargs):
            return transform(*args, jit=compiled, **kwargs)
        made[compiled] = {
            "grad(grad)": t(grad, t(grad, quartic_sine)),
            "grad(grad(grad))": t(grad, t(grad, t(grad, quartic_sine))),
            "value_and_grad(grad)": t(value_and_grad, t(grad, quartic_sine)),
            "grad(jit)": t(grad, t(jit, quartic_sine)),
            "jit(grad)": t(jit, t(grad, quartic_sine)),
            "value_and_grad(jit(jit))": t(value_and_grad, t(jit, t(jit, quartic_sine))),
            "vjp(grad)": t(vjp, t(grad, quartic_sine)),
            "grad(grad(wrt=1), wrt=0)": t(grad, t(grad, two_parameters, wrt=1), wrt=0),
            "grad(grad(wrt=0), wrt=1)": t(grad, t(grad, two_parameters, wrt=0), wrt=1),
            "grad(grad(wrt=0), wrt=(0, 1))": t(grad, t(grad, two_parameters, wrt=0), wrt=(0, 1)),
            "jit(value_and_grad(wrt=(0, 1)))": t(jit, t(value_and_grad, two_parameters, wrt=(0, 1))),
            "grad(recurrence)": t(grad, recurrence),
            "grad(grad(recurrence))": t(grad, t(grad, recurrence)),
            "grad(grad(recurrence, wrt=p), wrt=x)": t(grad, t(grad, recurrence, wrt="p"), wrt="x"),
            "grad(cubes)": t(grad, cubes),
            "vjp(grad(cubes))": t(vjp, t(grad, cubes)),
        }
    return made


@MODES
@pytest.mark.parametrize("a", [-1.3, 0.4, 2.0])
def test_second_and_third_derivatives(transforms, compiled, a):
    made = transforms[compiled]
    first = grad(quartic_sine, jit=compiled)
    assert made["grad(grad)"](a) == pytest.approx(central(first, a), rel=1e-8)
    assert made["grad(grad)"](a) == pytest.approx(d2(a), rel=1e-12, abs=1e-12)
    assert made["grad(grad(grad))"](a) == pytest.approx(central(made["grad(grad)"], a), rel=1e-7)
    assert made["grad(grad(grad))"](a) == pytest.approx(d3(a), rel=1e-12, abs=1e-12)
    value, second = made["value_and_grad(grad)"](a)
    assert value == pytest.approx(d1(a), rel=1e-13) and second == pytest.approx(d2(a), rel=1e-12, abs=1e-12)
    value, pullback = made["vjp(grad)"](a)
    assert value == pytest.approx(d1(a), rel=1e-13)
    assert pullback(0.5) == pytest.approx(0.5 * central(first, a), rel=1e-8)


@MODES
@pytest.mark.parametrize("a", [-1.3, 0.4, 2.0])
def test_transforms_of_jit_and_jit_of_transforms(transforms, compiled, a):
    made = transforms[compiled]
    assert made["grad(jit)"](a) == pytest.approx(central(quartic_sine, a), rel=1e-8)
    assert made["grad(jit)"](a) == pytest.approx(d1(a), rel=1e-13)
    assert made["jit(grad)"](a) == pytest.approx(d1(a), rel=1e-13)
    value, derivative = made["value_and_grad(jit(jit))"](a)
    assert value == pytest.approx(quartic_sine(a), rel=1e-14) and derivative == pytest.approx(d1(a), rel=1e-13)


@MODES
def test_mixed_partials(transforms, compiled):
    made = transforms[compiled]
    a, b = 0.7, 1.3
    d_db = grad(two_parameters, wrt=1, jit=compiled)
    d_da = grad(two_parameters, wrt=0, jit=compiled)
    by_differences = central(lambda s: d_db(s, b), a)
    assert by_differences == pytest.approx(central(lambda s: d_da(a, s), b), rel=1e-7)  # symmetric
    assert made["grad(grad(wrt=1), wrt=0)"](a, b) == pytest.approx(by_differences, rel=1e-8)
    assert made["grad(grad(wrt=0), wrt=1)"](a, b) == pytest.approx(by_differences, rel=1e-8)
    assert made["grad(grad(wrt=1), wrt=0)"](a, b) == pytest.approx(mixed_partial(a, b), rel=1e-12)
    row = made["grad(grad(wrt=0), wrt=(0, 1))"](a, b)
    assert row[0] == pytest.approx(central(lambda s: d_da(s, b), a), rel=1e-8)
    assert row[1] == pytest.approx(by_differences, rel=1e-8)
    value, (g_a, g_b) = made["jit(value_and_grad(wrt=(0, 1)))"](a, b)
    assert value == pytest.approx(two_parameters(a, b), rel=1e-14)
    assert (g_a, g_b) == (pytest.approx(central(lambda s: two_parameters(s, b), a), rel=1e-8),
                          pytest.approx(central(lambda s: two_parameters(a, s), b), rel=1e-8))


@MODES
@pytest.mark.parametrize("x", [0.2, 0.9])
def test_second_derivatives_through_a_loop_with_a_branch(transforms, compiled, x):
    made = transforms[compiled]
    p = 0.8
    first = made["grad(recurrence)"]
    assert first(x, p) == pytest.approx(central(lambda s: recurrence(s, p), x), rel=1e-7)
    assert made["grad(grad(recurrence))"](x, p) == pytest.approx(central(lambda s: first(s, p), x), rel=1e-7)
    d_dp = grad(recurrence, wrt="p", jit=compiled)
    assert made["grad(grad(recurrence, wrt=p), wrt=x)"](x, p) == \
        pytest.approx(central(lambda s: d_dp(s, p), x), rel=1e-7)


@MODES
def test_hessian_vector_products_of_an_array_function(transforms, compiled):
    """vjp(grad(f)) pulls u back through the gradient: u^T H, compared with differences of grad(f)."""
    made = transforms[compiled]
    rng = np.random.default_rng(0)
    x, u, v = rng.normal(size=(3, 5))
    gradient, pullback = made["vjp(grad(cubes))"](x)
    assert np.allclose(gradient, made["grad(cubes)"](x), rtol=1e-14)
    by_differences = central(lambda t: float(u @ made["grad(cubes)"](x + t * v)), 0.0)
    assert float(pullback(u) @ v) == pytest.approx(by_differences, rel=1e-8)
    hessian = np.diag(6 * x * np.sin(x) + 6 * x ** 2 * np.cos(x) - x ** 3 * np.sin(x))
    assert np.allclose(pullback(u), u @ hessian, rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------ stacked decorators


@grad
@grad
def exp_times(x):
    return np.exp(x) * x


@value_and_grad(wrt="b", jit=False)
@grad(wrt="a", jit=False)
def stacked_mixed(a, b):
    return np.sin(a * b) * a ** 3 + b ** 2 * a


def test_stacked_decorators():
    for x in (-0.5, 1.0):
        assert exp_times(x) == pytest.approx(np.exp(x) * (x + 2), rel=1e-14)
    value, mixed = stacked_mixed(0.7, 1.3)
    assert value == pytest.approx(grad(two_parameters)(0.7, 1.3), rel=1e-14)
    assert mixed == pytest.approx(mixed_partial(0.7, 1.3), rel=1e-12)


def test_a_transformed_function_keeps_its_name_and_signature_but_not_its_source():
    assert exp_times.__name__ == "exp_times" and not hasattr(exp_times, "__wrapped__")
    assert list(inspect.signature(stacked_mixed).parameters) == ["a", "b"]
    assert stacked_mixed.title == "value_and_grad(grad(stacked_mixed))"
    assert "grad_of_stacked_mixed" in ad.show(stacked_mixed, 0.7, 1.3, print_it=False)


# ------------------------------------------------------------------ refusals, naming both transforms


def refused(make, *args):
    with pytest.raises(CompileError) as error:
        transformed = make()
        transformed(*args)
    return str(error.value)


@pytest.mark.parametrize("outer", [grad, value_and_grad, vjp, jit], ids=lambda t: t.__name__)
def test_a_transform_of_vjp_is_refused(outer):
    message = refused(lambda: outer(vjp(quartic_sine)))
    assert f"{outer.__name__}(vjp(quartic_sine))" in message and "pullback" in message
    assert f"test_compositions.py:{quartic_sine.__code__.co_firstlineno}" in message


@pytest.mark.parametrize("outer", [grad, value_and_grad, vjp], ids=lambda t: t.__name__)
@pytest.mark.parametrize("inner, what", [(value_and_grad(quartic_sine), "(value, gradients)"),
                                         (grad(two_parameters, wrt=(0, 1)), "a tuple of 2 gradients")],
                         ids=["value_and_grad", "grad-two-wrt"])
def test_a_transform_of_a_tuple_output_is_refused_when_made(outer, inner, what):
    message = refused(lambda: outer(inner))
    assert f"{outer.__name__}({inner.title})" in message and what in message and "tuple" in message


def test_grad_of_an_array_valued_gradient_is_refused_naming_both():
    message = refused(lambda: grad(grad(cubes)), np.ones(3))
    assert "grad needs a scalar output" in message and "grad(grad(cubes))" in message and "1-D" in message


def returns_a_tuple(x):
    return x, 2.0 * x


def test_a_transform_of_a_function_returning_a_tuple_is_refused():
    message = refused(lambda: grad(jit(returns_a_tuple)), 1.0)
    assert "grad(jit(returns_a_tuple)) returns a tuple of 2 values" in message
    assert jit(returns_a_tuple, jit=False)(1.5) == (1.5, 3.0)


@MODES
def test_second_derivative_through_a_while_loop(compiled):
    """A `while` loop's values go on a stack (tape_push), which has derivative rules."""
    first = grad(while_loop, jit=compiled)
    assert first(0.3) == pytest.approx(central(while_loop, 0.3), rel=1e-8)
    assert grad(first, jit=compiled)(0.3) == pytest.approx(central(first, 0.3), rel=1e-7)


@MODES
def test_second_derivative_through_a_loop_whose_array_shape_is_not_proved_is_refused_never_wrong(compiled):
    """h = tanh(W @ h) keeps h's shape only if W is square, which the types do not say: h stays on a
    list tape (tests/test_tapes.py has the stacked kind), whose second derivative is refused."""
    rng = np.random.default_rng(1)
    W, x = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    first = grad(rows_loop, wrt=1, jit=compiled)
    assert first(W, x) @ x == pytest.approx(central(lambda t: rows_loop(W, x + t * x), 0.0), rel=1e-8)
    message = refused(lambda: vjp(first, wrt=1, jit=compiled), W, x)
    assert "differentiating the gradient of a loop that keeps its values in a list" in message


def product(x):
    return np.prod(x) * 2.0


def test_second_derivative_of_np_prod_is_refused_never_wrong():
    """np.prod's gradient is exact at zeros (products of the others), which has no rule yet."""
    x = np.array([0.5, 2.0, 0.0])
    assert np.array_equal(grad(product, jit=False)(x), [0.0, 0.0, 2.0])
    message = refused(lambda: vjp(grad(product, jit=False), jit=False), x)
    assert "the second derivative of np.prod is not supported" in message and "np.exp(np.sum(np.log(x)))" in message
    assert f"test_compositions.py:{product.__code__.co_firstlineno + 1}" in message


# ------------------------------------------------------------------ wrappers and custom rules


def doubled(function):
    @functools.wraps(function)
    def wrapper(x):
        return 2.0 * function(x)
    return wrapper


@doubled
def doubled_quartic_sine(a):
    return a ** 4 * np.sin(a)


def test_a_functools_wraps_wrapper_is_differentiated_as_itself():
    """`inspect.unwrap` would read the wrapped function and drop the factor 2 (silently wrong)."""
    for compiled in (False, True):
        assert grad(doubled_quartic_sine, jit=compiled)(2.0) == pytest.approx(2 * d1(2.0), rel=1e-13)


@custom_vjp
def clipped_identity(x):
    return x * 1.0


@clipped_identity.defvjp
def clipped_identity_vjp(g, x, out):
    return np.clip(g, -1.0, 1.0)  # a straight-through estimator: not the function's own derivative


def test_a_transform_of_a_custom_vjp_uses_its_rule():
    """The rule is the specification here: 3x's derivative 3 is clipped to 1."""
    for compiled in (False, True):
        assert grad(clipped_identity, jit=compiled)(2.0) == 1.0
        assert value_and_grad(jit(clipped_identity), jit=compiled)(2.0) == (2.0, 1.0)


# ------------------------------------------------------------------ random programs, composed

COMPOSED = {"checked": 0, "second-order checked": 0}
SECOND_ORDER_REFUSALS = ("differentiating the gradient of a loop that keeps its values in a list",
                         "the second derivative of np.prod is not supported")


def check_composed(program, compiled: bool):
    """A program passes `check_program`; then `grad(jit(f))` and `jit(value_and_grad(f))` equal
    `value_and_grad(f)`, and `vjp(grad(f, wrt=k))` pulls a random u back to what finite
    differences of <grad_k f, u> give (a Hessian-vector product, against the inner gradient)."""
    check_program(program, jit=compiled, extra=False)
    function = getattr(load(program.source), program.name)
    args, wrt = program.args, program.wrt
    value, grads = value_and_grad(function, wrt=wrt, jit=compiled)(*_copy(args))
    through_jit = grad(jit(function, jit=compiled), wrt=wrt, jit=compiled)(*_copy(args))
    jit_value, jit_grads = jit(value_and_grad(function, wrt=wrt, jit=compiled), jit=compiled)(*_copy(args))
    assert math.isclose(jit_value, value, rel_tol=1e-12, abs_tol=1e-300), (jit_value, value, program)
    for g, h, k in zip(grads, through_jit, jit_grads):
        assert np.allclose(h, g, rtol=1e-12, atol=1e-13), (program, g, h)
        assert np.allclose(k, g, rtol=1e-12, atol=1e-13), (program, g, k)
    COMPOSED["checked"] += 1
    k = wrt[0]
    first = grad(function, wrt=k, jit=compiled)
    try:
        gradient, pullback = vjp(first, wrt=wrt, jit=compiled)(*_copy(args))
    except CompileError as error:
        if any(message in str(error) for message in SECOND_ORDER_REFUSALS):
            return  # documented: second derivatives through while loops, array tapes and np.prod
        raise
    assert np.allclose(gradient, grads[0], rtol=1e-12, atol=1e-13), (program, gradient, grads[0])
    u = np.random.default_rng(2).standard_normal(np.shape(args[k]))
    u = u if np.ndim(args[k]) else float(u)
    second = pullback(u)
    with np.errstate(all="ignore"):
        check_gradients(lambda *a: float(np.sum(np.asarray(first(*a)) * u)), args, wrt, second, program=program)
    COMPOSED["second-order checked"] += 1


def _composed(compiled, failures=None):
    """A Hypothesis test body: `check_composed`, a non-smooth point rejected, a documented
    refusal passed; with a list of `failures`, every other failure is collected there."""
    def run(program):
        try:
            check_composed(program, compiled)
        except NotSmooth:
            assume(False)
        except Refused:
            pass
        except Exception as error:  # noqa: BLE001 - every failure is a finding
            if failures is None:
                raise
            failures.append(f"{type(error).__name__}: {error}\n{program}")
    return run


def _seeded(count: int, compiled: bool, first_seed: int, **generator) -> None:
    """`check_composed` of the programs of seeds first_seed, first_seed + 1, ... until `count`
    were run (a non-smooth point skips its program, a documented refusal counts as run). Each
    program is its seed's alone: Hypothesis's examples each depend on the earlier ones' outcomes,
    so one last-bit difference (NumPy's sums depend on memory alignment) changed the whole set
    between processes (CI checked 47 at second order where a lone run checked 63)."""
    ran, seed = 0, first_seed
    while ran < count and seed < first_seed + 4 * count:
        program = generate(RandomChooser(seed), exclude=EXCLUDE, **generator)
        seed += 1
        try:
            check_composed(program, compiled)
        except NotSmooth:
            continue
        except Refused:
            pass
        ran += 1
    assert ran == count, f"only {ran} of the programs of seeds {first_seed}..{seed - 1} had smooth points"


def test_random_compositions():
    """80 random programs in plain-Python mode and 5 under Numba, composed; how many were checked
    is asserted (a refusal or a skipped point would otherwise pass unseen)."""
    COMPOSED.update(checked=0, **{"second-order checked": 0})
    _seeded(80, False, 0, max_statements=8)
    _seeded(5, True, 1000, max_statements=3, control=3)
    assert COMPOSED["checked"] >= 78, COMPOSED  # 80 when last measured (the same in every process)
    assert COMPOSED["second-order checked"] >= 58, COMPOSED  # 60 (the others: documented refusals)


@pytest.mark.slow
def test_random_compositions_long():
    """ADCOMPILER_RANDOM_EXAMPLES (2,000) programs of up to 14 statements, composed, in
    plain-Python mode; every failure is collected before the test fails."""
    examples = int(os.environ.get("ADCOMPILER_RANDOM_EXAMPLES", "2000"))
    COMPOSED.update(checked=0, **{"second-order checked": 0})
    failures = []
    settings(max_examples=examples, **SETTINGS)(given(programs(max_statements=14))(_composed(False, failures)))()
    groups: dict = {}
    for failure in failures:
        groups.setdefault(_signature(failure), []).append(failure)
    print(COMPOSED, f"{len(failures)} failures in {len(groups)} groups")
    for signature, items in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"  {len(items):5d}  {signature}")
    assert not groups, "\n\n".join(items[0] for items in groups.values())
    assert COMPOSED["checked"] >= 0.8 * examples, COMPOSED


def test_the_command_line_shows_the_code_of_a_composition(tmp_path, capsys):
    from adcompiler.__main__ import main

    path = tmp_path / "stacked_module.py"
    path.write_text("import numpy as np\nimport adcompiler\n\n\n@adcompiler.grad\n@adcompiler.grad\n"
                    "def f(x):\n    return np.exp(x) * x\n\n\n@adcompiler.grad\ndef g(x, y):\n    return x * y\n")
    assert main(["show", f"{path}:f", "--args", "1.0"]) == 0
    assert "def grad_of_f_forward(" in capsys.readouterr().out
    assert main(["show", f"{path}:g", "--args", "1.0, 2.0", "--wrt", "1"]) == 0
    assert "return (d_y,)" in capsys.readouterr().out  # the plain function's code, for --wrt
