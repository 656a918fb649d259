"""Golden tests of the printed IR, and the IR verifier.

For each program of tests/programs.py the lowered SSA and the forward and backward passes (after
`reverse` and `simplify`) are printed with `print_function` and compared with a text file in
tests/golden/. The golden files are the spec: they were generated once, then read and checked by
hand. Regenerate them with

    ADCOMPILER_UPDATE_GOLDEN=1 python -m pytest tests/test_ir.py

and read the diff (`git diff tests/golden`) before committing it.

The printer writes the user's `file:line` after every op as the file's base name (`programs.py:11`),
so the golden text does not depend on where the checkout is.
The verifier runs after every pass (lower, reverse, simplify). The negative tests build broken IR
by hand and check that `verify` refuses it with the message naming the broken invariant.
"""
from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import pytest

from adcompiler import CompileError
from adcompiler.rules import primitives as P
from adcompiler.errors import Loc
from adcompiler.backend.emit import names_for
from adcompiler.ir.core import Block, Const, Function, Op, Return, Type, Value, print_function, verify
from adcompiler.api import TRANSFORMS
from adcompiler.frontend.lower import lower
from adcompiler.pipeline import check
from adcompiler.transforms.plan import Keep
from adcompiler.transforms.reverse import reverse
from adcompiler.transforms.simplify import simplify

try:
    from tests import programs
except ImportError:  # pytest put tests/ itself on sys.path
    import programs

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ADCOMPILER_UPDATE_GOLDEN") == "1"

F64, F32 = Type("float64"), Type("float32")


def f64(ndim=0):
    return Type("float64", ndim)


def f32(ndim=0):
    return Type("float32", ndim)


# name -> (function, argument types, wrt)
CASES = {
    "add_mul": (programs.add_mul, [f64(), f64(), f64()], (0, 1, 2)),
    "reuse": (programs.reuse, [f64(), f64()], (0, 1)),
    "reassign": (programs.reassign, [f64(), f64()], (0, 1)),
    "unpack": (programs.unpack, [f64(), f64()], (0, 1)),
    "tanh_layer": (programs.tanh_layer, [f64(2), f64(1), f64(1)], (0, 1, 2)),
    "float32_mean": (programs.float32_mean, [f32(1)], (0,)),
    # (n,1) * (1,m), with the axes of length 1 known as at a first call: the backward sums each
    # gradient over exactly the stretched axis, with no runtime unbroadcast.
    "broadcast": (programs.broadcast, [Type("float64", 2, units=(False, True)),
                                       Type("float64", 2, units=(True, False))], (0, 1)),
    "sin_cos": (programs.sin_cos, [f64(1)], (0,)),
}

def passes(function, arg_types, wrt):
    """(lowered, adjoint after reverse, adjoint after simplify), verified after every pass."""
    primal = verify(lower(check(function), list(arg_types), TRANSFORMS))
    reversed_ = reverse(primal, wrt)
    verify(reversed_.forward)
    verify(reversed_.backward)
    simplified = simplify(reversed_)
    verify(simplified.forward)
    verify(simplified.backward)
    # The passes must not break the IR they were given.
    verify(primal)
    verify(reversed_.forward)
    verify(reversed_.backward)
    return primal, reversed_, simplified


def golden_text(name: str) -> str:
    """The passes printed with one namer, as `show` prints them (an adjoint is named after the
    forward value it belongs to, a residual as in the forward)."""
    function, arg_types, wrt = CASES[name]
    primal, _, simplified = passes(function, arg_types, wrt)
    names = names_for(primal, simplified)
    sections = [
        "# lowered", print_function(primal, names),
        "# forward (after reverse + simplify)", print_function(simplified.forward, names),
        "# backward (after reverse + simplify)", print_function(simplified.backward, names),
    ]
    return "\n".join(sections) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_ir(name):
    text = golden_text(name)
    path = GOLDEN / f"{name}.ir"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with ADCOMPILER_UPDATE_GOLDEN=1 and read it"
    assert text == path.read_text()


def test_residual_plan_is_pinned():
    """What the backward of a loop with a branch and a nested loop reads of its forward, and how:
    the plan printed (tests/golden/loop_branch_nested.plan), as `show` prints it."""
    arg_types = [f64(1), Type("float64", 2), Type("int64")]
    primal, _, simplified = passes(programs.loop_branch_nested, arg_types, (0, 1))
    names = names_for(primal, simplified)
    text = "\n".join(plan.describe(names) for plan in simplified.plans) + "\n"
    path = GOLDEN / "loop_branch_nested.plan"
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()
    kept = {keep for plan in simplified.plans for _, keep in plan.decisions}
    assert {Keep.INDEX, Keep.ARRAY, Keep.LIST, Keep.SURFACE} <= kept, kept


@pytest.mark.parametrize("name", sorted(CASES))
def test_printing_is_deterministic(name):
    assert golden_text(name) == golden_text(name)


def test_printed_ir_has_no_absolute_path():
    text = golden_text("tanh_layer")
    locations = re.findall(r"# (\S+):\d+$", text, re.M)
    assert locations and set(locations) == {"programs.py"}
    assert str(Path(programs.__file__).parent) not in text


def test_printed_location_is_the_users_line():
    """The printer's `file:line` points at the user's line (checked against the source itself)."""
    lines, first = inspect.getsourcelines(programs.tanh_layer)
    tanh_line = first + next(i for i, text in enumerate(lines) if "np.tanh" in text)
    sum_line = first + next(i for i, text in enumerate(lines) if "np.sum" in text)
    primal = lower(check(programs.tanh_layer), [f64(2), f64(1), f64(1)], TRANSFORMS)
    text = print_function(primal)
    assert re.search(rf"= tanh %\S+ : f64\[\?\] +# programs\.py:{tanh_line}$", text, re.M), text
    assert re.search(rf"= sum %h : f64 +# programs\.py:{sum_line}$", text, re.M), text


def test_parameters_keep_their_names():
    """`a = t` binds a second name to the parameter `t`; the parameter is still printed as `%t`
    (`t` is also the hint of unnamed temporaries, which an assignment names after its target)."""
    primal, _, simplified = passes(programs.param_named_t, [f64(), f64()], (0, 1))
    assert print_function(primal).startswith("func param_named_t(%t: f64, %x: f64) {")
    assert print_function(simplified.forward).startswith("func param_named_t_forward(%t: f64, %x: f64) {")
    assert [p.hint for p in primal.params] == ["t", "x"]


def test_reverse_pass_output_verifies_before_simplify():
    """The unsimplified adjoint already returns one gradient per `wrt` parameter, typed like it."""
    _, reversed_, simplified = passes(*CASES["tanh_layer"])
    for adjoint in (reversed_, simplified):
        grads = adjoint.backward.entry.terminator.values
        assert [g.type for g in grads] == [f64(2), f64(1), f64(1)]
        assert adjoint.backward.params[-1].type == F64  # the seed g
        # Residual pairs: forward value and backward parameter of the same type.
        for source, param in adjoint.residuals:
            assert source.type == param.type


def test_simplified_residuals_are_distinct_forward_values():
    """After common-subexpression elimination, a forward value is passed to the backward once.

    `np.exp(x) + np.exp(x)`: the two exp ops become one, and their two residuals must become one
    too (two backward parameters standing for one forward value are emitted with one name).
    """
    for name, (function, arg_types, wrt) in [("repeated_exp", (programs.repeated_exp, [f64(1)], (0,))),
                                              *CASES.items()]:
        _, _, simplified = passes(function, arg_types, wrt)
        sources = [source for source, _ in simplified.residuals]
        assert len({id(s) for s in sources}) == len(sources), (name, print_function(simplified.forward))
        assert len(simplified.backward.params) == len(sources) + 1


# ---------------------------------------------------------------- the verifier refuses broken IR

LOC = Loc("broken.py", 7, 0, "broken")
OP_LOC = Loc("broken.py", 8, 4, "broken")


def function(params, ops, returned, name="broken"):
    block = Block(list(params), list(ops), Return(tuple(returned), OP_LOC))
    return Function(name, [block], LOC)


def op(prim, args, result, **params):
    return Op(prim, tuple(args), result, OP_LOC, tuple(sorted(params.items())))


def refused(fn) -> CompileError:
    with pytest.raises(CompileError) as info:
        verify(fn)
    return info.value


def test_well_formed_ir_verifies():
    x, y = Value(F64, "x"), Value(F64, "y")
    t, u = Value(F64, "t"), Value(F64, "u")
    fn = function([x, y], [op(P.add, [x, y], t), op(P.mul, [t, Const(2.0)], u)], [u])
    assert verify(fn) is fn


def test_use_before_definition():
    x = Value(F64, "x")
    early, late = Value(F64, "early"), Value(F64, "late")
    fn = function([x], [op(P.mul, [late, x], early), op(P.add, [x, x], late)], [early])
    error = refused(fn)
    assert error.message == "IR verification failed in broken: %late is used before it is defined"
    assert error.loc == OP_LOC


def test_use_of_value_defined_nowhere():
    x, ghost, t = Value(F64, "x"), Value(F64, "ghost"), Value(F64, "t")
    fn = function([x], [op(P.add, [x, ghost], t)], [t])
    assert refused(fn).message == "IR verification failed in broken: %ghost is used before it is defined"


def test_return_of_undefined_value():
    x, ghost = Value(F64, "x"), Value(F64, "ghost")
    error = refused(function([x], [], [ghost]))
    assert error.message == "IR verification failed in broken: %ghost is used before it is defined"


def test_double_definition_by_two_ops():
    x, t = Value(F64, "x"), Value(F64, "t")
    fn = function([x], [op(P.add, [x, x], t), op(P.mul, [x, x], t)], [t])
    error = refused(fn)
    assert error.message == "IR verification failed in broken: %t is defined twice"
    assert error.loc == OP_LOC


def test_double_definition_of_a_parameter():
    x = Value(F64, "x")
    fn = function([x], [op(P.neg, [x], x)], [x])
    assert refused(fn).message == "IR verification failed in broken: %x is defined twice"


def test_same_value_as_two_parameters():
    x = Value(F64, "x")
    error = refused(function([x, x], [], [x]))
    assert error.message == "IR verification failed in broken: %x is defined twice"
    assert error.loc == LOC


def test_wrong_arity():
    x, t = Value(F64, "x"), Value(F64, "t")
    fn = function([x], [op(P.add, [x], t)], [t])
    error = refused(fn)
    assert error.message == "IR verification failed in broken: add takes 2 operand(s), got 1"
    assert error.loc == OP_LOC


def test_wrong_arity_too_many():
    x, t = Value(F64, "x"), Value(F64, "t")
    fn = function([x], [op(P.exp, [x, x], t)], [t])
    assert refused(fn).message == "IR verification failed in broken: exp takes 1 operand(s), got 2"


def test_wrong_result_dtype():
    x, y, t = Value(F64, "x"), Value(F64, "y"), Value(F32, "t")
    fn = function([x, y], [op(P.add, [x, y], t)], [t])
    error = refused(fn)
    assert error.message == "IR verification failed in broken: add gives f64, but %t is f32"
    assert error.loc == OP_LOC


def test_wrong_result_rank():
    W, v, t = Value(f64(2), "W"), Value(f64(1), "v"), Value(f64(2), "t")
    fn = function([W, v], [op(P.matmul, [W, v], t)], [t])
    assert refused(fn).message == "IR verification failed in broken: matmul gives f64[?], but %t is f64[?,?]"


def test_wrong_result_type_with_params():
    x, t = Value(f64(1), "x"), Value(f64(1), "t")
    fn = function([x], [op(P.cast, [x], t, dtype="float32")], [t])
    assert refused(fn).message == "IR verification failed in broken: cast gives f32[?], but %t is f64[?]"


def test_missing_terminator():
    x, t = Value(F64, "x"), Value(F64, "t")
    fn = Function("broken", [Block([x], [op(P.exp, [x], t)], None)], LOC)
    error = refused(fn)
    assert error.message == "IR verification failed in broken: a block has no terminator"
    assert error.loc == LOC


def test_error_text_names_the_location():
    x, t = Value(F64, "x"), Value(F64, "t")
    error = refused(function([x], [op(P.add, [x], t)], [t]))
    assert str(error).startswith("broken.py:8: in broken(): IR verification failed in broken:")
