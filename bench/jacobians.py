"""Jacobians by adcompiler's `jacrev` (one backward pass over the identity basis of cotangents)
against one pullback per row (adcompiler's `vjp`, called once per output: what GradBench's
Jacobians did before) and against JAX (`jax.jit` of `jax.jacrev`), in float64, one thread, in one
run; the three Jacobians are compared element by element.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/jacobians.py [--repeats 7]

Workloads, shaped like ADBench's (synthetic data of their standard-like sizes):
- hand: a hand-tracking-like skinning model, 3 * 200 residuals of 26 pose parameters (a bone
  rotation per angle triple, points blended by skinning weights); the Jacobian is (600, 26).
- ba: bundle adjustment's reprojection error of one observation (Rodrigues rotation, projection,
  radial distortion), 2 residuals of the 11 camera parameters and 3 point coordinates; the per-
  observation Jacobians of 2000 observations, by `vmap(jacrev(f))` (one batched backward for
  all observations) against a pullback per row and observation, and `jax.vmap(jax.jacrev(f))`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cores  # noqa: E402

cores.limit("1")
os.environ.setdefault("ADCOMPILER_COMPILE", "sync")  # kernels compiled before the first call is timed

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import adcompiler as ad  # noqa: E402

BONES = 8


def hand(theta, points, weights):
    """Points (m, 3) moved by BONES rigid motions (rotations about x, y and z by the angles of
    theta[3b:3b+3], then theta[24:26] as a shift) and blended by the skinning weights (m, BONES)."""
    out = np.zeros(points.shape)
    for b in range(BONES):
        a, c, e = theta[3 * b], theta[3 * b + 1], theta[3 * b + 2]
        ca, sa, cc, sc, ce, se = np.cos(a), np.sin(a), np.cos(c), np.sin(c), np.cos(e), np.sin(e)
        x = points[:, 0]
        y = points[:, 1] * ca - points[:, 2] * sa
        z = points[:, 1] * sa + points[:, 2] * ca
        x, z = x * cc + z * sc, z * cc - x * sc
        x, y = x * ce - y * se, x * se + y * ce
        moved = np.stack((x + theta[24], y + theta[25], z), axis=1)
        out = out + weights[:, b:b + 1] * moved
    return out


def reprojection(camera, point):
    """ADBench's bundle-adjustment projection of one point by one camera (rotation by Rodrigues'
    formula, pinhole projection, two radial distortion terms): 2 residual coordinates."""
    rotation, center, focal = camera[0:3], camera[3:6], camera[6]
    x = point - center
    angle = np.sqrt(np.sum(rotation * rotation))
    axis = rotation / angle
    cos, sin = np.cos(angle), np.sin(angle)
    cross = np.array([axis[1] * x[2] - axis[2] * x[1], axis[2] * x[0] - axis[0] * x[2],
                      axis[0] * x[1] - axis[1] * x[0]])
    rotated = x * cos + cross * sin + axis * (np.sum(axis * x) * (1.0 - cos))
    projected = rotated[0:2] / rotated[2]
    r2 = np.sum(projected * projected)
    distortion = 1.0 + camera[9] * r2 + camera[10] * r2 * r2
    return projected * distortion * focal + camera[7:9]


def reprojection_of(parameters):
    """`reprojection` of the 14 parameters of one observation (11 of the camera, 3 of the point)."""
    return reprojection(parameters[0:11], parameters[11:14])


def seconds(function, repeats: int, statistic=np.median) -> float:
    """`statistic` (median, or min) of the seconds of `repeats` calls of `function`, after one."""
    function()  # compiled, warmed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(statistic(times))


def per_row(pullback, shape, dtype=np.float64):
    """The Jacobian from one pullback call per output element."""
    rows = []
    for index in np.ndindex(shape):
        seed = np.zeros(shape, dtype)
        seed[index] = 1.0
        rows.append(pullback(seed))
    return np.array(rows).reshape(shape + np.shape(rows[0]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--observations", type=int, default=2000)
    options = parser.parse_args()
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    theta = rng.normal(size=26) * 0.3
    points = rng.normal(size=(200, 3))
    weights = rng.dirichlet(np.ones(BONES), size=200)
    hand_jax = jax.jit(jax.jacrev(_with(hand, jnp)))
    hand_jacrev = ad.jacrev(hand)

    def hand_rows():
        out, pullback = ad.vjp(hand)(theta, points, weights)
        return per_row(pullback, out.shape)

    observations = np.concatenate([rng.normal(size=(options.observations, 3)) * 0.2 + 0.5,
                                   rng.normal(size=(options.observations, 3)) * 0.1,
                                   rng.uniform(400, 600, size=(options.observations, 1)),
                                   rng.normal(size=(options.observations, 2)),
                                   rng.normal(size=(options.observations, 2)) * 1e-3,
                                   rng.normal(size=(options.observations, 3)) + [0.0, 0.0, 8.0]], axis=1)
    ba_jacrev = ad.vmap(ad.jacrev(reprojection_of))
    ba_jax = jax.jit(jax.vmap(jax.jacrev(_with(reprojection_of, jnp))))
    ba_vjp = ad.vjp(reprojection_of)

    def ba_rows():
        blocks = []
        for parameters in observations:
            out, pullback = ba_vjp(parameters)
            blocks.append(per_row(pullback, out.shape))
        return np.array(blocks)

    workloads = {
        "hand (600 x 26)": (lambda: hand_jacrev(theta, points, weights), hand_rows,
                            lambda: np.asarray(hand_jax(theta, points, weights))),
        f"ba ({options.observations} x 2 x 14)": (lambda: ba_jacrev(observations), ba_rows,
                                                   lambda: np.asarray(ba_jax(observations))),
    }
    print(f"median of {options.repeats} calls, one thread, measured side by side in one run (a loaded machine: "
          f"compare the ratios)")
    print(f"{'workload':<22} {'jacrev ms':>10} {'per-row vjp ms':>15} {'JAX ms':>8} {'per-row/jacrev':>15} "
          f"{'jacrev/JAX':>11} {'max |diff|':>11}")
    for name, (ours, rows, theirs) in workloads.items():
        difference = max(np.abs(ours() - rows()).max(), np.abs(ours() - theirs()).max())
        t_ours, t_rows, t_jax = (seconds(f, options.repeats) for f in (ours, rows, theirs))
        print(f"{name:<22} {t_ours * 1e3:>10.2f} {t_rows * 1e3:>15.1f} {t_jax * 1e3:>8.2f} {t_rows / t_ours:>15.1f} "
              f"{t_ours / t_jax:>11.2f} {difference:>11.1e}")


def _with(function, module):
    """`function` with its global `np` bound to `module` (jax.numpy), and its helpers too."""
    import types
    scope = dict(function.__globals__, np=module)
    for helper in ("reprojection",):
        scope[helper] = types.FunctionType(globals()[helper].__code__, scope)
    return types.FunctionType(function.__code__, scope, function.__name__)


if __name__ == "__main__":
    main()
