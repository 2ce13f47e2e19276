"""Symbolic dims by name, the context length under a budget, memory against length."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .model import Shapes, check_alignment

Dims = Mapping[str, int] | None


def shapes_for(model: str | Path, dims: Mapping[str, int],
               input_shapes: Shapes = None) -> dict[str, tuple[int, ...]]:
    """Input shapes with symbolic dims set by name (`--dim`): {'sequence_length':
    128} sets it in every input that uses it, 'past_sequence_length +
    sequence_length' included; pass the result as any function's
    `input_shapes`.  An unset batch dim takes 1."""
    from ..dims import model_dims, resolve

    given = {k: tuple(v) for k, v in (input_shapes or {}).items()}
    return resolve(model_dims(model), dict(dims), given).shapes


def _setting(model, dims, input_shapes, strategy, time_limit, alignment, fuse):
    from ..seqlen import setting

    check_alignment(alignment)
    return setting(model, dims, input_shapes, strategy, time_limit, alignment, fuse)


@dataclass(frozen=True)
class MaxSeqResult:
    """The largest length of one dim within a budget (`fit --max-seq`); with
    `batch`, the largest length at batch 1, 2, 4, ... (`frontier`)."""

    model: str
    result: object | None  # seqlen.MaxSeq, without batch
    frontier: tuple | None  # ((batch, seqlen.MaxSeq), ...), with batch

    def to_json(self) -> dict:
        doc: dict = {"model": self.model}
        if self.result is not None:
            doc.update(self.result.to_json())
        if self.frontier is not None:
            doc["frontier"] = [{"batch": b, **r.to_json()} for b, r in self.frontier]
        return doc


def max_seq(model: str | Path, budget: str | int, dim: str = "seq", *, dims: Dims = None,
            batch: bool = False, input_shapes: Shapes = None, strategy: str = "best",
            time_limit: float = 5.0, alignment: int = 16, fuse: str | None = None,
            on_row=None) -> MaxSeqResult:
    """The largest value of symbolic dim `dim` ('seq': the model's sequence
    dim) whose arena + KV cache + weights fit `budget` (bytes or '512MiB'),
    other dims from `dims`.  Decode step of a decoder: dims={'sequence_length':
    1}, dim='past_sequence_length'; prefill: dims={'past_sequence_length': 0},
    dim='sequence_length'.  With `batch`, the same at batch 1, 2, 4, ... until
    even length 1 does not fit (`on_row` is called with each as it is found).
    `fuse` ('tvm', 'ort') plans as that runtime fuses, as `plan --fuse`."""
    from ..seqlen import frontier
    from ..seqlen import max_seq as search
    from ..sizes import parse_size

    n = budget if isinstance(budget, int) else parse_size(budget, "--budget")
    s = _setting(model, dims, input_shapes, strategy, time_limit, alignment, fuse)
    if batch:
        return MaxSeqResult(str(model), None, frontier(s, dim, n, on_row))
    return MaxSeqResult(str(model), search(s, dim, n), None)


@dataclass(frozen=True)
class LengthSweep:
    """Arena, KV cache and weights at each length (`profile --sweep`)."""

    model: str
    dim: str
    points: tuple  # seqlen.Point per length

    def to_json(self) -> dict:
        return {"model": self.model, "dim": self.dim,
                "points": [{"length": p.value(self.dim), **p.to_json()} for p in self.points]}

    def plot(self, path: str | Path) -> None:
        """Arena, KV cache, weights and total against length, to .png/.svg/.pdf."""
        from ..report.seq_table import plot_sweep

        plot_sweep(self, Path(path))


def sweep_lengths(model: str | Path, dim: str = "seq",
                  lengths: Sequence[int] | str = "128..4096", *, dims: Dims = None,
                  input_shapes: Shapes = None, strategy: str = "best", time_limit: float = 5.0,
                  alignment: int = 16, fuse: str | None = None) -> LengthSweep:
    """Plan the model at each length of `dim` ('seq' or a symbolic dim name);
    `lengths` a list or a range as `--sweep` takes it ('128..4096' doubles,
    '128..1024:128' steps, '128,256').  (Not `sweep`: `infermem.sweep` is the
    model-zoo sweep package.)"""
    from ..seqlen import parse_sweep
    from ..seqlen import sweep as run

    if isinstance(lengths, str):
        _, lengths = parse_sweep(f"{dim}={lengths}")
    s = _setting(model, dims, input_shapes, strategy, time_limit, alignment, fuse)
    name, points = run(s, dim, tuple(lengths))
    return LengthSweep(str(model), name, points)
