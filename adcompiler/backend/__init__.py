"""From IR to running code: emit (Python source, in-place updates where safe), compile (cached
module, Numba or plain), runtime (NumPy helpers) and runtime_numba (their Numba twins, imported
only to compile for Numba)."""
