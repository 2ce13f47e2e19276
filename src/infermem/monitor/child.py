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

import os
import sys
from types import SimpleNamespace

from ..errors import BadInput, InfermemError
from .session import Monitor

_OPTIONS = {  # option -> (attribute, type, default); --input-shape may repeat
    "--runtime": ("runtime", str, None),
    "--model": ("model", str, None),
    "--runs": ("runs", int, 100),
    "--warmup": ("warmup", int, 0),
    "--input-shape": ("input_shape", str, []),
    "--arena-size": ("arena_size", int, None),
    "--threads": ("threads", int, None),
}


def _parse(argv: list[str] | None) -> SimpleNamespace:
    """The command line `model_argv` writes.  Hand-parsed: argparse (with the
    locale and terminal modules it pulls in) costs the monitored program tens
    of milliseconds at start-up that a bare script does not pay."""
    args = SimpleNamespace(**{a: (d.copy() if isinstance(d, list) else d)
                              for a, _, d in _OPTIONS.values()}, tracemalloc=False)  # fmt: skip
    items = list(sys.argv[1:] if argv is None else argv)
    while items:
        opt = items.pop(0)
        if opt == "--tracemalloc":
            args.tracemalloc = True
            continue
        if opt not in _OPTIONS or not items:
            raise BadInput(f"bad child argument {opt!r} (usage: --runtime R --model PATH ...)")
        attr, kind, default = _OPTIONS[opt]
        try:
            value = kind(items.pop(0))
        except ValueError:
            raise BadInput(f"{opt} needs an integer") from None
        if isinstance(default, list):
            getattr(args, attr).append(value)
        else:
            setattr(args, attr, value)
    if args.runtime is None or args.model is None:
        raise BadInput("the child needs --runtime and --model")
    return args


def _shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    out = {}
    for text in items:
        name, _, dims = text.rpartition("=")
        out[name] = tuple(int(d) for d in dims.lower().split("x"))
    return out


def drive(mon: Monitor, args: SimpleNamespace) -> None:
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
    for key, value in session.facts().items():
        mon.info(key, value)
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
    try:
        args = _parse(argv)
    except BadInput as e:  # before any Monitor: no event can carry it
        print(f"infermem monitor: error: {e}", file=sys.stderr)
        return e.exit_code
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
