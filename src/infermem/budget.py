"""Memory budgets: estimate what a step will allocate, refuse it before it runs.

A 200-byte model can declare a 4 GiB input or fold `Range(0, 2**28)` into a
2 GiB constant; a step that allocates it dies with a MemoryError (or the
machine swaps) long after the user could have been told.  So every step that
allocates in proportion to the model's declared shapes (constant folding,
the arena executor's buffers and inputs, TFLM's inputs and arena) first
estimates its bytes from the shapes and calls `check`, which raises
`BadInput` naming the tensor or node, the estimate and the budget.

The budget is `--max-memory` on every model command; without it, a share
(`DEFAULT_SHARE`) of the RAM available when the command starts, as psutil
reports it.  It lives in a context variable so library code reads it
without threading an argument through every call (`use_budget` scopes it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from .errors import BadInput

DEFAULT_SHARE = 0.5  # of psutil's available RAM: room for Python, libraries and the OS
DEFAULT_FLOOR = 64 << 20  # the default budget is never below this
_BUDGET: ContextVar[int | None] = ContextVar("infermem_memory_budget", default=None)


def default_budget() -> int:
    """Half the RAM available now (never below 64 MiB, so a tiny model still runs)."""
    import psutil

    return max(int(psutil.virtual_memory().available * DEFAULT_SHARE), DEFAULT_FLOOR)


def memory_budget() -> int:
    """The budget in force: the one set by `use_budget`/`set_budget`, else the default."""
    b = _BUDGET.get()
    return default_budget() if b is None else b


def set_budget(n: int | None) -> None:
    """Set the budget for the rest of this context (the CLI does it once per command)."""
    if n is not None and n <= 0:
        raise BadInput(f"--max-memory must be positive, got {n}")
    _BUDGET.set(n)


@contextlib.contextmanager
def use_budget(n: int | None) -> Iterator[None]:
    """Run a block under budget `n` (None: the default share of available RAM)."""
    token = _BUDGET.set(n)
    try:
        yield
    finally:
        _BUDGET.reset(token)


def check(need: int, what: str) -> None:
    """BadInput when `need` bytes (an estimate made before allocating) exceed
    the budget; `what` names the step and the tensor or node it is for."""
    if need <= DEFAULT_FLOOR and _BUDGET.get() is None:
        return  # within any default budget: psutil (0.1 s to import) is not asked
    limit = memory_budget()
    if need > limit:
        raise BadInput(
            f"{what} would need about {mib(need)} ({need:,} B), more than the memory "
            f"budget of {mib(limit)} ({limit:,} B); raise it with --max-memory if this "
            "machine can hold it"
        )


def mib(n: int) -> str:
    """Budgets are tens of MiB and up: MiB, or GiB from 1 GiB."""
    return f"{n / (1 << 30):,.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):,.1f} MiB"
