"""The sweep: every model under the paths, evaluated once per options
(cache first), on the local pool or a Dask cluster, results handed on as
they arrive."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence

from ..devices import Device
from ..errors import BadInput
from .cache import Cache
from .progress import Progress
from .results import SweepResult
from .task import SweepOptions, Task, discover, make_task


def _validate(options: SweepOptions) -> None:
    if options.timeout <= 0:
        raise BadInput(f"--timeout must be positive, got {options.timeout:g}")
    if options.time_limit <= 0:
        raise BadInput(f"--time-limit must be positive, got {options.time_limit:g}")
    a = options.alignment
    if a <= 0 or a & (a - 1):
        raise BadInput(f"--align must be a positive power of two, got {a}")


def sweep(
    paths: Iterable[str | os.PathLike],
    options: SweepOptions | None = None,
    devices: Sequence[Device] = (),
    jobs: int | None = None,
    scheduler: str | None = None,
    cache: Cache | None = None,
    on_result: Callable[[SweepResult], None] | None = None,
    progress: Progress | bool = False,
) -> SweepResult:
    """Evaluate every .onnx / .tflite under `paths` with `options` and fit it
    to `devices`.  `cache=None` evaluates everything; `scheduler` (a Dask
    address) runs the work on that cluster, else `jobs` local workers.
    `on_result(partial)` is called after each model (cache hits included),
    so a caller can write the results so far before an interruption."""
    options = options or SweepOptions()
    _validate(options)
    models = discover(paths)
    if not models:
        raise BadInput("no .onnx or .tflite model under the given paths")
    t0 = time.monotonic()
    prog = progress if isinstance(progress, Progress) else Progress(len(models), bool(progress))
    tasks = [make_task(p, options) for p in models]
    done: dict[str, dict] = {}

    def partial(complete: bool) -> SweepResult:
        ordered = tuple(done[p] for p in models if p in done)
        return SweepResult(options, tuple(devices), ordered, len(models),
                           time.monotonic() - t0, complete)

    def record(task: Task, result: dict, cached: bool) -> None:
        done[task.path] = {**result, "model": task.path, "cached": cached}
        prog.update(result, cached)
        if on_result:
            on_result(partial(len(done) == len(models)))

    todo = []
    for t in tasks:
        hit = cache.get(t) if cache else None
        if hit is None:
            todo.append(t)
        else:
            record(t, hit, True)
    try:
        for task, result in _execute(todo, jobs, scheduler):
            if cache:
                cache.put(task, result)
            record(task, result, False)
    finally:
        prog.close()
    return partial(True)


def _execute(tasks: Sequence[Task], jobs: int | None, scheduler: str | None):
    if scheduler:
        from .cluster import run_dask

        return run_dask(tasks, scheduler)
    from .local import run_local

    return run_local(tasks, jobs)
