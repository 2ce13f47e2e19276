"""Scale-out on an existing engine: the same tasks on a Dask cluster.

`Client(address)` connects to a running scheduler (`dask scheduler`, with
workers from `dask worker tcp://HOST:8786`); each task is submitted with
`Client.map(run_task, ...)`, the very function the local pool runs, and
results are taken with `as_completed`.  Workers need only infermem
installed: the model's bytes travel with its task (a worker uses the file
at the same path instead when it has one with the same content), and the
per-model timeout is enforced on the worker by `run_task`'s child process.

Tasks are submitted a window at a time (a few per worker thread), so a zoo
of thousands of models is never all in memory at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import BadInput, Failure
from .task import Task, failed
from .worker import run_task

PER_THREAD = 2  # tasks in flight per worker thread


def _client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise BadInput("--scheduler needs Dask: pip install 'infermem[cluster]' "
                       "(dask[distributed])") from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as e:
        raise Failure(f"cannot reach the Dask scheduler at {address}: {e}") from None
    except ValueError as e:
        raise BadInput(f"--scheduler {address!r}: {e}") from None


def _shipped(task: Task) -> Task:
    try:
        return dataclasses.replace(task, data=Path(task.path).read_bytes())
    except OSError:
        return task


def run_dask(tasks: Sequence[Task], address: str) -> Iterator[tuple[Task, dict]]:
    """(task, result) for every task, as each finishes on the cluster."""
    if not tasks:
        return
    from distributed import as_completed

    client = _client(address)
    try:
        threads = sum(client.nthreads().values()) or 1
        queue = list(reversed(tasks))
        window = [queue.pop() for _ in range(min(len(queue), threads * PER_THREAD))]
        futures = client.map(run_task, [_shipped(t) for t in window], pure=False)
        by_key = {f.key: t for f, t in zip(futures, window, strict=True)}
        done = as_completed(futures)
        for f in done:
            t = by_key.pop(f.key)
            yield t, _result(f, t)
            if queue:
                nxt = queue.pop()
                (g,) = client.map(run_task, [_shipped(nxt)], pure=False)
                by_key[g.key] = nxt
                done.add(g)
    finally:
        client.close()


def _result(future, task: Task) -> dict:
    """The future's result; a worker lost or a task erred is a failed row."""
    try:
        return future.result()
    except Exception as e:  # noqa: BLE001 - Dask re-raises whatever the worker saw
        return failed(task, "crash", f"the Dask task failed: {type(e).__name__}: {e}")
