"""The two checks `verify` runs, as executor hooks.

* `PlanCheck`: the plan against the file-order run of the same executor in an
  arena where every tensor has its own bytes.  The arena changes where bytes
  live, never the arithmetic, so every tensor must match bit for bit: right
  after the operator that writes it (a wrong value there is an output placed
  over an input the kernel's chunk order still needed) and again just before
  each operator reads it (a wrong value there, after a right one, means the
  plan let another live tensor overwrite it).
* `KernelCheck`: each operator on onnxruntime's values of its inputs,
  compared with onnxruntime's value of its outputs, with the dtype- and
  magnitude-aware tolerances of `compare`.  Feeding the reference inputs keeps
  one kernel's rounding from growing through the rest of the graph, so a
  graph whose values approach the float maximum is judged op by op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..graph import Graph, Operator, Role
from .compare import Diff, compare, exact
from .executor import Executor
from .qview import QView, quantize


@dataclass(frozen=True)
class Divergence:
    """Where a check first failed.  `kind`: 'computed' (differs from the
    file-order run as soon as written), 'overwritten' (right when written,
    wrong when read), 'output' (a graph output overwritten after it was
    written), 'kernel' (an operator computes differently from onnxruntime)."""

    kind: str
    tensor: str
    op: int | None
    op_type: str
    op_name: str
    diff: Diff
    writer: int | None = None
    culprits: tuple[str, ...] = ()
    note: str = ""

    def message(self) -> str:
        at = f"operator {self.op} ({self.op_type} {self.op_name!r})" if self.op is not None else ""
        if self.kind == "computed":
            text = f"{at} writes tensor {self.tensor!r} differently from the file-order run"
        elif self.kind == "kernel":
            text = (f"{at} computes tensor {self.tensor!r} differently from onnxruntime on "
                    "the same inputs (a kernel difference, not a plan one)")
        elif self.kind == "overwritten":
            text = (f"tensor {self.tensor!r} no longer holds the value operator {self.writer} "
                    f"wrote when {at} reads it")
        else:
            text = f"graph output {self.tensor!r} was overwritten after operator {self.writer}"
        text += f": {self.diff.describe()}"
        if self.culprits:
            text += (f"; its planned bytes are shared with {', '.join(map(repr, self.culprits))}, "
                     "written while it was still live")
        return text + (f"; {self.note}" if self.note else "")


def raw(v: np.ndarray | QView) -> np.ndarray:
    """The bytes a tensor really holds: the integers of a QDQ float view."""
    return v.ints if isinstance(v, QView) else v


def snapshot(ex: Executor, feed: Mapping[str, np.ndarray],
             names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The bytes of every arena tensor in a run of `ex` (copies, as each is
    written), or only of `names` after a bare run."""
    if names is not None:
        ex.run(feed)
        return {n: np.array(raw(ex.arena.view(n))) for n in names}
    out: dict[str, np.ndarray] = {}

    def inputs(step: int, op: Operator) -> None:
        if step == 0:
            out.update((n, np.array(raw(ex.arena.view(n)))) for n in ex.graph.inputs)

    def outputs(step: int, op: Operator) -> None:
        out.update((t, np.array(raw(ex.arena.view(t)))) for t in op.outputs if t)

    ex.run(feed, before=inputs, after=outputs)
    return out


class PlanCheck:
    """Before/after hooks: every tensor bit-identical to the file-order run."""

    def __init__(self, ex: Executor, want: Mapping[str, np.ndarray]) -> None:
        self.ex, self.g, self.want = ex, ex.graph, want
        self.written: dict[str, int] = {n: -1 for n in self.g.inputs}  # tensor -> writer op
        self.step_of: dict[int, int] = {}
        self.checked = 0
        self.divergence: Divergence | None = None

    def check(self, name: str) -> Diff:
        self.checked += 1
        return exact(raw(self.ex.arena.view(name)), self.want[name])

    def culprits(self, name: str, since: int, until: int) -> tuple[str, ...]:
        """Tensors written between steps `since` and `until` whose planned bytes
        intersect those of `name`."""
        g, offs = self.g, self.ex.arena.offsets
        root = g.root(name)
        lo = offs.get(root, 0)
        hi = lo + g.tensors[root].nbytes
        found = []
        for step in range(since + 1, until):
            for t in g.operators[self.ex.order[step]].outputs:
                r = g.root(t) if t else None
                if r and r != root and r in offs and offs[r] < hi and lo < offs[r] + (
                        g.tensors[r].nbytes):
                    found.append(r)
        return tuple(dict.fromkeys(found))

    def before(self, step: int, op: Operator) -> None:
        self.step_of[op.index] = step
        if self.divergence is not None:
            return
        for t in dict.fromkeys(op.inputs):
            if not t or t not in self.want or self.g.tensors[self.g.root(t)].role is Role.WEIGHT:
                continue
            d = self.check(t)
            if not d.ok:
                writer = self.written.get(t)
                since = self.step_of.get(writer, -1) if writer is not None else -1
                self.divergence = Divergence("overwritten", t, op.index, op.type, op.name, d,
                                             writer, self.culprits(t, since, step))
                return

    def after(self, step: int, op: Operator) -> None:
        if self.divergence is not None:
            return
        for t in op.outputs:
            if not t or t not in self.want:
                continue
            d = self.check(t)
            if not d.ok:
                self.divergence = Divergence("computed", t, op.index, op.type, op.name, d,
                                             op.index, note=self.overlap_note(op))
                return
            self.written[t] = op.index

    def output_divergence(self, name: str, d: Diff) -> Divergence:
        w = self.g.producers.get(name)
        since = self.step_of.get(w, -1) if w is not None else -1
        return Divergence("output", name, None, "", "", d, w,
                          self.culprits(name, since, len(self.ex.order)))

    def overlap_note(self, op: Operator) -> str:
        g, offs = self.g, self.ex.arena.offsets
        for t in op.outputs:
            for s in op.inputs:
                if not t or not s or g.root(s) not in offs or g.root(t) not in offs:
                    continue
                a, b = g.root(t), g.root(s)
                if a != b and offs[a] < offs[b] + g.tensors[b].nbytes and offs[b] < offs[a] + (
                        g.tensors[a].nbytes):
                    return (f"its output {a!r} overlaps its input {b!r} in the plan: this "
                            "kernel's chunk order does not make that overlap safe")
        return ""


class KernelCheck:
    """Before: write onnxruntime's values into the operator's inputs; after:
    compare its outputs with onnxruntime's, within tolerance."""

    def __init__(self, ex: Executor, ref: Mapping[str, np.ndarray]) -> None:
        self.ex, self.g, self.ref = ex, ex.graph, ref
        self.checked = 0
        self.divergence: Divergence | None = None

    def before(self, step: int, op: Operator) -> None:
        if self.divergence is not None:
            return
        for t in dict.fromkeys(op.inputs):
            if not t or t not in self.ref or self.g.tensors[self.g.root(t)].role is Role.WEIGHT:
                continue
            v = self.ex.arena.view(t)
            value = np.asarray(self.ref[t])
            if isinstance(v, QView):
                v.ints[...] = quantize(value, v.scale, v.zero_point, v.ints.dtype).reshape(
                    v.shape)
            elif value.size == v.size:
                v[...] = value.reshape(v.shape).astype(v.dtype, copy=False)

    def after(self, step: int, op: Operator) -> None:
        if self.divergence is not None:
            return
        for t in op.outputs:
            if not t or t not in self.ref:
                continue
            d = self.check(t)
            if not d.ok:
                self.divergence = Divergence("kernel", t, op.index, op.type, op.name, d, op.index)
                return

    def check(self, name: str) -> Diff:
        self.checked += 1
        v = self.ex.arena.view(name)
        if isinstance(v, QView):  # compare in the integer domain the bytes really hold
            ref = quantize(self.ref[name], v.scale, v.zero_point, v.ints.dtype)
            return compare(v.ints, ref, steps=1)
        return compare(v, self.ref[name], steps=quantized_steps(self.g, name),
                       quantum=quantum(self.g, name))


def quantum(g: Graph, name: str) -> float:
    """One step of the integers a float tensor was dequantized from."""
    op = g.producers.get(name)
    if op is None or g.operators[op].type != "DequantizeLinear":
        return 0.0
    q = g.tensors[g.operators[op].inputs[0]].quant
    return max(q.scale) if q else 0.0


def quantized_steps(graph: Graph, name: str) -> int:
    """Integer steps a tensor may differ by: one for quantized values (those with
    quantization parameters, and any 8/16-bit integer of a QDQ model), else 0."""
    t = graph.tensors[graph.root(name)]
    small = np.dtype(t.dtype).kind in "iu" and np.dtype(t.dtype).itemsize <= 2
    return 1 if t.quant is not None or (small and graph.meta.get("qdq")) else 0
