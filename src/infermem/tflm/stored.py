"""An offline plan already stored in a `.tflite` file, and what TFLM makes of it.

A model written by `infermem optimize` (or by any other tool) carries an
`OfflineMemoryAllocation` entry.  TFLM's GreedyMemoryPlanner puts those
tensors first, exactly where the entry says, and fits the rest (tensors marked
-1 and every kernel scratch buffer) around them.  So the head TFLM will use is
the `tflm` strategy on TFLM's problem with those offsets fixed.

The stored offsets may let an output share bytes with its input (a DMO plan).
They are checked against the overlaps infermem can prove for the model's
kernels (`overlap`, analytic rules): a stored plan that shares more than that
is reported as unproven, with the clash named, and no head is predicted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import BadInput, Failure
from ..planners import Problem, plan
from ._model import TflmModel, read_model
from .problem import TflmProblem, build


@dataclass(frozen=True)
class StoredPlan:
    """The file's own `OfflineMemoryAllocation` (subgraph 0)."""

    fixed_tensors: int  # tensors the entry places (offset >= 0)
    planned_tensors: int  # tensors TFLM plans in subgraph 0 (the rest: -1 or not planned)
    fixed_bytes: int  # max(offset + size) over the fixed tensors
    predicted_head_bytes: int | None  # TFLM's head with the plan (None when not proven)
    proven: bool  # the stored offsets pass infermem's validator with proven overlaps
    note: str  # what was checked, or why it is not proven

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for every command that meets the plan."""
        head = (f"TFLM's head with it {self.predicted_head_bytes:,} B"
                if self.predicted_head_bytes is not None else "no head predicted")
        return (f"offline plan in the file (OfflineMemoryAllocation): {self.fixed_tensors} of "
                f"{self.planned_tensors} tensors at fixed offsets, {self.fixed_bytes:,} B; "
                f"{head}; {self.note}")


def fixed_problem(tp: TflmProblem, dmo: bool = True) -> TflmProblem:
    """TFLM's problem with the stored offsets fixed (and, with `dmo`, the
    overlaps the analytic rules prove, so a DMO plan can be checked).  An
    offset off the 16-byte grid (a byte-exact probe) is kept by planning at
    alignment 1, as TFLM's planner (which only adds aligned sizes) does."""
    words = tp.model.offline_plan or ()
    offsets = {i: words[i] for i in tp.tensor_buffers.values() if i < len(words) and words[i] >= 0}
    bufs = tuple(
        replace(b, offset=offsets[tp.tensor_buffers[b.name]])
        if tp.tensor_buffers.get(b.name) in offsets else b
        for b in tp.problem.buffers
    )  # fmt: skip
    al = tp.problem.alignment
    if any(o % al for o in offsets.values()):
        al = 1
    fixed = replace(tp, problem=Problem(bufs, al))
    if dmo:
        from .dmo import add_overlaps

        fixed = add_overlaps(fixed)
    return fixed


def stored_plan(model: TflmModel | str | Path) -> StoredPlan | None:
    """The stored offline plan of `model` and the head TFLM will use with it, or
    None when the file has no `OfflineMemoryAllocation` entry."""
    m = model if isinstance(model, TflmModel) else read_model(model)
    if m.offline_plan is None:
        return None
    tp = build(m)
    fixed = fixed_problem(tp)
    placed = [b for b in fixed.problem.buffers if b.offset is not None]
    fixed_bytes = max((b.offset + b.size for b in placed), default=0)
    common = dict(fixed_tensors=len(placed), planned_tensors=len(tp.tensor_buffers),
                  fixed_bytes=fixed_bytes)  # fmt: skip
    try:
        head = plan(fixed.problem, "tflm").arena_bytes
    except (BadInput, Failure) as e:
        return StoredPlan(**common, predicted_head_bytes=None, proven=False,
                          note=f"not proven safe: {e}")  # fmt: skip
    return StoredPlan(**common, predicted_head_bytes=head, proven=True,
                      note="offsets checked by infermem's validator with the overlaps proven "
                           "for TFLM's kernels; the rest placed as TFLM's greedy planner does")


def predict_head(model: TflmModel | str | Path,
                 alignment: int = 16) -> tuple[int | None, StoredPlan | None]:
    """(the head TFLM will use, the stored plan or None): with a stored plan,
    TFLM's planner around its fixed offsets; otherwise TFLM's own greedy plan.
    The head is None where the model is outside what infermem models (several
    subgraphs) or the stored plan is not proven."""
    m = model if isinstance(model, TflmModel) else read_model(model)
    try:
        stored = stored_plan(m)
        if stored is not None:
            return stored.predicted_head_bytes, stored
        return plan(build(m, alignment=alignment).problem, "tflm").arena_bytes, None
    except BadInput:
        return None, None


def stored_plan_of(graph) -> StoredPlan | None:
    """`stored_plan` for a loaded Graph: None unless it is a `.tflite` file whose
    metadata holds an `OfflineMemoryAllocation` entry (the frontend notes it)."""
    if graph.format != "tflite" or not graph.source:
        return None
    if "offline_memory_allocation" not in graph.meta:
        return None
    try:
        return stored_plan(graph.source)
    except BadInput as e:
        return StoredPlan(0, 0, 0, None, False, f"not read: {e}")
