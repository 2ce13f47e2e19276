"""The embedded executor: a local pool, no services to start.

`jobs` threads, each feeding its own worker child process (`worker.run_task`,
which owns the timeout and crash handling), so up to `jobs` models are
evaluated at once.  Results come back in completion order.  On an
interruption the pending tasks are cancelled and every child is killed
before the exception goes on.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ..errors import BadInput
from .task import Task
from .worker import close_workers, run_task

_pools = itertools.count(1)  # names each pool's threads, so it stops only its own children


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def run_local(tasks: Sequence[Task], jobs: int | None = None) -> Iterator[tuple[Task, dict]]:
    """(task, result) for every task, as each finishes."""
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise BadInput(f"--jobs must be at least 1, got {jobs}")
    if not tasks:
        return
    prefix = f"infermem-sweep-{next(_pools)}"
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(tasks)), thread_name_prefix=prefix)
    try:
        pending = {pool.submit(run_task, t): t for t in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield pending.pop(f), f.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        close_workers(kill=True, owner=prefix + "_")
        pool.shutdown(wait=True)
