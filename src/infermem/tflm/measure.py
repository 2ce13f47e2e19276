"""Measure the arena a model really uses in TFLite Micro.

The `tflite-micro` Python interpreter runs TFLM's C++ allocator and planner;
its `print_allocations()` writes "Arena allocation total/head/tail N bytes"
to stderr from C code.  Every interpreter runs in a child process (see
`_child`): the report comes back from the child, a crash or a hang
becomes a Failure that quotes what TFLM printed, and infermem's own process
never loads a model it has not checked.

`min_arena_bytes` answers the question users otherwise settle by trial and
error on the board: the smallest `arena_size` (16-byte resolution) with which
the model loads and runs, found by bisection in a child process.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Failure
from ..planners.problem import align_up
from ._model import TflmModel, read_model
from .inputs import input_specs, random_inputs
from .problem import build

STEP = 16
MAX_ARENA = 1 << 30
_MISSING = re.compile(r"missing:? (\d+)")


@dataclass(frozen=True)
class TflmArena:
    """What TFLM reported (head: planned tensors and scratch buffers; tail:
    persistent runtime data) and, if asked for, the bisected minimum arena."""

    head_bytes: int
    tail_bytes: int
    total_bytes: int
    min_arena_bytes: int | None
    arena_size: int  # the arena the reported run was given


@dataclass(frozen=True)
class TflmRun:
    outputs: tuple[tuple[np.ndarray, ...], ...]  # per input set, per graph output
    head_bytes: int
    tail_bytes: int
    total_bytes: int
    arena_size: int
    log: str  # what TFLM printed
    invoke_seconds: tuple[float, ...] = ()  # wall time of each interp.invoke(), per input set


@dataclass(frozen=True)
class _Child:
    lines: list[str]
    stderr: str
    result: dict | None
    returncode: int | None
    timed_out: bool


def _tail(text: str, n: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def _spawn(req: dict, timeout: float) -> _Child:
    """Run one request in a fresh child (stdin closed after it)."""
    from ._child import command  # not at import: the child itself imports this package

    cmd, env = command()
    try:
        p = subprocess.run(
            cmd,
            input=json.dumps(req) + "\n",
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            errors="replace",
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout or ""
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr or ""
        return _Child(out.splitlines(), err, None, None, True)
    lines = p.stdout.splitlines()
    result = None
    for line in lines:
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    return _Child(lines, p.stderr, result, p.returncode, False)


def _why(child: _Child, what: str, timeout: float) -> str:
    if child.timed_out:
        head = f"TFLM did not finish {what} within {timeout:g} s"
    elif child.returncode is not None and child.returncode < 0:
        try:
            name = signal.Signals(-child.returncode).name
        except ValueError:
            name = f"signal {-child.returncode}"
        head = f"TFLM crashed ({name}) {what}"
    elif child.result is not None and not child.result.get("ok"):
        head = f"TFLM failed {what}: {child.result.get('error')}"
    else:
        head = f"the TFLM child process exited with status {child.returncode} {what}"
    printed = _tail(child.stderr)
    return head + (f"; TFLM printed:\n{printed}" if printed else "; TFLM printed nothing")


def default_arena(model: TflmModel) -> int:
    """A first arena size that fits any sane model: twice everything TFLM could
    plan without reuse, plus room for the persistent tail."""
    try:
        p = build(model).problem
        planned = sum(b.size for b in p.buffers)
    except Exception:
        planned = sum(t.nbytes for sg in model.subgraphs for t in sg.tensors if t.planned)
    sg_ops = sum(len(sg.ops) for sg in model.subgraphs)
    return align_up(2 * planned + (1 << 20) + 2048 * sg_ops + 256 * model.tensor_count, STEP)


def check_memory(model: TflmModel, sets: int, arena: int | None = None) -> None:
    """BadInput, before any input is drawn or any child started, when a TFLM run
    would need more than the memory budget: the arena the child allocates
    (`arena`, else `default_arena`), each input set held by this process, the
    .npz that carries it and the child's copy, the outputs coming back, and the
    64-bit draw the largest random input is made from."""
    from ..budget import check

    specs = input_specs(model)
    inputs = sum(math.prod(shape) * dt.itemsize for shape, dt in specs)
    draw = max((math.prod(shape) * 8 for shape, _ in specs), default=0)
    outputs = sum(model.main.tensors[i].nbytes for i in model.main.outputs)
    size = align_up(arena, STEP) if arena else default_arena(model)
    check(size + sets * (3 * inputs + 2 * outputs) + draw,
          f"{model.path}: a TFLM run (arena_size {size:,} B, {sets} input set(s) of "
          f"{inputs:,} B)")


def run(
    path: str | Path,
    input_sets: Sequence[Sequence[np.ndarray]],
    arena: int | None = None,
    timeout: float = 120.0,
) -> TflmRun:
    """Run `path` in TFLM on each input set (one interpreter, in a child process).
    Without `arena`, start from `default_arena` and grow it while allocation fails."""
    path = Path(path)
    model = read_model(path)
    check_memory(model, len(input_sets), arena)
    size = align_up(arena, STEP) if arena else default_arena(model)
    with tempfile.TemporaryDirectory(prefix="infermem-tflm-") as tmp:
        inp, outp = Path(tmp, "in.npz"), Path(tmp, "out.npz")
        np.savez(
            inp, **{f"s{s}_i{j}": x for s, xs in enumerate(input_sets) for j, x in enumerate(xs)}
        )
        while True:
            req = {
                "mode": "run",
                "model": str(path),
                "arena": size,
                "inputs": str(inp),
                "outputs": str(outp),
            }
            child = _spawn(req, timeout)
            if child.result and child.result.get("ok"):
                break
            bigger = None if arena else _bigger_arena(child, size)
            if arena and _MISSING.search(child.stderr) and child.result:
                raise Failure(too_small(path, size))
            if bigger is None:
                raise Failure(f"{path}: " + _why(child, f"running with arena_size={size}", timeout))
            size = bigger
        with np.load(outp) as z:
            outputs = tuple(
                tuple(z[f"s{s}_o{k}"] for k in range(_count(z.files, s)))
                for s in range(len(input_sets))
            )
    found = child.result
    if not {"total", "head", "tail"} <= set(found):
        raise Failure(
            f"{path}: TFLM did not print its allocation report; it printed:\n" + _tail(child.stderr)
        )
    return TflmRun(outputs, found["head"], found["tail"], found["total"], size, child.stderr,
                   tuple(found.get("invoke_s", ())))


def too_small(path, size: int) -> str:
    """The one-line message for an arena TFLM cannot fit the model into, in place
    of TFLM's own C-level lines ("Failed to allocate ... missing: N", which
    name only the first allocation that failed, not what the model needs)."""
    return (f"{path}: arena_size={size:,} B is too small for this model (TFLM could not "
            f"allocate its tensors); give a larger --arena-size, or none to let infermem grow "
            f"it until the model fits (`infermem tflm measure MODEL` reports the smallest "
            f"that works)")


def _bigger_arena(child: _Child, size: int) -> int | None:
    """The arena to retry with when TFLM said it ran out ("... missing: N"), or
    None when the failure is not about the arena's size or the need is absurd."""
    missing = [int(n) for n in _MISSING.findall(child.stderr)]
    if not missing or not child.result or child.result.get("ok"):
        return None
    bigger = align_up(size + max(missing) + (64 << 10), STEP)
    return bigger if bigger <= MAX_ARENA else None


def _count(files: list[str], s: int) -> int:
    return sum(1 for f in files if f.startswith(f"s{s}_o"))


def measure(
    path: str | Path,
    bisect: bool = True,
    arena: int | None = None,
    seed: int = 0,
    timeout: float = 120.0,
) -> TflmArena:
    """Run `path` once in TFLM on seeded random input and report the arena it used;
    with `bisect`, also the smallest arena_size that works."""
    model = read_model(path)
    check_memory(model, 1, arena)
    r = run(path, [random_inputs(model, seed)], arena, timeout)
    low = min_arena(path, r.arena_size, r.total_bytes, timeout) if bisect else None
    return TflmArena(r.head_bytes, r.tail_bytes, r.total_bytes, low, r.arena_size)


def min_arena(path: str | Path, works: int, guess: int, timeout: float = 120.0) -> int:
    """Smallest multiple of 16 in (0, works] with which `path` loads and runs.

    Probes `guess` and `guess - 16` first (the answer is usually the reported
    total), then bisects.  All probes run in one child; if a probe crashes the
    child, that size counts as failing and a fresh child goes on."""
    read_model(path)  # the loader's checks, before TFLM sees the file
    lo, hi = 0, align_up(works, STEP)
    g = align_up(guess, STEP)
    first = [g, g - STEP]
    for _ in range(64):
        if hi - lo <= STEP:
            return hi
        req = {
            "mode": "bisect",
            "model": str(path),
            "lo": lo,
            "hi": hi,
            "step": STEP,
            "first": first,
        }
        child = _spawn(req, timeout)
        pending = None
        for line in child.lines:
            word, _, n = line.partition(" ")
            if word == "try":
                pending = int(n)
            elif word in ("ok", "fail"):
                lo, hi = (lo, int(n)) if word == "ok" else (int(n), hi)
                pending = None
        if child.result and child.result.get("ok"):
            return int(child.result["hi"])
        if pending is None:
            raise Failure(f"{path}: " + _why(child, "while bisecting the arena size", timeout))
        lo = max(lo, pending)  # the probe that took the child down counts as failing
        first = []
    raise Failure(f"{path}: bisecting the arena size did not converge")
