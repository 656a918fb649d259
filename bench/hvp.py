"""Cost of a Hessian-vector product against a gradient (issue #17: hvp at most 4x a gradient),
and against JAX's jvp(grad(f)) on the same functions. One thread; run side by side in one process,
so the ratios hold on a loaded machine (the absolute times do not).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/hvp.py
"""
import os
import timeit

import cores  # noqa: E402

cores.limit("1")
os.environ.setdefault("ADCOMPILER_COMPILE", "sync")

import numpy as np  # noqa: E402

import adcompiler as ad  # noqa: E402


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def mlp(x):
    w = np.reshape(x[:400 * 100], (400, 100))
    h = np.tanh(w @ np.cos(x[40000:40100]))
    return np.sum(h * h) + np.sum(np.log1p(np.exp(x)))


def integrated(x):
    """A `while` loop until a time is reached (200 steps): its gradient tapes the states in a stack
    of rows, and the hvp carries the stack's tangent beside it."""
    t = 0.0
    while t < 1.0:
        x = x + 0.005 * (np.sin(x) * np.cos(0.5 * x) - 0.1 * x * x)
        t = t + 0.005
    return np.sum(x * x)


KMEANS_POINTS = np.random.default_rng(1).normal(size=(10000, 8))


def kmeans(centroids):
    """GradBench's k-means cost of 50 centroids (bench/gradbench.py): the hvp's tangent of the
    points-by-clusters-by-dimensions differences is a broadcast of the centroids' tangent."""
    distances = np.sum((KMEANS_POINTS[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return np.sum(np.min(distances, axis=1))


def jax_versions():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def j_rosenbrock(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def j_mlp(x):
        w = jnp.reshape(x[:400 * 100], (400, 100))
        h = jnp.tanh(w @ jnp.cos(x[40000:40100]))
        return jnp.sum(h * h) + jnp.sum(jnp.log1p(jnp.exp(x)))

    def j_integrated(x):  # lax.while_loop has no reverse mode: a fori_loop of the same 200 steps
        step = lambda i, x: x + 0.005 * (jnp.sin(x) * jnp.cos(0.5 * x) - 0.1 * x * x)  # noqa: E731
        return jnp.sum(jax.lax.fori_loop(0, INTEGRATED_STEPS, step, x) ** 2)

    def j_kmeans(centroids):
        distances = jnp.sum((KMEANS_POINTS[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
        return jnp.sum(jnp.min(distances, axis=1))

    def hvp_of(f):
        return jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])
    return {"rosenbrock": (jax.jit(jax.grad(j_rosenbrock)), hvp_of(j_rosenbrock)),
            "mlp": (jax.jit(jax.grad(j_mlp)), hvp_of(j_mlp)),
            "while loop": (jax.jit(jax.grad(j_integrated)), hvp_of(j_integrated)),
            "kmeans": (jax.jit(jax.grad(j_kmeans)), hvp_of(j_kmeans))}


INTEGRATED_STEPS = 200  # the steps integrated's `while` takes (t from 0 by 0.005 to 1.0)


def best(call, repeat=7):
    number = max(1, int(0.2 / max(timeit.timeit(call, number=1), 1e-6)))
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number


def main():
    rng = np.random.default_rng(0)
    cases = {"rosenbrock": (rosenbrock, rng.uniform(-1, 1, 10000)), "mlp": (mlp, rng.uniform(-1, 1, 40100)),
             "while loop": (integrated, rng.uniform(-1, 1, 10000)), "kmeans": (kmeans, KMEANS_POINTS[:50] + 0.01)}
    try:
        theirs = jax_versions()
    except ImportError:
        theirs = {}
    print(f"{'function':<12} {'grad ms':>9} {'hvp ms':>9} {'hvp/grad':>9} {'jax grad':>9} {'jax hvp':>9}")
    for name, (f, x) in cases.items():
        v = rng.uniform(-1, 1, x.shape)
        g, h = ad.grad(f), ad.hvp(f)
        g(x), h(x, v)
        t_grad, t_hvp = best(lambda: g(x)), best(lambda: h(x, v))
        row = f"{name:<12} {t_grad * 1e3:9.3f} {t_hvp * 1e3:9.3f} {t_hvp / t_grad:9.2f}"
        if name in theirs:
            jg, jh = theirs[name]
            jg(x).block_until_ready(), jh(x, v).block_until_ready()
            row += f" {best(lambda: jg(x).block_until_ready()) * 1e3:9.3f} " \
                   f"{best(lambda: jh(x, v).block_until_ready()) * 1e3:9.3f}"
        print(row)


if __name__ == "__main__":
    main()
