"""The shared option vocabulary: every option that more than one subcommand
takes is defined here, once, with one meaning, one type and one help text.

`tests/test_cli_vocabulary.py` walks every subcommand's parser and checks that
an option of the same name is the same everywhere.  `--quiet` is added to
every subcommand by `cli.build_parser`.
"""

from __future__ import annotations

import argparse
import os
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
    """--input-shape (one input) and --dim (a symbolic dim by name, in every input)."""
    p.add_argument(
        "--input-shape",
        action="append",
        type=parse_input_shape,
        default=[],
        metavar="NAME=DxDxD",
        help="fix a dynamic input's shape (repeatable)",
    )
    p.add_argument("--dim", action="append", type=parse_dim_arg, default=[], metavar="NAME=N",
                   help="set a symbolic dim by name in every input that uses it, expressions "
                        "such as 'past_sequence_length + sequence_length' included "
                        "(repeatable; --input-shape wins for the input it names)")


def parse_dim_arg(text: str) -> tuple[str, int]:
    """'sequence_length=128' -> ('sequence_length', 128) (`dims.parse_dim`)."""
    from ..dims import parse_dim

    try:
        return parse_dim(text)
    except BadInput as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def apply_dims(args: argparse.Namespace) -> None:
    """`--dim`: turned into one --input-shape per input that uses the names
    (`cli.main` runs this before the command), so every model command takes
    it.  A command that varies a dim itself (--max-seq, --sweep) reads
    `args.dim` as it is."""
    dims = getattr(args, "dim", None)
    if not dims or getattr(args, "max_seq", None) or getattr(args, "sweep", None):
        return
    model = getattr(args, "model", None)
    target = getattr(args, "target", None)
    if model is None and target and Path(target[0]).is_file():
        model = target[0]
    if not model:
        raise BadInput("--dim sets a model's symbolic dims: give a MODEL")
    from ..dims import model_dims, resolve

    r = resolve(model_dims(model), dict(dims), dict(args.input_shape))
    if not (getattr(args, "json", False) or getattr(args, "max_batch", False)):
        print_shape_notes(r.notes)
    args.input_shape = list(r.shapes.items())


def parse_memory(text: str) -> int:
    """--max-memory SIZE -> bytes (512MiB, 2GB, 1073741824; powers of 1024)."""
    from ..sizes import parse_size

    try:
        n = parse_size(text, "value")
    except BadInput as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if n <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return n


def add_budget_arg(p: argparse.ArgumentParser) -> None:
    """--max-memory: the byte budget every allocation estimate is checked against
    (`cli.main` puts it in force before the command runs; see budget.py)."""
    p.add_argument("--max-memory", type=parse_memory, default=None, metavar="SIZE",
                   help="refuse (exit 2) any step estimated to need more memory than SIZE "
                        "(512MiB, 2GB, bytes; default: half the RAM available at start)")


def add_shape_args(p: argparse.ArgumentParser) -> None:
    """--input-shape, --max-memory and --align: what every model command shares."""
    add_input_shape_arg(p)
    add_budget_arg(p)
    add_align_arg(p)


def add_model_args(p: argparse.ArgumentParser, what: str = "model file (.onnx or .tflite)",
                   optional: bool = False) -> None:
    p.add_argument("model", nargs="?" if optional else None, help=what)
    add_shape_args(p)


def add_align_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--align", type=int, default=16, metavar="N",
                   help="arena alignment in bytes, a power of two (default 16, TFLM's)")


def add_json_arg(p: argparse.ArgumentParser) -> None:
    """`--json`: the result as JSON on stdout, for programs (tables otherwise)."""
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def add_output_arg(p: argparse.ArgumentParser, what: str, required: bool = False,
                   metavar: str = "PATH", aliases: tuple[str, ...] = ()) -> None:
    """`-o/--output`: the command's main output file (`what` it holds)."""
    p.add_argument("-o", "--output", *aliases, type=Path, required=required, metavar=metavar,
                   help=f"write {what} to this file")


def add_time_limit_arg(p: argparse.ArgumentParser, default: float = 10.0) -> None:
    p.add_argument("--time-limit", type=float, default=default, metavar="S",
                   help="time limit for each plan or order search, seconds (default %(default)g)")


def add_quiet_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing but errors (and the JSON asked for with --json)")


class _Strategies:
    """The registered planner strategies, read when first needed, so that
    building the parser (and `infermem --help`) does not import the planners."""

    def _names(self) -> list[str]:
        from ..planners import STRATEGIES

        return sorted(STRATEGIES)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def add_strategy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", default="best", choices=_Strategies(), metavar="NAME",
                   help="planner strategy: %(choices)s (default: best)")


def add_reorder_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reorder", action="store_true",
                   help="plan on the memory-optimal operator order "
                        "(optimize also writes the operators in that order)")


def add_dmo_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dmo", action="store_true",
                   help="let outputs overlap inputs where proven safe "
                        "(diagonal memory optimisation)")


def add_fuse_arg(p: argparse.ArgumentParser) -> None:
    """`--fuse [RUNTIME]`: plan the graph as a fusing runtime runs it (fusion/)."""
    p.add_argument("--fuse", nargs="?", const="tvm", default=None, choices=("tvm", "ort"),
                   metavar="RUNTIME",
                   help="plan the ONNX graph as RUNTIME fuses it: tvm (the default: TVM's "
                        "FuseOps) or ort (onnxruntime's CPU fusions); fused intermediates "
                        "get no arena bytes, each group one chunk of scratch")


def add_inputs_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", type=Path, metavar="X.npz|DIR",
                   help="one input set of your own: an .npz with one array per graph input "
                        "(by name), or a folder of .npy files (NAME.npy or POSITION.npy); "
                        "a single-input model takes any one array")


def add_runs_arg(p: argparse.ArgumentParser, default: int | None,
                 what: str = "seeded random input sets to compare") -> None:
    """`--runs N`: how many times the model runs (`what` says as what)."""
    tail = "" if default is None else f" (default {default})"
    p.add_argument("--runs", type=int, default=default, metavar="N",
                   help=f"how many times the model runs: {what}{tail}")


def add_allow_constant_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-constant-outputs", action="store_true",
                   help="accept outputs that are the same for every input set (comparing "
                        "them proves nothing about the plan)")


def add_seed_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def add_timeout_arg(p: argparse.ArgumentParser, default: float | None = 120.0,
                    what: str = "a TFLM child process") -> None:
    """`--timeout S`: the child process (`what`) is stopped after S seconds."""
    tail = "no limit" if default is None else f"{default:g}"
    p.add_argument("--timeout", type=float, default=default, metavar="S",
                   help=f"stop {what} after S seconds (default: {tail})")


def add_device_arg(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--device", action="append", default=[], metavar="NAME",
                   help=f"a target device by name or alias (repeatable; default: {default})")


def add_device_file_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device-file", action="append", default=[], metavar="FILE",
                   help="a TOML file of your own targets, merged with the bundled ones "
                        "(repeatable)")


def add_no_measure_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-measure", dest="measure", action="store_false",
                   help="for .tflite: do not run TFLite Micro to measure its arena "
                        "(computed figures only)")


def add_arena_size_arg(p: argparse.ArgumentParser,
                       default: str = "grow until the model fits") -> None:
    p.add_argument("--arena-size", type=int, default=None, metavar="BYTES",
                   help=f"TFLM arena_size to run with, in bytes (default: {default})")


def add_plot_arg(p: argparse.ArgumentParser, what: str) -> None:
    """`--plot FILE`: an image of `what`; the extension picks the format."""
    p.add_argument("--plot", type=Path, metavar="IMAGE",
                   help=f"draw {what} to this image (.png, .svg or .pdf)")


def console(**kwargs):
    """The Console every command prints with.  On a terminal it fits the
    terminal; piped or redirected it never wraps (width of the content), so
    logs stay greppable: no "DEPTHWI/SE_CONV/_2D" breaks."""
    from rich.console import Console

    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console(**kwargs)
    return Console(width=100_000, soft_wrap=True, **kwargs)


def check_align(align: int, minimum: int = 1) -> None:
    """--align: a power of two of at least `minimum` (`api.check_alignment`)."""
    from ..api.model import check_alignment

    check_alignment(align, minimum)


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
    """The JSON fields that say how dynamic dims were resolved (`api.shape_fields`)."""
    from ..api.model import shape_fields

    return shape_fields(meta)


def add_whatif_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what-ifs (sizes recomputed; the model file is not changed)")
    g.add_argument("--weights-dtype", metavar="int8|fp16|fp32",
                   help="count weights in this dtype (conv/FC biases stay int32 under int8)")
    g.add_argument("--activations-dtype", metavar="int8|fp16|fp32",
                   help="count activations (arena tensors) in this dtype")
    g.add_argument("--prune", metavar="PCT",
                   help="zero the smallest-magnitude PCT (e.g. 50%%) of each weight tensor")


def add_patch_args(p: argparse.ArgumentParser) -> None:
    """--patch, --patch-until, --max-mac-overhead: patch-based inference (rewrite/)."""
    p.add_argument("--patch", nargs="?", const="auto", metavar="GRID|auto",
                   help="run the first stage patch by patch (grid RxC or N; 'auto', the "
                        "default, tries 2x2..6x6 at every stage end and keeps the smallest "
                        "arena)")
    p.add_argument("--patch-until", type=int, metavar="OP",
                   help="with --patch: end the patched stage after operator OP")
    p.add_argument("--max-mac-overhead", type=float, default=25.0, metavar="PCT",
                   help="with --patch: the most halo recomputation allowed (default 25%%)")


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
