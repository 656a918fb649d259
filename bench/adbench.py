"""ADBench's GMM, LSTM and hand-tracking objectives written the way an adcompiler user writes
them, with readers for ADBench's input files.

`gmm_objective` and `lstm_objective` are plain Python and NumPy with loops, scalar element reads
and element writes into arrays they create, so adcompiler can differentiate them. They follow
ADBench's reference Python implementation (microsoft/ADBench, src/python/modules/PyTorch/
gmm_objective.py and lstm_objective.py, MIT licence), including its conventions:

* GMM: `icf[k]` holds the log of the diagonal of the inverse Cholesky factor Q_k, then its strictly
  lower part packed column by column; the objective is the log-likelihood of the points plus the
  log Wishart prior, including the constant terms (-n*d/2*log(2*pi), the multivariate log-gamma).
* LSTM: ADBench's "LSTM" is elementwise: the gates are `concat(x, h, x, h) * weight + bias`, and
  the log-normaliser is `log(sum(exp(y)) + 2)` (the PyTorch reference's `sum(exp(y), 2)` is
  Python's sum with start value 2).

* Hand: ADBench's hand tracking (hand_objective.py): a skinned hand model of 22 bones and 544
  vertices posed by 26 parameters (global angle-axis rotation and translation, Euler angles per
  finger joint); the residuals are the points minus their corresponding posed vertices (simple) or
  points of their corresponding triangles at barycentric coordinates `us` (complicated). Its list
  of bones' absolute transforms grows in both branches of an `if` and reads a parent's.

`gmm_objective_numpy` and `lstm_objective_numpy` compute the same with array operations.
Gradients are compared with ADBench's in its flat order (`gmm_gradient_order`,
`lstm_gradient_order`).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

LOG_2 = math.log(2.0)
LOG_PI = math.log(math.pi)
LOG_2PI = math.log(2.0 * math.pi)


def data_dir() -> Path:
    """The ADBench data folder: $ADCOMPILER_ADBENCH_DIR, else the repository's vendored copy
    tests/data/adbench, else ../shared/data/adbench next to the repository."""
    override = os.environ.get("ADCOMPILER_ADBENCH_DIR")
    if override:
        return Path(override)
    repository = Path(__file__).resolve().parents[1]
    vendored = repository / "tests" / "data" / "adbench"
    if vendored.is_dir():
        return vendored
    return repository.parent / "shared" / "data" / "adbench"


# ------------------------------------------------------------------------------------- readers

def _rows(path) -> list:
    """The non-blank lines of a file, each split into fields."""
    with open(path) as handle:
        return [line.split() for line in handle if line.strip()]


def read_gmm(path, n=None):
    """(alphas (K,), means (K, d), icf (K, d(d+1)/2), x (n, d), wishart_gamma, wishart_m) from
    ADBench's GMM format. A file with one point line for n > 1 points (the "2.5M" sets) holds one
    point that is replicated n times, as ADBench's `replicate_point` does. `n` overrides the
    file's count: the first n points, or n copies of a replicated point."""
    rows = _rows(path)
    d, k, n_file = (int(v) for v in rows[0][:3])
    alphas = np.array([float(r[0]) for r in rows[1:1 + k]], dtype=np.float64)
    means = np.array(rows[1 + k:1 + 2 * k], dtype=np.float64)
    icf = np.array(rows[1 + 2 * k:1 + 3 * k], dtype=np.float64)
    points = np.array(rows[1 + 3 * k:-1], dtype=np.float64)
    gamma, m = rows[-1][:2]
    if means.shape != (k, d) or icf.shape != (k, d * (d + 1) // 2) or points.ndim != 2 \
            or points.shape[1] != d:
        raise ValueError(f"{path}: not a GMM file of d={d}, K={k}")
    n = n_file if n is None else int(n)
    if len(points) == 1 and n_file > 1:  # one point, replicated
        x = np.repeat(points, n, axis=0)
    elif len(points) == n_file and n <= n_file:
        x = points[:n].copy()
    else:
        raise ValueError(f"{path}: {len(points)} points for n={n_file}; cannot give {n}")
    return alphas, means, icf, x, float(gamma), int(m)


def read_lstm(path):
    """(main_params (2l, 4b), extra_params (3, b), state (2l, b), sequence (c, b)), float64, from
    ADBench's LSTM format."""
    rows = _rows(path)
    layers, chars, bits = (int(v) for v in rows[0][:3])
    at = 1
    parts = []
    for count, width in ((2 * layers, 4 * bits), (3, bits), (2 * layers, bits), (chars, bits)):
        part = np.array(rows[at:at + count], dtype=np.float64)
        if part.shape != (count, width):
            raise ValueError(f"{path}: expected a {count} x {width} block at data line {at}")
        parts.append(part)
        at += count
    return tuple(parts)


# ------------------------------------------------------------------------ GMM, with loops

def log_gamma_half(n2):
    """log Gamma(n2 / 2) for a positive integer n2, by Gamma(z + 1) = z Gamma(z) down to
    Gamma(1) = 1 or Gamma(1/2) = sqrt(pi)."""
    z = 0.5 * n2
    out = 0.0
    while z > 1.25:
        z = z - 1.0
        out = out + math.log(z)
    if z < 0.75:
        out = out + 0.5 * LOG_PI
    return out


def log_multigamma_half(nn, p):
    """log of the multivariate gamma function Gamma_p(nn / 2) for an integer nn > p - 1
    (scipy.special.multigammaln(nn / 2, p))."""
    out = 0.25 * p * (p - 1) * LOG_PI
    for j in range(p):
        out = out + log_gamma_half(nn - j)
    return out


def inverse_cholesky(icf, k, d):
    """Q_k (d, d): exp of icf[k, :d] on the diagonal, icf[k, d:] below it, column by column."""
    q = np.zeros((d, d))
    for j in range(d):
        q[j, j] = np.exp(icf[k, j])
    at = d
    for j in range(d):
        for i in range(j + 1, d):
            q[i, j] = icf[k, at]
            at = at + 1
    return q


def logsumexp(v):
    """log(sum(exp(v))) of a 1-D array, shifted by its maximum."""
    mx = v[0]
    for i in range(1, v.shape[0]):
        if v[i] > mx:
            mx = v[i]
    total = 0.0
    for i in range(v.shape[0]):
        total = total + np.exp(v[i] - mx)
    return np.log(total) + mx


def log_wishart_prior(icf, d, wishart_gamma, wishart_m):
    """ADBench's log Wishart prior of the inverse covariances, with its constant terms."""
    k_count = icf.shape[0]
    width = icf.shape[1]
    out = 0.0
    for k in range(k_count):
        frobenius = 0.0
        sum_q = 0.0
        for j in range(d):
            q = np.exp(icf[k, j])
            frobenius = frobenius + q * q
            sum_q = sum_q + icf[k, j]
        for j in range(d, width):
            frobenius = frobenius + icf[k, j] * icf[k, j]
        out = out + 0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_q
    nn = d + wishart_m + 1
    c = nn * d * (math.log(wishart_gamma) - 0.5 * LOG_2)
    return out - k_count * (c - log_multigamma_half(nn, d))


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    """ADBench's GMM objective: the log-likelihood of the points x (n, d) under K Gaussians with
    weights softmax(alphas), means and inverse Cholesky factors packed in icf, plus the log
    Wishart prior."""
    n = x.shape[0]
    d = x.shape[1]
    k_count = alphas.shape[0]
    main_terms = np.zeros((n, k_count))
    for k in range(k_count):
        q = inverse_cholesky(icf, k, d)
        sum_q = 0.0
        for j in range(d):
            sum_q = sum_q + icf[k, j]
        for i in range(n):
            sqsum = 0.0
            for a in range(d):
                qx = 0.0
                for b in range(a + 1):  # Q_k is lower triangular
                    qx = qx + q[a, b] * (x[i, b] - means[k, b])
                sqsum = sqsum + qx * qx
            main_terms[i, k] = alphas[k] + sum_q - 0.5 * sqsum
    slse = 0.0
    for i in range(n):
        slse = slse + logsumexp(main_terms[i])
    constant = -n * d * 0.5 * LOG_2PI
    return constant + slse - n * logsumexp(alphas) + log_wishart_prior(icf, d, wishart_gamma, wishart_m)


# ----------------------------------------------------------------------- LSTM, with loops

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_model(weight, bias, hidden, cell, x):
    """One of ADBench's elementwise LSTM cells: (new hidden, new cell)."""
    b = hidden.shape[0]
    forget = sigmoid(x * weight[0:b] + bias[0:b])
    ingate = sigmoid(hidden * weight[b:2 * b] + bias[b:2 * b])
    outgate = sigmoid(x * weight[2 * b:3 * b] + bias[2 * b:3 * b])
    change = np.tanh(hidden * weight[3 * b:4 * b] + bias[3 * b:4 * b])
    new_cell = cell * forget + ingate * change
    new_hidden = outgate * np.tanh(new_cell)
    return new_hidden, new_cell


def lstm_predict(main_params, extra_params, state, x):
    """(prediction (b,), next state (2l, b)): the input through every layer."""
    layers2 = state.shape[0]
    b = state.shape[1]
    new_state = np.zeros((layers2, b))
    x = x * extra_params[0]
    for i in range(0, layers2, 2):
        hidden, cell = lstm_model(main_params[i], main_params[i + 1], state[i], state[i + 1], x)
        for j in range(b):
            new_state[i, j] = hidden[j]
            new_state[i + 1, j] = cell[j]
        x = hidden
    return x * extra_params[1] + extra_params[2], new_state


def lstm_objective(main_params, extra_params, state, sequence):
    """ADBench's LSTM objective: minus the mean log-likelihood of each character of the sequence
    given the previous one, with the state carried through the sequence."""
    c = sequence.shape[0]
    b = sequence.shape[1]
    total = 0.0
    x = sequence[0]
    for t in range(c - 1):
        ypred, state = lstm_predict(main_params, extra_params, state, x)
        ynorm = ypred - np.log(np.sum(np.exp(ypred)) + 2.0)
        ygold = sequence[t + 1]
        total = total + np.sum(ygold * ynorm)
        x = ygold
    return -total / ((c - 1) * b)


# ---------------------------------------------- element by element (ADBench's C++ reference style)

def gmm_objective_elements(alphas, means, icf, x, wishart_gamma, wishart_m):
    """`gmm_objective` as ADBench's C++ reference computes it: Q_k (x_i - mu_k) element by element
    from the packed factor (`qx[r] += icf[k, at] * xc[c]`), without forming Q_k."""
    n = x.shape[0]
    d = x.shape[1]
    k_count = alphas.shape[0]
    slse = 0.0
    for i in range(n):
        main_terms = np.zeros(k_count)
        for k in range(k_count):
            xc = np.zeros(d)
            qx = np.zeros(d)
            sum_q = 0.0
            for c in range(d):
                xc[c] = x[i, c] - means[k, c]
                qx[c] = np.exp(icf[k, c]) * xc[c]
                sum_q = sum_q + icf[k, c]
            at = d
            for c in range(d):
                for r in range(c + 1, d):
                    qx[r] = qx[r] + icf[k, at] * xc[c]
                    at = at + 1
            sqsum = 0.0
            for r in range(d):
                sqsum = sqsum + qx[r] * qx[r]
            main_terms[k] = alphas[k] + sum_q - 0.5 * sqsum
        slse = slse + logsumexp(main_terms)
    constant = -n * d * 0.5 * LOG_2PI
    return constant + slse - n * logsumexp(alphas) + log_wishart_prior(icf, d, wishart_gamma, wishart_m)


def lstm_predict_elements(main_params, extra_params, state, x):
    """`lstm_predict` element by element: each gate of each of the b bits as a number."""
    layers2 = state.shape[0]
    b = state.shape[1]
    new_state = np.zeros((layers2, b))
    inputs = np.zeros(b)
    for j in range(b):
        inputs[j] = x[j] * extra_params[0, j]
    for i in range(0, layers2, 2):
        for j in range(b):
            forget = 1.0 / (1.0 + np.exp(-(inputs[j] * main_params[i, j] + main_params[i + 1, j])))
            ingate = 1.0 / (1.0 + np.exp(-(state[i, j] * main_params[i, b + j] + main_params[i + 1, b + j])))
            outgate = 1.0 / (1.0 + np.exp(-(inputs[j] * main_params[i, 2 * b + j] + main_params[i + 1, 2 * b + j])))
            change = np.tanh(state[i, j] * main_params[i, 3 * b + j] + main_params[i + 1, 3 * b + j])
            cell = state[i + 1, j] * forget + ingate * change
            new_state[i + 1, j] = cell
            new_state[i, j] = outgate * np.tanh(cell)
        inputs = new_state[i] * 1.0
    prediction = np.zeros(b)
    for j in range(b):
        prediction[j] = inputs[j] * extra_params[1, j] + extra_params[2, j]
    return prediction, new_state


def lstm_objective_elements(main_params, extra_params, state, sequence):
    """`lstm_objective` with `lstm_predict_elements`, the log-likelihood element by element."""
    c = sequence.shape[0]
    b = sequence.shape[1]
    total = 0.0
    for t in range(c - 1):
        ypred, state = lstm_predict_elements(main_params, extra_params, state, sequence[t])
        normaliser = 2.0
        for j in range(b):
            normaliser = normaliser + np.exp(ypred[j])
        log_normaliser = np.log(normaliser)
        for j in range(b):
            total = total + sequence[t + 1, j] * (ypred[j] - log_normaliser)
    return -total / ((c - 1) * b)


# ------------------------------------------------------------------ vectorised NumPy versions

def _lower_indices(d):
    """(rows, columns) of the strictly lower triangle of a d x d matrix, column by column."""
    cols, rows = np.triu_indices(d, 1)
    return rows, cols


def _logsumexp_rows(a):
    mx = np.max(a, axis=-1, keepdims=True)
    return np.log(np.sum(np.exp(a - mx), axis=-1)) + mx[..., 0]


def gmm_objective_numpy(alphas, means, icf, x, wishart_gamma, wishart_m):
    """`gmm_objective` with array operations (memory n * K * d)."""
    n, d = x.shape
    k_count = alphas.shape[0]
    log_q = icf[:, :d]
    sum_qs = np.sum(log_q, axis=1)
    qs = np.zeros((k_count, d, d))
    qs[:, np.arange(d), np.arange(d)] = np.exp(log_q)
    rows, cols = _lower_indices(d)
    qs[:, rows, cols] = icf[:, d:]
    xc = x[:, None, :] - means[None, :, :]  # (n, K, d)
    qxc = np.einsum("kab,nkb->nka", qs, xc)
    main_terms = alphas + sum_qs - 0.5 * np.sum(qxc * qxc, axis=2)
    slse = np.sum(_logsumexp_rows(main_terms))
    constant = -n * d * 0.5 * LOG_2PI
    frobenius = np.sum(np.exp(log_q) ** 2, axis=1) + np.sum(icf[:, d:] ** 2, axis=1)
    nn = d + wishart_m + 1
    prior = np.sum(0.5 * wishart_gamma ** 2 * frobenius - wishart_m * sum_qs) \
        - k_count * (nn * d * (math.log(wishart_gamma) - 0.5 * LOG_2) - log_multigamma_half(nn, d))
    return constant + slse - n * _logsumexp_rows(alphas) + prior


def lstm_objective_numpy(main_params, extra_params, state, sequence):
    """`lstm_objective` with the state held as a list of rows instead of element writes."""
    c, b = sequence.shape
    hidden = [state[i] for i in range(0, state.shape[0], 2)]
    cell = [state[i] for i in range(1, state.shape[0], 2)]
    total = 0.0
    for t in range(c - 1):
        x = sequence[t] * extra_params[0]
        for layer in range(len(hidden)):
            weight, bias = main_params[2 * layer], main_params[2 * layer + 1]
            gates = np.concatenate((x, hidden[layer], x, hidden[layer])) * weight + bias
            forget, ingate, outgate = (1.0 / (1.0 + np.exp(-gates[:3 * b]))).reshape(3, b)
            cell[layer] = cell[layer] * forget + ingate * np.tanh(gates[3 * b:])
            hidden[layer] = outgate * np.tanh(cell[layer])
            x = hidden[layer]
        ypred = x * extra_params[1] + extra_params[2]
        total += np.sum(sequence[t + 1] * (ypred - np.log(np.sum(np.exp(ypred)) + 2.0)))
    return -total / ((c - 1) * b)


# ------------------------------------------------------------------------------ hand tracking

def read_hand(model_dir, path, complicated=False):
    """ADBench's hand model and instance: (theta (26,), us (npts, 2) or None, model, correspondences
    (npts,), points (npts, 3)), the model a dict of `parents` (B,), `base_relatives` and
    `inverse_base_absolutes` (B, 4, 4), `base_positions` (V, 4, homogeneous), `weights` (V, B) and
    `triangles` (T, 3), as ADBench's Python reader (tools/python_common/hand_io.py) reads them; a
    complicated instance also holds `us`, the points' barycentric coordinates in their triangles."""
    model_dir = Path(model_dir)
    bones = [line.split(":") for line in (model_dir / "bones.txt").read_text().splitlines() if line.strip()]
    matrices = np.array([[float(v) for v in bone[2:34]] for bone in bones]).reshape(len(bones), 2, 4, 4)
    vertices = [line.split(":") for line in (model_dir / "vertices.txt").read_text().splitlines() if line.strip()]
    base_positions = np.ones((len(vertices), 4))
    weights = np.zeros((len(vertices), len(bones)))
    for i, fields in enumerate(vertices):
        base_positions[i, :3] = [float(v) for v in fields[:3]]
        for j in range(int(fields[8])):
            weights[i, int(fields[9 + 2 * j])] = float(fields[10 + 2 * j])
    model = {"parents": np.array([int(bone[1]) for bone in bones]), "base_relatives": matrices[:, 0],
             "inverse_base_absolutes": matrices[:, 1], "base_positions": base_positions, "weights": weights,
             "triangles": np.loadtxt(model_dir / "triangles.txt", dtype=np.int64, delimiter=":")}
    rows = _rows(path)
    npts, ntheta = int(rows[0][0]), int(rows[0][1])
    correspondences = np.array([int(r[0]) for r in rows[1:1 + npts]])
    points = np.array([r[1:4] for r in rows[1:1 + npts]], dtype=np.float64)
    us = np.array(rows[1 + npts:1 + 2 * npts], dtype=np.float64) if complicated else None
    theta = np.array([r[0] for r in rows[1 + (2 if complicated else 1) * npts:]], dtype=np.float64)
    if theta.shape != (ntheta,) or points.shape != (npts, 3) or (complicated and us.shape != (npts, 2)):
        raise ValueError(f"{path}: not a hand instance of {npts} points and {ntheta} parameters")
    return theta, us, model, correspondences, points


def pose_parameters(theta, bone_count):
    """ADBench's pose (bone_count + 3, 3): the global rotation (angle-axis), scale 1 and
    translation, then per bone its Euler angles: 4 bones per finger after the wrist, the first of
    each finger's three posed bones with two angles, the others with one."""
    pose = np.zeros((bone_count + 3, 3))
    pose[0] = theta[0:3]
    pose[1] = np.ones(3)
    pose[2] = theta[3:6]
    at = 6
    row = 5
    for finger in range(5):
        for joint in range(3):
            pose[row, 0] = theta[at]
            at = at + 1
            if joint == 0:
                pose[row, 1] = theta[at]
                at = at + 1
            row = row + 1
        row = row + 1
    return pose


def euler_rotation(xzy):
    """The rotation Rz Ry Rx of the angles (x, z, y), as a homogeneous 4 x 4 matrix."""
    cx, sx = np.cos(xzy[0]), np.sin(xzy[0])
    cy, sy = np.cos(xzy[2]), np.sin(xzy[2])
    cz, sz = np.cos(xzy[1]), np.sin(xzy[1])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    ry = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    out = np.eye(4)
    out[:3, :3] = rz @ ry @ rx
    return out


def angle_axis_rotation(angle_axis):
    """Rodrigues' rotation matrix (3, 3) of an angle-axis vector; the identity below angle 1e-4."""
    angle = np.sqrt(np.sum(angle_axis * angle_axis))
    if angle < 1e-4:
        return np.eye(3)
    x = angle_axis[0] / angle
    y = angle_axis[1] / angle
    z = angle_axis[2] / angle
    s, c = np.sin(angle), np.cos(angle)
    return np.array([[x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
                     [x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s],
                     [x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c]])


def skinned_positions(theta, parents, base_relatives, inverse_base_absolutes, base_positions, weights):
    """The model's vertices (V, 3) posed by theta: each bone's absolute transform the product of
    its ancestors' posed relatives, the vertices blended by their skinning weights, then rotated,
    scaled and moved by the global pose."""
    pose = pose_parameters(theta, parents.shape[0])
    absolutes = []
    for i in range(parents.shape[0]):
        relative = base_relatives[i] @ euler_rotation(pose[i + 3])
        if parents[i] == -1:
            absolutes.append(relative)
        else:
            absolutes.append(absolutes[parents[i]] @ relative)
    transforms = np.stack(absolutes) @ inverse_base_absolutes
    moved = transforms[:, :3, :] @ base_positions.T  # (B, 3, V)
    blended = np.sum(moved * weights.T[:, None, :], axis=0).T
    rotation = angle_axis_rotation(pose[0]) * pose[1]
    return blended @ rotation.T + pose[2]


def hand_objective(theta, parents, base_relatives, inverse_base_absolutes, base_positions, weights,
                   correspondences, points):
    """ADBench's hand objective (npts, 3): each point minus its corresponding posed vertex."""
    vertices = skinned_positions(theta, parents, base_relatives, inverse_base_absolutes, base_positions, weights)
    return points - vertices[correspondences]


def hand_objective_complicated(theta, us, parents, base_relatives, inverse_base_absolutes, base_positions,
                               weights, triangles, correspondences, points):
    """ADBench's complicated hand objective (npts, 3): each point minus the point of barycentric
    coordinates (u0, u1, 1 - u0 - u1) in its corresponding triangle of the posed vertices."""
    vertices = skinned_positions(theta, parents, base_relatives, inverse_base_absolutes, base_positions, weights)
    corners = vertices[triangles[correspondences]]  # (npts, 3 corners, 3)
    u0 = us[:, 0:1]
    u1 = us[:, 1:2]
    return points - (u0 * corners[:, 0] + u1 * corners[:, 1] + (1.0 - u0 - u1) * corners[:, 2])


def hand_instance(model_dir, path, complicated=False):
    """(the objective, its arguments) of ADBench's hand input at `path` (`read_hand`); the model's
    `parents` are argument 1, after theta (simple) or 2, after theta and us (complicated)."""
    theta, us, model, correspondences, points = read_hand(model_dir, path, complicated)
    arrays = (model["parents"], model["base_relatives"], model["inverse_base_absolutes"], model["base_positions"],
              model["weights"])
    if complicated:
        return hand_objective_complicated, (theta, us, *arrays, model["triangles"], correspondences, points)
    return hand_objective, (theta, *arrays, correspondences, points)


def hand_jacobian_order(d_theta, d_us=None):
    """ADBench's hand Jacobian (3 npts, columns) from `jacobian`'s (npts, 3, 26) and, complicated,
    (npts, 3, npts, 2): a point's two barycentric columns (its block of the us part, which is block
    diagonal), then theta's columns."""
    npts = d_theta.shape[0]
    theta_part = d_theta.reshape(3 * npts, -1)
    if d_us is None:
        return theta_part
    us_part = d_us[np.arange(npts), :, np.arange(npts), :].reshape(3 * npts, 2)
    return np.concatenate([us_part, theta_part], axis=1)


# ------------------------------------------------------------------------- gradient orders

def gmm_gradient_order(d_alphas, d_means, d_icf):
    """ADBench's flat GMM gradient: [alphas, means (row-major), icf (row-major)]."""
    return np.concatenate([np.ravel(d_alphas), np.ravel(d_means), np.ravel(d_icf)])


def lstm_gradient_order(d_main, d_extra):
    """ADBench's flat LSTM gradient: [main_params (row-major), extra_params (row-major)]."""
    return np.concatenate([np.ravel(d_main), np.ravel(d_extra)])
