"""The sweep's result cache: one JSON file per (model content, options,
infermem version), so a re-run after an interruption only does what is
missing and a model moved or renamed is not evaluated again.

Kept: results that would come out the same next time: evaluated models and
models refused as bad input.  Not kept: timeouts, crashes and failures,
which may be the machine's fault (load, memory) and are retried.

Default folder: `$XDG_CACHE_HOME/infermem/sweep` (`~/.cache/infermem/sweep`),
created when the sweep starts.
Each entry is written atomically; an unreadable entry counts as missing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .. import __version__
from ..errors import BadInput
from ..outputs import write_text
from .task import Task


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "infermem" / "sweep"


def key(task: Task) -> str:
    doc = {"sha256": task.sha256, "options": task.options.key_fields(), "infermem": __version__}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class Cache:
    """Results by `key(task)` under `folder`, created here so that a folder
    that cannot be written is an error before the sweep, not in the middle."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else default_dir()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"cannot create the sweep cache {self.folder}: "
                           f"{e.strerror or e} (use --cache-dir DIR or --no-cache)") from None
        if not os.access(self.folder, os.W_OK):
            raise BadInput(f"cannot write the sweep cache {self.folder} "
                           "(use --cache-dir DIR or --no-cache)")

    def _path(self, task: Task) -> Path:
        k = key(task)
        return self.folder / k[:2] / f"{k}.json"

    def get(self, task: Task) -> dict | None:
        if not task.sha256:
            return None
        try:
            doc = json.loads(self._path(task).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("sha256") != task.sha256:
            return None
        return {**doc, "model": task.path, "name": Path(task.path).stem}

    def put(self, task: Task, result: dict) -> bool:
        """Keep `result` if it is worth keeping; False if not kept."""
        kept = result.get("status") == "ok" or result.get("error_kind") == "bad-input"
        if not kept or not task.sha256:
            return False
        path = self._path(task)
        try:
            path.parent.mkdir(exist_ok=True)
            write_text(path, json.dumps(result))
        except OSError as e:
            raise BadInput(f"cannot write the sweep cache in {self.folder}: {e.strerror} "
                           "(use --cache-dir DIR or --no-cache)") from None
        return True
