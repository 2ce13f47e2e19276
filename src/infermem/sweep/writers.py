"""The sweep's files: JSON (the `--json` document), CSV (one row per model ×
level, one column per device) and HTML (`html.py`), chosen by extension.

Every output is checked once before the sweep starts (`outputs.check_output`)
and rewritten atomically as results arrive, so an interrupted sweep leaves
complete files holding every model finished so far.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import BadInput
from ..outputs import check_output, same_file, write_text
from .results import SweepResult, to_json

FORMATS = (".json", ".csv", ".html")
BASE_COLUMNS = ("model", "format", "status", "error", "level", "arena_bytes", "ram_bytes",
                "flash_bytes", "verified", "verified_arena_bytes", "seconds", "cached")


def check_outputs(paths: Sequence[str], inputs: Iterable[str], force: bool) -> list[Path]:
    """The output files, each allowed by `check_output` and of a known format."""
    inputs = list(inputs)
    out = []
    for p in paths:
        suffix = Path(p).suffix.lower()
        if suffix not in FORMATS:
            raise BadInput(f"-o {p}: unknown format {suffix or '(none)'}; "
                           f"use {', '.join(FORMATS)}")
        out.append(check_output(p, inputs, force=force, what="-o"))
        if any(same_file(out[-1], o) for o in out[:-1]):
            raise BadInput(f"-o {p} is named twice")
    return out


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def fit_cell(dev: dict, level: str) -> str:
    """yes / ext (fits only using external memory) / no / n/a."""
    fits = dev["fits"][level]
    if fits is None:
        return "n/a"
    return "yes" if fits else "ext" if dev["fits_with_external_memory"][level] else "no"


def to_csv(doc: dict) -> str:
    devices = [d["name"] for d in doc["devices"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*BASE_COLUMNS, *(f"fits:{d}" for d in devices)])
    for m in doc["models"]:
        head = [m["model"], m["format"], m["status"], m["error"] or ""]
        tail = [m["seconds"], _cell(m["cached"])]
        if m["status"] != "ok":
            w.writerow([*head, "", "", "", "", "", "", *tail, *([""] * len(devices))])
            continue
        for name, lv in m["levels"].items():
            w.writerow([*head, name, *(_cell(lv[k]) for k in (
                "arena_bytes", "ram_bytes", "flash_bytes", "verified", "verified_arena_bytes")),
                *tail, *(fit_cell(m["devices"][d], name) for d in devices)])
    return buf.getvalue()


def render(doc: dict, suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(doc, indent=2) + "\n"
    if suffix == ".csv":
        return to_csv(doc)
    from .html import to_html

    return to_html(doc)


class Writer:
    """Rewrites every output with the results so far, at most once per
    `every` seconds until `final`."""

    def __init__(self, paths: Sequence[Path], every: float = 2.0):
        self.paths, self.every, self.last = list(paths), every, 0.0

    def write(self, result: SweepResult, final: bool = False) -> None:
        if not self.paths or (not final and time.monotonic() - self.last < self.every):
            return
        doc = to_json(result)
        for p in self.paths:
            write_text(p, render(doc, p.suffix.lower()))
        self.last = time.monotonic()
