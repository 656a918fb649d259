"""Array functions and advanced indexing (rules/arrays.py, frontend/calls/arrays.py): np.roll,
np.flip (fliplr, flipud), np.pad ('constant', 'edge'), np.tile, np.repeat, np.take,
np.take_along_axis, np.add.at, np.meshgrid, np.cross, np.append, np.hstack, np.vstack,
np.column_stack, np.delete, and indexing by several integer arrays (`x[rows, cols]`, `X[:, idx]`).

Each row is the dot-product test of tests/test_array_rules.py against float64 central finite
differences (tests/fd.py `check_vjp`: the forward value with NumPy's dtype and shape, each
gradient's shape and dtype), and the arguments must be unchanged afterwards. Rows marked `jit`
also run compiled by Numba (at least one per function). Repeated indices (take, np.add.at,
several index arrays) are also checked exactly against np.add.at of the cotangent; out-of-range
indices raise IndexError in both modes; refusals name the construct and the line.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from adcompiler import CompileError, grad, jit as compiled, vjp
from fd import assert_forward, check_vjp, uniform
from fd import compiled as compiled_mode
from test_array_rules import Row, arg, cases, check_float32, fixed, float32_cases, jit_id, pull

SEED = 20261202


def run(row, jit, rng):
    """run_row, and the arguments unchanged afterwards (nothing writes into the caller's arrays)."""
    args = tuple(sample(rng) for sample in row.args)
    copies = [np.copy(value) for value in args]
    check_vjp(row.fn, args, row.wrt, jit, rng)
    for value, before in zip(args, copies):
        np.testing.assert_array_equal(value, before)


V6, M34, T234 = (6,), (3, 4), (2, 3, 4)


def a(shape):
    return arg(uniform(-2, 2), shape)


# ================================================================ roll, flip

def roll_flat(x): return np.roll(x, 2)
def roll_flat_back(x): return np.roll(x, -5)
def roll_a1(x): return np.roll(x, 1, axis=1)
def roll_a0_long(x): return np.roll(x, 7, axis=0)
def roll_am1_zero(x): return np.roll(x, 0, axis=-1)
def roll_tuple(x): return np.roll(x, (1, -2), axis=(0, 2))
def roll_one_shift_two_axes(x): return np.roll(x, 1, axis=(0, 1))
def roll_same_axis_twice(x): return np.roll(x, (1, 2), axis=(1, 1))
def roll_by_argument(x, n): return np.roll(x, n, axis=-1) * x
def flip_all(x): return np.flip(x)
def flip_a0(x): return np.flip(x, 0)
def flip_am1(x): return np.flip(x, axis=-1) * x
def flip_axes(x): return np.flip(x, axis=(0, 2))
def flip_lr(x): return np.fliplr(x)
def flip_ud(x): return np.flipud(x)
def flip_slice(x): return x[::-1, ::-1] * x

REARRANGE = [
    Row("roll_flat-6", roll_flat, (a(V6),)),
    Row("roll_flat_back-3x4", roll_flat_back, (a(M34),)),
    Row("roll_a1-3x4", roll_a1, (a(M34),)),
    Row("roll_a0_long-3x4", roll_a0_long, (a(M34),)),
    Row("roll_am1_zero-3x4", roll_am1_zero, (a(M34),)),
    Row("roll_tuple-2x3x4", roll_tuple, (a(T234),), jit=True),
    Row("roll_one_shift_two_axes-3x4", roll_one_shift_two_axes, (a(M34),)),
    Row("roll_same_axis_twice-3x4", roll_same_axis_twice, (a(M34),)),
    Row("roll_by_argument-3x4", roll_by_argument, (a(M34), fixed(-3))),
    Row("flip_all-3x4", flip_all, (a(M34),)),
    Row("flip_all-6", flip_all, (a(V6),)),
    Row("flip_a0-3x4", flip_a0, (a(M34),)),
    Row("flip_am1-2x3x4", flip_am1, (a(T234),)),
    Row("flip_axes-2x3x4", flip_axes, (a(T234),), jit=True),
    Row("fliplr-3x4", flip_lr, (a(M34),)),
    Row("flipud-6", flip_ud, (a(V6),)),
    Row("flipud-3x4", flip_ud, (a(M34),)),
    Row("flip_slice-3x4", flip_slice, (a(M34),)),
]


@pytest.mark.parametrize("row, jit", cases(REARRANGE))
def test_roll_and_flip(row, jit, rng):
    run(row, jit, rng)


# ================================================================ pad, tile, repeat

def pad_int(x): return np.pad(x, 1)
def pad_pair(x): return np.pad(x, (1, 2))
def pad_per_axis(x): return np.pad(x, ((1, 0), (2, 3)))
def pad_singles(x): return np.pad(x, ((1,), (2,)))
def pad_value(x, w): return np.pad(x, (2, 1), constant_values=w) * w
def pad_value_literal(x): return np.pad(x, 1, mode="constant", constant_values=-1.5)
def pad_3d(x): return np.pad(x, ((0, 1), (1, 1), (2, 0)))
def pad_edge(x): return np.pad(x, 2, mode="edge")
def pad_edge_pairs(x): return np.pad(x, ((0, 2), (1, 0)), "edge")
def pad_edge_v(x): return np.pad(x, (2, 1), mode="edge") * 1.5
def tile_v(x): return np.tile(x, 2)
def tile_m(x): return np.tile(x, (2, 3))
def tile_promoted(x): return np.tile(x, (2, 1, 2))
def tile_reps_promoted(x): return np.tile(x, 2) * 0.5
def tile_3d(x): return np.tile(x, (1, 2, 1))
def repeat_flat(x): return np.repeat(x, 3)
def repeat_a1(x): return np.repeat(x, 2, axis=1)
def repeat_am3(x): return np.repeat(x, 2, axis=-3)
def repeat_method(x): return x.repeat(3, axis=0)
def repeat_v(x): return np.repeat(x, 2) * np.repeat(x, 2, axis=0)

PAD_TILE_REPEAT = [
    Row("pad_int-3x4", pad_int, (a(M34),), jit=True),
    Row("pad_pair-6", pad_pair, (a(V6),)),
    Row("pad_pair-3x4", pad_pair, (a(M34),)),
    Row("pad_per_axis-3x4", pad_per_axis, (a(M34),)),
    Row("pad_singles-3x4", pad_singles, (a(M34),)),
    Row("pad_value-3x4", pad_value, (a(M34), a(())), wrt=(0, 1)),
    Row("pad_value_literal-6", pad_value_literal, (a(V6),)),
    Row("pad_3d", pad_3d, (a(T234),)),
    Row("pad_edge-3x4", pad_edge, (a(M34),), jit=True),
    Row("pad_edge-6", pad_edge, (a(V6),)),
    Row("pad_edge_pairs-3x4", pad_edge_pairs, (a(M34),)),
    Row("pad_edge_v-6", pad_edge_v, (a(V6),)),
    Row("tile_v-6", tile_v, (a(V6),)),
    Row("tile_m-3x4", tile_m, (a(M34),), jit=True),
    Row("tile_promoted-3x4", tile_promoted, (a(M34),)),
    Row("tile_reps_promoted-3x4", tile_reps_promoted, (a(M34),)),
    Row("tile_3d", tile_3d, (a(T234),)),
    Row("repeat_flat-3x4", repeat_flat, (a(M34),)),
    Row("repeat_a1-3x4", repeat_a1, (a(M34),)),
    Row("repeat_am3-2x3x4", repeat_am3, (a(T234),), jit=True),
    Row("repeat_method-3x4", repeat_method, (a(M34),)),
    Row("repeat_v-6", repeat_v, (a(V6),)),
]


@pytest.mark.parametrize("row, jit", cases(PAD_TILE_REPEAT))
def test_pad_tile_repeat(row, jit, rng):
    run(row, jit, rng)


# ================================================================ take, take_along_axis, several index arrays

IDX = np.array([2, 0, 2, -1, 2])                  # repeated and negative
ROWS = np.array([2, 0, 2, -3])
COLS = np.array([1, 3, 1, -1])
R21 = np.array([[0], [2]])                         # broadcasts against COLS3
COLS3 = np.array([3, 3, 0])
FLAT_2D = np.array([[0, 11, 5], [5, 5, -1]])
ALONG_1 = np.array([[3, 0], [1, 1], [2, 3]])       # (3, 2) for a (3, 4) array along axis 1
ALONG_0 = np.array([[2, 0, 0, 1], [1, 1, 2, 0]])   # (2, 4) along axis 0
ALONG_B = np.array([[3, 1, 3]])                    # (1, 3): broadcast over the rows
ALONG_3D = np.array([[[0, 3], [3, 3], [1, 2]], [[2, 2], [0, 1], [3, 0]]])


def take_flat(x, i): return np.take(x, i)
def take_a1(x, i): return np.take(x, i, axis=1)
def take_a0(x, i): return np.take(x, i, axis=0) * 2.0
def take_method(x, i): return x.take(i, axis=-1)
def take_one(x): return np.take(x, 2, axis=1)
def take_2d_index(x): return np.take(x, FLAT_2D)
def along_a1(x, i): return np.take_along_axis(x, i, axis=1)
def along_a0(x, i): return np.take_along_axis(x, i, 0)
def along_flat(x, i): return np.take_along_axis(x, i, axis=None)
def along_am1(x, i): return np.take_along_axis(x, i, axis=-1)
def ix_pair(x, r, c): return x[r, c]
def ix_broadcast(x, r, c): return x[r, c] * 1.5
def ix_rows(x, i): return x[i, :]
def ix_cols(x, i): return x[:, i]
def ix_slice_then_cols(x, i): return x[1:, i]
def ix_int_and_array(x, i): return x[1, i] + x[i, -1]
def ix_2d_on_vector(x): return x[FLAT_2D % 6]
def ix_3d_adjacent(x, r, c): return x[:, r, c]
def ix_3d_split(x, r, c): return x[r, :, c]       # NumPy puts the broadcast axis first
def ix_3d_split_int(x, c): return x[0, :, c]      # an int is an index array here: (len(c), 3)
def ix_3d_slice_between(x, r, c): return x[r, 1:3, c]
def ix_3d_first_two(x, r, c): return x[r, c]
def ix_twice(x, r, c): return x[r, c] * x[c, r]

GATHERS = [
    Row("take_flat-6", take_flat, (a(V6), fixed(IDX))),
    Row("take_flat-3x4", take_flat, (a(M34), fixed(FLAT_2D))),
    Row("take_a1-3x4", take_a1, (a(M34), fixed(COLS)), jit=True),
    Row("take_a0-3x4", take_a0, (a(M34), fixed(ROWS))),
    Row("take_a1-2x3x4", take_a1, (a(T234), fixed(ROWS))),
    Row("take_method-3x4", take_method, (a(M34), fixed(FLAT_2D % 4))),
    Row("take_one-3x4", take_one, (a(M34),)),
    Row("take_2d_index-3x4", take_2d_index, (a(M34),)),
    Row("along_a1-3x4", along_a1, (a(M34), fixed(ALONG_1)), jit=True),
    Row("along_a0-3x4", along_a0, (a(M34), fixed(ALONG_0))),
    Row("along_broadcast-3x4", along_a1, (a(M34), fixed(ALONG_B))),
    Row("along_flat-3x4", along_flat, (a(M34), fixed(IDX))),
    Row("along_am1-2x3x4", along_am1, (a(T234), fixed(ALONG_3D))),
    Row("ix_pair-3x4", ix_pair, (a(M34), fixed(ROWS), fixed(COLS)), jit=True),
    Row("ix_broadcast-3x4", ix_broadcast, (a(M34), fixed(R21), fixed(COLS3))),
    Row("ix_rows-3x4", ix_rows, (a(M34), fixed(ROWS))),
    Row("ix_cols-3x4", ix_cols, (a(M34), fixed(COLS))),
    Row("ix_slice_then_cols-3x4", ix_slice_then_cols, (a(M34), fixed(COLS))),
    Row("ix_int_and_array-3x4", ix_int_and_array, (a(M34), fixed(np.array([2, 1, 2])))),
    Row("ix_2d_on_vector-6", ix_2d_on_vector, (a(V6),)),
    Row("ix_3d_adjacent", ix_3d_adjacent, (a(T234), fixed(ROWS), fixed(COLS))),
    Row("ix_3d_split", ix_3d_split, (a(T234), fixed(np.array([1, 0, 1, -1])), fixed(COLS)), jit=True),
    Row("ix_3d_split_int", ix_3d_split_int, (a(T234), fixed(COLS))),
    Row("ix_3d_slice_between", ix_3d_slice_between, (a(T234), fixed(np.array([[1], [0]])), fixed(COLS3))),
    Row("ix_3d_first_two", ix_3d_first_two, (a(T234), fixed(np.array([1, 0, 1, -1])), fixed(ROWS))),
    Row("ix_twice-4x4", ix_twice, (a((4, 4)), fixed(ROWS), fixed(COLS))),
]


@pytest.mark.parametrize("row, jit", cases(GATHERS))
def test_gathers(row, jit, rng):
    run(row, jit, rng)


# ================================================================ np.add.at

def at_into_zeros(x, i):
    y = np.zeros(5)
    np.add.at(y, i, x)
    return y


def at_rows(x, v, i):
    y = x * 1.0
    np.add.at(y, i, v)
    return y * x


def at_scalar(x, w, i):
    y = x.copy()
    np.add.at(y, i, w)
    return y * w


def at_pairs(x, v, r, c):
    y = np.zeros((3, 4))
    np.add.at(y, (r, c), v * x[r, c])
    return y


def at_loop(x, i):
    y = np.zeros(5)
    for k in range(3):
        np.add.at(y, i, x * (k + 1.0))
    return np.sin(y)


def at_in_branch(x, i):
    y = x * 2.0
    if np.sum(x) > 100.0:
        y = y + 1.0
    else:
        np.add.at(y, i, x[:4])
    return y


def at_value_unused(x, i):
    y = np.zeros(5)
    _ = np.add.at(y, i, x)  # NumPy returns None, bound to a name never used
    return y

ADD_AT = [
    Row("at_into_zeros-5", at_into_zeros, (a((5,)), fixed(IDX))),
    Row("at_rows-3x4", at_rows, (a(M34), a((4, 4)), fixed(ROWS)), wrt=(0, 1), jit=True),
    Row("at_rows_broadcast-3x4", at_rows, (a(M34), a((4,)), fixed(ROWS)), wrt=(0, 1)),
    Row("at_scalar-6", at_scalar, (a(V6), a(()), fixed(IDX)), wrt=(0, 1)),
    Row("at_pairs-3x4", at_pairs, (a(M34), a((4,)), fixed(ROWS), fixed(COLS)), wrt=(0, 1), jit=True),
    Row("at_loop-5", at_loop, (a((5,)), fixed(IDX)), jit=True),
    Row("at_in_branch-6", at_in_branch, (a(V6), fixed(np.array([0, 5, 5, -1])))),
    Row("at_value_unused-5", at_value_unused, (a((5,)), fixed(IDX))),
]


@pytest.mark.parametrize("row, jit", cases(ADD_AT))
def test_add_at(row, jit, rng):
    run(row, jit, rng)


# ================================================================ meshgrid, cross, joins

def mesh_xy(x, y):
    X, Y = np.meshgrid(x, y)
    return X * Y + np.sin(X)


def mesh_ij(x, y):
    X, Y = np.meshgrid(x, y, indexing="ij")
    return X * np.cos(Y)


def mesh_3(x, y, z):
    X, Y, Z = np.meshgrid(x, y, z)
    return X * Y - Z * Z


def mesh_3_ij(x, y, z):
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    return X + Y * Z


def cross_v(x, y): return np.cross(x, y)
def cross_broadcast(x, y): return np.cross(x, y) * x
def append_flat(x, y): return np.append(x, y)
def append_scalar(x, w): return np.append(x, w) * w
def append_a0(x, y): return np.append(x, y, axis=0)
def append_a1(x, y): return np.append(x, y, axis=1)
def hstack_v(x, y): return np.hstack([x, y, x])
def hstack_m(x, y): return np.hstack((x, y))
def vstack_v(x, y): return np.vstack([x, y])
def vstack_m(x, y): return np.vstack((x, y * y))
def column_stack_v(x, y): return np.column_stack([x, y])
def column_stack_mixed(x, y): return np.column_stack((x, y))

MESH_CROSS_JOINS = [
    Row("mesh_xy", mesh_xy, (a((4,)), a((3,))), wrt=(0, 1)),
    Row("mesh_ij", mesh_ij, (a((4,)), a((3,))), wrt=(0, 1)),
    Row("mesh_xy_2d_input", mesh_xy, (a((2, 2)), a((3,))), wrt=(0, 1)),
    Row("mesh_3", mesh_3, (a((2,)), a((3,)), a((4,))), wrt=(0, 1, 2), jit=True),
    Row("mesh_3_ij", mesh_3_ij, (a((2,)), a((3,)), a((4,))), wrt=(0, 1, 2)),
    Row("cross-3", cross_v, (a((3,)), a((3,))), wrt=(0, 1)),
    Row("cross-4x3", cross_v, (a((4, 3)), a((4, 3))), wrt=(0, 1), jit=True),
    Row("cross_broadcast-4x3", cross_broadcast, (a((4, 3)), a((3,))), wrt=(0, 1)),
    Row("cross-2x2x3", cross_v, (a((2, 2, 3)), a((2, 3))), wrt=(0, 1)),
    Row("append_flat", append_flat, (a(M34), a((5,))), wrt=(0, 1)),
    Row("append_scalar", append_scalar, (a(V6), a(())), wrt=(0, 1)),
    Row("append_a0", append_a0, (a(M34), a((2, 4))), wrt=(0, 1)),
    Row("append_a1", append_a1, (a(M34), a((3, 1))), wrt=(0, 1), jit=True),
    Row("hstack_v", hstack_v, (a((4,)), a((2,))), wrt=(0, 1), jit=True),
    Row("hstack_m", hstack_m, (a(M34), a((3, 2))), wrt=(0, 1)),
    Row("vstack_v", vstack_v, (a((4,)), a((4,))), wrt=(0, 1), jit=True),
    Row("vstack_m", vstack_m, (a(M34), a((1, 4))), wrt=(0, 1)),
    Row("column_stack_v", column_stack_v, (a((4,)), a((4,))), wrt=(0, 1), jit=True),
    Row("column_stack_mixed", column_stack_mixed, (a((3,)), a(M34)), wrt=(0, 1)),
]


@pytest.mark.parametrize("row, jit", cases(MESH_CROSS_JOINS))
def test_meshgrid_cross_joins(row, jit, rng):
    run(row, jit, rng)


# ================================================================ np.delete

def delete_flat(x): return np.delete(x, 2) * 1.5
def delete_a0(x): return np.delete(x, 0, axis=0)
def delete_last_column(x): return np.delete(x, -1, axis=1) * x[:, 1:]
def delete_by_argument(x, j): return np.delete(x, j, axis=-1)
def delete_several(x): return np.delete(x, [0, 2], axis=1)
def delete_position_array(x, positions): return np.delete(x, positions)


def delete_in_a_loop(x):
    """The position deleted is the loop's number, known only when the loop runs."""
    total = 0.0
    for j in range(x.shape[0]):
        total += np.sum(np.delete(x, j, axis=0) ** 2) * x[j, 0]
    return total


def delete_pairs_in_a_loop(x):
    """Several positions, one of them known only when the loop runs."""
    total = 0.0
    for i in range(3):
        total += np.sum(np.delete(x, [0, i]) ** 2)
    return total


DELETE = [
    Row("delete_flat-3x4", delete_flat, (a(M34),)),
    Row("delete_a0-3x4", delete_a0, (a(M34),), jit=True),
    Row("delete_last_column-3x4", delete_last_column, (a(M34),)),
    Row("delete_by_argument-2x3x4", delete_by_argument, (a(T234), fixed(-3)), jit=True),
    Row("delete_several-3x4", delete_several, (a(M34),)),
    Row("delete_position_array-6", delete_position_array, (a(V6), fixed(np.array([4, 0, 4])))),
    Row("delete_in_a_loop-3x4", delete_in_a_loop, (a(M34),), jit=True),
    Row("delete_pairs_in_a_loop-6", delete_pairs_in_a_loop, (a(V6),), jit=True),
]


@pytest.mark.parametrize("row, jit", cases(DELETE))
def test_delete(row, jit, rng):
    run(row, jit, rng)


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_delete_out_of_range_raises(jit):
    """A position out of range is NumPy's IndexError, in both modes."""
    with pytest.raises((IndexError, ValueError), match="index"):
        vjp(delete_by_argument, jit=compiled_mode(jit))(np.ones(M34), 4)


def mesh_pair(x, y):
    return np.meshgrid(x, y)


def mesh_pair_ij(x, y, z):
    return np.meshgrid(x, y, z, indexing="ij")


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_meshgrid_values_are_numpys(jit, rng):
    x, y, z = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 2).astype(np.float32)
    for got, expected in zip(compiled(mesh_pair, jit=jit)(x, y), np.meshgrid(x, y)):
        assert_forward(got, expected, rtol=0)
    for got, expected in zip(compiled(mesh_pair_ij, jit=jit)(x, y, z), np.meshgrid(x, y, z, indexing="ij")):
        assert_forward(got, expected, rtol=0)


# ================================================================ exact gradients at repeated indices

@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_repeated_indices_accumulate(jit, rng):
    """The gradient of a gather is np.add.at of the cotangent: repeated positions add up."""
    x = rng.uniform(-2, 2, M34)
    u = rng.standard_normal(len(ROWS))
    out, g = pull(ix_pair, (x, ROWS, COLS), 0, jit, u)
    assert_forward(out, x[ROWS, COLS], rtol=0)
    expected = np.zeros(M34)
    np.add.at(expected, (ROWS, COLS), u)
    np.testing.assert_allclose(g, expected, rtol=1e-15, atol=0)
    assert g[2, 1] == pytest.approx(u[0] + u[2], rel=1e-15)          # (2, 1) twice
    # np.take along an axis, columns repeated
    u = rng.standard_normal((3, len(COLS)))
    out, g = pull(take_a1, (x, COLS), 0, jit, u)
    assert_forward(out, np.take(x, COLS, axis=1), rtol=0)
    expected = np.zeros(M34)
    np.add.at(expected, (slice(None), COLS), u)
    np.testing.assert_allclose(g, expected, rtol=1e-15, atol=0)
    # np.add.at itself: the gradient w.r.t. the values is the cotangent read at the indices
    v = rng.uniform(-2, 2, 5)
    out, g = pull(at_into_zeros, (v, IDX), 0, jit, np.arange(5.0))
    expected = np.zeros(5)
    np.add.at(expected, IDX, v)
    assert_forward(out, expected)
    np.testing.assert_array_equal(g, np.arange(5.0)[IDX])


@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_index_out_of_range_raises(jit):
    """An index out of range is NumPy's IndexError, never a silent wrap into the next row."""
    x = np.ones(M34)
    for fn, args in ((ix_pair, (x, np.array([0, 1]), np.array([1, 4]))),
                     (take_a1, (x, np.array([-5]))),
                     (at_into_zeros, (np.ones(2), np.array([1, 5])))):
        with pytest.raises((IndexError, ValueError), match="index"):
            vjp(fn, jit=compiled_mode(jit))(*args)


# ================================================================ float32

FLOAT32 = [
    (Row("roll", roll_tuple, (a(T234),)), False),
    (Row("flip", flip_axes, (a(T234),)), False),
    (Row("pad", pad_value, (a(M34), a(())), (0, 1)), False),  # jit: a float32 scalar residual comes back float64
    (Row("pad_edge", pad_edge_pairs, (a(M34),)), False),
    (Row("tile", tile_m, (a(M34),)), False),
    (Row("repeat", repeat_a1, (a(M34),)), False),
    (Row("take", take_a1, (a(M34), fixed(COLS))), True),
    (Row("along", along_a1, (a(M34), fixed(ALONG_1))), False),
    (Row("pair", ix_3d_split, (a(T234), fixed(np.array([1, 0, 1, -1])), fixed(COLS))), True),
    (Row("add_at", at_rows, (a(M34), a((4, 4)), fixed(ROWS)), (0, 1)), True),
    (Row("mesh", mesh_xy, (a((4,)), a((3,))), (0, 1)), False),
    (Row("cross", cross_v, (a((4, 3)), a((4, 3))), (0, 1)), False),
    (Row("append", append_a1, (a(M34), a((3, 1))), (0, 1)), False),
    (Row("column_stack", column_stack_mixed, (a((3,)), a(M34)), (0, 1)), False),
]


@pytest.mark.parametrize("row, jit", float32_cases(FLOAT32))
def test_float32(row, jit, rng):
    check_float32(row, jit, rng)


# ================================================================ refusals

def refused_at_into_argument(x, i):
    np.add.at(x, i, 1.0)  # <- HERE
    return np.sum(x)


def refused_at_into_view(x, i):
    y = x[1:]
    np.add.at(y, i, 1.0)  # <- HERE
    return np.sum(y)


def refused_at_into_expression(x, i):
    y = x * 1.0
    np.add.at(y[1:], i, 1.0)  # <- HERE
    return np.sum(y)


def refused_at_float_indices(x):
    y = x * 1.0
    np.add.at(y, x, 1.0)  # <- HERE
    return np.sum(y)


def refused_roll_axis(x): return np.sum(np.roll(x, 1, axis=2))  # <- HERE
def refused_take_axis(x, i): return np.sum(np.take(x, i, axis=-3))  # <- HERE
def refused_flip_axis(x): return np.sum(np.flip(x, axis=(0, 5)))  # <- HERE
def refused_pad_mode(x): return np.sum(np.pad(x, 1, mode="reflect"))  # <- HERE
def refused_pad_width(x): return np.sum(np.pad(x, (1, -1)))  # <- HERE
def refused_pad_mixed(x): return np.sum(np.pad(x, (1, (2, 3))))  # <- HERE
def refused_pad_values(x): return np.sum(np.pad(x, 1, constant_values=x))  # <- HERE
def refused_repeat_array(x, i): return np.sum(np.repeat(x, i))  # <- HERE
def refused_mesh_indexing(x): return np.sum(np.meshgrid(x, x, indexing="yx")[0])  # <- HERE
def refused_mesh_four(x): return np.sum(np.meshgrid(x, x, x, x)[0])  # <- HERE
def refused_index_with_none(x, i): return np.sum(x[i, None, i])  # <- HERE
def refused_along_rank(x, i): return np.sum(np.take_along_axis(x, i, axis=0))  # <- HERE


REFUSALS = [
    (refused_at_into_argument, (np.ones(4), np.array([0, 0])), ["assignment into `x`", "caller's array"], "copy"),
    (refused_at_into_view, (np.ones(4), np.array([0, 0])), ["`y`", "view"], "copy"),
    (refused_at_into_expression, (np.ones(4), np.array([0, 0])), "the name of an array", "y a name"),
    (refused_at_float_indices, (np.ones(4),), "integer indices", "integer arrays"),
    (refused_roll_axis, (np.ones(M34),), ["axis 2", "out of range"], None),
    (refused_take_axis, (np.ones(M34), np.array([0])), ["axis -3", "out of range"], None),
    (refused_flip_axis, (np.ones(M34),), ["axis 5", "out of range"], None),
    (refused_pad_mode, (np.ones(M34),), "mode 'reflect' is not supported", "'edge'"),
    (refused_pad_width, (np.ones(M34),), ["pad_width", "non-negative"], "before, after"),
    (refused_pad_mixed, (np.ones(M34),), "mixes numbers and pairs", "before, after"),
    (refused_pad_values, (np.ones(M34),), "constant_values must be one number", "one value"),
    (refused_repeat_array, (np.ones(4), np.array([1, 2, 1, 2])), "array of repeats", None),
    (refused_mesh_indexing, (np.ones(3),), "indexing 'yx'", None),
    (refused_mesh_four, (np.ones(3),), "np.meshgrid of 4 arrays", "two or three"),
    (refused_index_with_none, (np.ones(M34), np.array([0, 1])), ["integer arrays", "`None`"], "expand_dims"),
    (refused_along_rank, (np.ones(M34), np.array([0, 1])), ["np.take_along_axis", "rank"], None),
]


@pytest.mark.parametrize("fn, args, says, hint", REFUSALS, ids=[r[0].__name__ for r in REFUSALS])
def test_refusal(fn, args, says, hint):
    with pytest.raises(CompileError) as info:
        grad(fn, jit=False)(*args)
    error = info.value
    for words in [says] if isinstance(says, str) else says:
        assert words.lower() in error.message.lower(), error.message
    lines, start = inspect.getsourcelines(fn)
    assert error.loc.line == start + next(k for k, line in enumerate(lines) if "# <- HERE" in line), str(error)
    assert error.loc.file == __file__
    if hint is not None:
        assert hint.lower() in error.hint.lower(), error.hint
@pytest.mark.parametrize("jit", [False, True], ids=jit_id)
def test_cross_needs_three_components(jit):
    """Vectors of 2 or 4 components are a ValueError (as in NumPy for 4), not a read past the end."""
    transformed = vjp(cross_v, wrt=(0, 1), jit=compiled_mode(jit))
    for n in (2, 4):
        with pytest.raises(ValueError, match="cross product"):
            transformed(np.ones(n), np.ones(n))


# ================================================================ second derivatives

def _gather_roll_pad(x): return np.sum(np.sin(x[ROWS, COLS]) ** 2 + np.roll(x, 1, axis=0) * np.pad(x, 1)[1:-1, 1:-1] * x)


def _add_at_sin(y, x):
    z = y * 1.0
    np.add.at(z, ROWS, x)
    return np.sum(np.sin(z))


GRAD_GATHER = grad(_gather_roll_pad, jit=False)
GRAD_ADD_AT = grad(_add_at_sin, wrt=1, jit=False)


def second_gather(x): return np.sum(GRAD_GATHER(x) * np.cos(x))
def second_add_at(y, x): return GRAD_ADD_AT(y, x) * x


def test_second_derivatives(rng):
    """The rules of gather and scatter_add are written with each other: differentiable again."""
    check_vjp(second_gather, (rng.uniform(-1, 1, M34),), 0, False, rng)
    check_vjp(second_add_at, (rng.uniform(-1, 1, M34), rng.uniform(-1, 1, (4, 4))), (0, 1), False, rng)
