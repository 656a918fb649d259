"""Test set-up: generated modules and Numba's cache go to one temporary folder per test session,
kernels are compiled before the first call;
the `rng` fixture seeds each test from its module's SEED and its own name."""
import os
import tempfile
import zlib

import numpy as np
import pytest

os.environ.setdefault("ADCOMPILER_CACHE_DIR", tempfile.mkdtemp(prefix="adcompiler-tests-"))
# jit=True tests run the Numba kernels from the first call (tests/test_placement.py sets "background").
os.environ.setdefault("ADCOMPILER_COMPILE", "sync")


@pytest.fixture
def rng(request):
    """A generator seeded with the test module's SEED and the test's name, so a test gets the same
    numbers whichever tests run."""
    return np.random.default_rng([getattr(request.module, "SEED", 0), zlib.crc32(request.node.name.encode())])
