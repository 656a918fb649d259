"""The lecture notes' tiny network (002, "Illustration of Backpropagation"), by adcompiler: 2 inputs,
2 sigmoid hidden neurons, 1 sigmoid output and binary cross-entropy, with the notes' inputs and
weights. Prints every forward value and gradient next to the notes' hand-computed figure, then takes
one step of gradient descent and shows that the loss goes down.

The notes round to three decimals and carry one rounding slip forward: y_hat = 0.795493 is printed
0.796, so the loss, delta_out, delta_j and dL/dv_2j come out one unit off in the last place.

Run: python examples/tiny_network.py [--lr 1.0] [--no-jit]
"""
import argparse
import sys

import numpy as np

import adcompiler
from adcompiler import nn

# The notes' setup. One example a row; V[i, j] = v_ij joins input i to hidden neuron j, and
# W[j, 0] = w_j joins hidden neuron j to the output.
X = np.array([[0.5, 1.0]])                # x1, x2
Y = np.array([[1.0]])                     # the true label
V = np.array([[0.5, 0.5], [0.5, 0.5]])    # v11 v12 / v21 v22
W = np.array([[1.0], [1.0]])              # w1 / w2

# The notes' figures: (name, value printed in the notes, correctly rounded value where they differ).
NOTES = [
    ("z1 = z2", 0.75, None),
    ("h1 = h2", 0.679, None),
    ("z_out", 1.358, None),
    ("y_hat", 0.796, 0.795),
    ("L", 0.228, 0.229),
    ("delta_out = dL/dz_out", -0.204, -0.205),
    ("dL/dw1 = dL/dw2", -0.139, None),
    ("sigma'(z1) = sigma'(z2)", 0.218, None),
    ("delta_j = dL/dz_j", -0.044, -0.045),
    ("dL/dv11 = dL/dv12", -0.022, None),
    ("dL/dv21 = dL/dv22", -0.044, -0.045),
]


def output_loss(z_out, y):
    """The loss as a function of the output neuron's weighted sum."""
    return nn.binary_cross_entropy(nn.sigmoid(z_out), y)


def hidden_loss(z, W, y):
    """The loss as a function of the hidden neurons' weighted sums z = (z1, z2)."""
    return output_loss(nn.sigmoid(z) @ W, y)


def loss(V, W, x, y):
    """Binary cross-entropy of the 2-2-1 sigmoid network (no biases, as in the notes)."""
    return hidden_loss(x @ V, W, y)


def backprop(V, W, x, y, jit=True):
    """Every quantity of the notes' Steps 1-6, as named in NOTES, plus the gradients dV and dW.
    Each delta is adcompiler's gradient of the loss with respect to that node."""
    z = x @ V
    h = nn.sigmoid(z)
    z_out = h @ W
    L, (dV, dW) = adcompiler.value_and_grad(loss, wrt=("V", "W"), jit=jit)(V, W, x, y)
    _, delta_out = adcompiler.value_and_grad(output_loss, wrt="z_out", jit=jit)(z_out, y)
    delta = adcompiler.grad(hidden_loss, wrt="z", jit=jit)(z, W, y)
    _, pullback = adcompiler.vjp(nn.sigmoid, jit=jit)(z)
    slope = pullback(np.ones_like(z))  # sigmoid acts elementwise: its vjp with ones is sigma'(z)
    values = [z[0, 0], h[0, 0], z_out[0, 0], nn.sigmoid(z_out)[0, 0], L, delta_out[0, 0], dW[0, 0],
              slope[0, 0], delta[0, 0], dV[0, 0], dV[1, 0]]
    result = {name: float(value) for (name, _, _), value in zip(NOTES, values)}
    result.update(dV=dV, dW=dW, z=z, h=h, delta=delta)
    return result


def gradient_descent_step(V, W, dV, dW, lr):
    return V - lr * dV, W - lr * dW


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate of the gradient-descent step")
    parser.add_argument("--no-jit", action="store_true", help="run the generated code as plain NumPy")
    options = parser.parse_args(argv)
    jit = not options.no_jit

    print("2-2-1 sigmoid network, binary cross-entropy; x = (0.5, 1.0), y = 1, all v_ij = 0.5, w_j = 1.0\n")
    result = backprop(V, W, X, Y, jit)
    print(f"{'quantity':<26}{'notes':>8}{'adcompiler':>13}")
    for name, note, correct in NOTES:
        value = result[name]
        remark = "" if correct is None else f"  rounds to {correct}: the notes carry y_hat = 0.796 forward"
        if name == "y_hat":
            remark = f"  rounds to {correct} (0.79549 rounded twice gives 0.796)"
        print(f"{name:<26}{note:>8}{value:>13.6f}{remark}")
    print(f"\ndL/dV = {result['dV'].tolist()}   (V[i, j] = v_ij)\ndL/dW = {result['dW'].ravel().tolist()}")

    V_new, W_new = gradient_descent_step(V, W, result["dV"], result["dW"], options.lr)
    after = adcompiler.value_and_grad(loss, wrt=("V", "W"), jit=jit)(V_new, W_new, X, Y)[0]
    print(f"\none gradient-descent step with learning rate {options.lr}: every weight grows "
          f"(all gradients are negative)")
    print(f"V = {V_new.round(6).tolist()}, W = {W_new.ravel().round(6).tolist()}")
    print(f"loss before {result['L']:.6f}, after {after:.6f} ({after - result['L']:+.6f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
