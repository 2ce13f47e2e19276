"""Prove a plan by running the model in it and comparing with onnxruntime.

Every tensor is compared twice: right after the operator that writes it (a
wrong value there is a kernel computing differently, or an output placed
over an input the kernel's chunk order still needed), and again just before
each operator reads it (a wrong value there, after a right one, means the
plan let another live tensor overwrite it).  The first difference stops the
run and is reported with the operator, the tensor and — for an overwrite —
the tensors whose planned bytes cover it.  The arena is filled with 0xFF
before each run, so reading bytes nobody wrote cannot pass by luck.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..graph import Graph, Operator, Role
from .compare import Diff, compare
from .executor import Executor
from .qview import QView, quantize
from .reference import Reference


@dataclass(frozen=True)
class Divergence:
    """Where the executor first disagreed with onnxruntime.  `kind`: 'computed'
    (wrong as soon as written), 'overwritten' (right when written, wrong when
    read), 'output' (a graph output overwritten after it was written)."""

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
            text = f"{at} writes tensor {self.tensor!r} differently from onnxruntime"
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


@dataclass(frozen=True)
class VerifyReport:
    model: str
    strategy: str
    arena_bytes: int
    scratch_bytes: int
    runs: int
    outputs: Mapping[str, Diff]
    divergence: Divergence | None
    tensors_checked: int
    executor_seconds: float
    reference_seconds: float
    mismatched_output: str | None = None
    notes: Mapping[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.divergence is None and self.mismatched_output is None

    def summary(self) -> str:
        if self.ok:
            return (f"{self.model}: OK — {len(self.outputs)} output(s) and "
                    f"{self.tensors_checked} tensor checks match onnxruntime over {self.runs} "
                    f"run(s) in a {self.arena_bytes:,}-byte arena ({self.strategy})")
        text = f"{self.model}: FAILED ({self.strategy}, {self.arena_bytes:,}-byte arena)"
        if self.divergence is not None:
            text += f" — {self.divergence.message()}"
        if self.mismatched_output:
            return text + f"; first differing output: {self.mismatched_output!r}"
        return text + "; the graph outputs happen to match, but a tensor on the way does not"

    def to_dict(self) -> dict:
        d = self.divergence
        return {
            "model": self.model, "ok": self.ok, "strategy": self.strategy,
            "arena_bytes": self.arena_bytes, "scratch_bytes": self.scratch_bytes,
            "runs": self.runs,
            "tensors_checked": self.tensors_checked,
            "executor_seconds": round(self.executor_seconds, 4),
            "reference_seconds": round(self.reference_seconds, 4),
            "mismatched_output": self.mismatched_output,
            "outputs": {k: {"ok": v.ok, "max_error": v.error, "allowed": v.allowed}
                        for k, v in self.outputs.items()},
            "divergence": None if d is None else {
                "kind": d.kind, "tensor": d.tensor, "operator": d.op, "op_type": d.op_type,
                "op_name": d.op_name, "writer": d.writer, "culprits": list(d.culprits),
                "max_error": d.diff.error, "allowed": d.diff.allowed, "message": d.message()},
        }


class Checker:
    """The before/after hooks: compare tensors with the reference values."""

    def __init__(self, ex: Executor, ref: Mapping[str, np.ndarray]) -> None:
        self.ex, self.g, self.ref = ex, ex.graph, ref
        self.written: dict[str, int] = {n: -1 for n in self.g.inputs}  # tensor -> writer op
        self.step_of: dict[int, int] = {}
        self.checked = 0
        self.divergence: Divergence | None = None

    def check(self, name: str) -> Diff:
        self.checked += 1
        g, v = self.g, self.ex.arena.view(name)
        if isinstance(v, QView):  # compare in the integer domain the bytes really hold
            ref = quantize(self.ref[name], v.scale, v.zero_point, v.ints.dtype)
            return compare(v.ints, ref, steps=1)
        return compare(v, self.ref[name], steps=quantized_steps(g, name),
                       quantum=self.quantum(name))

    def quantum(self, name: str) -> float:
        """One step of the integers a float tensor was dequantized from."""
        op = self.g.producers.get(name)
        if op is None or self.g.operators[op].type != "DequantizeLinear":
            return 0.0
        q = self.g.tensors[self.g.operators[op].inputs[0]].quant
        return max(q.scale) if q else 0.0

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
            if not t or t not in self.ref or self.g.tensors[self.g.root(t)].role is Role.WEIGHT:
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
            if not t or t not in self.ref:
                continue
            d = self.check(t)
            if not d.ok:
                self.divergence = Divergence("computed", t, op.index, op.type, op.name, d,
                                             op.index, note=self.overlap_note(op))
                return
            self.written[t] = op.index

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


def quantized_steps(graph: Graph, name: str) -> int:
    """Integer steps a tensor may differ by: one for quantized values (those with
    quantization parameters, and any 8/16-bit integer of a QDQ model), else 0."""
    t = graph.tensors[graph.root(name)]
    small = np.dtype(t.dtype).kind in "iu" and np.dtype(t.dtype).itemsize <= 2
    return 1 if t.quant is not None or (small and graph.meta.get("qdq")) else 0


def random_inputs(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Seeded inputs: standard normal floats, full-range small ints, coin-flip bools."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        dt = np.dtype(t.dtype)
        if dt.kind == "f":
            out[name] = rng.standard_normal(t.shape).astype(dt)
        elif dt.kind == "b":
            out[name] = rng.random(t.shape) < 0.5
        elif dt.kind in "iu" and dt.itemsize <= 2:
            info = np.iinfo(dt)
            out[name] = rng.integers(info.min, int(info.max) + 1, t.shape).astype(dt)
        else:
            out[name] = rng.integers(0, 10, t.shape).astype(dt)
    return out


def verify(graph: Graph, model: str | Path | object, offsets: Mapping[str, int],
           arena_bytes: int, order: Sequence[int] | None = None,
           inputs: Sequence[Mapping[str, np.ndarray]] | None = None,
           strategy: str = "?") -> VerifyReport:
    """Run `graph` in the arena (`offsets`, `arena_bytes`) on each input set
    (default: one seeded random set) and compare with onnxruntime on `model`.
    After the first divergence the run goes on unchecked, so the report can
    say which graph output (if any) the user would have seen go wrong."""
    ex = Executor(graph, offsets, arena_bytes, order)
    inputs = list(inputs) if inputs else [random_inputs(graph, 0)]
    names = [n for n, t in graph.tensors.items() if t.role is not Role.WEIGHT]
    ref_model = Reference(model, names, {n: graph.tensors[n].dtype for n in names})
    t_ex = t_ref = 0.0
    outputs: dict[str, Diff] = {}
    checked = 0
    for feed in inputs:
        ex.load_inputs(feed)  # BadInput for a wrong name, shape or dtype, before onnxruntime
        t0 = time.perf_counter()
        ref = {**feed, **ref_model.run(feed)}
        t_ref += time.perf_counter() - t0
        checker = Checker(ex, ref)
        ex.arena.buffer.fill(0xFF)
        t0 = time.perf_counter()
        got = ex.run(feed, before=checker.before, after=checker.after)
        t_ex += time.perf_counter() - t0
        checked += checker.checked
        bad = None
        for name in graph.outputs:
            d = compare(got[name], ref[name], quantum=checker.quantum(name),
                        steps=quantized_steps(graph, name))
            if not d.ok or name not in outputs or d.error > outputs[name].error:
                outputs[name] = d
            if not d.ok and bad is None:
                bad = name
                if checker.divergence is None:
                    w = graph.producers.get(name)
                    checker.divergence = Divergence(
                        "output", name, None, "", "", d, w,
                        checker.culprits(name, checker.step_of.get(w, -1), len(ex.order)))
        if checker.divergence is not None:
            return VerifyReport(graph.name, strategy, ex.arena.nbytes, ex.scratch_bytes,
                                len(inputs), outputs, checker.divergence, checked, t_ex, t_ref,
                                bad)
    return VerifyReport(graph.name, strategy, ex.arena.nbytes, ex.scratch_bytes, len(inputs),
                        outputs, None, checked, t_ex, t_ref)
