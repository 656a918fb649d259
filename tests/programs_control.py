"""Differentiable programs with control flow and in-place updates, for tests/test_control_flow.py.

Every function here is plain Python/NumPy with a scalar float64 output. Registries:

    PROGRAMS  [(function, args_factory, wrt)]   must compile; value == Python, gradient == FD
    REFUSED   [(function, args, fragment)]      must raise CompileError whose message contains
                                                `fragment`, pointing at the line marked `# <- HERE`
    EITHER    [(function, args_factory, wrt,    semantics that are easy to get wrong (aliasing,
               expected)]                       views, types that change along a path); `expected`
                                                pins today's outcome: EXACT (value == Python,
                                                gradient == FD), or the fragment of the CompileError
                                                message that names the construct, raised at the line
                                                marked `# <- HERE`

`args_factory(rng)` returns the argument tuple (float64 arrays, Python floats, ints, bools). The
factories keep every data-dependent condition at least ~1e-2 away from its threshold for *any*
seed (the finite differences move an argument by at most 1e-3), and where a function has several
registry entries, each entry takes a different path through it.

Module-level helpers called by the programs start with `_` (so do the factories' utilities).
The test finds the expected line of a refusal through the `# <- HERE` comment, so functions can
be added or moved freely.
"""
# flake8: noqa
import math

import numpy as np


# ============================================================================ factory utilities

def _signed(rng, lo, hi, shape=None):
    """Magnitudes uniform in (lo, hi), random signs: away from 0 by at least lo."""
    return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def _set(a, index, value):
    """A copy of `a` with a[index] = value."""
    a = np.array(a, dtype=np.float64)
    a[index] = value
    return a


def _with_sum(a, total):
    """`a` shifted so that its sum is `total`."""
    return a - np.mean(a) + total / a.size


def _with_norm2(a, total):
    """`a` scaled so that sum(a * a) is `total`."""
    return a * math.sqrt(total / float(np.sum(a * a)))


def _f(rng, lo, hi):
    """A Python float uniform in (lo, hi)."""
    return float(rng.uniform(lo, hi))


# ============================================================================ if / elif / else

def if_data_dependent(x):
    """if/else on an element of the argument; both branches assign an array of one shape to y."""
    if x[0] > 0.0:
        y = np.sin(x) * x[0]
    else:
        y = np.cos(x) * 2.0 + x
    return np.sum(y * y)


def if_elif_else_on_sum(x):
    """if/elif/else on np.sum(x) > 1.0 / < -1.0; each branch assigns `out` differently."""
    s = np.sum(x)
    if s > 1.0:
        out = s * s + x[0]
    elif s < -1.0:
        out = np.exp(s) * x[1]
    else:
        out = np.sin(s) * x[2] + 1.0
    return out


def if_on_int_argument(x, n):
    """if/elif/else on an int argument (one compiled specialisation serves every n)."""
    if n > 2:
        r = np.sum(x * x) * n
    elif n == 2:
        r = np.sum(np.sin(x)) + 1.0
    else:
        r = x[n] * x[0] + 1.0
    return r


def if_on_bool_argument(x, flag):
    """if on a bool argument."""
    if flag:
        y = np.tanh(x)
    else:
        y = x * 0.5
    return np.sum(y * x) + 1.0


def conditional_expression(x, a):
    """`a if c else b` with scalar operands (condition on a float argument) and with array operands."""
    c = a * x[0] if a > 0.5 else a * x[1] + 1.0
    y = np.tanh(x) if x[2] > 0.0 else x * x
    return c * np.sum(y) + 2.0


def conditional_expression_guards_index(x, i):
    """`x[i] if i < n else 0.0`: only the chosen operand is evaluated (here i may be out of range)."""
    n = x.shape[0]
    v = x[i] if i < n else 0.0
    return np.sum(x * x) + v * x[0]


def and_guards_index(x, i):
    """`i < n and x[i] > 0.0`: short-circuit `and` keeps x[i] from being read when i is out of range."""
    n = x.shape[0]
    if i < n and x[i] > 0.0:
        r = x[i] * np.sum(x) + 3.0
    else:
        r = np.sum(np.sin(x)) + 3.0
    return r


def or_guards_index(x, i):
    """`i >= n or x[i] < 0.0`: short-circuit `or` guards the index; an early return in the branch."""
    n = x.shape[0]
    if i >= n or x[i] < 0.0:
        return np.sum(x * x)
    return x[i] * 3.0 + np.sum(x)


def or_and_not_conditions(x, y):
    """`not`, `or` and `and` combined in one condition on float arguments."""
    if not (x > 0.0) or (y > 1.0 and x < 2.0):
        r = x * y + np.sin(y)
    else:
        r = x * x - y
    return r


def bool_variables_in_conditions(x):
    """Comparisons and `and` stored in variables, then used in if/elif (with `or`)."""
    positive = x[0] > 0.0
    big = np.sum(x * x) > 2.0
    both = positive and big
    if both:
        r = np.sum(x) * 2.0
    elif positive or big:
        r = np.sum(np.tanh(x)) + 1.0
    else:
        r = x[0] * x[1] + 1.0
    return r


def branches_assign_different_variables(x):
    """One branch rebinds `a`, the other `b`; both are used after the merge."""
    a = x[0] * 1.0
    b = x[1] + 0.5
    if np.sum(x) > 0.0:
        a = a * 3.0 + b
    else:
        b = np.exp(b) * a
    return a * b + a


def nested_ifs(x, y):
    """if inside both branches of an if (four paths)."""
    if x > 0.0:
        if y > 0.0:
            r = x * y
        else:
            r = x - np.exp(y)
    else:
        if y > 1.0:
            r = y * y + x
        else:
            r = np.sin(x) * y
    return r


def first_assigned_in_both_branches(x):
    """`big` and `small` are first assigned inside the branches (no value before the if)."""
    if x[0] > x[1]:
        big = x[0]
        small = x[1]
    else:
        big = x[1]
        small = x[0]
    return big * big - 0.5 * small + np.sum(x)


def if_without_else(x):
    """An if without else: on the other path y keeps its value."""
    y = x * 2.0
    if np.max(x) > 0.5:
        y = y + np.exp(x)
    return np.sum(y * y)


def int_or_float_after_if(x):
    """s is the int 0 on one path and a float on the other; after the merge it is used as a float."""
    s = 0
    if x[0] > 0.0:
        s = x[0] * 2.0
    return s + np.sum(x * x)


def matrix_branches(A):
    """Branches on a 2-D argument assign 2-D arrays of one shape (elif on the trace)."""
    t = A[0, 0] + A[1, 1] + A[2, 2]
    if t > 1.0:
        B = A @ A
    elif t < -1.0:
        B = A.T * 2.0
    else:
        B = np.tanh(A)
    return np.sum(B * A)


# ============================================================================ for loops over ranges and arrays

def sum_of_squares_loop(x):
    """for i in range(x.shape[0]): a scalar carried through the loop."""
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x[i]
    return s


def range_start_stop(x, a, b):
    """range(a, b) with int arguments; reads x[i] and x[i - 1]."""
    s = x[0]
    for i in range(a, b):
        s = s * 0.5 + np.sin(x[i]) * x[i - 1]
    return s + 1.0


def range_step_two(x):
    """range(0, n - 1, 2) and range(1, n, 2): a step of 2 from an even and an odd start."""
    n = x.shape[0]
    s = 0.0
    for i in range(0, n - 1, 2):
        s = s + x[i] * x[i + 1]
    for i in range(1, n, 2):
        s = s + np.cos(x[i])
    return s


def range_negative_step(x):
    """range(n - 1, -1, -1): the order of the fold matters."""
    acc = 0.0
    for i in range(x.shape[0] - 1, -1, -1):
        acc = acc * 0.5 + np.tanh(x[i]) + x[i] * acc * 0.1
    return acc + 2.0


def range_step_minus_two(x, n):
    """range(n, 0, -2) with an int argument n (odd n ends at 1, even n at 2)."""
    s = 1.0
    for i in range(n, 0, -2):
        s = s * (1.0 + x[i] * 0.3)
    return s


def horner(c, t):
    """Polynomial evaluation by Horner's rule, for i in range(n - 1, -1, -1) (wrt by name)."""
    p = 0.0
    for i in range(c.shape[0] - 1, -1, -1):
        p = p * t + c[i]
    return p


def loop_bound_from_int_argument(x, n):
    """range(n) with n an int argument; the loop index is also used as a number."""
    s = 0.0
    for i in range(n):
        s = s + np.exp(-x[i] * x[i]) * (i + 1)
    return s


def zero_trip_range(x, n):
    """range(n): with n = 0 no iteration runs and the result is the initial value."""
    s = x[0] * 2.0
    for i in range(n):
        s = s * x[i] + 1.0
    return s


def zero_trip_empty_ranges(x):
    """range(3, 3), range(5, 2) and range(0, 3, -1) are empty: the carried values stay as they were."""
    s = np.sum(x)
    v = x * 1.0
    for i in range(3, 3):
        s = s * 100.0
    for i in range(5, 2):
        v = v * 0.0
    for i in range(0, 3, -1):
        s = s + 1000.0
    return s * np.sum(v * v) + 1.0


def int_accumulator_becomes_float(x, n):
    """s starts as the int 0 and becomes a float in the loop; with n = 0 it stays the int 0."""
    s = 0
    for i in range(n):
        s = s + x[i] * x[i]
    return s + x[0]


def nested_loops_matvec(A, x):
    """Nested loops: a matrix-vector product element by element (t reset in each outer iteration)."""
    m, n = A.shape
    s = 0.0
    for i in range(m):
        t = 0.0
        for j in range(n):
            t = t + A[i, j] * x[j]
        s = s + np.tanh(t)
    return s * s + s + 1.0


def triangular_loop(x):
    """for j in range(i + 1, n): pairs above the diagonal (the last inner loop is empty)."""
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            s = s + x[i] * x[j] / (1.0 + (j - i))
    return s + 1.0


def rnn_tanh(W, b, h0, T):
    """h = np.tanh(W @ h + b) repeated T times: a loop-carried array (T = 0: the result uses h0)."""
    h = h0
    for t in range(T):
        h = np.tanh(W @ h + b)
    return np.sum(h * h)


def loop_carried_array_and_scalar(x):
    """An array and a scalar carried together; the scalar reads the array of each iteration."""
    v = x * 1.0
    s = 0.0
    for k in range(3):
        v = np.sin(v) + x * 0.5
        s = s + np.sum(v) * (k + 1)
    return s + np.sum(v * v)


def shrinking_array_in_loop(x):
    """v = v[1:] * v[:-1] + 0.5: a loop-carried array whose length changes every iteration."""
    v = x * 1.0
    for k in range(3):
        v = v[1:] * v[:-1] + 0.5
    return np.sum(v)


def for_row_in_matrix(X, w):
    """for row in X (2-D X): each row is a 1-D array."""
    s = 0.0
    for row in X:
        s = s + np.tanh(row @ w)
    return s + 1.0


def for_row_rebinding_the_matrix(X):
    """Rebinding X inside `for row in X` does not change the rows iterated over."""
    s = 0.0
    for row in X:
        X = X * 2.0
        s = s + np.sum(row * row) + np.sum(X) * 0.01
    return s


def enumerate_zip_and_len(X, w):
    """enumerate over rows, zip of two arrays (stops at the shorter), len(), and a tuple unrolled."""
    s = 0.0
    for i, row in enumerate(X):
        s = s + np.sum(row * row) * (i + 1)
    for a, b in zip(X, w):
        s = s + np.sum(a * b)
    for i in range(len(w)):
        s = s + w[i] * len(X)
    for W in (X, X * 2.0):
        s = s + np.sum(np.sin(W))
    return s


def modulo_floor_division_max_min(x):
    """i % 2 and n // 2 as integers in a loop, x % 1.5 and x // 0.5 of floats, max/min of numbers."""
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            s = s + max(x[i], 0.1) * (x[i] % 1.5)
        else:
            s = s + min(x[i], x[i - 1], 0.3) + x[i] // 0.5
    return s * (n // 2)


def nested_row_and_range(X):
    """for row in X, with an inner range loop over the row's elements."""
    s = 0.0
    for row in X:
        p = 1.0
        for j in range(row.shape[0]):
            p = p * (1.0 + 0.2 * row[j])
        s = s + p
    return s


def loop_over_tuple_of_arrays(W1, W2, x):
    """for W in (W1, W2): a loop over a tuple of arrays of different shapes (wrt by name)."""
    h = x
    for W in (W1, W2):
        h = np.tanh(W @ h)
    return np.sum(h) + 1.0


def loop_index_after_loop(x):
    """The loop variable keeps its last value after the loop."""
    s = 0.0
    for i in range(1, x.shape[0]):
        s = s + x[i] * x[i - 1]
    return s * x[i] + 1.0


def range_evaluated_once(x, n):
    """range(n) is evaluated once: decrementing n in the body does not change the trip count."""
    s = 0.0
    for i in range(n):
        n = n - 1
        s = s + x[i] * (n + 1.0)
    return s + (n + 2) * x[0]


def loop_variable_reassigned(x):
    """Assigning to i in the body does not change the next iteration's i."""
    s = 0.0
    for i in range(3):
        i = i + 2
        s = s + x[i] * x[i - 2]
    return s + 1.0


def if_inside_loop(x):
    """A data-dependent if in every iteration (a soft clip at 1.0)."""
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 1.0:
            s = s + 1.0 + 0.1 * x[i]
        else:
            s = s + x[i] * x[i]
    return s


def online_logsumexp(x):
    """A running maximum kept with an if in a loop (log-sum-exp in one pass, with math.exp/log)."""
    m = x[0]
    s = 1.0
    for i in range(1, x.shape[0]):
        if x[i] > m:
            s = s * math.exp(m - x[i]) + 1.0
            m = x[i]
        else:
            s = s + math.exp(x[i] - m)
    return m + math.log(s)


# ============================================================================ while, break, continue, return

def while_counter(x):
    """while i < n with a data-independent stop."""
    i = 0
    s = 1.0
    while i < x.shape[0]:
        s = s * 0.8 + x[i] * np.cos(x[i])
        i = i + 1
    return s


def while_newton_sqrt(a):
    """while |y*y - a| > tol and k < 50: Newton's method for sqrt(a), a data-dependent trip count
    (the stop test is so tight that one iteration more or less changes y by < 1e-12)."""
    y = a
    k = 0
    while abs(y * y - a) > 1e-12 and k < 50:
        y = 0.5 * (y + a / y)
        k += 1
    return y


def while_fixed_point(c, cap):
    """while |z_new - z| > tol and k < cap: z = 0.5 cos(z) + c to its fixed point, or stopped by the cap."""
    z = 0.0
    z_new = 0.5 * np.cos(z) + c
    k = 0
    while abs(z_new - z) > 1e-13 and k < cap:
        z = z_new
        z_new = 0.5 * np.cos(z) + c
        k = k + 1
    return z_new


def while_grow_until_threshold(x):
    """while s < 10.0: the trip count depends on x and matters (inputs keep every s away from 10)."""
    s = x
    k = 0
    while s < 10.0:
        s = s * 2.0 + 0.1 * np.sin(s)
        k = k + 1
    return s / (k + 1.0)


def while_shrink_array(x):
    """while np.sum(v * v) > 0.5: an array shrinks until its norm is small; the count depends on x."""
    v = x * 1.0
    k = 0
    while np.sum(v * v) > 0.5 and k < 20:
        v = v * 0.7 + 0.01 * np.sin(v)
        k = k + 1
    return np.sum(v) * (k + 1) + np.sum(v * v)


def while_true_break(x):
    """while True that only a break leaves."""
    k = 0
    s = 0.0
    while True:
        s = s * 0.5 + x[k] * x[k]
        k = k + 1
        if k >= x.shape[0]:
            break
    return s


def for_break_on_data(x):
    """break at the first element above 1.0; the loop variable after the loop is where it stopped."""
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 1.0:
            break
        s = s + x[i] * x[i] + 0.1 * x[i]
    return s + x[i] * 2.0


def for_continue(x):
    """continue skips the negative elements."""
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0.0:
            continue
        s = s + np.sqrt(x[i]) * (i + 1)
    return s + 1.0


def continue_and_break_in_while(x):
    """continue and break in one while loop (the counter advances before the continue)."""
    i = 0
    s = 0.0
    while i < x.shape[0]:
        v = x[i]
        i = i + 1
        if v < 0.0:
            continue
        if v > 2.0:
            break
        s = s + v * np.exp(-v)
    return s + 1.0


def return_inside_loop(x):
    """return from inside a for loop once the running sum passes 2.0 (else after the loop)."""
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i]
        if s > 2.0:
            return s * x[i]
    return -s


def early_return_in_if(x):
    """An early return in an if branch; the rest of the function runs only on the other path."""
    if x[0] < 0.0:
        return np.sum(x * x)
    y = np.exp(x * 0.5)
    return np.sum(y) * x[0]


def early_return_nested_loops(A):
    """return from inside the inner of two nested loops, at the first element above 2.0."""
    m, n = A.shape
    s = 0.0
    for i in range(m):
        for j in range(n):
            if A[i, j] > 2.0:
                return s + A[i, j] * (i + 1)
            s = s + A[i, j] * A[i, j] * 0.1
    return s


def break_inner_loop_only(A):
    """break leaves only the inner loop; the outer loop goes on (a lower triangle)."""
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            if j > i:
                break
            s = s + np.sin(A[i, j]) * (j + 1)
    return s + 1.0


def return_inside_while(a, cap):
    """return from inside a while loop (Newton for the cube root) when the step is tiny; the return
    after the loop is reached only when the int cap stops it first."""
    y = a
    k = 0
    while k < cap:
        step = (y * y * y - a) / (3.0 * y * y)
        y = y - step
        if abs(step) < 1e-13:
            return y
        k = k + 1
    return y * 1.0


def while_loop_carried_array(x):
    """A while loop carrying an array."""
    v = x * 1.0
    k = 0
    while k < 4:
        v = v - 0.3 * np.sin(v) * v + 0.1
        k = k + 1
    return np.sum(v * v)


def euler_integration(y0, k):
    """while t < 1: explicit Euler steps of dy/dt = -k y + sin(t)/2; t is a carried float without gradient."""
    y = y0 * 1.0
    t = 0.0
    while t < 1.0 - 1e-9:
        y = y + 0.1 * (-k * y + np.sin(t) * 0.5)
        t = t + 0.1
    return np.sum(y * y)


# ============================================================================ in-place updates

def element_assignment_in_loop(x):
    """y = np.zeros(n); y[i] = ... in a loop."""
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        y[i] = np.sin(x[i]) * (i + 1)
    return np.sum(y * y)


def element_augmented_2d(x):
    """G[i, j] += ... in nested loops, then G[i, i] += ... updates the diagonal a second time."""
    n = x.shape[0]
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            G[i, j] += x[i] * x[j]
    for i in range(n):
        G[i, i] += x[i]
    return np.sum(np.tanh(G))


def slice_assignment(x):
    """y[1:3] = x[0:2] * 2.0, y[3:] = ...; then y[0] from elements written before it."""
    y = np.zeros(6)
    y[1:3] = x[0:2] * 2.0
    y[3:] = np.exp(x[2:5] * 0.5)
    y[0] = y[1] * y[5]
    return np.sum(y * y)


def rank_differs_on_paths_that_return(x):
    """x becomes a row on the path that does not return early: both paths return, so the name's
    rank may differ between them (found by the random programs: was refused)."""
    if np.sum(x) > 0.3:
        x = x * 2.0
        return np.sum(x)
    x = x[0]
    return np.sum(x * x)


def read_before_an_update_used_after_it(x):
    """r = 1 / t is computed before t[0] is overwritten and used after: the generated code may not
    move r's expression past the update (found by the random programs: inf instead of 1.42)."""
    t = x * 1.0 + 2.0
    r = 1.0 / t
    t[0] = 0.0
    return np.sum(r * x) + np.sum(t * t)


def taped_then_updated_next_iteration(x):
    """y (made before the loop) is read by the backward in each iteration and updated in the next:
    the tape must keep each iteration's y, not one array updated in place (found in review)."""
    y = x * 1.0
    s = 0.0
    for i in range(y.shape[0]):
        y[i] = x[i] * 2.0
        s = s + np.sum(y * y)
    return s


def element_multiply_assign(x):
    """y[i] *= ... in a loop; at i = 0, y[i - 1] is the last element, read before it is overwritten."""
    y = x.copy()
    for i in range(y.shape[0]):
        y[i] *= 0.5 + y[i - 1] * 0.25
    return np.sum(y * y)


def linear_recurrence(x, a):
    """y[i] = y[i - 1] * a + x[i]: each element is read right after it is written."""
    n = x.shape[0]
    y = np.zeros(n)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = y[i - 1] * a + x[i]
    return np.sum(y * y)


def read_before_and_after_overwrite(x):
    """An element read before it is overwritten and again after (both values are used)."""
    y = x * 1.0
    before = y[2]
    y[2] = np.sin(y[2]) + y[1] * y[2]
    after = y[2]
    return (before - after) ** 2 + 0.5 * before * after + np.sum(y * y) + 1.0


def overwrite_in_loop_with_old_value(x):
    """y[1] is read (old value), overwritten and read again (new value) in every iteration."""
    y = x * 1.0
    s = 0.0
    for k in range(3):
        old = y[1]
        y[1] = y[1] * y[0] + 0.3
        s = s + old * y[1]
    return s + 1.0


def forward_looking_update(x):
    """y[i] = y[i] + 0.5 y[i + 1] reads the next element before it is overwritten; the reverse sweep
    y[i] -= ... y[i - 1] reads the previous element after the first sweep overwrote it."""
    y = x.copy()
    n = y.shape[0]
    for i in range(n - 1):
        y[i] = y[i] + 0.5 * y[i + 1]
    for i in range(n - 1, 0, -1):
        y[i] = y[i] - 0.25 * y[i - 1] * y[i]
    return np.sum(y * y)


def array_overwritten_each_sweep(x):
    """Every element of y is overwritten in each of three sweeps (the backward pass needs each sweep)."""
    n = x.shape[0]
    y = np.zeros(n)
    for k in range(3):
        for i in range(n):
            y[i] = np.tanh(y[i] + x[i] * (k + 1))
    return np.sum(y) + 2.0


def row_slice_assignment(X):
    """out[i, :] = f(out[i - 1, :]): at i = 0 that is the last row, still zero, written last."""
    r, c = X.shape
    out = np.zeros((r, c))
    for i in range(r):
        out[i, :] = np.tanh(X[i, :] + out[i - 1, :])
    return np.sum(out * X)


def column_assignment_and_scale(X, w):
    """Y[:, j] = ... then Y[:, j] *= 0.5: column writes; at j = 0, Y[:, j - 1] is the last column."""
    r, c = X.shape
    Y = np.ones((r, c))
    for j in range(c):
        Y[:, j] = X[:, j] * w[j] + Y[:, j - 1]
        Y[:, j] *= 0.5
    return np.sum(np.sin(Y))


def augmented_names_in_loop(x):
    """s *= ..., p += ..., p -= ..., s /= ... on scalar names in a loop."""
    s = 1.0
    p = 0.0
    for i in range(x.shape[0]):
        s *= 1.0 + 0.1 * x[i]
        p += s * x[i]
        p -= 0.05 * x[i] * x[i]
        s /= 1.1
    return p + s


def augmented_array_in_loop(x):
    """acc += ..., acc *= 0.9 on a local array (in place in NumPy; the function owns acc)."""
    acc = np.zeros(x.shape[0])
    for k in range(3):
        acc += np.sin(x * (k + 1))
        acc *= 0.9
    return np.sum(acc * acc)


def slice_augmented_assignment(x):
    """y[1:4] += ..., y[::2] *= ... (a step) and y[-2:] -= ...: index sets that overlap."""
    y = np.ones(6)
    y[1:4] += x[0:3]
    y[::2] *= x[3:6]
    y[-2:] -= 0.5 * x[0:2]
    return np.sum(y * y)


def slice_from_same_array(x):
    """Slices of y written from other, disjoint slices of y: y[3:6] = y[0:3] * 2.0 + y[3:6],
    y[0:2] = y[4:6] (a view on the right, no overlap), then y[2] from the new y[0]."""
    y = x * 1.0
    y[3:6] = y[0:3] * 2.0 + y[3:6]
    y[0:2] = y[4:6]
    y[2] = y[0] * y[5]
    return np.sum(y * x) + 1.0


def copy_then_write(x):
    """y = x.copy(), then writes into y: the argument is untouched and its gradient flows through."""
    y = x.copy()
    y[0] = y[0] * 3.0
    y[-1] = np.exp(y[0]) * 0.1
    return np.sum(y * x) + 1.0


def bubble_sort_weighted(x):
    """Bubble sort by swaps through a temporary (data-dependent branches, element writes that need
    the old values), then a weighted sum of the sorted values."""
    y = x.copy()
    n = y.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if y[j] > y[j + 1]:
                t = y[j]
                y[j] = y[j + 1]
                y[j + 1] = t
    w = np.arange(n) + 1.0
    return np.sum(y * w)


# ============================================================================ calls of module-level helpers

def _cell(h, x, W):
    """One RNN cell."""
    return np.tanh(W @ h + x)


def _polar(a, b):
    """(radius, cosine): a helper returning a tuple."""
    r = np.sqrt(a * a + b * b)
    return r, a / r


def _soft_clip_sum(v, limit):
    """A helper with a loop and an if inside."""
    s = 0.0
    for i in range(v.shape[0]):
        if v[i] > limit:
            s = s + limit + 0.1 * (v[i] - limit)
        else:
            s = s + v[i]
    return s


def _first_above(v, level):
    """The first element above `level` times its position, or the last element: a return inside
    the helper's loop."""
    for i in range(v.shape[0]):
        if v[i] > level:
            return v[i] * (i + 1.0)
    return v[v.shape[0] - 1]


def _ordered(a, b):
    """(difference, product or sum) with an early return: a tuple from two return statements."""
    if a > b:
        return a - b, a * b
    return b - a, a + b


def helper_called_in_loop(W, X):
    """A module-level helper (an RNN cell) called in every iteration."""
    h = np.zeros(W.shape[0])
    for t in range(X.shape[0]):
        h = _cell(h, X[t], W)
    return np.sum(h) + 1.0


def helper_returning_tuple(x):
    """A helper returning a tuple unpacked by the caller, called twice."""
    r, c = _polar(x[0], x[1])
    r2, c2 = _polar(x[1], x[2])
    return r * c2 + c * r2


def same_helper_twice(c, t):
    """The same helper (with its own loop) called three times with different arguments."""
    return horner(c, t) * horner(c, -t) + horner(c, 0.5 * t)


def helper_with_loop_and_if(x, limit):
    """A helper with a loop and a data-dependent if, called twice."""
    return _soft_clip_sum(x, limit) * _soft_clip_sum(x * 0.5, limit) + 1.0


def helper_with_early_return(x):
    """A helper that returns from inside its loop; the caller goes on afterwards."""
    a = _first_above(x, 0.5)
    b = _first_above(x * x, 0.5)
    return a * 2.0 + b + np.sum(x)


def helper_called_in_branches(x):
    """A helper with two returns, called in both branches of an if."""
    if x[0] > 0.0:
        d, m = _ordered(x[1], x[2])
    else:
        d, m = _ordered(x[2], x[1] * 2.0)
    return d * m + np.sum(x)


# ============================================================================ the registry

def _args_big_sum(rng, n, total):
    return (_with_sum(rng.uniform(-0.3, 0.3, n), total),)


def _args_first_above(rng, big):
    """Elements in (-0.4, 0.3) (x and x*x below 0.5), one in (0.9, 1.3) when `big` (both above)."""
    x = rng.uniform(-0.4, 0.3, 6)
    if big:
        x[rng.integers(1, 5)] = rng.uniform(0.9, 1.3)
    return (x,)


def _args_return_inside_loop(rng):
    """Running sums 0.5, 1.1, 1.8, 2.25, ... (+- 0.15 at most): the return happens at i = 3."""
    return (np.array([0.5, 0.6, 0.7, 0.45, 0.3, 0.2]) + rng.uniform(-0.025, 0.025, 6),)


def _args_nested_return(rng, found):
    A = rng.uniform(-1.0, 1.0, (3, 4))
    if found:
        A[1, 2] = rng.uniform(2.3, 2.8)
        A[2, 0] = rng.uniform(3.0, 3.5)  # above 2.0 too, but after the return
    return (A,)


def _args_bool_variables(rng, positive, big):
    x = rng.uniform(0.8, 1.2, 4) if big else rng.uniform(0.1, 0.5, 4)
    x = x * rng.choice([-1.0, 1.0], 4)
    x[0] = abs(x[0]) if positive else -abs(x[0])
    return (x,)


def _args_matrix_trace(rng, trace):
    A = rng.uniform(-0.5, 0.5, (3, 3))
    A[np.diag_indices(3)] += (trace - np.trace(A)) / 3.0
    return (A,)


def _args_sort(rng, order):
    values = np.linspace(-1.0, 1.0, 6) + rng.uniform(-0.05, 0.05, 6)  # gaps >= 0.3
    if order == "random":
        values = rng.permutation(values)
    elif order == "reversed":
        values = values[::-1].copy()
    return (values,)


def _args_shrink(rng, total):
    return (_with_norm2(rng.standard_normal(4), total),)


def lambda_in_loop(x):
    """A lambda defined in a loop body, called there (refused before issue #19)."""
    s = 0.0
    for i in range(x.shape[0]):
        square = lambda v: v * v
        s = s + square(x[i])
    return s


def recursive_power(x, n):
    """Recursion on an integer argument, unrolled for each value (refused before issue #19)."""
    if n == 0:
        return 1.0
    return x * recursive_power(x, n - 1)


PROGRAMS = [
    # --- if / elif / else
    (if_data_dependent, lambda rng: (_set(rng.uniform(-1, 1, 5), 0, _f(rng, 0.2, 1.5)),), 0),
    (if_data_dependent, lambda rng: (_set(rng.uniform(-1, 1, 5), 0, _f(rng, -1.5, -0.2)),), 0),
    (if_elif_else_on_sum, lambda rng: _args_big_sum(rng, 4, _f(rng, 1.5, 2.5)), 0),
    (if_elif_else_on_sum, lambda rng: _args_big_sum(rng, 4, _f(rng, -2.5, -1.5)), 0),
    (if_elif_else_on_sum, lambda rng: _args_big_sum(rng, 4, _f(rng, -0.5, 0.5)), 0),
    (if_on_int_argument, lambda rng: (rng.uniform(-1, 1, 5), 3), 0),
    (if_on_int_argument, lambda rng: (rng.uniform(-1, 1, 5), 2), 0),
    (if_on_int_argument, lambda rng: (rng.uniform(-1, 1, 5), 1), 0),
    (if_on_bool_argument, lambda rng: (rng.uniform(-1, 1, 4), True), 0),
    (if_on_bool_argument, lambda rng: (rng.uniform(-1, 1, 4), False), 0),
    (conditional_expression, lambda rng: (_set(rng.uniform(-1, 1, 4), 2, _f(rng, 0.2, 1.0)), _f(rng, 0.8, 1.5)), (0, 1)),
    (conditional_expression, lambda rng: (_set(rng.uniform(-1, 1, 4), 2, _f(rng, -1.0, -0.2)), _f(rng, -0.5, 0.2)), (0, 1)),
    (conditional_expression_guards_index, lambda rng: (rng.uniform(-1, 1, 4), 2), 0),
    (conditional_expression_guards_index, lambda rng: (rng.uniform(-1, 1, 4), 7), 0),
    (and_guards_index, lambda rng: (_set(rng.uniform(-1, 1, 4), 1, _f(rng, 0.2, 1.0)), 1), 0),
    (and_guards_index, lambda rng: (_set(rng.uniform(-1, 1, 4), 1, _f(rng, -1.0, -0.2)), 1), 0),
    (and_guards_index, lambda rng: (rng.uniform(-1, 1, 4), 9), 0),
    (or_guards_index, lambda rng: (rng.uniform(-1, 1, 4), 10), 0),
    (or_guards_index, lambda rng: (_set(rng.uniform(-1, 1, 4), 0, _f(rng, -1.0, -0.2)), 0), 0),
    (or_guards_index, lambda rng: (_set(rng.uniform(-1, 1, 4), 0, _f(rng, 0.2, 1.0)), 0), 0),
    (or_and_not_conditions, lambda rng: (_f(rng, -1.5, -0.2), _f(rng, -1.0, 2.0)), (0, 1)),
    (or_and_not_conditions, lambda rng: (_f(rng, 0.3, 1.5), _f(rng, 1.3, 2.0)), (0, 1)),
    (or_and_not_conditions, lambda rng: (_f(rng, 0.3, 1.5), _f(rng, 0.0, 0.7)), (0, 1)),
    (or_and_not_conditions, lambda rng: (_f(rng, 2.3, 3.0), _f(rng, 1.3, 2.0)), (0, 1)),
    (bool_variables_in_conditions, lambda rng: _args_bool_variables(rng, True, True), 0),
    (bool_variables_in_conditions, lambda rng: _args_bool_variables(rng, True, False), 0),
    (bool_variables_in_conditions, lambda rng: _args_bool_variables(rng, False, True), 0),
    (bool_variables_in_conditions, lambda rng: _args_bool_variables(rng, False, False), 0),
    (branches_assign_different_variables, lambda rng: _args_big_sum(rng, 4, _f(rng, 0.5, 2.0)), 0),
    (branches_assign_different_variables, lambda rng: _args_big_sum(rng, 4, _f(rng, -2.0, -0.5)), 0),
    (nested_ifs, lambda rng: (_f(rng, 0.2, 1.5), _f(rng, 0.2, 1.5)), (0, 1)),
    (nested_ifs, lambda rng: (_f(rng, 0.2, 1.5), _f(rng, -1.5, -0.2)), (0, 1)),
    (nested_ifs, lambda rng: (_f(rng, -1.5, -0.2), _f(rng, 1.2, 2.0)), (0, 1)),
    (nested_ifs, lambda rng: (_f(rng, -1.5, -0.2), _f(rng, -1.0, 0.8)), (0, 1)),
    (first_assigned_in_both_branches, lambda rng: (np.array([_f(rng, 0.5, 1.0), _f(rng, -0.5, 0.2), _f(rng, -1, 1)]),), 0),
    (first_assigned_in_both_branches, lambda rng: (np.array([_f(rng, -0.5, 0.2), _f(rng, 0.5, 1.0), _f(rng, -1, 1)]),), 0),
    (if_without_else, lambda rng: (_set(rng.uniform(-1.0, 0.3, 4), 2, _f(rng, 0.7, 1.2)),), 0),
    (if_without_else, lambda rng: (rng.uniform(-1.0, 0.3, 4),), 0),
    (int_or_float_after_if, lambda rng: (_set(rng.uniform(-1, 1, 3), 0, _f(rng, 0.2, 1.0)),), 0),
    (int_or_float_after_if, lambda rng: (_set(rng.uniform(-1, 1, 3), 0, _f(rng, -1.0, -0.2)),), 0),
    (matrix_branches, lambda rng: _args_matrix_trace(rng, _f(rng, 1.5, 2.5)), 0),
    (matrix_branches, lambda rng: _args_matrix_trace(rng, _f(rng, -2.5, -1.5)), 0),
    (matrix_branches, lambda rng: _args_matrix_trace(rng, _f(rng, -0.5, 0.5)), 0),

    # --- for loops
    (sum_of_squares_loop, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (range_start_stop, lambda rng: (rng.uniform(-1, 1, 6), 1, 4), 0),
    (range_start_stop, lambda rng: (rng.uniform(-1, 1, 6), 2, 6), 0),
    (range_step_two, lambda rng: (rng.uniform(-1, 1, 7),), 0),
    (range_negative_step, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (range_step_minus_two, lambda rng: (rng.uniform(-1, 1, 6), 5), 0),
    (range_step_minus_two, lambda rng: (rng.uniform(-1, 1, 6), 4), 0),
    (horner, lambda rng: (rng.uniform(-1, 1, 5), np.float64(rng.uniform(-1.2, 1.2))), ("c", "t")),
    (loop_bound_from_int_argument, lambda rng: (rng.uniform(-1, 1, 6), 3), 0),
    (loop_bound_from_int_argument, lambda rng: (rng.uniform(-1, 1, 6), 6), 0),
    (zero_trip_range, lambda rng: (rng.uniform(-1, 1, 4), 0), 0),
    (zero_trip_range, lambda rng: (rng.uniform(-1, 1, 4), 3), 0),
    (zero_trip_empty_ranges, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (int_accumulator_becomes_float, lambda rng: (rng.uniform(-1, 1, 5), 4), 0),
    (int_accumulator_becomes_float, lambda rng: (rng.uniform(-1, 1, 5), 0), 0),
    (nested_loops_matvec, lambda rng: (rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, 3)), (0, 1)),
    (triangular_loop, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (rnn_tanh, lambda rng: (rng.uniform(-0.6, 0.6, (4, 4)), rng.uniform(-0.5, 0.5, 4), rng.uniform(-1, 1, 4), 3),
     (0, 1, 2)),
    (rnn_tanh, lambda rng: (rng.uniform(-0.6, 0.6, (4, 4)), rng.uniform(-0.5, 0.5, 4), rng.uniform(-1, 1, 4), 0),
     (0, 1, 2)),
    (loop_carried_array_and_scalar, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (shrinking_array_in_loop, lambda rng: (rng.uniform(-1, 1, 6),), 0),
    (for_row_in_matrix, lambda rng: (rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, 3)), (0, 1)),
    (for_row_rebinding_the_matrix, lambda rng: (rng.uniform(-1, 1, (3, 4)),), 0),
    (modulo_floor_division_max_min, lambda rng: (np.array([0.37, 1.83, -0.64, 2.21, 0.52, -1.17]),), 0),
    (enumerate_zip_and_len, lambda rng: (rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, 2)), (0, 1)),
    (nested_row_and_range, lambda rng: (rng.uniform(-1, 1, (3, 4)),), 0),
    (loop_over_tuple_of_arrays, lambda rng: (rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (2, 4)),
                                             rng.uniform(-1, 1, 3)), ("W1", "W2", "x")),
    (loop_index_after_loop, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (range_evaluated_once, lambda rng: (rng.uniform(-1, 1, 5), 5), 0),
    (loop_variable_reassigned, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (if_inside_loop, lambda rng: (np.concatenate([rng.uniform(1.1, 2.0, 3), rng.uniform(-1.0, 0.9, 3)]),), 0),
    (online_logsumexp, lambda rng: (_args_sort(rng, "random")[0],), 0),

    # --- while, break, continue, return
    (while_counter, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (while_newton_sqrt, lambda rng: (_f(rng, 0.5, 4.0),), 0),
    (while_fixed_point, lambda rng: (_f(rng, 0.2, 1.0), 200), 0),
    (while_fixed_point, lambda rng: (_f(rng, 0.2, 1.0), 4), 0),
    (while_grow_until_threshold, lambda rng: (_f(rng, 1.0, 1.1),), 0),   # 4 iterations
    (while_grow_until_threshold, lambda rng: (_f(rng, 2.6, 2.9),), 0),   # 2 iterations
    (while_grow_until_threshold, lambda rng: (_f(rng, 11.0, 12.0),), 0),  # none
    (while_shrink_array, lambda rng: _args_shrink(rng, _f(rng, 1.3, 1.8)), 0),   # 2 iterations
    (while_shrink_array, lambda rng: _args_shrink(rng, _f(rng, 3.0, 3.6)), 0),   # 3 iterations
    (while_true_break, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (for_break_on_data, lambda rng: (_set(rng.uniform(-0.8, 0.8, 6), 3, _f(rng, 1.2, 1.6)),), 0),
    (for_break_on_data, lambda rng: (rng.uniform(-0.8, 0.8, 6),), 0),
    (for_continue, lambda rng: (_signed(rng, 0.2, 1.5, 6),), 0),
    (continue_and_break_in_while, lambda rng: (np.array([0.5, -0.7, 1.2, 2.5, 0.8, -0.3]) + rng.uniform(-0.1, 0.1, 6),), 0),
    (continue_and_break_in_while, lambda rng: (_signed(rng, 0.2, 1.8, 6),), 0),
    (return_inside_loop, _args_return_inside_loop, 0),
    (return_inside_loop, lambda rng: (rng.uniform(0.05, 0.3, 6),), 0),
    (early_return_in_if, lambda rng: (_set(rng.uniform(-1, 1, 4), 0, _f(rng, -1.0, -0.2)),), 0),
    (early_return_in_if, lambda rng: (_set(rng.uniform(-1, 1, 4), 0, _f(rng, 0.2, 1.0)),), 0),
    (early_return_nested_loops, lambda rng: _args_nested_return(rng, True), 0),
    (early_return_nested_loops, lambda rng: _args_nested_return(rng, False), 0),
    (break_inner_loop_only, lambda rng: (rng.uniform(-1, 1, (4, 3)),), 0),
    (return_inside_while, lambda rng: (_f(rng, 1.0, 5.0), 60), 0),
    (return_inside_while, lambda rng: (_f(rng, 1.0, 5.0), 3), 0),
    (while_loop_carried_array, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (euler_integration, lambda rng: (rng.uniform(-1, 1, 3), _f(rng, 0.5, 2.0)), (0, 1)),

    # --- in-place updates
    (element_assignment_in_loop, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (taped_then_updated_next_iteration, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (read_before_an_update_used_after_it, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (rank_differs_on_paths_that_return, lambda rng: (np.array([[0.1, 0.2], [-0.3, 0.4]]),), 0),
    (rank_differs_on_paths_that_return, lambda rng: (np.array([[0.6, 0.2], [-0.3, 0.4]]),), 0),
    (element_augmented_2d, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (slice_assignment, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (element_multiply_assign, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (linear_recurrence, lambda rng: (rng.uniform(-1, 1, 6), float(_signed(rng, 0.3, 0.9))), (0, 1)),
    (read_before_and_after_overwrite, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (overwrite_in_loop_with_old_value, lambda rng: (rng.uniform(-1, 1, 3),), 0),
    (forward_looking_update, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (array_overwritten_each_sweep, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (row_slice_assignment, lambda rng: (rng.uniform(-1, 1, (4, 3)),), 0),
    (column_assignment_and_scale, lambda rng: (rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, 4)), (0, 1)),
    (augmented_names_in_loop, lambda rng: (rng.uniform(-1, 1, 5),), 0),
    (augmented_array_in_loop, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (slice_augmented_assignment, lambda rng: (rng.uniform(-1, 1, 6),), 0),
    (slice_from_same_array, lambda rng: (rng.uniform(-1, 1, 6),), 0),
    (copy_then_write, lambda rng: (rng.uniform(-1, 1, 4),), 0),
    (bubble_sort_weighted, lambda rng: _args_sort(rng, "random"), 0),
    (bubble_sort_weighted, lambda rng: _args_sort(rng, "sorted"), 0),
    (bubble_sort_weighted, lambda rng: _args_sort(rng, "reversed"), 0),

    # --- calls of module-level helpers
    (helper_called_in_loop, lambda rng: (rng.uniform(-0.7, 0.7, (3, 3)), rng.uniform(-1, 1, (4, 3))), (0, 1)),
    (helper_returning_tuple, lambda rng: (_signed(rng, 0.3, 1.0, 3),), 0),
    (same_helper_twice, lambda rng: (rng.uniform(-1, 1, 4), _f(rng, -1.0, 1.0)), (0, 1)),
    (helper_with_loop_and_if, lambda rng: (np.array([1.4, -0.5, 0.3, 2.5, 0.7]) + rng.uniform(-0.05, 0.05, 5),
                                           _f(rng, 0.9, 1.0)), (0, 1)),
    (helper_with_early_return, lambda rng: _args_first_above(rng, True), 0),
    (helper_with_early_return, lambda rng: _args_first_above(rng, False), 0),
    (helper_called_in_branches, lambda rng: (np.array([_f(rng, 0.2, 1.0), _f(rng, 0.5, 1.0), _f(rng, -0.5, 0.2)]),), 0),
    (helper_called_in_branches, lambda rng: (np.array([_f(rng, 0.2, 1.0), _f(rng, -0.5, 0.2), _f(rng, 0.5, 1.0)]),), 0),
    (helper_called_in_branches, lambda rng: (np.array([_f(rng, -1.0, -0.2), _f(rng, 0.5, 0.8), _f(rng, -0.5, 0.2)]),), 0),
    (helper_called_in_branches, lambda rng: (np.array([_f(rng, -1.0, -0.2), _f(rng, -0.5, -0.3), _f(rng, 0.5, 1.0)]),), 0),
    # --- a lambda defined in a loop, recursion on an integer (refused before issue #19; see test_functions.py)
    (lambda_in_loop, lambda rng: (rng.uniform(-1, 1, 3),), 0),
    (recursive_power, lambda rng: (_f(rng, 0.5, 1.5), 3), 0),
    (recursive_power, lambda rng: (_f(rng, 0.5, 1.5), 0), 0),
]


# ============================================================================ refused
# Each function marks the line the CompileError must point at with `# <- HERE` (in the function
# itself or, for a construct inside a helper, in the helper it calls).

def for_else(x):
    s = 0.0
    for i in range(x.shape[0]):  # <- HERE
        s = s + x[i]
    else:
        s = s * 2.0
    return s


def while_else(x):
    s = 0.0
    i = 0
    while i < x.shape[0]:  # <- HERE
        s = s + x[i]
        i = i + 1
    else:
        s = s * 2.0
    return s


def try_in_loop(x):
    s = 0.0
    for i in range(3):
        try:  # <- HERE
            s = s + x[i]
        except IndexError:
            s = s - 1.0
    return s


def with_in_branch(x):
    s = np.sum(x)
    if s > 0.0:
        with np.errstate(all="ignore"):  # <- HERE
            s = np.log(s)
    return s


def yield_in_loop(x):
    for i in range(x.shape[0]):
        yield x[i] * 2.0  # <- HERE


def global_in_branch(x):
    s = np.sum(x)
    if s > 0.0:
        global _COUNTER  # <- HERE
        _COUNTER = s
    return s


_COUNTER = 0.0


def write_into_argument(x):
    y = x * 2.0
    x[0] = 1.0  # <- HERE
    return np.sum(y * x)


def write_into_argument_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        x[i] = x[i] * 2.0  # <- HERE
        s = s + x[i]
    return s


def augmented_into_argument(x):
    y = np.sum(x)
    if y > 0.0:
        x[1] += 1.0  # <- HERE
    return np.sum(x) * y


def write_into_argument_row(X):
    s = 0.0
    for row in X:
        row[0] = 0.0  # <- HERE
        s = s + np.sum(row)
    return s


def write_into_the_array_being_iterated(X):
    Y = X * 1.0
    s = 0.0
    for row in Y:
        r = row * 2.0
        Y[1, 0] = 5.0  # <- HERE
        s = s + np.sum(r * r)
    return s


def _zero_first(v):
    v[0] = 0.0  # <- HERE
    return np.sum(v)


def helper_writes_into_argument(x):
    s = _zero_first(x)
    return s * np.sum(x)


def list_comprehension_in_loop(x):
    """A list comprehension over a range, summed, in a loop: a list grown in a nested loop."""
    s = 0.0
    for k in range(2):
        s = s + sum([x[i] * k for i in range(3)])
    return s


def generator_expression_in_branch(x):
    """A generator expression consumed by sum() in one branch of an `if`."""
    s = np.sum(x)
    if s > 0.0:
        s = sum(x[i] for i in range(3))
    return s


# lists made in loops and branches (refused before lists were supported): they compile
PROGRAMS += [
    (list_comprehension_in_loop, lambda rng: (rng.uniform(-1, 1, 3),), 0),
    (generator_expression_in_branch, lambda rng: (rng.uniform(0.2, 1, 3),), 0),
    (generator_expression_in_branch, lambda rng: (rng.uniform(-1, -0.2, 3),), 0),
]

_A3 = np.array([1.0, 2.0, 3.0])

REFUSED = [
    (for_else, (_A3,), "else"),
    (while_else, (_A3,), "else"),
    (try_in_loop, (_A3,), "`try`"),
    (with_in_branch, (_A3,), "`with`"),
    (yield_in_loop, (_A3,), "yield"),
    (global_in_branch, (_A3,), "`global`"),
    (write_into_argument, (_A3,), "argument"),
    (write_into_argument_in_loop, (_A3,), "argument"),
    (augmented_into_argument, (_A3,), "argument"),
    (write_into_argument_row, (np.ones((2, 3)),), "argument"),
    (helper_writes_into_argument, (_A3,), "argument"),
    (write_into_the_array_being_iterated, (np.ones((2, 3)),), "the array the `for` loop iterates over"),
]


# ============================================================================ exact or refused
# Legal Python whose semantics a compiler easily gets wrong. adcompiler compiles some of them
# exactly and refuses the others; the EITHER registry pins which.

def alias_then_element_write(x):
    """z = y is the same array: the write through y is seen through z."""
    y = np.ones(3)
    z = y
    y[0] = x[0] * 2.0  # <- HERE
    return np.sum(z * x)


def view_then_element_write(x):
    """s = y[1:3] is a view: writing y[1] afterwards changes s."""
    y = x * 1.0
    s = y[1:3]
    y[1] = 5.0 * x[0]  # <- HERE
    return np.sum(s * s)


def alias_made_in_previous_iteration(x):
    """z = y at the end of an iteration makes z an alias of y in every later iteration: z[i] read
    after y[i] is written sees the new value (from the second iteration on)."""
    n = x.shape[0]
    y = np.ones(n)
    z = np.full(n, 3.0)
    s = 0.0
    for i in range(n):  # <- HERE
        y[i] = x[i] * 2.0
        s = s + z[i] * x[i]
        z = y
    return s


def overlapping_slice_update(x):
    """y[1:4] -= y[0:3] with overlapping operands: NumPy computes it as if the right side were copied."""
    y = x * 1.0
    y[1:4] -= y[0:3]
    return np.sum(y * y)


def overlapping_slice_assignment(x):
    """y[1:5] = y[0:4] with overlapping operands: a shift by one, as if the right side were copied."""
    y = x * 1.0
    y[1:5] = y[0:4]
    return np.sum(y * x)


def write_through_row_of_local(X):
    """for row in Y: row[0] = ... writes into Y (row is a view), and a later row reads Y[0, 0]."""
    Y = X * 1.0
    s = 0.0
    for row in Y:
        row[0] = row[0] * 2.0 + Y[0, 0]  # <- HERE
        s = s + np.sum(row * row)
    return s + np.sum(Y)


def _fill(y, x):
    y[0] = x[0] * x[1]  # <- HERE
    y[1] = np.sin(x[2])
    return 0.0


def helper_writes_into_callers_array(x):
    """A helper writes into an array the caller owns; the caller sees the writes."""
    y = np.zeros(3)
    t = _fill(y, x)
    return np.sum(y * y) + t + x[2]


def augmented_alias_in_loop(x):
    """z = y; y += 1.0 in a loop: NumPy updates the one array, so z sees every increment."""
    y = x * 1.0
    s = 0.0
    for k in range(3):
        z = y
        y += 1.0  # <- HERE
        s = s + np.sum(z * x)
    return s


def scalar_becomes_array(x):
    """s starts as a float and becomes an array in the first iteration."""
    s = 0.0
    for i in range(3):  # <- HERE
        s = s + x * (i + 1)
    return np.sum(s * s)


def scalar_or_array_by_branch(x):
    """y is a scalar on one path and an array on the other."""
    if x[0] > 0.0:  # <- HERE
        y = x[0]
    else:
        y = x
    return np.sum(y * 2.0) + 1.0


def defined_on_one_path(x):
    """t is defined only when x[0] > 0, and used only under the same condition."""
    if x[0] > 0.0:
        t = x[0] * 2.0
    y = x[1] + 1.0
    if x[0] > 0.0:
        y = y + t  # <- HERE
    return y * y + 1.0


def tuple_swap_of_elements(x):
    """y[0], y[2] = y[2], y[0] * 2.0: the right side is evaluated before either element is written."""
    y = x.copy()
    y[0], y[2] = y[2], y[0] * 2.0
    return np.sum(y * np.arange(1.0, 4.0))


def view_carried_across_iterations(x):
    """v = y[0:2] before the loop; writes into y in the loop change what v holds."""
    y = x * 1.0
    v = y[0:2]
    s = 0.0
    for i in range(3):
        y[i] = y[i] * 0.5 + 1.0  # <- HERE
        s = s + np.sum(v) * x[i]
    return s


EXACT = None  # an EITHER entry that compiles, with value and gradient exactly as in Python
EITHER = [
    (alias_then_element_write, lambda rng: (rng.uniform(-1, 1, 3),), 0,
     "`y`, which shares its memory with `z`"),
    (view_then_element_write, lambda rng: (rng.uniform(-1, 1, 4),), 0,
     "`y`, which shares its memory with `s`"),
    (alias_made_in_previous_iteration, lambda rng: (rng.uniform(-1, 1, 4),), 0,
     "the loop writes into `y`, which shares its memory with `z` at the end of an iteration"),
    (overlapping_slice_update, lambda rng: (rng.uniform(-1, 1, 5),), 0, EXACT),
    (overlapping_slice_assignment, lambda rng: (rng.uniform(-1, 1, 5),), 0, EXACT),
    (write_through_row_of_local, lambda rng: (rng.uniform(-1, 1, (3, 3)),), 0,
     "`row`, which shares its memory with `Y`"),
    (helper_writes_into_callers_array, lambda rng: (rng.uniform(-1, 1, 3),), 0,
     "would change the caller's array"),
    (augmented_alias_in_loop, lambda rng: (rng.uniform(-1, 1, 4),), 0,
     "augmented assignment to the array `y`, which shares its memory with `z`"),
    (scalar_becomes_array, lambda rng: (rng.uniform(-1, 1, 3),), 0,
     "`s` is a float64 scalar before the loop and a 1-D float64 array in it"),
    (scalar_or_array_by_branch, lambda rng: (_set(rng.uniform(-1, 1, 3), 0, _f(rng, 0.2, 1.0)),), 0,
     "`y` is a float64 scalar in one branch and a 1-D float64 array in the other"),
    (scalar_or_array_by_branch, lambda rng: (_set(rng.uniform(-1, 1, 3), 0, _f(rng, -1.0, -0.2)),), 0,
     "`y` is a float64 scalar in one branch and a 1-D float64 array in the other"),
    (defined_on_one_path, lambda rng: (_set(rng.uniform(-1, 1, 2), 0, _f(rng, 0.2, 1.0)),), 0,
     "`t` is read here, but it is assigned only in one branch of an `if`"),
    (defined_on_one_path, lambda rng: (_set(rng.uniform(-1, 1, 2), 0, _f(rng, -1.0, -0.2)),), 0,
     "`t` is read here, but it is assigned only in one branch of an `if`"),
    (tuple_swap_of_elements, lambda rng: (rng.uniform(-1, 1, 3),), 0, EXACT),
    (view_carried_across_iterations, lambda rng: (rng.uniform(-1, 1, 4),), 0,
     "`y`, which shares its memory with `v`"),
]
