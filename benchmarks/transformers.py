"""Transformers side by side: infermem's plans, onnx-tool's and TVM's, load time and RSS.

For each file of the transformer corpus (scripts/make_transformers.py;
BERT L12/L24/L48 at batch 1, sequence 128, GPT-2 L12 at 256):

* infermem `plan`, `plan --dmo` and, where this infermem has it, `plan
  --fuse` (arena bytes, `--json`), each in a child process;
* onnx-tool's activation memory (`Graph.compress_memory`) and TVM Relax's
  static plan after its default (fused) pipeline and unfused
  (benchmarks/peers.py, run by `--peer-python`, the peers' own environment:
  neither is an infermem dependency; "not installed" where it cannot import
  them);
* infermem's load time (frontend `load`, in a fresh process, imports not
  counted) and the peak RSS and wall time of `profile` and `plan` (sampled
  by benchmarks/scale.py's `measure`).

    python benchmarks/transformers.py [--models bert_L12 ...] [--markdown | --json]
        [--dir benchmarks/.models/transformers] [--peer-python /work/venv-peers/bin/python]

`--json` prints one object per model (bytes as integers, a string where a
figure is missing), for other benchmarks to compare against (TVM's fused
plan: `tvm_fused`). A benchmark, not a test: minutes per model on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scale import measure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "benchmarks" / ".models" / "transformers"
PEERS = Path(__file__).with_name("peers.py")
BERT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
GPT2_INPUTS = ("input_ids", "attention_mask")
LOAD = ("import json, sys, time; from infermem.frontends import load; "
        "shapes = {n: tuple(s) for n, s in json.loads(sys.argv[2]).items()}; "
        "t = time.perf_counter(); load(sys.argv[1], shapes); print(time.perf_counter() - t)")


@dataclass(frozen=True)
class Case:
    """One model at the shapes it is compared at (batch x seq for every input)."""

    name: str
    family: str  # "bert" | "gpt2"
    seq: int
    batch: int = 1

    def shapes(self) -> dict[str, list[int]]:
        names = BERT_INPUTS if self.family == "bert" else GPT2_INPUTS
        return {n: [self.batch, self.seq] for n in names}


CASES = (Case("bert_L12", "bert", 128), Case("bert_L24", "bert", 128),
         Case("bert_L48", "bert", 128), Case("gpt2_L12", "gpt2", 256))


@dataclass(frozen=True)
class Row:
    """One model's figures: bytes, seconds, or why a figure is missing."""

    model: str
    file_bytes: int
    plan: int | str
    plan_dmo: int | str
    plan_fuse: int | str
    onnx_tool: int | str
    tvm_fused: int | str
    tvm_unfused: int | str
    load_s: float | str
    profile_s: float | str
    profile_rss: int | str
    plan_s: float | str
    plan_rss: int | str


def shape_args(shapes: dict[str, list[int]]) -> list[str]:
    """infermem's (and peers.py's) `--input-shape NAME=DxD` arguments."""
    return [a for n, s in shapes.items() for a in ("--input-shape", f"{n}={'x'.join(map(str, s))}")]


@dataclass(frozen=True)
class Child:
    """A measured child process: exit code, wall seconds, peak RSS, its stdout, last stderr line."""

    rc: int
    wall: float
    rss: int
    out: str
    err: str


def run(args: list[str]) -> Child:
    """`infermem ARGS` (or `python -c ...`) in a fresh process, RSS sampled."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc, wall, _, rss = measure(args, stdout=out, stderr=err)
        out.seek(0)
        err.seek(0)
        lines = err.read().strip().splitlines()
        return Child(rc, wall, rss, out.read(), lines[-1] if lines else "")


def failed(child: Child) -> str:
    return f"failed (exit {child.rc}: {child.err[:80]})"


def plan_bytes(path: Path, shapes: dict[str, list[int]], *flags: str) -> tuple[int | str, Child]:
    """Arena bytes of `infermem plan [FLAGS] --json`, or why there are none."""
    child = run(["plan", str(path), *shape_args(shapes), *flags, "--json"])
    if child.rc:
        return failed(child), child
    return json.loads(child.out)["arena_bytes"], child


def fuse_available() -> bool:
    """Does this infermem's `plan` take `--fuse`?"""
    return "--fuse" in run(["plan", "--help"]).out


def load_seconds(path: Path, shapes: dict[str, list[int]]) -> float | str:
    child = run(["-c", LOAD, str(path), json.dumps(shapes)])
    return failed(child) if child.rc else round(float(child.out), 2)


def peer(python: Path, name: str, path: Path, shapes: dict[str, list[int]]) -> dict:
    """benchmarks/peers.py NAME in the peers' environment: its JSON, or
    {"missing": "not installed"} / {"missing": "failed (...)"}."""
    if not python.exists():
        return {"missing": "not installed"}
    p = subprocess.run([str(python), str(PEERS), name, str(path), *shape_args(shapes)],
                       capture_output=True, text=True, check=False)
    lines = p.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        err = p.stderr.strip().splitlines()
        return {"missing": f"failed (exit {p.returncode}: {err[-1][:80] if err else ''})"}
    if "failed" in figures:
        return {"missing": f"failed ({figures['failed'][:80]})"}
    return {"missing": "not installed"} if "not_installed" in figures else figures


def measure_case(case: Case, folder: Path, peer_python: Path, fuse: bool) -> Row:
    """Every figure of one model, each from its own child process."""
    path, shapes = folder / f"{case.name}.onnx", case.shapes()
    plain, planned = plan_bytes(path, shapes)
    dmo, _ = plan_bytes(path, shapes, "--dmo")
    fused = plan_bytes(path, shapes, "--fuse")[0] if fuse else "n/a"
    profiled = run(["profile", str(path), *shape_args(shapes), "-q"])
    tool = peer(peer_python, "onnx-tool", path, shapes)
    tvm = peer(peer_python, "tvm", path, shapes)
    return Row(
        case.name, path.stat().st_size + sum(f.stat().st_size for f in
                                              folder.glob(f"{case.name}.onnx.data")),
        plain, dmo, fused, tool.get("activation_bytes", tool.get("missing")),
        tvm.get("default", tvm.get("missing")), tvm.get("unfused", tvm.get("missing")),
        load_seconds(path, shapes),
        round(profiled.wall, 1) if not profiled.rc else failed(profiled),
        profiled.rss if not profiled.rc else "-",
        round(planned.wall, 1) if not planned.rc else "-",
        planned.rss if not planned.rc else "-")


def cell(value, unit: str = "") -> str:
    """Bytes with thousands separators (MB with unit="MB"), seconds as given, text as is."""
    if isinstance(value, str):
        return value
    if unit == "MB":
        return f"{value / 1e6:,.0f} MB"
    if unit == "s":
        return f"{value} s"
    return f"{value:,}"


COLUMNS = (("model", "model", ""), ("file", "file_bytes", "MB"), ("plan", "plan", ""),
           ("plan --dmo", "plan_dmo", ""), ("plan --fuse", "plan_fuse", ""),
           ("onnx-tool", "onnx_tool", ""), ("TVM fused", "tvm_fused", ""),
           ("TVM unfused", "tvm_unfused", ""), ("load", "load_s", "s"),
           ("profile", "profile_s", "s"), ("profile RSS", "profile_rss", "MB"),
           ("plan", "plan_s", "s"), ("plan RSS", "plan_rss", "MB"))


def table(rows: list[Row], markdown: bool) -> str:
    """The rows as a README (markdown) or terminal table."""
    head = [c[0] for c in COLUMNS]
    body = [[cell(getattr(r, key), unit) for _, key, unit in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    return "\n".join("  ".join(x.rjust(w) for x, w in zip(line, widths, strict=True))
                     for line in [head, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", choices=[c.name for c in CASES],
                    default=[c.name for c in CASES])
    ap.add_argument("--dir", type=Path, default=MODELS_DIR, help="where the models are")
    ap.add_argument("--peer-python", type=Path, default=Path("/work/venv-peers/bin/python"),
                    help="the Python that has onnx-tool and TVM")
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="a README table")
    out.add_argument("--json", action="store_true", help="one JSON object per model")
    args = ap.parse_args(argv)
    cases = [c for c in CASES if c.name in args.models]
    missing = [c.name for c in cases if not (args.dir / f"{c.name}.onnx").exists()]
    if missing:
        print(f"missing in {args.dir}: {', '.join(missing)} (make them with "
              "scripts/make_transformers.py)", file=sys.stderr)
        return 2
    fuse = fuse_available()
    rows = []
    for case in cases:
        rows.append(measure_case(case, args.dir, args.peer_python, fuse))
        print(f"{case.name} done", file=sys.stderr, flush=True)
    print(json.dumps([asdict(r) for r in rows], indent=1) if args.json
          else table(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
