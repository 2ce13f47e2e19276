"""Prove a plan by running the model in it; check the kernels against onnxruntime.

Three questions, answered separately so that none can hide another:

1. Is the plan right?  The model runs in the plan's arena and, on the same
   inputs, in the file order with every tensor in its own bytes (the same
   executor).  The arena changes where bytes live, not the arithmetic, so
   every tensor must be bit-identical (`checks.PlanCheck`, on the first input
   set; the graph outputs on every set, which costs two bare runs); the first
   difference is reported with the operator, the tensor and — for an
   overwrite — the tensors whose planned bytes cover it.  The arena is filled
   with 0xFF before each run, so reading bytes nobody wrote cannot pass by luck.
2. Are the kernels right?  Each operator runs on onnxruntime's values of its
   inputs and must give onnxruntime's outputs within dtype- and
   magnitude-aware tolerances (`checks.KernelCheck`, on the first set).
3. Does the comparison prove anything?  Comparing outputs that are the same
   for every input proves nothing (an int8 model saturated to a constant
   "verifies" with any plan).  Each graph output must differ between the
   input sets (several are drawn; more if the first agree); a constant output
   fails unless the caller allows it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..graph import Graph, Role
from ..planners import plan as plan_problem
from .checks import Divergence, KernelCheck, PlanCheck, raw, snapshot
from .compare import Diff, constant_outputs, exact
from .executor import Executor
from .reference import Reference

DEFAULT_SETS = 3  # random input sets when the caller gives none

__all__ = ["Divergence", "VerifyReport", "constant_outputs", "random_inputs", "verify"]


@dataclass(frozen=True)
class VerifyReport:
    model: str
    strategy: str
    arena_bytes: int
    scratch_bytes: int
    runs: int
    outputs: Mapping[str, Diff]  # per graph output: the plan's run against the file-order run
    divergence: Divergence | None  # the plan check
    tensors_checked: int
    executor_seconds: float
    reference_seconds: float
    mismatched_output: str | None = None
    notes: Mapping[str, object] = field(default_factory=dict)
    kernel: Divergence | None = None  # the kernel check against onnxruntime
    constant: tuple[str, ...] = ()  # graph outputs equal for every input set
    constant_allowed: bool = False
    sets_for_variation: int = 0

    @property
    def plan_ok(self) -> bool:
        return self.divergence is None and self.mismatched_output is None

    @property
    def ok(self) -> bool:
        return (self.plan_ok and self.kernel is None
                and (not self.constant or self.constant_allowed))

    def constant_message(self) -> str:
        names = ", ".join(map(repr, self.constant))
        return (f"output(s) {names} are the same for all {self.sets_for_variation} input sets: "
                "equal outputs on constant values prove nothing about the plan "
                "(--allow-constant-outputs to accept)")

    def summary(self) -> str:
        if self.ok:
            text = (f"{self.model}: OK — {self.tensors_checked} tensor checks, then "
                    f"{len(self.outputs)} output(s) on {self.runs} input set(s), bit-identical "
                    f"to the file-order run in a {self.arena_bytes:,}-byte arena "
                    f"({self.strategy}); kernels match onnxruntime")
            if self.constant:
                text += f"; constant output(s) {', '.join(map(repr, self.constant))} allowed"
            return text
        text = f"{self.model}: FAILED ({self.strategy}, {self.arena_bytes:,}-byte arena)"
        if self.divergence is not None:
            text += f" — {self.divergence.message()}"
            if self.mismatched_output:
                return text + f"; first differing output: {self.mismatched_output!r}"
            return text + "; the graph outputs happen to match, but a tensor on the way does not"
        if self.mismatched_output:
            return text + f" — graph output {self.mismatched_output!r} differs"
        if self.kernel is not None:
            return text + f" — {self.kernel.message()}"
        return text + f" — {self.constant_message()}"

    def to_dict(self) -> dict:
        return {
            "model": self.model, "ok": self.ok, "plan_ok": self.plan_ok,
            "strategy": self.strategy,
            "arena_bytes": self.arena_bytes, "scratch_bytes": self.scratch_bytes,
            "runs": self.runs,
            "tensors_checked": self.tensors_checked,
            "executor_seconds": round(self.executor_seconds, 4),
            "reference_seconds": round(self.reference_seconds, 4),
            "mismatched_output": self.mismatched_output,
            "outputs": {k: {"ok": v.ok, "max_error": v.error, "allowed": v.allowed}
                        for k, v in self.outputs.items()},
            "divergence": _divergence_json(self.divergence),
            "kernel_divergence": _divergence_json(self.kernel),
            "constant_outputs": list(self.constant),
            "constant_outputs_allowed": self.constant_allowed,
            "input_sets_for_variation": self.sets_for_variation,
        }


def _divergence_json(d: Divergence | None) -> dict | None:
    if d is None:
        return None
    return {"kind": d.kind, "tensor": d.tensor, "operator": d.op, "op_type": d.op_type,
            "op_name": d.op_name, "writer": d.writer, "culprits": list(d.culprits),
            "max_error": d.diff.error, "allowed": d.diff.allowed, "message": d.message()}


def quant_range(graph: Graph, name: str) -> tuple[float, float] | None:
    """The float range a QuantizeLinear that reads input `name` can represent
    (per-tensor parameters), so random inputs exercise the quantized codes."""
    for i in graph.consumers.get(name, ()):
        op = graph.operators[i]
        if op.type != "QuantizeLinear" or op.inputs[0] != name:
            continue
        q = graph.tensors[op.outputs[0]].quant or graph.tensors[graph.root(op.outputs[0])].quant
        if q is None or len(q.scale) != 1:
            continue
        info = np.iinfo(graph.tensors[graph.root(op.outputs[0])].dtype)
        s, z = float(q.scale[0]), float(q.zero_point[0])
        return (info.min - z) * s, (info.max - z) * s
    return None


def index_bound(graph: Graph, name: str) -> int | None:
    """The smallest extent that input `name` (or a view of it) indexes as a
    Gather's or GatherElements' indices: token ids into an embedding table, a
    token type into its 2-row table."""
    bound = None
    for op in graph.operators:
        if op.type not in ("Gather", "GatherElements") or len(op.inputs) < 2 or not op.inputs[1]:
            continue
        if graph.root(op.inputs[1]) != name:
            continue
        data = graph.tensors[op.inputs[0]].shape
        axis = int(op.attrs.get("axis", 0))
        if data:
            n = int(data[axis % len(data)])
            bound = n if bound is None else min(bound, n)
    return bound


def check_memory(graph: Graph, arena_bytes: int, sets: int) -> None:
    """BadInput, before any input is drawn, when verifying would need more than
    the memory budget.  Held at once: infermem's arena; the file-order arena
    (every tensor in its own bytes, the linear plan); onnxruntime's values of
    every tensor (the kernel check reads them all, so onnxruntime keeps each
    one, and returns a copy) and the file-order run's snapshot of every
    tensor: with the linear arena, four times the naive bytes; the largest
    scratch a kernel declares; onnxruntime's copy of the weights (folded
    constants included: it folds them itself); each input set with its
    outputs from both runtimes; and the 64-bit draw the largest random input
    is made from."""
    from ..budget import check
    from .executor import max_scratch

    inputs = sum(graph.tensors[n].nbytes for n in graph.inputs)
    outputs = sum(graph.tensors[n].nbytes for n in graph.outputs)
    draw = max((8 * math.prod(graph.tensors[n].shape) for n in graph.inputs), default=0)
    naive = sum(t.nbytes for t in graph.tensors.values() if t.is_arena)
    scratch = max_scratch(graph)
    need = (arena_bytes + 4 * naive + scratch + graph.weights_bytes
            + sets * (inputs + 2 * outputs) + draw)
    check(need, f"verifying {graph.name} (a {arena_bytes:,}-byte arena, {naive:,} B of "
                f"tensors in their own bytes, {sets} input set(s) of {inputs:,} B, "
                f"{graph.weights_bytes:,} B of weights)")


def random_inputs(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Seeded inputs: floats standard normal (uniform over the quantization range
    when a QuantizeLinear reads them), small ints over their whole range,
    wider ints small non-negative indices below the extent they index when a
    Gather reads them, else 0 or 1 (attention masks: 1 - mask scaled by the
    float minimum overflows for any other value), coin-flip bools."""
    from ..budget import check

    check(sum(graph.tensors[n].nbytes + 8 * math.prod(graph.tensors[n].shape)
              for n in graph.inputs), f"random inputs for {graph.name}")
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        dt = np.dtype(t.dtype)
        if dt.kind == "f":
            span = quant_range(graph, name)
            x = rng.standard_normal(t.shape) if span is None else rng.uniform(*span, t.shape)
            out[name] = x.astype(dt)
        elif dt.kind == "b":
            out[name] = rng.random(t.shape) < 0.5
        elif dt.kind in "iu" and dt.itemsize <= 2:
            info = np.iinfo(dt)
            out[name] = rng.integers(info.min, int(info.max) + 1, t.shape).astype(dt)
        else:  # an index below what it indexes; otherwise a mask or flag: 0 or 1
            bound = index_bound(graph, name)
            top = 2 if bound is None else max(1, min(10, bound))
            out[name] = rng.integers(0, top, t.shape).astype(dt)
    return out


def linear_plan(graph: Graph, alignment: int = 64):
    """The file-order reference arena: every tensor in its own bytes."""
    from ..lifetimes import problem

    return plan_problem(problem(graph, graph.file_order, alignment), "linear")


def verify(graph: Graph, model: str | Path | object, offsets: Mapping[str, int],
           arena_bytes: int, order: Sequence[int] | None = None,
           inputs: Sequence[Mapping[str, np.ndarray]] | None = None,
           strategy: str = "?", allow_constant_outputs: bool = False,
           planned: Graph | None = None) -> VerifyReport:
    """Run `graph` in the arena (`offsets`, `arena_bytes`) on each input set
    (default: DEFAULT_SETS seeded random sets) and answer the three questions
    of this module.  After the plan's first divergence the run goes on
    unchecked, so the report can say which graph output the user would have
    seen go wrong.  `planned`: the graph the plan was made for when it is not
    `graph` itself (a fused graph, `fusion`): that one runs in the arena, and
    every tensor it shares with `graph` is compared with `graph`'s unfused
    file-order run."""
    ex = Executor(planned or graph, offsets, arena_bytes, order)
    inputs = list(inputs) if inputs else [random_inputs(graph, s) for s in range(DEFAULT_SETS)]
    lin = linear_plan(graph)
    base = Executor(graph, lin.offsets, lin.arena_bytes)
    names = [n for n, t in graph.tensors.items() if t.role is not Role.WEIGHT]
    ref_model = Reference(model, names, {n: graph.tensors[n].dtype for n in names})
    t_ex = t_ref = 0.0
    outputs: dict[str, Diff] = {}
    checked, kernel, file_order_outputs = 0, None, []
    for k, feed in enumerate(inputs):
        ex.load_inputs(feed)  # BadInput for a wrong name, shape or dtype, before onnxruntime
        first = k == 0  # every tensor and every kernel on the first set; outputs on all
        if first:
            t0 = time.perf_counter()
            ref = {**feed, **ref_model.run(feed)}
            t_ref += time.perf_counter() - t0
        t0 = time.perf_counter()
        want = snapshot(base, feed, None if first else graph.outputs)
        file_order_outputs.append({n: want[n] for n in graph.outputs if n in want})
        check = PlanCheck(ex, want)
        ex.arena.buffer.fill(0xFF)
        if first:
            ex.run(feed, before=check.before, after=check.after)
        else:
            ex.run(feed)
        checked += check.checked
        bad = _compare_outputs(graph, want, outputs, check)
        if first:
            kc = KernelCheck(base, ref)
            base.run(feed, before=kc.before, after=kc.after)
            checked += kc.checked
            kernel = kc.divergence
        t_ex += time.perf_counter() - t0
        if check.divergence is not None or bad:
            return VerifyReport(graph.name, strategy, ex.arena.nbytes, ex.scratch_bytes,
                                len(inputs), outputs, check.divergence, checked, t_ex, t_ref,
                                bad, kernel=kernel)
    outs = [n for n in graph.outputs if all(n in s for s in file_order_outputs)]
    more = None if allow_constant_outputs else (  # allowed: no need to be sure
        lambda k: snapshot(base, random_inputs(graph, 1000 + k), graph.outputs))
    constant, compared = constant_outputs(outs, file_order_outputs, more)
    return VerifyReport(graph.name, strategy, ex.arena.nbytes, ex.scratch_bytes, len(inputs),
                        outputs, None, checked, t_ex, t_ref, kernel=kernel, constant=constant,
                        constant_allowed=allow_constant_outputs, sets_for_variation=compared)


def _compare_outputs(graph: Graph, want: Mapping[str, np.ndarray], outputs: dict[str, Diff],
                     check: PlanCheck) -> str | None:
    """Each graph output's bytes after the run against the file-order run (bit
    for bit); the first that differs, with a divergence recorded if the hooks
    saw none (an output overwritten after it was written)."""
    bad = None
    for name in graph.outputs:
        if name not in want:
            continue
        d = exact(raw(check.ex.arena.view(name)), want[name])
        if not d.ok or name not in outputs or d.error > outputs[name].error:
            outputs[name] = d
        if not d.ok and bad is None:
            bad = name
            if check.divergence is None:
                check.divergence = check.output_divergence(name, d)
    return bad
