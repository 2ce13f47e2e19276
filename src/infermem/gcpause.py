"""Pause Python's cyclic garbage collector while a large graph structure is built.

Loading a 30,000-node model and profiling it creates a few hundred thousand
small objects (tensors, operators, rows, dicts) that form no reference cycles
and all live on.  The collector, triggered every 700 allocations, walks them
again and again: about a third of a long chain's `profile --json` time.  The
pause ends with the block, so nothing that runs after it (the executor, the
planners) runs without collection.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The collector off for the block (left off if it was off already)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
