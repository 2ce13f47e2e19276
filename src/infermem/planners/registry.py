"""The strategy registry: a name -> function table that `plan` dispatches on.

A strategy is a function `(Problem, PlanOptions) -> Mapping[str, int]` (one
offset per buffer name).  It may return a `Placed` (a dict with two extra
attributes) to tell `plan` whether it proved optimality and what it wants
recorded in the plan's notes.  Kept apart from `__init__` so that strategy
modules can import `register` without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .problem import Problem


@dataclass(frozen=True)
class PlanOptions:
    """Knobs every strategy may read; strategies ignore what they do not use.

    `use_overlaps`: whether strategies that can use allowed overlaps (DMO) may.
    `attempts`: hill-climb's budget of perturbations (also bounded by time).
    """

    time_limit: float = 10.0
    seed: int = 0
    use_overlaps: bool = True
    attempts: int = 500


class Placed(dict):
    """Offsets by name, plus `optimal` (True when proven, None when unknown)
    and `notes` (a dict merged into the Plan's notes)."""

    def __init__(
        self,
        offsets: Mapping[str, int],
        optimal: bool | None = None,
        notes: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(offsets)
        self.optimal = optimal
        self.notes = dict(notes or {})


Strategy = Callable[[Problem, PlanOptions], Mapping[str, int]]
STRATEGIES: dict[str, Strategy] = {}


def register(name: str) -> Callable[[Strategy], Strategy]:
    """Decorator: make `fn` available to `plan(problem, strategy=name)`."""

    def deco(fn: Strategy) -> Strategy:
        if name in STRATEGIES:
            raise ValueError(f"planner strategy {name!r} registered twice")
        STRATEGIES[name] = fn
        return fn

    return deco
