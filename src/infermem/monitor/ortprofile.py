"""onnxruntime's own allocator, per operator, from its profiler.

RSS shows what the process holds; the static plan shows the tensors.  Neither
shows the scratch a kernel allocates and frees inside itself (an im2col
buffer, a packed-weights copy).  onnxruntime's profiler
(`SessionOptions.enable_profiling`) records, after every kernel, its CPU
allocator's counters: bytes in use (`mem_bytes_in_use`), bytes requested
(`mem_bytes_requested_in_use`), the peak so far (`mem_in_use_peak`) and the
arena it holds (`mem_arena_held`), with their deltas.  When a kernel raises
the peak above what is still in use after it, the difference was transient:
scratch that kernel allocated and freed (a lower bound; scratch under an
earlier, higher peak leaves no trace).

The profile is taken in its own fresh process (profiling adds events and
time, so it never runs inside the measured child), on the first inference,
where the arena grows; later runs reuse it.  Versions whose profile lacks
these counters are reported as such, with the keys they do record.

    python -m infermem.monitor.ortprofile MODEL OUT.json [NAME=1x3x224x224 ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_MEM_KEYS = ("mem_bytes_in_use", "mem_in_use_peak", "mem_bytes_requested_in_use")


@dataclass(frozen=True)
class OpAlloc:
    node: str
    op_type: str
    in_use_after_bytes: int
    in_use_delta_bytes: int
    requested_delta_bytes: int
    peak_after_bytes: int
    arena_held_bytes: int
    output_bytes: int
    transient_bytes: int  # peak raised above what stayed in use: freed scratch

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AllocatorProfile:
    ops: tuple[OpAlloc, ...]  # first inference, in execution order
    peak_in_use_bytes: int | None
    peak_node: str | None
    arena_held_bytes: int | None
    version: str
    note: str = ""

    def top(self, key: str, n: int = 5) -> list[OpAlloc]:
        return sorted(self.ops, key=lambda o: getattr(o, key), reverse=True)[:n]

    def to_dict(self) -> dict:
        return {
            "source": "onnxruntime profiler (SessionOptions.enable_profiling), first inference",
            "version": self.version,
            "peak_in_use_bytes": self.peak_in_use_bytes,
            "peak_node": self.peak_node,
            "arena_held_bytes": self.arena_held_bytes,
            "transient_bytes_max": max((o.transient_bytes for o in self.ops), default=None),
            "ops": [o.to_dict() for o in self.ops],
            "note": self.note,
        }


def _int(args: dict, key: str) -> int:
    try:
        return int(args.get(key, 0))
    except (TypeError, ValueError):
        return 0


def parse_profile(events: list[dict], version: str = "") -> AllocatorProfile:
    """The first `model_run`'s kernels, with the allocator counters recorded after each."""
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    nodes = [
        e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")
    ]
    if runs:
        a, b = runs[0]["ts"], runs[0]["ts"] + runs[0].get("dur", 0)
        nodes = [e for e in nodes if a <= e["ts"] <= b]
    nodes.sort(key=lambda e: e["ts"])
    if not nodes or not any(k in nodes[0].get("args", {}) for k in _MEM_KEYS):
        keys = sorted(nodes[0].get("args", {})) if nodes else []
        note = (f"this onnxruntime ({version}) records no allocator counters per kernel; "
                f"it records: {', '.join(keys) or 'no kernel events'}")  # fmt: skip
        return AllocatorProfile((), None, None, None, version, note)
    ops, peak_before = [], 0
    for e in nodes:
        args = e["args"]
        in_use, peak = _int(args, "mem_bytes_in_use"), _int(args, "mem_in_use_peak")
        transient = peak - max(in_use, peak_before) if peak > peak_before else 0
        ops.append(OpAlloc(
            node=e["name"][: -len("_kernel_time")], op_type=str(args.get("op_name", "?")),
            in_use_after_bytes=in_use, in_use_delta_bytes=_int(args, "mem_in_use_delta"),
            requested_delta_bytes=_int(args, "mem_requested_in_use_delta"),
            peak_after_bytes=peak, arena_held_bytes=_int(args, "mem_arena_held"),
            output_bytes=_int(args, "output_size"), transient_bytes=max(transient, 0),
        ))  # fmt: skip
        peak_before = max(peak_before, peak)
    peak_op = next((o for o in ops if o.peak_after_bytes == peak_before), None)
    return AllocatorProfile(
        tuple(ops),
        peak_before,
        f"{peak_op.node} ({peak_op.op_type})" if peak_op else None,
        max(o.arena_held_bytes for o in ops),
        version,
    )


def profile_allocator(
    model: str, input_shapes: dict | None = None, threads: int | None = None,
    python: str | None = None, timeout_s: float = 300.0,
) -> AllocatorProfile:  # fmt: skip
    """Run `model` twice in a fresh onnxruntime process with profiling on."""
    from ..errors import Failure
    from .runner import _PKG_ROOT

    shapes = [f"{k}={'x'.join(map(str, v))}" for k, v in (input_shapes or {}).items()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (_PKG_ROOT, os.environ.get("PYTHONPATH")) if p))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="infermem-ortprof-") as tmp:
        out = Path(tmp, "alloc.json")
        argv = [python or sys.executable, "-m", "infermem.monitor.ortprofile",
                os.path.abspath(model), str(out), str(threads or 0), *shapes]  # fmt: skip
        try:
            p = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True,
                               timeout=timeout_s, errors="replace")  # fmt: skip
        except subprocess.TimeoutExpired:
            raise Failure(
                f"the onnxruntime profile did not finish within {timeout_s:g} s"
            ) from None
        if p.returncode != 0 or not out.exists():
            last = (p.stderr.strip().splitlines() or ["no message"])[-1]
            raise Failure(f"the onnxruntime profile failed: {last}")
        d = json.loads(out.read_text())
    return parse_profile(d["events"], d["version"])


def _main(argv: list[str]) -> int:
    import onnxruntime as ort

    from .runtimes import _ORT_TYPES, InputSpec, _fix_shape, make_inputs

    model, out, threads = argv[0], argv[1], int(argv[2])
    given = {}
    for text in argv[3:]:
        name, _, dims = text.rpartition("=")
        given[name] = tuple(int(d) for d in dims.split("x"))
    opts = ort.SessionOptions()
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(os.path.dirname(out), "ort")
    if threads:
        opts.intra_op_num_threads = threads
    s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    specs = []
    for i in s.get_inputs():
        shape = tuple(d if isinstance(d, int) else -1 for d in i.shape)
        specs.append(InputSpec(i.name, _fix_shape(i.name, shape, given), _ORT_TYPES[i.type]))
    feeds = dict(zip([x.name for x in specs], make_inputs(specs), strict=True))
    for _ in range(2):
        s.run(None, feeds)
    events = json.loads(Path(s.end_profiling()).read_text())
    Path(out).write_text(json.dumps({"version": ort.__version__, "events": events}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
