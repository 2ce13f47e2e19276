"""`infermem` command line: parse arguments, call the library, print.

Each subcommand is one module in this package exposing
`add_parser(subparsers)`; the parser it adds sets `func(args) -> int`.
Modules are discovered, so a new command is one new file.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys

from .. import __version__
from ..errors import InfermemError
from ._common import add_quiet_arg, apply_dims


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infermem",
        description="Profile, plan and shrink the memory of ML inference on small devices.",
    )
    parser.add_argument("--version", action="version", version=f"infermem {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
    for p in leaf_parsers(parser):
        add_quiet_arg(p)
    return parser


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser that runs a command (`tflm measure`, not `tflm`), once each."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    seen: dict[int, argparse.ArgumentParser] = {}
    for action in subs:
        for child in action.choices.values():
            for leaf in leaf_parsers(child):
                seen.setdefault(id(leaf), leaf)
    return list(seen.values())


@contextlib.contextmanager
def _quiet(args: argparse.Namespace):
    """`--quiet`: stdout (unless it carries the JSON asked for) and stderr are
    silenced while the command runs; errors are printed after it, by `main`."""
    if not getattr(args, "quiet", False):
        yield
        return
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        if getattr(args, "json", None) is True:
            yield
        else:
            with contextlib.redirect_stdout(null):
                yield


# Options whose value is optional (`--fuse [RUNTIME]`, `--patch [GRID|auto]`): the
# value each takes when given alone.
OPTIONAL_VALUES = {"--fuse": "tvm", "--patch": "auto"}


def bare_options_first(argv: list[str]) -> list[str]:
    """`plan --fuse MODEL.onnx` means `--fuse` alone, then the model: argparse would
    take the model's path as the option's value.  A bare optional-value option
    followed by an existing file or a model's name gets its value spelled out."""
    out = list(argv)
    for k, tok in enumerate(out[:-1]):
        nxt = out[k + 1]
        if tok in OPTIONAL_VALUES and (os.path.isfile(nxt) or nxt.endswith((".onnx", ".tflite"))):
            out[k] = f"{tok}={OPTIONAL_VALUES[tok]}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(bare_options_first(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # argparse's own usage errors (2), --help and --version (0)
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from ..budget import set_budget

        set_budget(getattr(args, "max_memory", None))
        with _quiet(args):
            apply_dims(args)
            return int(args.func(args) or 0)
    except InfermemError as e:
        print(f"infermem: error: {e}", file=sys.stderr)
        return e.exit_code
    except MemoryError:  # past an estimate: --max-memory set above what the machine holds
        print("infermem: error: out of memory (the machine could not hold what --max-memory "
              "allowed; give a smaller --max-memory to be refused before the work starts)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("infermem: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
