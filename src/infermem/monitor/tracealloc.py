"""Where a Python program's growth was allocated: `--trace-allocations`.

RSS says *that* memory grows; a user of memray or heaptrack also wants to
know *where*.  For a Python program started by `infermem monitor -- CMD`,
a `sitecustomize` (folder `_trace_site`, put first on the child's
PYTHONPATH) starts `tracemalloc` inside the program and leaves snapshots in
the monitor's temporary folder; no change to the program is needed.  Here
the parent compares the snapshot taken at the end of the warm-up with the
last one and lists the allocation sites (file:line) whose live memory grew
most, with their rate.  numpy arrays are traced too (numpy reports its data
allocations to tracemalloc); memory a C library allocates with plain malloc
is not, so a site list that explains less than the RSS growth says so.

tracemalloc slows allocation-heavy Python code (often 1.5-3x); use it to find
a leak, not to time a program.  A program run with `python -S` or `-I`
ignores PYTHONPATH and cannot be traced this way.
"""

from __future__ import annotations

import os
import re
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

SITE_DIR = str(Path(__file__).resolve().parent / "_trace_site")
_SNAP = re.compile(r"^(\d+)-(at\d+|latest)-(\d+\.\d+)\.snap$")


@dataclass(frozen=True)
class Site:
    """The program's own line that allocated (the innermost frame outside the
    standard library and installed packages), and where the allocation
    itself happened when that is inside a library (`via`)."""

    file: str
    line: int
    growth_bytes: int
    growth_count: int
    size_bytes: int  # live at the end
    via: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" + (f" (via {self.via})" if self.via else "")

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "via": self.via,
                "growth_bytes": self.growth_bytes, "growth_count": self.growth_count,
                "size_bytes": self.size_bytes}  # fmt: skip


@dataclass(frozen=True)
class AllocationGrowth:
    """Top growing allocation sites between two snapshots (`t_from_s`, `t_to_s`:
    seconds since the monitor started), or why there are none (`note`)."""

    tool: str
    sites: tuple[Site, ...]
    t_from_s: float | None
    t_to_s: float | None
    traced_growth_bytes: int | None
    note: str = ""

    @property
    def span_s(self) -> float | None:
        if self.t_from_s is None or self.t_to_s is None:
            return None
        return self.t_to_s - self.t_from_s

    def rate(self, site: Site) -> float | None:
        span = self.span_s
        return site.growth_bytes / span if span else None

    def to_dict(self) -> dict:
        return {
            "tool": self.tool,
            "t_from_s": self.t_from_s,
            "t_to_s": self.t_to_s,
            "traced_growth_bytes": self.traced_growth_bytes,
            "sites": [{**s.to_dict(), "growth_bytes_per_s": self.rate(s)} for s in self.sites],
            "note": self.note,
        }


def trace_env(
    folder: str, env: dict[str, str], delay_s: float | None = None, frames: int = 16
) -> dict[str, str]:
    """Variables that make the child's first Python trace itself into `folder`,
    from `delay_s` after its start (default 1 s)."""
    old = env.get("PYTHONPATH", "")
    return {
        "INFERMEM_TRACE_DELAY": str(1.0 if delay_s is None else delay_s),
        "PYTHONPATH": os.pathsep.join(p for p in (SITE_DIR, old) if p),
        "INFERMEM_TRACE_DIR": folder,
        "INFERMEM_TRACE_PYTHONPATH": old,
        "INFERMEM_TRACE_FRAMES": str(frames),
    }


def _snapshots(folder: str, pid: int) -> list[tuple[float, Path]]:
    """(time, path) of the snapshots of `pid`, else of the Python that left most."""
    by_pid: dict[int, list[tuple[float, Path]]] = {}
    for name in os.listdir(folder):
        m = _SNAP.match(name)
        if m:
            by_pid.setdefault(int(m.group(1)), []).append((float(m.group(3)), Path(folder, name)))
    if not by_pid:
        return []
    chosen = by_pid.get(pid) or max(by_pid.values(), key=len)
    return sorted(chosen)


def read_growth(folder: str, pid: int, t_from: float, t0: float, top: int = 10) -> AllocationGrowth:
    """Compare the first snapshot at or after `t_from` (absolute monotonic
    time: the end of the warm-up, so that loading is not counted as growth;
    the last one before it if none is that late) with the last one."""
    snaps = _snapshots(folder, pid)
    if len(snaps) < 2:
        why = ("no Python process reported allocations (not a Python program, started "
               "with -S/-I, or it ended within a second)") if not snaps else (
               "only one snapshot: the program ended within about a second")  # fmt: skip
        return AllocationGrowth("tracemalloc", (), None, None, None, why)
    late = [s for s in snaps[:-1] if s[0] >= t_from]
    (ta, pa), (tb, pb) = (late[0] if late else snaps[-2]), snaps[-1]
    try:
        a, b = tracemalloc.Snapshot.load(str(pa)), tracemalloc.Snapshot.load(str(pb))
    except Exception as e:  # a snapshot cut short by a kill
        return AllocationGrowth("tracemalloc", (), None, None, None, f"unreadable snapshot: {e}")
    diffs = b.compare_to(a, "traceback")
    sites = _by_user_line(diffs)
    sites = tuple(sorted((x for x in sites if x.growth_bytes > 0),
                         key=lambda x: x.growth_bytes, reverse=True)[:top])  # fmt: skip
    total = sum(d.size_diff for d in diffs)
    return AllocationGrowth("tracemalloc", sites, ta - t0, tb - t0, total)


def _library_dirs() -> tuple[str, ...]:
    import sysconfig

    names = ("stdlib", "platstdlib", "purelib", "platlib")
    return tuple({os.path.realpath(p) + os.sep for n in names if (p := sysconfig.get_path(n))})


def _by_user_line(diffs) -> list[Site]:
    """Sum the differences by (innermost user frame, allocating frame)."""
    libs = _library_dirs()
    own = {os.path.join(SITE_DIR, "sitecustomize.py"), tracemalloc.__file__}
    acc: dict[tuple[str, int, str | None], list[int]] = {}
    for d in diffs:
        frames = list(d.traceback)  # oldest first
        if any(f.filename in own or f.filename.startswith("<frozen importlib") for f in frames):
            continue  # the tracing itself, and imports
        alloc = frames[-1]
        user = next((f for f in reversed(frames)
                     if not os.path.realpath(f.filename).startswith(libs)
                     and not f.filename.startswith("<frozen")), alloc)  # fmt: skip
        via = None if user is alloc else f"{alloc.filename}:{alloc.lineno}"
        a = acc.setdefault((user.filename, user.lineno, via), [0, 0, 0])
        a[0] += d.size_diff
        a[1] += d.count_diff
        a[2] += d.size
    return [Site(f, ln, g, c, sz, via) for (f, ln, via), (g, c, sz) in acc.items()]


def text_lines(g: AllocationGrowth, rss_growth: float | None = None) -> list[str]:
    """The report's lines: top sites with growth, rate and live size."""
    from .report import mib

    if not g.sites:
        return [f"  allocation sites: {g.note or 'no traced site grew'}"]
    lines = [
        f"  allocation sites that grew ({g.tool}, {g.t_from_s:.1f} s to {g.t_to_s:.1f} s; "
        f"traced growth {mib(g.traced_growth_bytes)}):",
        f"    {'growth':>12}{'rate':>14}{'blocks':>9}  site",
    ]
    for s in g.sites:
        rate = g.rate(s)
        r = f"{rate / 1024:.1f} KiB/s" if rate is not None else "-"
        lines.append(f"    {mib(s.growth_bytes):>12}{r:>14}{s.growth_count:>+9}  {s.where}")
    if (
        rss_growth
        and g.traced_growth_bytes is not None
        and g.traced_growth_bytes < 0.5 * rss_growth
    ):
        lines.append("    (traced Python allocations explain under half the RSS growth: the rest "
                     "is allocated outside Python's allocator, e.g. by a C library)")  # fmt: skip
    return lines
