"""Arguments and helpers several subcommands share."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import BadInput


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """'NAME=1x3x224x224' -> ('NAME', (1, 3, 224, 224))."""
    name, sep, dims = text.rpartition("=")
    if not sep or not name or not dims:
        raise argparse.ArgumentTypeError(f"expected NAME=1x3x224x224, got {text!r}")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad dimensions in {text!r}") from None
    if any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(f"dimensions must be positive in {text!r}")
    return name, shape


def add_input_shape_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input-shape",
        action="append",
        type=parse_input_shape,
        default=[],
        metavar="NAME=DxDxD",
        help="fix a dynamic input's shape (repeatable)",
    )


def add_shape_args(p: argparse.ArgumentParser) -> None:
    """--input-shape and --align: what every model command shares."""
    add_input_shape_arg(p)
    p.add_argument("--align", type=int, default=16, help="arena alignment in bytes (default 16)")


def add_model_args(p: argparse.ArgumentParser, what: str = "model file (.onnx or .tflite)") -> None:
    p.add_argument("model", help=what)
    add_shape_args(p)


def check_align(align: int, minimum: int = 1) -> None:
    """A power of two of at least `minimum` (TFLM aligns its arena at 16 bytes,
    so plans it runs may be coarser, never finer)."""
    if align <= 0 or align & (align - 1):
        raise BadInput(f"--align must be a positive power of two, got {align}")
    if align < minimum:
        raise BadInput(f"--align {align}: TFLM aligns arena buffers at {minimum} bytes; "
                       f"give {minimum} or a larger power of two")


def load_graph(args: argparse.Namespace, quiet: bool = False):
    """The model at its --input-shape; a note on stderr (unless `quiet` or
    --json) when dynamic dims took the stored shape."""
    from ..frontends import load

    check_align(args.align)
    graph = load(args.model, dict(args.input_shape))
    if not (quiet or getattr(args, "json", False)):
        print_shape_notes(graph.meta.get("shape_notes", ()))
    return graph


def print_shape_notes(notes) -> None:
    for note in notes:
        print(f"infermem: note: {note}", file=sys.stderr)


def shape_json(meta) -> dict:
    """The JSON fields that say how dynamic dims were resolved."""
    return {"shape_notes": list(meta.get("shape_notes", ())),
            "dynamic_dims_resolved": list(meta.get("dynamic_dims_resolved", ()))}


def add_force_arg(p: argparse.ArgumentParser) -> None:
    """`--force`, the same everywhere: replace an output file that exists (never an input)."""
    p.add_argument("--force", action="store_true",
                   help="replace output files that already exist (an input is never replaced)")


def check_outputs(inputs, force: bool, outputs: dict) -> None:
    """Apply the output-path guard (`outputs.check_output`) to every output a
    command was given ({"-o": path or None, ...}), before any work: each must be
    writable under the rules, and no two may name the same file."""
    from ..outputs import check_output, same_file

    given = [(opt, path) for opt, path in outputs.items() if path is not None]
    for k, (opt, path) in enumerate(given):
        check_output(path, inputs, force=force, what=opt)
        for other_opt, other in given[:k]:
            if same_file(Path(path), Path(other)):
                raise BadInput(f"{opt} {path} is the same file as {other_opt} {other}")
