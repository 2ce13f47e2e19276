"""Context length (and batch) under a memory budget; memory against length.

Memory needed at a point (every symbolic dim set) = the arena of infermem's
plan of the model loaded at that point (`planning.plan_model`, strategy
`best` unless told: the plan `infermem plan` gives) + the KV cache (past
inputs + present outputs, held outside the arena; kvcache.py) + the weights
(resident in RAM, as on a phone or a Raspberry Pi).  Runtime overhead (the
interpreter, the allocator's slack) is not included.

For a decoder with a KV cache two lengths matter, and each is one dim:

- the decode step, one new token against a cache of N: `--dim
  sequence_length=1 --max-seq past_sequence_length`; the context is N + 1
  tokens;
- the prefill, a prompt of N tokens with nothing cached: `--dim
  past_sequence_length=0 --max-seq sequence_length`.

`seq` stands for the model's one sequence-like dim still unset (a name with
seq, len, token, position or context in it); where two are unset (a decoder
with past), it asks for one of the above.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .dims import ModelDims, model_dims, resolve
from .errors import BadInput
from .growth import largest

MAX_SEQ = 1 << 20  # tokens: the search stops there, still fitting
MAX_POINTS = 64  # a sweep's lengths
SEQ_LIKE = re.compile(r"seq|len|token|position|context", re.IGNORECASE)


@dataclass(frozen=True)
class Point:
    """The plan at one setting of the symbolic dims."""

    values: tuple[tuple[str, int], ...]  # every symbolic dim, name order of the model
    arena_bytes: int
    kv_bytes: int
    weights_bytes: int
    fits: bool | None = None  # against the budget, when there is one
    refused: str | None = None  # why the model cannot run at this point (then no figures)

    @property
    def total_bytes(self) -> int:
        return self.arena_bytes + self.kv_bytes + self.weights_bytes

    def value(self, name: str) -> int:
        return dict(self.values)[name]

    def to_json(self) -> dict:
        return {"dims": dict(self.values), "arena_bytes": self.arena_bytes,
                "kv_cache_bytes": self.kv_bytes, "weights_bytes": self.weights_bytes,
                "total_bytes": self.total_bytes, "fits": self.fits, "refused": self.refused}


@dataclass(frozen=True)
class Setting:
    """What stays fixed while one dim varies: the model, the other dims, the planner."""

    path: str
    dims: ModelDims
    values: Mapping[str, int]
    given: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    strategy: str = "best"
    time_limit: float = 5.0
    alignment: int = 16
    fuse: str | None = None  # plan as this runtime fuses (`plan --fuse`)

    def point(self, name: str, n: int, budget: int | None = None) -> Point:
        """Load the model with `name` = n and plan it (one probe)."""
        from .frontends import load
        from .kvcache import kv_bytes
        from .planning import plan_model

        r = resolve(self.dims, {**self.values, name: n}, self.given)
        order = tuple((s, r.values[s]) for s in self.dims.symbols if s in r.values)
        try:
            graph = load(self.path, r.shapes)
        except BadInput as e:
            if n <= 1:  # the model does not load at all: not a length limit
                raise
            return Point(order, 0, 0, 0, False, _reason(str(e), self.path))
        pm = plan_model(graph, self.strategy, self.time_limit, self.alignment, fuse=self.fuse)
        p = Point(order, pm.plan.arena_bytes, kv_bytes(graph), graph.weights_bytes)
        return p if budget is None else replace(p, fits=p.total_bytes <= budget)


def _reason(message: str, path: str) -> str:
    """The frontend's refusal without the path it starts with."""
    return message.removeprefix(f"{path}: ")


def setting(path: str | Path, values: Mapping[str, int] | None = None,
            given: Mapping[str, tuple[int, ...]] | None = None, strategy: str = "best",
            time_limit: float = 5.0, alignment: int = 16, fuse: str | None = None) -> Setting:
    return Setting(str(path), model_dims(path), dict(values or {}),
                   {k: tuple(v) for k, v in (given or {}).items()}, strategy, time_limit,
                   alignment, fuse)


def seq_dim(md: ModelDims, name: str, values: Mapping[str, int]) -> str:
    """The dim `name` stands for (itself, or the sequence dim for `seq`);
    BadInput when the model has no such dim or it is already set."""
    syms = md.symbols
    if not syms:
        raise BadInput(f"{md.path} has no symbolic dims: every length is fixed in the file, "
                       "so there is no sequence length to vary")
    if name == "seq" and "seq" not in syms:
        free = [s for s in syms if SEQ_LIKE.search(s) and s not in values
                and s not in md.batch_symbols]
        if len(free) == 1:
            return free[0]
        if not free:
            raise BadInput(f"{md.path}: no sequence-like symbolic dim is left unset for 'seq' "
                           f"(its symbolic dims: {', '.join(syms)}); name one")
        past = next((s for s in free if s.startswith("past")), None)
        new = next((s for s in free if not s.startswith("past")), free[0])
        hint = (f" (decode step: --dim {new}=1 --max-seq {past}; prefill: --dim {past}=0 "
                f"--max-seq {new})" if past else "")
        raise BadInput(f"{md.path}: 'seq' could be {' or '.join(free)}; name one{hint}")
    if name not in syms:
        raise BadInput(f"{md.path} has no symbolic dim {name!r} (its symbolic dims: "
                       f"{', '.join(syms)})")
    if name in values:
        raise BadInput(f"{name} is the dim being varied: do not also fix it with --dim")
    return name


@dataclass(frozen=True)
class MaxSeq:
    dim: str
    budget_bytes: int
    length: int  # 0 when not even 1 fits
    at: Point | None  # at `length`
    above: Point  # at `length` + 1 (does not fit), or at the cap when capped
    probes: tuple[Point, ...]
    strategy: str
    capped: bool

    def to_json(self) -> dict:
        return {"dim": self.dim, "budget_bytes": self.budget_bytes, "max_seq": self.length,
                "strategy": self.strategy, "capped": self.capped,
                "at": self.at.to_json() if self.at else None, "above": self.above.to_json(),
                "probes": [p.to_json() for p in self.probes]}


def max_seq(s: Setting, name: str, budget: int) -> MaxSeq:
    """The largest value of dim `name` (1..MAX_SEQ) whose need fits `budget`."""
    if budget <= 0:
        raise BadInput(f"the budget must be positive, got {budget} bytes")
    dim = seq_dim(s.dims, name, s.values)
    found = largest(lambda n: s.point(dim, n, budget), MAX_SEQ)
    return MaxSeq(dim, budget, found.size, found.at, found.above, found.probes, s.strategy,
                  found.capped)


def frontier(s: Setting, name: str, budget: int,
             on_row: Callable[[MaxSeq], None] | None = None) -> tuple[tuple[int, MaxSeq], ...]:
    """`--max-seq` with `--max-batch`: the largest length at batch 1, 2, 4, ...
    until a batch does not fit even at length 1.  Every (batch, length) pair
    on it fits; doubling either does not."""
    batch = sorted(s.dims.batch_symbols - set(s.values))
    if len(batch) != 1:
        raise BadInput(f"{s.path}: --max-batch with --max-seq needs one symbolic batch dim "
                       f"(the leading dim of the inputs); found {batch or 'none'}")
    rows = []
    b = 1
    while True:
        r = max_seq(replace(s, values={**s.values, batch[0]: b}), name, budget)
        if r.length == 0:
            break
        rows.append((b, r))
        if on_row:
            on_row(r)
        b *= 2
    return tuple(rows)


def parse_sweep(text: str) -> tuple[str, tuple[int, ...]]:
    """'seq=128..4096' (doubling), 'seq=128..1024:128' (a step),
    'seq=128,256,512' (a list) -> (name, lengths)."""
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.replace(" ", "")
    try:
        if not sep or not name:
            raise ValueError
        if ".." in spec:
            lo, _, rest = spec.partition("..")
            hi, _, step = rest.partition(":")
            lo_n, hi_n = int(lo), int(hi)
            if step:
                values = list(range(lo_n, hi_n + 1, int(step)))
            else:
                values = [lo_n]
                while lo_n > 0 and values[-1] * 2 <= hi_n:
                    values.append(values[-1] * 2)
        else:
            values = [int(v) for v in spec.split(",")]
    except ValueError:
        raise BadInput(f"--sweep expects NAME=A..B (doubling), NAME=A..B:STEP or NAME=A,B,C "
                       f"with whole numbers, got {text!r}") from None
    if not values or min(values) < 0 or len(values) > MAX_POINTS:
        raise BadInput(f"--sweep {text!r}: 1 to {MAX_POINTS} lengths, none negative")
    return name, tuple(sorted(set(values)))


def sweep(s: Setting, name: str, lengths: tuple[int, ...]) -> tuple[str, tuple[Point, ...]]:
    """The plan at each length: (the dim swept, one Point per length)."""
    dim = seq_dim(s.dims, name, s.values)
    return dim, tuple(s.point(dim, n) for n in lengths)
