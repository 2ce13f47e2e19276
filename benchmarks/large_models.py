"""Weights never copied: peak RSS of `profile` and `plan` on large transformers.

For each model of the transformer corpus (`scripts/make_transformers.py`
writes them into benchmarks/.models/transformers/), runs `infermem profile`
and `infermem plan` in a fresh process (imports included, as a user sees it)
and reports the file size (with its external data), the child's peak RSS
(sampled every 10 ms, `scale.measure`), issue 18's target (0.25 x the file
+ 300 MB), and wall and CPU seconds.  `--before REV` measures the same
commands on infermem's source at git revision REV too (extracted with `git
archive` into a temporary folder), for a before/after column.  A benchmark:
prints a table, asserts nothing.

    python benchmarks/large_models.py [--markdown] [--before REV] [--only bert_L48 ...] \
        [--commands profile plan "fit --no-measure"] [--dir FOLDER]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scale import SRC, measure  # noqa: E402
from transformers import BERT_INPUTS, GPT2_INPUTS, MODELS_DIR, shape_args  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MB = 1e6
COMMANDS = ("profile", "plan")


def shapes(name: str) -> dict[str, list[int]]:
    """The corpus's documented shapes: BERT 1 x 128, GPT-2 1 x 256, GPT-2 with
    past: one new token after 255 cached ones."""
    if name.startswith("bert"):
        return {n: [1, 128] for n in BERT_INPUTS}
    if "past" not in name:
        return {n: [1, 256] for n in GPT2_INPUTS}
    past = {f"past_key_values.{i}.{kv}": [1, 12, 255, 64] for i in range(12)
            for kv in ("key", "value")}
    return {"input_ids": [1, 1], "attention_mask": [1, 256], **past}


def file_bytes(path: Path) -> int:
    """The model and its external-data files (bert_L12_ext.onnx.data)."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


@dataclass(frozen=True)
class Run:
    rc: int
    wall: float
    cpu: float
    rss: int

    def cells(self) -> list[str]:
        """Peak RSS, wall s, CPU s (or the exit code in each)."""
        if self.rc:
            return [f"exit {self.rc}"] * 3
        return [f"{self.rss / MB:,.0f} MB", f"{self.wall:.1f}", f"{self.cpu:.1f}"]


NOT_RUN = ["-", "-", "-"]


def run(cmd: str, path: Path, src: Path) -> Run:
    """`infermem CMD MODEL --input-shape ...`; CMD may carry options ("fit --no-measure")."""
    return Run(*measure([*cmd.split(), str(path), *shape_args(shapes(path.stem))], src=src))


def old_source(rev: str, folder: Path) -> Path:
    """infermem's src/ at `rev`, unpacked into `folder` (the repo is not touched)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


HEAD = ["model", "file", "command", "target", "peak RSS before", "peak RSS after", "within",
        "wall s before", "wall s after", "CPU s before", "CPU s after"]


def row(name: str, size: int, cmd: str, after: Run, before: list[str]) -> list[str]:
    target = 0.25 * size + 300 * MB
    now = after.cells()
    within = "yes" if not after.rc and after.rss <= target else "NO"
    return [name, f"{size / MB:,.0f} MB", cmd, f"{target / MB:,.0f} MB", before[0], now[0],
            within, before[1], now[1], before[2], now[2]]


def table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(HEAD) + " |", "|---|---:|---|" + "---:|" * (len(HEAD) - 3)]
        return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])
    widths = [max(len(x) for x in col) for col in zip(HEAD, *rows, strict=True)]
    return "\n".join("  ".join(x.rjust(w) for x, w in zip(r, widths, strict=True))
                     for r in [HEAD, *rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=MODELS_DIR, help="the transformer corpus")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="models (file stems) to run")
    ap.add_argument("--before", metavar="REV", help="also measure infermem at git revision REV")
    ap.add_argument("--commands", nargs="+", default=list(COMMANDS), metavar="CMD",
                    help='commands to measure (default: profile plan; e.g. "fit --no-measure")')
    ap.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = ap.parse_args(argv)
    models = sorted(p for p in args.dir.glob("*.onnx")
                    if not args.only or p.stem in args.only)
    if not models:
        print(f"no models in {args.dir}: run scripts/make_transformers.py", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = old_source(args.before, Path(tmp)) if args.before else None
        for path in models:
            size = file_bytes(path)
            for cmd in args.commands:
                after = run(cmd, path, SRC)
                before = run(cmd, path, old).cells() if old else NOT_RUN
                rows.append(row(path.stem, size, cmd, after, before))
                print("  ".join(rows[-1]), file=sys.stderr, flush=True)
    print(table(rows, args.markdown))
    print(f"\nmachine: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
          + (f"; before = git revision {args.before}" if args.before else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
