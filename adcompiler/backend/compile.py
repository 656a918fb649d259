"""Compilation: generated source is written to a file in the cache folder and imported from there.

The file's name holds a hash of its source, and the source names the adcompiler, NumPy and Numba
versions, so a change to the user's function, to a constant it reads or to a library version makes a
new file; an unchanged one is reused, and with it Numba's on-disk cache (`cache=True`, kept in the
`__pycache__` folder beside the file): a second process does not compile again.
"""
from __future__ import annotations

import contextlib
import dis
import functools
import hashlib
import importlib
import importlib.util
import inspect
import os
import pickle
import re
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

import numpy as np

from . import runtime

CACHE_ENVIRONMENT_VARIABLE = "ADCOMPILER_CACHE_DIR"


def cache_dir() -> Path:
    """`$ADCOMPILER_CACHE_DIR`, or `~/.cache/adcompiler`."""
    configured = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "adcompiler"


def module_path(source: str, stem: str) -> Path:
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return cache_dir() / f"{stem}_{digest}.py"


def _package_digest() -> str:
    """A hash of adcompiler's own source: generated files (and Numba's cache of them, which holds the
    compiled runtime helpers) change with it, so an edited adcompiler never runs stale machine code."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parents[1].rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


PACKAGE_DIGEST = _package_digest()


@functools.lru_cache(maxsize=None)
def numba_version() -> str:
    """Numba's version, read without importing Numba: from the name of its metadata folder beside
    the package (a glob; `importlib.metadata` scans every entry of sys.path, 9 ms), else from
    `importlib.metadata`."""
    spec = importlib.util.find_spec("numba")
    if spec is not None and spec.origin:
        found = sorted(Path(spec.origin).parents[1].glob("numba-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len("numba-"):-len(".dist-info")]
    from importlib import metadata
    return metadata.version("numba")


def has_kernels(source: str) -> bool:
    """Whether generated `source` defines a Numba kernel (a function decorated `@jit`)."""
    return "\n@jit\n" in source


def kernels_cached(source: str, stem: str) -> bool:
    """Whether Numba's disk cache beside the module of `source` holds an index for each of its kernels
    (then compiling them loads machine code; an index Numba finds stale is compiled afresh)."""
    kernels = re.findall(r"^@jit\ndef (\w+)\(", source, re.MULTILINE)
    module, suffix = module_path(source, stem).stem, f".py{sys.version_info.major}{sys.version_info.minor}.nbi"
    try:
        names = os.listdir(cache_dir() / "__pycache__")  # once: the folder holds every function's entries
    except FileNotFoundError:
        return False
    # an index is named <module>.<kernel>-<line>.py311.nbi
    indexed = {name[len(module) + 1:].rsplit("-", 1)[0] for name in names
               if name.startswith(f"{module}.") and name.endswith(suffix)}
    return bool(kernels) and indexed.issuperset(kernels)


def compile_module(source: str, stem: str, jit: bool) -> ModuleType:
    """Import `source` from its cache file. Its plain Python calls the runtime helpers as `rt`; its
    kernels (`@jit` functions) call them as `krt`. With `jit`, `@jit` is numba.njit(cache=True, nogil=True) and
    `krt` the compiled helpers (`compiled_runtime`); Numba is imported only for a source that has
    kernels. Without, `@jit` is the identity and `krt` is `rt`: the same code runs as plain Python."""
    kernels = jit and has_kernels(source)
    return _load(source, stem, kernels, rt=runtime, krt=compiled_runtime() if kernels else runtime)


@functools.lru_cache(maxsize=None)
def compiled_runtime() -> ModuleType:
    """The runtime's helpers as njit(cache=True) functions of a module in the cache folder: a helper
    is compiled once per signature and kept on disk for every function and process that calls it
    (with the Numba twins of runtime_numba.py); those of vector math (`vector_exp`, vmath.py) are
    inlined into their callers. A helper becomes a Numba dispatcher when it is first read (the
    module's `__getattr__`, which registers the twins first): a process whose kernels all come from
    Numba's disk cache, their helpers compiled into them, makes none (81 cost 7 ms)."""
    names = runtime.HELPERS + tuple(f"vector_{name}" for name in runtime.VECTOR_MATH)
    lines = [f"# adcompiler ({PACKAGE_DIGEST}) runtime helpers, compiled and cached by Numba "
             f"{numba_version()} for NumPy {np.__version__}.", "import numba", "from adcompiler.backend import runtime",
             "jit_inlined = numba.njit(cache=True, forceinline=True)",
             "ELEMENT_LOOPS = True  # compiled kernels run fused chains as loops over their elements (fuse.py)",
             "ARRAY_LOOPS = True  # and elementwise ops of N-D arrays as loops (fuse.looped)",
             "# element loops outside loops run on threads; in them sin and cos are branch-free (vmath.py)",
             "from adcompiler.backend.vmath import beyond_reduced, cos_reduced as element_cos, sin_reduced as element_sin",
             "prange = numba.prange"]
    for name in names:
        params = ", ".join(inspect.signature(getattr(runtime, name)).parameters)
        lines += ["", "", f"def {name}({params}):", f"    return runtime.{name}({params})"]
    lines += ["", "", f"PLAIN = {{name: globals().pop(name) for name in {names!r}}}", "", "",
              "def __getattr__(name):",
              "    if name not in PLAIN:",
              "        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')",
              "    import adcompiler.backend.runtime_numba  # the twins, registered before a helper compiles",
              "    # vector math is inlined into the kernel's loop (forceinline), which LLVM can then vectorise",
              "    made = (jit_inlined if name.startswith('vector_') else jit)(PLAIN[name])",
              "    return globals().setdefault(name, made)  # the first made, where two threads made one"]
    return _load("\n".join(lines) + "\n", "runtime", True, rt=None, krt=None)


def _load(source: str, stem: str, jit: bool, rt, krt) -> ModuleType:
    path = module_path(source, stem)
    if not path.exists() or path.read_text() != source:
        write_atomically(path, source.encode())  # concurrent writers of one source agree
    name = path.stem + ("" if jit else "_python")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.jit = _numba_jit() if jit else _identity
    module.rt, module.krt = rt, krt
    sys.modules[name] = module  # Numba's cache re-imports a function's module by name
    spec.loader.exec_module(module)
    return module


def write_atomically(path: Path, data: bytes) -> None:
    """`data` written to `path` (its folder made) through a temporary file and `os.replace`: a
    reader sees all of it or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def _numba_jit():
    """numba.njit(cache=True, nogil=True): Numba is imported here, when the first module with
    kernels is loaded, not with adcompiler; the runtime's Numba twins are registered before the
    first compilation (`_register_twins`), not for machine code read from Numba's cache. A kernel
    holds no Python objects, so it releases the GIL: kernels run by threads (data parallelism, a
    background compilation's measurements) overlap. A kernel with element loops (fuse.py) divides as NumPy
    does; one whose loops are `krt.prange`d is compiled parallel=True and runs on fuse.threads()
    threads (`_on_threads`)."""
    import numba

    serial = numba.njit(cache=True, nogil=True)
    # Kernels divide floats as NumPy does (inf, no ZeroDivisionError: what the plain version's NumPy
    # numbers and arrays give), which also drops the check of each division that keeps LLVM from
    # vectorising a loop; but Numba's NumPy error model makes an integer `//` or `%` by zero 0, where
    # Python raises: a kernel with one (and no element loops) keeps Python's error model.
    elementwise = numba.njit(cache=True, nogil=True, error_model="numpy")

    def jit(function):
        names = function.__code__.co_names
        if "prange" in names:
            return _on_threads(function, elementwise)
        python_errors = "ELEMENT_LOOPS" not in names and _floor_divides(function)
        return _loading_cached_code_only((serial if python_errors else elementwise)(function))
    return jit


def _operator_codes(*functions) -> frozenset:
    """The (opcode, argument) pairs of the binary operators in `functions`' bytecode."""
    return frozenset((i.opcode, i.arg or 0) for f in functions for i in dis.get_instructions(f)
                     if i.opname.startswith(("BINARY", "INPLACE")))


def _floor_division(a, b):
    a //= b
    a %= b
    return a // b % b


_FLOOR_DIVISIONS = _operator_codes(_floor_division)


def _floor_divides(function) -> bool:
    """Whether `function`'s code has an operator `//` or `%` (or calls `divmod`): its bytecode's
    pairs read as they are (each kernel is checked when its module loads, from the cache too:
    dis's instructions cost 4 ms a kernel of ADBench GMM, these pairs 0.1 ms)."""
    code = function.__code__.co_code
    return "divmod" in function.__code__.co_names or any(
        pair in _FLOOR_DIVISIONS for pair in zip(code[::2], code[1::2]))


def _loading_cached_code_only(dispatcher):
    """`dispatcher`, reading Numba's disk cache without first refreshing Numba's target context.
    Numba refreshes it before every read of its cache (`Cache.load_overload`), which imports the
    implementations of everything it can compile (0.1 s in a new process) that machine code read
    from the cache does not call; that code needs Numba's runtime (NRT) and the symbols of the hash
    secret, set up here, and the environments it names (`_CachedCodeUnpickler`). A miss compiles,
    and compiling refreshes the context as ever (Numba's `CompilerBase`). A Numba without these
    internals reads its cache its own way."""
    cache = getattr(dispatcher, "_cache", None)
    cache_file = getattr(cache, "_cache_file", None)
    if not (all(hasattr(cache, name) for name in ("_load_overload", "_guard_against_spurious_io_errors"))
            and all(hasattr(cache_file, name) for name in ("_load_data", "_data_path"))):
        _register_twins()  # this dispatcher may compile without asking
        return dispatcher

    def load_overload(signature, target_context):
        _add_hash_secret()
        _initialize_runtime(target_context)
        with cache._guard_against_spurious_io_errors(), _machine_code_without_bitcode(target_context.codegen()):
            loaded = cache._load_overload(signature, target_context)
            if loaded is not None:
                return loaded
        _register_twins()  # a miss: Numba compiles next
        return None

    def load_data(name):
        with open(cache_file._data_path(name), "rb") as file:
            return _CachedCodeUnpickler(file).load()

    def save_overload(signature, compiled):
        numba_save(signature, compiled)
        try:
            _serialized_keeping_symbols(compiled.library)  # as Numba has just kept it
        except Exception:  # noqa: BLE001 - another Numba's library: its next reader parses the bitcode
            pass

    numba_save = cache.save_overload
    cache.load_overload, cache.save_overload, cache_file._load_data = load_overload, save_overload, load_data
    return dispatcher


_READING_CACHE = threading.local()  # .active: this thread is in `_machine_code_without_bitcode`


@contextlib.contextmanager
def _machine_code_without_bitcode(codegen):
    """While this thread reads Numba's cache, a library kept as machine code is made without parsing
    the bitcode stored beside it (LLVM IR of the whole kernel, with every helper it calls: 30 ms for
    each of LSTM's kernels), which Numba parses for two things: the names of the symbols it defines,
    read here from a file of names kept beside it (`_defined_symbols`), and linking into another
    library that calls it, for which it is parsed when asked (`_BitcodeOnDemand`). Any other kind of
    library, or one whose names are not kept yet, is made by Numba's own code."""
    if not hasattr(type(codegen), "unserialize_library"):
        yield
        return
    if "unserialize_library" not in vars(codegen):  # once per codegen: an instance attribute over the method
        numba_unserialize = codegen.unserialize_library

        def unserialize_library(serialized):
            if getattr(_READING_CACHE, "active", False):
                library = _library_of_machine_code(codegen, serialized)
                if library is not None:
                    return library
                library = numba_unserialize(serialized)
                _keep_defined_symbols(serialized, getattr(library, "_shared_module", None))
                return library
            return numba_unserialize(serialized)
        codegen.unserialize_library = unserialize_library
    reading, _READING_CACHE.active = getattr(_READING_CACHE, "active", False), True
    try:
        yield
    finally:
        _READING_CACHE.active = reading  # a helper's code read while its caller's is


def _symbols_path(serialized) -> Path | None:
    """Where the names of the symbols a cached library (`(name, "object", (machine code, bitcode))`)
    defines are kept: named by a hash of its bitcode, which holds them."""
    name, kind, data = serialized
    if kind != "object" or not (isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], bytes)):
        return None
    return cache_dir() / "symbols" / f"{hashlib.sha256(data[1]).hexdigest()[:24]}.txt"


def _keep_defined_symbols(serialized, shared_module) -> None:
    """The names of the symbols that `shared_module`, the parsed bitcode of a library kept as machine
    code (`serialized`), defines (as Numba's `_load_defined_symbols` finds them), written for the
    next process that reads the library."""
    path = _symbols_path(serialized)
    if path is None or shared_module is None or path.exists():
        return
    names = sorted({symbol.name for symbols in (shared_module.functions, shared_module.global_variables)
                    for symbol in symbols if not symbol.is_declaration})
    try:
        write_atomically(path, "\n".join(names).encode())
    except OSError:  # a read-only cache folder: parsed at every start, as by Numba
        pass


def _serialized_keeping_symbols(library):
    """`library.serialize_using_object_code()`, the names of its symbols kept."""
    serialized = library.serialize_using_object_code()
    _keep_defined_symbols(serialized, library._get_module_for_linking())
    return serialized


def _library_of_machine_code(codegen, serialized):
    """Numba's `CPUCodeLibrary._unserialize` of machine code, the symbols' names read from their file
    instead of parsing the bitcode; None where the file is missing."""
    path = _symbols_path(serialized)
    try:
        names = path.read_text().split("\n") if path is not None else None
    except OSError:
        names = None
    if not names or not hasattr(getattr(codegen, "_engine", None), "_defined_symbols"):
        return None
    name, _, (machine_code, bitcode) = serialized
    library = codegen.create_library(name)
    library.__class__ = _bitcode_on_demand(type(library))
    library.enable_object_caching()
    library._set_compiled_object(machine_code)
    library._bitcode = bitcode
    library._finalize_final_module()
    codegen._engine._defined_symbols |= set(names)
    return library


@functools.lru_cache(maxsize=None)
def _bitcode_on_demand(library_class):
    """`library_class` whose module for linking (`_get_module_for_linking`) is parsed from the kept
    bitcode the first time another library links it."""
    class _BitcodeOnDemand(library_class):
        def _get_module_for_linking(self):
            if self._shared_module is None:
                import llvmlite.binding as ll
                self._shared_module = ll.parse_bitcode(self._bitcode)
            return self._shared_module
    return _BitcodeOnDemand


_HASH_SECRET: list = []  # the numbers behind the symbols `_add_hash_secret` added (machine code reads them)


def _add_hash_secret():
    """The symbols of Python's hash secret that Numba's machine code reads (`_numba_hashsecret_*`),
    added as numba.cpython.hashing adds them when it is imported, which imports
    numba.cpython.randomimpl (16 ms): the secret's first 24 bytes are SipHash's k0 and k1 and the
    suffix of DJBX33A. Numba's own, added again if it is imported later, hold the same numbers."""
    if _HASH_SECRET or "numba.cpython.hashing" in sys.modules:
        return
    import ctypes

    import llvmlite.binding as ll
    secret = (ctypes.c_uint64 * 3).in_dll(ctypes.pythonapi, "_Py_HashSecret")
    for name, value in zip(("siphash_k0", "siphash_k1", "djbx33a_suffix"), secret):
        _HASH_SECRET.append(ctypes.c_uint64(value))
        ll.add_symbol(f"_numba_hashsecret_{name}", ctypes.addressof(_HASH_SECRET[-1]))


def _initialize_runtime(target_context):
    """Numba's runtime (NRT) set up by `rtsys.initialize`, its library of a few functions read from
    the cache folder (`_runtime_library`) rather than compiled, as Numba does at every start (15 ms)."""
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.runtime import nrtdynmod, rtsys
    with global_compiler_lock:  # re-entrant: rtsys.initialize takes it too
        compile_functions, nrtdynmod.compile_nrt_functions = nrtdynmod.compile_nrt_functions, _runtime_library
        try:
            rtsys.initialize(target_context)
        finally:
            nrtdynmod.compile_nrt_functions = compile_functions


def _runtime_library(target_context):
    """What `nrtdynmod.compile_nrt_functions` makes, kept as Numba keeps a kernel (its object code
    and bitcode) in `<cache>/nrt_<digest>.pickle`, named by what decides that code: Numba's version,
    the machine (the codegen's `magic_tuple`, as Numba's own cache index) and NRT's debug settings.
    An entry that cannot be read is compiled again."""
    from numba.core import config
    from numba.core.runtime import nrtdynmod
    codegen = target_context.codegen()
    settings = repr((numba_version(), codegen.magic_tuple(), config.DEBUG_NRT, config.DEBUG_NRT_STACK_LIMIT))
    path = cache_dir() / f"nrt_{hashlib.sha256(settings.encode()).hexdigest()[:16]}.pickle"
    try:
        with open(path, "rb") as file, _machine_code_without_bitcode(codegen):
            return codegen.unserialize_library(pickle.load(file))
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: compiled below
        pass
    module, library = nrtdynmod.create_nrt_module(target_context)
    library.enable_object_caching()
    library.add_ir_module(module)
    library.finalize()
    try:
        write_atomically(path, pickle.dumps(_serialized_keeping_symbols(library)))
    except OSError:  # a read-only cache folder: compiled at every start, as by Numba
        pass
    return library


def _register_twins():
    """Imports runtime_numba, whose overloads are the runtime's Numba twins (8 ms): before anything
    compiles for Numba, which is when a dispatcher misses its cache (`_loading_cached_code_only`)
    or a helper is first read (`compiled_runtime`)."""
    importlib.import_module(f"{__package__}.runtime_numba")


class _CachedCodeUnpickler(pickle.Unpickler):
    """Numba's unpickling of a cache entry, but an environment (`numba.core.environment`) of a module
    not imported yet does not import its module: machine code compiled in nopython mode reads only
    the constants of an environment (the dtypes of the arrays it makes), never its module's globals
    (object mode does). Library code names the environments of modules it was compiled from:
    importing numba.np.arraymath (np.sum, ...) imports scipy.linalg, 0.1 s; the runtime's twins
    (runtime_numba.py), 8 ms."""

    def find_class(self, module, name):
        if (module, name) == ("numba.core.environment", "_rebuild_env"):
            return _environment
        return super().find_class(module, name)


def _environment(module, constants, name):
    """The environment `name` of code compiled from `module`, as Numba's `_rebuild_env` makes it
    (kept in `Environment._memo`, where a later compilation of the same function finds it), with
    globals holding only `__name__` where `module` is not imported."""
    from numba.core.environment import Environment, _rebuild_env
    if module in sys.modules or name in Environment._memo:
        return _rebuild_env(module, constants, name)
    environment = Environment({"__name__": module})
    environment.consts[:] = constants
    environment.env_name = name
    Environment._memo[name] = environment
    return environment


_LAUNCH = threading.Lock()
_LAYER_THREADSAFE: list = []  # [True] once Numba's threading layer is known to take concurrent launches
_FORKED: list = []  # [True] in a child process: GNU OpenMP aborts a parallel launch after a fork


def _on_threads(function, serial):
    """`function` compiled parallel=True, called on fuse.threads() threads (Numba's setting is per
    calling thread). Launches wait for each other until the threading layer is known to be
    threadsafe (omp, tbb; workqueue is not); a forked child runs a serial compilation instead."""
    import numba

    from .fuse import threads
    parallel = _loading_cached_code_only(numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")(function))
    alone = []

    @functools.wraps(function)
    def on_threads(*args):
        if _FORKED:
            _register_twins()
            alone[:] = alone or [serial(function)]
            return alone[0](*args)
        numba.set_num_threads(min(threads(), numba.config.NUMBA_NUM_THREADS))
        if _LAYER_THREADSAFE:
            return parallel(*args)
        with _LAUNCH:
            result = parallel(*args)
            if numba.threading_layer() in ("omp", "tbb"):
                _LAYER_THREADSAFE.append(True)
        return result
    on_threads.py_func, on_threads.kernel = function, parallel
    return on_threads


os.register_at_fork(after_in_child=lambda: _FORKED.append(True))


def _identity(function):
    return function
