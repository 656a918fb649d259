"""Test set-up: generated modules and Numba's cache go to one temporary folder per test session."""
import os
import tempfile

os.environ.setdefault("ADCOMPILER_CACHE_DIR", tempfile.mkdtemp(prefix="adcompiler-tests-"))
