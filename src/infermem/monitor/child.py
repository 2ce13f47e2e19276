"""The monitored child for `infermem monitor MODEL`: load and run one model.

    python -m infermem.monitor.child --runtime onnxruntime --model m.onnx --runs 100

Runs in a fresh process so that import and load costs are measured from a
clean interpreter and a runtime crash (TFLM segfaults on a too-small arena)
cannot take the parent down.  Phases: import, load (file bytes into memory),
session (runtime objects, planning, allocation), inputs (random input
tensors), first_inference, warmup,
steady (one iteration per inference).  The parent reads the events through
the file named by INFERMEM_MONITOR_EVENTS; an error becomes an event too, so
the parent can say which phase failed and still keep the timeline.

Module-level imports are standard library only, so that a bare Python can
still report that the runtime is missing.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import InfermemError
from .session import Monitor


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m infermem.monitor.child")
    p.add_argument("--runtime", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DxD")
    p.add_argument("--arena-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--tracemalloc", action="store_true")
    return p.parse_args(argv)


def _shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    out = {}
    for text in items:
        name, _, dims = text.rpartition("=")
        out[name] = tuple(int(d) for d in dims.lower().split("x"))
    return out


def drive(mon: Monitor, args: argparse.Namespace) -> None:
    """The phases, in order; each one's memory is what the report separates."""
    from . import runtimes

    with mon.phase("import"):
        module = runtimes.import_runtime(args.runtime)
    with mon.phase("load"):
        with open(args.model, "rb") as fh:
            data = fh.read()
        runtimes.check_model_bytes(args.runtime, data)
    with mon.phase("session"):
        session = runtimes.create_session(
            args.runtime, module, data, _shapes(args.input_shape), args.arena_size, args.threads
        )
    mon.info("runtime", args.runtime)
    mon.info("runtime_version", getattr(module, "__version__", "") or _version(args.runtime))
    mon.info("inputs", "; ".join(f"{s.name}: {s.dtype}{list(s.shape)}" for s in session.inputs))
    with mon.phase("inputs"):
        feeds = runtimes.make_inputs(session.inputs)
    with mon.phase("first_inference"):
        session.run(feeds)
    if args.warmup:
        with mon.phase("warmup"):
            for _ in range(args.warmup):
                session.run(feeds)
    with mon.phase("steady"):
        for _ in range(args.runs):
            with mon.iteration():
                session.run(feeds)


def _version(runtime: str) -> str:
    from importlib import metadata

    dist = {"onnxruntime": "onnxruntime", "litert": "ai-edge-litert", "tflm": "tflite-micro"}
    try:
        return metadata.version(dist[runtime])
    except Exception:
        return ""


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        with Monitor(None, tracemalloc=args.tracemalloc, keep_events=False) as mon:
            drive(mon, args)
    except InfermemError as e:
        _say(e)
        return e.exit_code
    except Exception as e:
        _say(e)
        return 1
    return 0


def _say(e: Exception) -> None:
    """Without a parent reading the events, the message goes to stderr."""
    if not os.environ.get("INFERMEM_MONITOR_EVENTS"):
        print(f"infermem monitor: error: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
