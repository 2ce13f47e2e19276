"""The monitored child for `infermem monitor MODEL`: load and run one model.

    python .../infermem/monitor/child.py --runtime onnxruntime --model m.onnx --runs 100

Runs in a fresh process so that import and load costs are measured from a
clean interpreter and a runtime crash (TFLM segfaults on a too-small arena)
cannot take the parent down.  Phases: import, load (file bytes into memory),
session (runtime objects, planning, allocation), inputs (random input
tensors), first_inference, warmup,
steady (one iteration per inference).  The parent reads the events through
the file named by INFERMEM_MONITOR_EVENTS; an error becomes an event too, so
the parent can say which phase failed and still keep the timeline.

Start-up is kept light, because everything the child does before the model
runs is overhead a plain script does not pay: it is started as a script (not
`-m`, which loads runpy and the package's `__init__`s), module-level imports
are `os`, `sys` and `time` only, and phase/iteration events are written by
`_Marks` (a few lines of bytes parsing and string formatting) rather than
`Monitor`, whose dataclasses, JSON and regular expressions cost tens of
milliseconds to import.  The events are the same JSON lines; `--tracemalloc`
uses the full `Monitor`.  A bare Python can still report that the runtime
is missing.
"""

from __future__ import annotations

import os
import sys
import time

if __name__ == "__main__" and not __package__:  # run as a script: see the docstring
    _HERE = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
        sys.path.pop(0)  # this folder's modules must not shadow anything
    sys.path.insert(0, os.path.dirname(os.path.dirname(_HERE)))

from infermem.errors import BadInput, InfermemError  # noqa: E402  (after the path fix)

_PAGE = os.sysconf("SC_PAGE_SIZE")

_OPTIONS = {  # option -> (attribute, type, default); --input-shape may repeat
    "--runtime": ("runtime", str, None),
    "--model": ("model", str, None),
    "--runs": ("runs", int, 100),
    "--warmup": ("warmup", int, 0),
    "--input-shape": ("input_shape", str, []),
    "--arena-size": ("arena_size", int, None),
    "--threads": ("threads", int, None),
}


class _Args:
    """The parsed command line (attributes named as in `_OPTIONS`)."""


def _parse(argv: list[str] | None) -> _Args:
    """The command line `model_argv` writes.  Hand-parsed: argparse (with the
    locale and terminal modules it pulls in) costs the monitored program tens
    of milliseconds at start-up that a bare script does not pay."""
    args = _Args()
    for attr, _, default in _OPTIONS.values():
        setattr(args, attr, default.copy() if isinstance(default, list) else default)
    args.tracemalloc = False
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


def drive(mon, args: _Args) -> None:
    """The phases, in order; each one's memory is what the report separates.
    `mon`: a `_Marks` or a `Monitor` (same phase/iteration/info calls)."""
    from infermem.monitor import runtimes

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
        if args.tracemalloc:
            from infermem.monitor.session import Monitor

            with Monitor(None, tracemalloc=True, keep_events=False) as mon:
                drive(mon, args)
        else:
            with _Marks() as mon:
                drive(mon, args)
    except InfermemError as e:
        _say(e)
        return e.exit_code
    except Exception as e:
        _say(e)
        return 1
    return 0


class _Marks:
    """Phase and iteration events for `infermem monitor MODEL`, as `Monitor`
    writes them (see `events.Event.to_json` and `probe.Probe`): RSS and the
    kernel's high-water mark since the previous event, which is then reset,
    so every phase's and every inference's peak is exact."""

    def __init__(self):
        path = os.environ.get("INFERMEM_MONITOR_EVENTS")
        self._sink = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if path else None
        self._status = _open("/proc/self/status", os.O_RDONLY)
        self._statm = _open("/proc/self/statm", os.O_RDONLY)
        self._clear = _open("/proc/self/clear_refs", os.O_WRONLY)
        self._pid = os.getpid()
        self._failed_in = ""

    def __enter__(self) -> _Marks:
        self._emit("phase_start", "__monitor__")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and not isinstance(exc, KeyboardInterrupt | SystemExit):
            extra = f',"message":{_esc(str(exc))},"error":{_esc(type(exc).__name__)}'
            self._emit("error", self._failed_in, extra)
        self._emit("phase_end", "__monitor__")
        for fd in (self._sink, self._status, self._statm, self._clear):
            if fd is not None:
                os.close(fd)

    def phase(self, name: str) -> _Span:
        return _Span(self, name, "phase_start", "phase_end")

    def iteration(self) -> _Span:
        return _Span(self, "run", "iter_start", "iter_end")

    def info(self, key: str, value: str) -> None:
        self._emit("info", key, f',"message":{_esc(str(value))}')

    def _emit(self, kind: str, name: str, extra: str = "", quick: bool = False) -> None:
        rss = hwm = None
        if quick and self._statm is not None:
            rss = int(os.pread(self._statm, 128, 0).split()[1]) * _PAGE
        elif self._status is not None:
            text = os.pread(self._status, 4096, 0)
            rss, hwm = _kib(text, b"VmRSS:"), _kib(text, b"VmHWM:")
            if self._clear is None or not _reset(self._clear):
                hwm, self._clear = None, None
        if self._sink is None:
            return
        line = f'{{"kind":"{kind}","name":{_esc(name)},"t":{time.monotonic()!r},"pid":{self._pid}'
        line += (f',"rss":{rss}' if rss is not None else "") + (
            f',"hwm":{hwm}' if hwm is not None else "")  # fmt: skip
        os.write(self._sink, (line + extra + "}\n").encode())


class _Span:
    """`with marks.phase(name):` / `with marks.iteration():`."""

    __slots__ = ("_m", "_name", "_open", "_close")

    def __init__(self, marks: _Marks, name: str, open_: str, close: str):
        self._m, self._name, self._open, self._close = marks, name, open_, close

    def __enter__(self) -> None:
        self._m._emit(self._open, self._name, quick=self._open == "iter_start")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and self._open == "phase_start":
            self._m._failed_in = self._m._failed_in or self._name
        self._m._emit(self._close, self._name)


def _open(path: str, flags: int) -> int | None:
    try:
        return os.open(path, flags)
    except OSError:
        return None


def _kib(text: bytes, key: bytes) -> int | None:
    k = text.find(key)
    return None if k < 0 else int(text[k + len(key) : text.index(b"kB", k)]) * 1024


def _reset(fd: int) -> bool:
    try:
        os.write(fd, b"5")
        return True
    except OSError:
        return False


_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)} | {ord('"'): '\\"', ord("\\"): "\\\\"}


def _esc(text: str) -> str:
    """A JSON string literal (ASCII: other characters as \\u escapes)."""
    out = text.translate(_ESCAPES)
    if not out.isascii():
        out = "".join(c if ord(c) < 128 else _u(ord(c)) for c in out)
    return f'"{out}"'


def _u(code: int) -> str:
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _say(e: Exception) -> None:
    """Without a parent reading the events, the message goes to stderr."""
    if not os.environ.get("INFERMEM_MONITOR_EVENTS"):
        print(f"infermem monitor: error: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
