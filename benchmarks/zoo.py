"""Every command on every real-world corpus model, through the CLI as a user runs it.

    python benchmarks/zoo.py [--models yolov8n_det,resnet8_int8] [--markdown] [--timeout S]

For each file in tests/corpus/manifest.json (made by scripts/make_corpus.py)
it runs, each in a fresh `python -m infermem` process:

- every model: `profile`, `plan`, `plan --dmo`;
- `.tflite`: `tflm measure` (TFLM's own arena) and `optimize --dmo` (the DMO
  plan written as an offline plan, verified bit-identical in TFLM, measured);
- `.onnx`: `verify` and `verify --dmo` (the plan run in infermem's arena
  executor, every tensor compared with onnxruntime).

`--input-shape` is passed only where the manifest has `run_shapes`, i.e. where
the file's stored input shapes are symbolic (ONNX dim_param or dim_value -1);
a `.tflite` with batch -1 in its shape signature gets none, since TFLM and
LiteRT allocate its stored shape. No `--inputs`: verify draws its own (token
ids below the table they index, 0/1 masks).
A cell is `ok`, or `FAIL [n]` with the command's one-line error listed under
the table. Arena bytes: TFLM's own head (measured), infermem's best plan, the
DMO arena (for `.tflite` the head TFLM measures on the optimized file; for
`.onnx` the planned arena that `verify --dmo` runs) and the saving of the DMO
arena against TFLM's head (`.tflite`) or against the best plan without
overlap (`.onnx`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"
COMMANDS = ("profile", "plan", "plan --dmo", "tflm measure", "optimize --dmo", "verify",
            "verify --dmo")  # fmt: skip
TFLITE_ONLY = {"tflm measure", "optimize --dmo"}
ONNX_ONLY = {"verify", "verify --dmo"}
MAX_ERROR = 300  # characters of an error line shown under the table


@dataclass
class Result:
    """One command on one model: its JSON report, or its one-line error."""

    report: dict | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Row:
    model: str
    format: str
    results: dict[str, Result] = field(default_factory=dict)


def shape_args(entry: dict) -> list[str]:
    """--input-shape for the symbolic inputs only (as the manifest records them)."""
    args: list[str] = []
    for name, dims in (entry.get("run_shapes") or {}).items():
        args += ["--input-shape", f"{name}={'x'.join(str(d) for d in dims)}"]
    return args


def argv(command: str, path: Path, entry: dict, tmp: Path) -> list[str]:
    words = command.split()
    extra = ["-o", str(tmp / f"dmo_{path.name}")] if words[0] == "optimize" else []
    return [sys.executable, "-m", "infermem", *words, str(path), *extra, *shape_args(entry),
            "--json"]  # fmt: skip


def one_line(stderr: str, path: Path) -> str:
    """The CLI's error line, without its 'infermem: error: PATH:' prefix."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if not lines:
        return "no error message"
    line = lines[-1].removeprefix("infermem: error: ").removeprefix(f"{path}: ")
    if len(lines) > 1 and lines[0].startswith("Traceback"):
        line = f"traceback: {line}"
    return line if len(line) <= MAX_ERROR else line[:MAX_ERROR - 1] + "…"


def report_message(report: object) -> str | None:
    """The first 'message' in a failing command's JSON report (e.g. verify's divergence)."""
    if isinstance(report, dict):
        if isinstance(report.get("message"), str):
            return report["message"]
        report = list(report.values())
    if isinstance(report, list):
        return next((m for v in report if (m := report_message(v))), None)
    return None


def run(command: str, path: Path, entry: dict, tmp: Path, timeout: float) -> Result:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv(command, path, entry, tmp), capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return Result(error=f"timed out after {timeout:.0f} s", seconds=timeout)
    seconds = time.perf_counter() - t0
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = None
    if proc.returncode != 0:
        message = one_line(proc.stderr, path) if proc.stderr.strip() else None
        message = message or report_message(report) or "no error message"
        return Result(error=f"exit {proc.returncode}: {message}", seconds=seconds)
    if report is None:
        return Result(error="exit 0 but no JSON report", seconds=seconds)
    return Result(report=report, seconds=seconds)


def measure(entry: dict, tmp: Path, timeout: float) -> Row:
    path = CORPUS / entry["file"]
    row = Row(path.stem, entry["format"])
    skip = ONNX_ONLY if row.format == "tflite" else TFLITE_ONLY
    for command in COMMANDS:
        if command not in skip:
            row.results[command] = run(command, path, entry, tmp, timeout)
    return row


def value(row: Row, command: str, key: str) -> int | None:
    result = row.results.get(command)
    return result.report.get(key) if result and result.report else None


def arenas(row: Row) -> tuple[int | None, int | None, int | None, float | None]:
    """(TFLM's head, infermem best, DMO arena, saving) as the docstring defines them."""
    best = value(row, "plan", "arena_bytes")
    if row.format == "tflite":
        tflm = value(row, "tflm measure", "head_bytes")
        dmo = value(row, "optimize --dmo", "head_after")
        base = value(row, "optimize --dmo", "head_before") or tflm
    else:
        tflm = None
        verified = row.results["verify --dmo"].report is not None
        dmo = value(row, "plan --dmo", "arena_bytes") if verified else None
        base = best
    saving = 1 - dmo / base if dmo and base else None
    return tflm, best, dmo, saving


def cells(row: Row, notes: list[str]) -> list[str]:
    out = [row.model]
    for command in COMMANDS:
        result = row.results.get(command)
        if result is None:
            out.append("–")
        elif result.error is None:
            out.append("ok")
        else:
            notes.append(f"{row.model}, `{command}`: {result.error}")
            out.append(f"FAIL [{len(notes)}]")
    tflm, best, dmo, saving = arenas(row)
    out += [f"{v:,}" if v else "–" for v in (tflm, best, dmo)]
    out.append(f"{saving:.1%}" if saving is not None else "–")
    return out


HEADER = ("model", *COMMANDS, "TFLM head", "infermem best", "+DMO", "saving")


def print_table(rows: list[Row], markdown: bool) -> None:
    notes: list[str] = []
    table = [cells(r, notes) for r in rows]
    if markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "|".join("---" if i < len(COMMANDS) + 1 else "---:"
                             for i in range(len(HEADER))) + "|")  # fmt: skip
        for t in table:
            print("| " + " | ".join(t) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(HEADER, *table, strict=True)]
        for t in (HEADER, *table):
            print("  ".join(x.ljust(w) for x, w in zip(t, widths, strict=True)))
    print()
    for i, note in enumerate(notes, 1):
        print(f"{i}. {note}" + ("  " if markdown else ""))


def summary(rows: list[Row]) -> str:
    runs = [r for row in rows for r in row.results.values()]
    passed = sum(r.error is None for r in runs)
    full = sum(all(r.error is None for r in row.results.values()) for row in rows)
    savings = [s for row in rows if (s := arenas(row)[3]) is not None]
    text = (f"{len(rows)} models: {passed} of {len(runs)} commands passed; {full} models pass "
            f"every command")
    if savings:
        text += (f"; DMO saving median {statistics.median(savings):.1%}, "
                 f"best {max(savings):.1%} ({len(savings)} models)")
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", help="comma-separated file stems (default: the whole corpus)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per command")
    args = ap.parse_args()
    entries = json.loads((CORPUS / "manifest.json").read_text())
    if args.models:
        wanted = set(args.models.split(","))
        entries = [e for e in entries if Path(e["file"]).stem in wanted]
    rows = []
    with tempfile.TemporaryDirectory(prefix="infermem-zoo-") as tmp:
        for entry in entries:
            rows.append(measure(entry, Path(tmp), args.timeout))
            seconds = sum(r.seconds for r in rows[-1].results.values())
            print(f"{rows[-1].model}: {seconds:.1f} s", file=sys.stderr, flush=True)
    print_table(rows, args.markdown)
    print(summary(rows))
    return 0 if all(r.error is None for row in rows for r in row.results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
