"""Helpers in a module of their own, called by the programs of test_functions.py as `H.name(...)`
and `from functions_helpers import name`: their globals are read from this module."""
import numpy as np

SCALE = 2.0


def scaled_tanh(x):
    """Reads SCALE, a global of this module (not of the caller's)."""
    return SCALE * np.tanh(x)


def apply_twice(f, x):
    """A higher-order helper: `f` may be a lambda or a nested function of the caller."""
    return f(f(x))


def shifted(x):
    return x + 1.0
