"""One unit of sweep work: a model file and the options it is evaluated with.

A `Task` is what travels to a worker (a local child process or a Dask
worker): plain, picklable data.  `evaluate(task)` is the work itself, done
in-process with the existing library (`fit.model_needs` for every level,
`profile` for the summary, `sweep.verify` with `--verify`); it never
raises for a problem with the model, it returns a failed result with the
reason, so one bad file never stops a sweep.  The result is a JSON-able
dict: the cache stores it as it is and the writers read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import BadInput, InfermemError
from ..fit import ALL_LEVELS, LEVELS

SUFFIXES = (".onnx", ".tflite")
# Every level but `patch`, which is computed only when named (a rewrite search per model).
DEFAULT_LEVELS = LEVELS


@dataclass(frozen=True)
class SweepOptions:
    """Everything that changes what a worker computes (and so the cache key)."""

    levels: tuple[str, ...] = DEFAULT_LEVELS
    verify: bool = False
    measure: bool = True  # .tflite: run TFLM for the runtime level's head and tail
    time_limit: float = 5.0  # per plan / order search
    alignment: int = 16
    timeout: float = 300.0  # per model, seconds; not part of the cache key

    def key_fields(self) -> dict:
        d = asdict(self)
        d.pop("timeout")
        d["levels"] = list(self.levels)
        return d


@dataclass(frozen=True)
class Task:
    path: str  # as discovered on the client
    sha256: str
    options: SweepOptions
    data: bytes | None = field(default=None, repr=False)  # shipped to remote workers
    unreadable: str = ""  # why the client could not read the file (then sha256 is "")


def parse_levels(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """'runtime,dmo' -> ('runtime', 'dmo') in LEVELS order; BadInput naming the
    available levels for an unknown or unbuilt one."""
    if text is None:
        return DEFAULT_LEVELS
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [s.strip().lower() for s in items if s.strip()]
    if not names:
        raise BadInput(f"--levels is empty; available: {', '.join(ALL_LEVELS)}")
    for n in names:
        if n not in ALL_LEVELS:
            raise BadInput(f"unknown level {n!r}; available: {', '.join(ALL_LEVELS)}")
    return tuple(lv for lv in ALL_LEVELS if lv in names)


def discover(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Every .onnx / .tflite file named or found (recursively) under `paths`,
    sorted and without duplicates; BadInput for a path that does not exist."""
    found: dict[str, None] = {}
    for p in map(Path, paths):
        if p.is_file():
            found[str(p)] = None
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix.lower() in SUFFIXES and f.is_file():
                    found[str(f)] = None
        else:
            raise BadInput(f"{p}: no such file or folder")
    return sorted(found)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_task(path: str, options: SweepOptions) -> Task:
    """The task for `path`, keyed by its content.  An unreadable file still
    gets a task (its hash empty) so it becomes a failed row, not an abort."""
    try:
        return Task(path, file_sha256(path), options)
    except OSError as e:
        return Task(path, "", options, unreadable=e.strerror or str(e))


def failed(task: Task, kind: str, reason: str, seconds: float = 0.0) -> dict:
    """The result of a model that could not be evaluated, with the reason."""
    return {"model": task.path, "name": Path(task.path).stem, "format": _format(task.path),
            "sha256": task.sha256, "status": "failed", "error_kind": kind, "error": reason,
            "seconds": round(seconds, 3), "profile": None, "needs": None, "verification": None}


def _format(path: str) -> str:
    return Path(path).suffix.lower().lstrip(".")


def evaluate(task: Task) -> dict:
    """The work for one model, in this process; a failure is a result."""
    t0 = time.perf_counter()
    try:
        with _local_copy(task) as path:
            out = _evaluate(path, task)
    except BadInput as e:
        return failed(task, "bad-input", str(e), time.perf_counter() - t0)
    except InfermemError as e:
        return failed(task, "failure", str(e), time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - one model's bug must not stop a sweep
        return failed(task, "error", f"{type(e).__name__}: {e}", time.perf_counter() - t0)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


@contextlib.contextmanager
def _local_copy(task: Task) -> Iterator[str]:
    """The task's file: its own path when readable here with the same content,
    else its shipped bytes in a temporary folder (same file name)."""
    if task.unreadable:
        raise BadInput(f"{task.path}: cannot read the file ({task.unreadable})")
    if os.path.isfile(task.path) and (task.data is None or file_sha256(task.path) == task.sha256):
        yield task.path
        return
    if task.data is None:
        raise BadInput(f"{task.path}: no such file on this worker")
    with tempfile.TemporaryDirectory(prefix="infermem-sweep-") as tmp:
        path = os.path.join(tmp, os.path.basename(task.path))
        Path(path).write_bytes(task.data)
        yield path


def _evaluate(path: str, task: Task) -> dict:
    from ..fit import fit, model_needs, to_json
    from ..frontends import load
    from ..profile import profile

    o = task.options
    graph = load(path)
    prof = profile(graph, alignment=o.alignment)
    spec = None
    if "patch" in o.levels:
        from ..rewrite.level import PatchSpec

        spec = PatchSpec()
    fuse = "tvm" if "fuse" in o.levels else None
    needs = model_needs(graph, None, o.alignment, o.time_limit, measure=o.measure, patch=spec,
                        fuse=fuse)
    doc = to_json(fit(needs, ()))
    doc.pop("devices")
    verification = None
    if o.verify:
        from .verify import verify_levels

        verification = verify_levels(path, graph, needs, o)
    return {"model": task.path, "name": Path(task.path).stem, "format": graph.format,
            "sha256": task.sha256, "status": "ok", "error_kind": None, "error": None,
            "profile": {"operators": len(graph.operators), "weights_bytes": prof.weights_bytes,
                        "peak_bytes": prof.peak_bytes, "naive_bytes": prof.naive_bytes,
                        "total_macs": prof.total_macs, "input_bytes": prof.input_bytes,
                        "output_bytes": prof.output_bytes},
            "needs": doc, "verification": verification}
