"""The sampled timeline as a small dataframe-like table.

Columns are numpy arrays of equal length: `t_s` (seconds since the monitor
started), `rss_bytes`, `uss_bytes` and `py_bytes` (-1 where not measured) and
`phase` (the innermost phase open at that instant, "" outside any phase).
pandas is not a dependency; `to_pandas()` converts when it is installed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

COLUMNS = ("t_s", "rss_bytes", "uss_bytes", "py_bytes", "phase")


@dataclass(frozen=True)
class Timeline:
    t_s: np.ndarray
    rss_bytes: np.ndarray
    uss_bytes: np.ndarray
    py_bytes: np.ndarray
    phase: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return COLUMNS

    def __len__(self) -> int:
        return len(self.t_s)

    def __getitem__(self, column: str):
        if column not in COLUMNS:
            raise KeyError(f"no column {column!r}; columns are {', '.join(COLUMNS)}")
        return getattr(self, column)

    def rows(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield {c: _py(self[c][i]) for c in COLUMNS}

    def to_dict(self) -> dict[str, list]:
        """Column lists, for JSON; unmeasured columns are left out."""
        out: dict[str, list] = {
            "t_s": [round(float(t), 6) for t in self.t_s],
            "rss_bytes": self.rss_bytes.tolist(),
        }
        if (self.uss_bytes >= 0).any():
            out["uss_bytes"] = self.uss_bytes.tolist()
        if (self.py_bytes >= 0).any():
            out["py_bytes"] = self.py_bytes.tolist()
        out["phase"] = list(self.phase)
        return out

    def to_csv(self, path: str) -> None:
        from ..outputs import write_text

        write_text(path, timelines_csv({"": self}))

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({c: self[c] for c in COLUMNS})

    def __repr__(self) -> str:
        head = [f"Timeline({len(self)} samples)", "  " + "  ".join(COLUMNS)]
        for row in list(self.rows())[:5]:
            row["t_s"] = f"{row['t_s']:.4f}"
            head.append("  " + "  ".join(str(row[c]) for c in COLUMNS))
        if len(self) > 5:
            head.append("  ...")
        return "\n".join(head)


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def label_phases(t: np.ndarray, intervals: list[tuple[str, float, float]]) -> tuple[str, ...]:
    """Innermost open phase at each time: later-starting intervals win."""
    labels = np.full(len(t), "", dtype=object)
    for name, start, end in sorted(intervals, key=lambda x: x[1]):
        labels[(t >= start) & (t <= end)] = name
    return tuple(labels.tolist())


def timelines_csv(runs: dict) -> str:
    """CSV text of one timeline, or of several (a `runtime` column first) keyed
    by name; values may be Timelines or anything with a `.timeline`."""
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    tables = {k: getattr(v, "timeline", v) for k, v in runs.items() if v is not None}
    named = len(tables) > 1 or any(tables)
    w.writerow((("runtime",) if named else ()) + COLUMNS)
    for name, tl in tables.items():
        for row in tl.rows():
            w.writerow(([name] if named else []) + [row[c] for c in COLUMNS])
    return buf.getvalue()
