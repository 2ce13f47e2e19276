"""`infermem` command line: parse arguments, call the library, print.

Each subcommand is one module in this package exposing
`add_parser(subparsers)`; the parser it adds sets `func(args) -> int`.
Modules are discovered, so a new command is one new file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import InfermemError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infermem",
        description="Profile, plan and shrink the memory of ML inference on small devices.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InfermemError as e:
        print(f"infermem: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("infermem: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
