"""From IR to running code: emit (Python source, in-place updates where safe), compile (cached
module, Numba or plain), runtime (helpers with NumPy and Numba twins)."""
