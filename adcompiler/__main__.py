"""Command line: `python -m adcompiler show path/to/file.py:function [--args EXPR] [--wrt W]` and
`python -m adcompiler export path/to/file.py:function --args TYPES [--wrt W] [-o OUT.py]`.

`show` prints the SSA IR, the forward and backward IR and the generated Python of `function`'s
gradient. Its `--args` is a Python expression (with `np` available) giving example arguments, such
as "np.ones((3, 4)), 2.0"; without it every parameter is a float64 scalar.

`export` writes a standalone module (export.py: the forward, the backward and the runtime helpers
they use, importing only NumPy, and Numba when present) for the argument types `--args`, such as
"f64[3,4], f64[4], f32[]", to OUT.py (or prints it).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

from . import show
from .api import Transformed
from .export import export, parse_types
from .errors import CompileError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adcompiler", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show_command = commands.add_parser("show", help="print the IR and generated code of a function")
    show_command.add_argument("target", help="path/to/file.py:function")
    show_command.add_argument("--args", default="", help='example arguments, e.g. "np.ones(3), 2.0"')
    show_command.add_argument("--wrt", default="0", help="positions or names, comma-separated (default 0)")
    export_command = commands.add_parser("export", help="write a standalone module of a function's gradient")
    export_command.add_argument("target", help="path/to/file.py:function")
    export_command.add_argument("--args", required=True, help='argument types, e.g. "f64[3,4], f64[4], f32[]"')
    export_command.add_argument("--wrt", default="0", help="positions or names, comma-separated (default 0)")
    export_command.add_argument("-o", "--output", help="the module to write (default: print it)")
    options = parser.parse_args(argv)

    path, _, name = options.target.rpartition(":")
    if not path or not name:
        parser.error("the target must look like path/to/file.py:function")
    function = _load(Path(path), name, parser)
    wrt = tuple(int(w) if w.strip().isdigit() else w.strip() for w in options.wrt.split(","))
    wrt = wrt[0] if len(wrt) == 1 else wrt
    if options.command == "export":
        return _export(function, options, wrt, parser)
    args = eval(f"({options.args},)", {"np": np}) if options.args.strip() else ()
    try:
        # `@grad def f`: f's code for --wrt; a composition (`@grad @grad def f`): the outer transform's
        inner = function.function if isinstance(function, Transformed) else function
        show(function if isinstance(inner, Transformed) else inner, *args, wrt=wrt)
    except CompileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _export(function, options, wrt, parser) -> int:
    try:
        examples = parse_types(options.args)
    except ValueError as error:
        parser.error(f"--args: {error}")
    try:
        text = export(function, examples, wrt)
    except (CompileError, ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if options.output:
        Path(options.output).write_text(text)
    else:
        print(text)
    return 0


def _load(path: Path, name: str, parser):
    if not path.is_file():
        parser.error(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    if not hasattr(module, name):
        parser.error(f"{path} defines no {name!r}")
    return getattr(module, name)


if __name__ == "__main__":
    sys.exit(main())
