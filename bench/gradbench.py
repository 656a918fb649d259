"""The issue's benchmark problems (GradBench's and ADBench's), each in one run side by side with
JAX (`jax.jit` of the same transforms of the same code) and hand-written NumPy derivatives where
they are short, in float64 on one thread, reported as ratios (min of N calls):

- ba: ADBench's bundle adjustment (its input format: one camera, point, weight and feature,
  replicated to n cameras, m points and p observations; observation i sees camera i % n and
  point i % m). The sparse Jacobian's blocks: per observation, the 2 x 15 Jacobian of the
  weighted reprojection error in the camera (11), the point (3) and the weight (1), by
  `vmap(jacfwd(f))` and `vmap(jacrev(f))`; and the weight errors 1 - w**2 (their derivative -2w).
- hand: ADBench's hand tracking (bench/adbench.py, its model and inputs vendored in
  tests/data/adbench/hand): the Jacobian of the residuals (3 per point) in the 26 pose parameters
  by `jacfwd` (forward mode's shape, as `jacobian` chooses here; compiling `jacobian`, which holds
  both modes in one kernel, takes Numba minutes), of the simple
  objective at ADBench's hand1 (100 points) and hand5 (800 points) of simple_small, and of the
  complicated one (also in the points' barycentric coordinates, 2 per point: dense, 226 columns)
  at complicated_small's hand1.
- kmeans: GradBench's k-means by Newton's method: the cost sum_i min_k |p_i - c_k|^2, its gradient
  and its Hessian's diagonal (the Hessian is diagonal: forward over reverse along all ones, `hvp`),
  and the Newton direction gradient / diagonal; the hand-written derivative is 2 (c_k - p_i)
  summed over each cluster's points and 2 * (points in the cluster).
- saddle: GradBench's saddle point, nested optimisation: p2 ascends f(p1, .) for a fixed number of
  steps from a start, p1 descends p1 -> f(p1, p2*(p1)) through the whole inner ascent; the inner
  and the outer gradients each by forward mode (`jacfwd`) or reverse mode (`grad`): the four
  combinations ff, fr, rf, rr, each one compiled function (`jit`) of the whole optimisation.
  f = |p1|^2 - |p2|^2 + sum(sin(p1) * p2) (GradBench's with a coupling, so that the inner
  optimum depends on p1).

The ba and hand problems are also timed in ADBench's hand-written C++ derivatives (bench/cpp: run
bench/cpp/build.sh first; skipped when not built), their blocks or first rows compared with ours.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gradbench.py [--repeats 7] [--problems kmeans ...]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cores  # noqa: E402

cores.limit("1")
os.environ.setdefault("ADCOMPILER_COMPILE", "sync")  # kernels compiled before the first call is timed

import argparse  # noqa: E402
import subprocess  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import adcompiler as ad  # noqa: E402
from bench import adbench  # noqa: E402
from bench.adbench import data_dir  # noqa: E402
from bench.jacobians import reprojection, seconds as seconds_of  # noqa: E402

BA_DATA = data_dir() / "ba"  # ADBench's small BA input (vendored in tests/data/adbench)
BA_STANDARD = (49, 7776, 31843)  # ADBench's ba1 (n cameras, m points, p observations)
BA_CPP = Path(__file__).parent / "cpp" / "ba_manual_timing"
HAND_DATA = data_dir() / "hand"
HAND_CPP = Path(__file__).parent / "cpp" / "hand_manual_timing"
HAND_INPUTS = [("simple_small/hand1_t26_c100", False), ("simple_small/hand5_t26_c800", False),
               ("complicated_small/hand1_t26_c100", True)]
PROBLEMS = ["ba", "hand", "kmeans", "saddle"]


# ---------------------------------------------------------------------------- bundle adjustment

def read_ba(path, sizes=None):
    """ADBench's BA input: `n m p`, one camera (11), one point (3), one weight, one feature (2),
    replicated (to `sizes` = (n, m, p) instead of the file's when given)."""
    numbers = [float(v) for v in Path(path).read_text().split()]
    n, m, p = (int(v) for v in numbers[:3]) if sizes is None else sizes
    camera, point, weight, feature = numbers[3:14], numbers[14:17], numbers[17], numbers[18:20]
    observations = np.stack([np.arange(p) % n, np.arange(p) % m], axis=1)
    return (np.tile(camera, (n, 1)), np.tile(point, (m, 1)), np.full(p, weight), np.tile(feature, (p, 1)),
            observations)


def ba_observation(parameters, feature):
    """The weighted reprojection error of one observation: parameters = camera (11), point (3),
    weight (1)."""
    return parameters[14] * (reprojection(parameters[0:11], parameters[11:14]) - feature)


def ba_parameters(cameras, points, weights, observations):
    """Each observation's 15 parameters, one row each."""
    return np.concatenate([cameras[observations[:, 0]], points[observations[:, 1]], weights[:, None]], axis=1)


def ba_weight_error_derivative(weights):
    return -2.0 * weights


# ---------------------------------------------------------------------------- k-means

def kmeans_cost(points, centroids):
    distances = np.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return np.sum(np.min(distances, axis=1))


def kmeans_newton_direction(points, centroids):
    """GradBench's output: the gradient over the Hessian's diagonal (forward over reverse along ones)."""
    gradient, diagonal = ad.hvp(kmeans_cost, wrt=1)(points, centroids, np.ones(centroids.shape))
    return gradient / diagonal


def kmeans_by_hand(points, centroids):
    distances = np.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    nearest = np.argmin(distances, axis=1)
    counts = np.bincount(nearest, minlength=centroids.shape[0]).astype(float)
    sums = np.zeros(centroids.shape)
    np.add.at(sums, nearest, points)
    gradient = 2.0 * (counts[:, None] * centroids - sums)
    return gradient / (2.0 * counts[:, None])


# ---------------------------------------------------------------------------- saddle point

STEPS, RATE = 10, 0.1
inner_gradient = outer_gradient = ad.grad  # the transforms of the functions below ("rr"); `saddle` rebinds them


def saddle_f(p1, p2):
    return np.sum(p1 * p1) - np.sum(p2 * p2) + np.sum(np.sin(p1) * p2)


def inner_ascent(p1, start):
    """p2 after STEPS of gradient ascent on f(p1, .) from `start` (`inner_gradient`: grad or jacfwd,
    bound per mode combination by `saddle`)."""
    p2 = start
    for _ in range(STEPS):
        p2 = p2 + RATE * inner_gradient(saddle_f, wrt=1)(p1, p2)
    return p2


def outer_objective(p1, start):
    return saddle_f(p1, inner_ascent(p1, start))


def optimise(start1, start2):
    """p1 after STEPS of gradient descent on outer_objective, then p2's ascent from there."""
    p1 = start1
    for _ in range(STEPS):
        p1 = p1 - RATE * outer_gradient(outer_objective)(p1, start2)
    return np.concatenate((p1, inner_ascent(p1, start2)))


MODES = {"f": "jacfwd", "r": "grad"}


def saddle(modes: str, jit: bool = True):
    """The compiled optimisation for `modes` ("fr": forward inside, reverse outside, ...): the
    three functions above bound to their own globals, in which the gradients are those modes."""
    scope = dict(globals(), inner_gradient=getattr(ad, MODES[modes[0]]), outer_gradient=getattr(ad, MODES[modes[1]]))
    for function in (inner_ascent, outer_objective, optimise):
        scope[function.__name__] = types.FunctionType(function.__code__, scope, function.__name__)
    return ad.jit(scope["optimise"], jit=jit)


def saddle_jax(modes: str):
    import jax
    import jax.numpy as jnp

    def f(p1, p2):
        return jnp.sum(p1 * p1) - jnp.sum(p2 * p2) + jnp.sum(jnp.sin(p1) * p2)

    def transform(mode, function, argnums=0):
        return jax.jacfwd(function, argnums) if mode == "f" else jax.grad(function, argnums)

    def inner_ascent(p1, start):
        p2 = start
        for _ in range(STEPS):
            p2 = p2 + RATE * transform(modes[0], f, 1)(p1, p2)
        return p2

    def optimise(start1, start2):
        p1 = start1
        for _ in range(STEPS):
            p1 = p1 - RATE * transform(modes[1], lambda q, s: f(q, inner_ascent(q, s)))(p1, start2)
        return jnp.concatenate((p1, inner_ascent(p1, start2)))
    return jax.jit(optimise)


# ---------------------------------------------------------------------------- timing

def hand_jax(complicated: bool, parents):
    """ADBench's hand objective for JAX, as a JAX user writes it: functional updates (`.at[].set`)
    for the pose and rotations, `jnp.where` for the small-angle branch, `parents` a Python list."""
    import jax.numpy as jnp

    def euler_rotation(xzy):
        cx, sx, cy, sy, cz, sz = jnp.cos(xzy[0]), jnp.sin(xzy[0]), jnp.cos(xzy[2]), jnp.sin(xzy[2]), \
            jnp.cos(xzy[1]), jnp.sin(xzy[1])
        rx = jnp.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
        ry = jnp.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
        rz = jnp.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
        return jnp.eye(4).at[:3, :3].set(rz @ ry @ rx)

    def angle_axis_rotation(angle_axis):
        angle = jnp.sqrt(jnp.sum(angle_axis * angle_axis))
        x, y, z = angle_axis / angle
        s, c = jnp.sin(angle), jnp.cos(angle)
        rotation = jnp.array([[x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
                              [x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s],
                              [x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c]])
        return jnp.where(angle < 1e-4, jnp.eye(3), rotation)

    def vertices(theta, base_relatives, inverse_base_absolutes, base_positions, weights):
        pose = jnp.zeros((len(parents) + 3, 3)).at[0].set(theta[0:3]).at[1].set(1.0).at[2].set(theta[3:6])
        at, row = 6, 5
        for _ in range(5):
            pose = pose.at[row, 0:2].set(theta[at:at + 2]).at[row + 1, 0].set(theta[at + 2]) \
                .at[row + 2, 0].set(theta[at + 3])
            at, row = at + 4, row + 4
        absolutes = []
        for i, parent in enumerate(parents):
            relative = base_relatives[i] @ euler_rotation(pose[i + 3])
            absolutes.append(relative if parent == -1 else absolutes[parent] @ relative)
        transforms = jnp.stack(absolutes) @ inverse_base_absolutes
        blended = jnp.sum((transforms[:, :3, :] @ base_positions.T) * weights.T[:, None, :], axis=0).T
        return blended @ (angle_axis_rotation(pose[0]) * pose[1]).T + pose[2]

    def simple(theta, _parents, base_relatives, inverse_base_absolutes, base_positions, weights, correspondences,
               points):
        return points - vertices(theta, base_relatives, inverse_base_absolutes, base_positions, weights)[correspondences]

    def barycentric(theta, us, _parents, base_relatives, inverse_base_absolutes, base_positions, weights, triangles,
                    correspondences, points):
        corners = vertices(theta, base_relatives, inverse_base_absolutes, base_positions, weights)[
            triangles[correspondences]]
        u0, u1 = us[:, 0:1], us[:, 1:2]
        return points - (u0 * corners[:, 0] + u1 * corners[:, 1] + (1.0 - u0 - u1) * corners[:, 2])
    return barycentric if complicated else simple


def with_module(function, module, helpers=("reprojection",)):
    """`function` with its global `np` bound to `module` (jax.numpy), and its helpers too."""
    scope = dict(function.__globals__, np=module)
    from bench import jacobians
    for helper in helpers:
        scope[helper] = types.FunctionType(getattr(jacobians, helper).__code__, scope)
    return types.FunctionType(function.__code__, scope, function.__name__)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--problems", nargs="+", choices=PROBLEMS, default=PROBLEMS,
                        help="the problems to run (default: all)")
    options = parser.parse_args()
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    rows = []  # (problem, method, seconds, result)

    k_points = rng.normal(size=(10000, 8))
    k_centroids = k_points[:50] + 0.01  # no cluster empty

    if "ba" in options.problems:
        cameras, points, weights, features, observations = read_ba(BA_DATA / "test.txt", BA_STANDARD)
        parameters = ba_parameters(cameras, points, weights, observations)
        ba_forward, ba_reverse = ad.vmap(ad.jacfwd(ba_observation)), ad.vmap(ad.jacrev(ba_observation))
        ba_chosen = ad.vmap(ad.jacobian(ba_observation))
        ba_jax = jax.jit(jax.vmap(jax.jacfwd(with_module(ba_observation, jnp))))
        ba_jax_reverse = jax.jit(jax.vmap(jax.jacrev(with_module(ba_observation, jnp))))
        n, m, p = BA_STANDARD
        rows += [(f"ba n={n} m={m} p={p}", "vmap(jacfwd)", lambda: ba_forward(parameters, features)),
                 (f"ba n={n} m={m} p={p}", "vmap(jacrev)", lambda: ba_reverse(parameters, features)),
                 (f"ba n={n} m={m} p={p}", "vmap(jacobian)", lambda: ba_chosen(parameters, features)),
                 (f"ba n={n} m={m} p={p}", "JAX vmap(jacfwd)", lambda: np.asarray(ba_jax(parameters, features))),
                 (f"ba n={n} m={m} p={p}", "JAX vmap(jacrev)", lambda: np.asarray(ba_jax_reverse(parameters, features)))]

        if BA_CPP.exists():  # ADBench's manual C++: (min ms, first and last blocks in column-major order)
            output = subprocess.run([str(BA_CPP), str(BA_DATA / "test.txt"), *map(str, BA_STANDARD),
                                     str(options.repeats)], capture_output=True, text=True, check=True).stdout.split("\n")
            cpp_seconds = float(output[0]) / 1e3
            cpp_blocks = np.array([[float(v) for v in line.split()] for line in output[1:3]]).reshape(2, 15, 2)
            ours = ba_reverse(parameters, features)[[0, -1]]
            rows.append((f"ba n={n} m={m} p={p}", "ADBench manual C++", cpp_seconds,
                         np.transpose(cpp_blocks, (0, 2, 1)) - ours))

    if "hand" in options.problems:
        for name, complicated in HAND_INPUTS:
            objective, args = adbench.hand_instance(HAND_DATA / "model", HAND_DATA / f"{name}.txt", complicated)
            wrt = (0, 1) if complicated else 0
            forward = ad.jacfwd(objective, wrt=wrt)
            theirs = jax.jit(jax.jacfwd(hand_jax(complicated, args[1 + complicated].tolist()), argnums=wrt))
            problem = f"hand {'complicated' if complicated else 'simple'} c={len(args[-1])}"

            def ordered(jacobians, complicated=complicated):  # ADBench's layout (3 npts, columns)
                jacobians = [np.asarray(j) for j in jacobians] if complicated else [np.asarray(jacobians)]
                return adbench.hand_jacobian_order(*jacobians)
            rows += [(problem, "jacfwd", lambda f=forward, a=args, o=ordered: o(f(*a))),
                     (problem, "JAX jacfwd", lambda f=theirs, a=args, o=ordered: o(f(*a)))]
            if HAND_CPP.exists():  # ADBench's manual C++: (min ms, the Jacobian's first 6 rows)
                output = subprocess.run([str(HAND_CPP), f"{HAND_DATA / 'model'}/", str(HAND_DATA / f"{name}.txt"),
                                         "complicated" if complicated else "simple", str(options.repeats)],
                                        capture_output=True, text=True, check=True).stdout.split("\n")
                cpp_rows = np.array([[float(v) for v in line.split()] for line in output[1:7]])
                rows.append((problem, "ADBench manual C++", float(output[0]) / 1e3,
                             cpp_rows - ordered(forward(*args))[:6]))

    if "kmeans" in options.problems:
        cost_jax = with_module(kmeans_cost, jnp, ())
        kmeans_jax = jax.jit(lambda P, C: jax.jvp(lambda c: jax.grad(cost_jax, 1)(P, c), (C,), (jnp.ones(C.shape),)))
        newton = ad.jit(kmeans_newton_direction)
        rows += [("kmeans n=10000 k=50 d=8", "hvp (jit)", lambda: newton(k_points, k_centroids)),
                 ("kmeans n=10000 k=50 d=8", "JAX jvp(grad)",
                  lambda: np.divide(*map(np.asarray, kmeans_jax(k_points, k_centroids)))),
                 ("kmeans n=10000 k=50 d=8", "hand NumPy", lambda: kmeans_by_hand(k_points, k_centroids))]

    if "saddle" in options.problems:
        starts = (np.array([1.0, -0.5]), np.array([0.3, 0.8]))
        for modes in ("ff", "fr", "rf", "rr"):
            ours, theirs = saddle(modes), saddle_jax(modes)
            rows += [(f"saddle {modes}", "jit", lambda ours=ours: ours(*starts)),
                     (f"saddle {modes}", "JAX jit", lambda theirs=theirs: np.asarray(theirs(*starts)))]

    blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()]
    print(f"min of {options.repeats} calls, float64, one thread, side by side in one run; "
          f"load average {os.getloadavg()[0]:.1f}; BLAS {blas}")
    print(f"{'problem':<28} {'method':<18} {'ms':>9} {'/ first':>8} {'max |diff| to first':>20}")
    first = {}
    for problem, method, *run in rows:
        if len(run) == 2:  # timed elsewhere (C++): its seconds and its difference to ours
            seconds, difference = run[0], np.abs(run[1]).max()
        else:
            result = run[0]()
            seconds = seconds_of(run[0], options.repeats, statistic=min)
            difference = np.abs(np.asarray(result) - first.get(problem, (None, result))[1]).max()
        reference = first.setdefault(problem, (seconds, result))
        print(f"{problem:<28} {method:<18} {seconds * 1e3:>9.3f} {seconds / reference[0]:>8.2f} {difference:>20.1e}")


if __name__ == "__main__":
    main()
