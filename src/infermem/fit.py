"""Will it fit?  RAM and flash a model needs at each level of optimisation,
checked against real devices.

Levels, each adding to the one before:

- `runtime`: as the runtime plans it today.  For a `.tflite`, TFLM's own
  greedy planner on TFLM's own planning problem (scratch buffers included);
  measured in TFLM itself when `measure=True`.  ONNX has no microcontroller
  runtime of its own: TFLM's greedy planner stands in, and the level says so.
- `infermem`: infermem's best plan, same operator order.
- `reorder`: the memory-optimal operator order (`schedule.best_order`).
- `dmo`: outputs overlapping their inputs where proven safe (`overlap`).
- `fuse` (only when asked, ONNX): the graph as a fusing runtime (TVM,
  onnxruntime) runs it, fused intermediates out of the arena (`fusion`).
- `patch` (only when asked, `.tflite`): the first stage run patch by patch,
  the rewrite `optimize --patch` would write (`rewrite.level`).
- `int8`: weights and activations int8 (a what-if for a float model; the
  same figures for a model already int8).

A level whose machinery is not importable yet, or says NotImplementedError,
is "n/a" with the reason, never guessed.  RAM needed = arena + the runtime's
persistent part (TFLM's "tail": measured when available, else an estimate,
stated as such).  Flash needed = weights + the rest of the model file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .devices import Device
from .errors import Failure
from .graph import Graph, Role
from .kvcache import kv_bytes
from .planners.problem import align_up
from .whatif import WhatIf, apply, weights_flash_bytes, with_dtypes

LEVELS = ("runtime", "infermem", "reorder", "dmo", "int8")  # always computed
# ... and in order with the one computed only when asked (it rewrites the model)
ALL_LEVELS = ("runtime", "infermem", "reorder", "dmo", "fuse", "patch", "int8")
LABELS = {
    "runtime": "as the runtime plans it today",
    "infermem": "infermem's best plan",
    "reorder": "+ reorder",
    "dmo": "+ DMO",
    "fuse": "+ fuse",
    "patch": "+ patch",
    "int8": "+ int8",
}
CONV_TYPES = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "Conv", "ConvTranspose"}
# TFLM's persistent tail, fitted to the tail TFLM reported for the 16 .tflite
# fixtures (64-bit host build; within 3% on each): per tensor, per operator,
# per output channel of a convolution (its per-channel multiplier and shift).
TAIL_BASE, TAIL_PER_TENSOR, TAIL_PER_OP, TAIL_PER_CHANNEL = 816, 47, 93, 8


@dataclass(frozen=True)
class Persistent:
    bytes: int
    source: str  # how it was obtained: measured, or estimated (and how)


@dataclass(frozen=True)
class Level:
    name: str
    label: str
    available: bool
    arena_bytes: int | None
    ram_bytes: int | None  # arena + persistent + KV cache
    flash_bytes: int | None  # weights + model structure
    weights_bytes: int | None
    how: str  # how the figures were obtained, or why the level is n/a
    changes_model: bool = False  # a what-if the user must act on (quantize), not a plan


@dataclass(frozen=True)
class Needs:
    model: str
    format: str
    alignment: int
    persistent: Persistent
    structure_bytes: int  # the model file without its weights
    levels: tuple[Level, ...]
    whatif: str | None = None
    kv_cache_bytes: int = 0  # a decoder's past/present (kvcache.py), in every level's RAM

    def level(self, name: str) -> Level:
        return next(lv for lv in self.levels if lv.name == name)


@dataclass(frozen=True)
class DeviceFit:
    device: Device
    fits: Mapping[str, bool | None]  # level -> fits on-chip; None where n/a
    fits_external: Mapping[str, bool | None]  # ... using the board's external memory
    verdict: str


@dataclass(frozen=True)
class FitReport:
    needs: Needs
    devices: tuple[DeviceFit, ...]


def estimate_persistent(graph: Graph) -> Persistent:
    """TFLM's persistent tail from the model's counts (see TAIL_*)."""
    qdq = bool(graph.meta.get("qdq"))
    ops = [op for op in graph.operators
           if not (qdq and op.type in ("QuantizeLinear", "DequantizeLinear"))]
    tensors = [t for t in graph.tensors.values() if not (qdq and t.role is Role.ALIAS)]
    axis = -1 if graph.format == "tflite" else 1
    channels = sum(graph.tensors[op.outputs[0]].shape[axis] for op in ops
                   if op.type in CONV_TYPES and op.outputs and graph.tensors[op.outputs[0]].shape)
    n = TAIL_BASE + TAIL_PER_TENSOR * len(tensors) + TAIL_PER_OP * len(ops)
    n += TAIL_PER_CHANNEL * channels
    return Persistent(align_up(n, 16), (
        f"estimate of a TFLM-like runtime's persistent data: {len(tensors)} tensors, "
        f"{len(ops)} operators, {channels} conv output channels (fitted to TFLM's measured "
        "tail on a 64-bit host; a 32-bit MCU build needs somewhat less)"))


def structure_bytes(graph: Graph) -> int:
    """Bytes of the model file that are not weights (graph, metadata, options)."""
    if not graph.source or not os.path.isfile(graph.source):
        return 0
    if graph.format == "tflite":
        return max(0, os.path.getsize(graph.source) - graph.weights_bytes)
    import onnx

    from .frontends.onnx_weights import open_model

    model, _ = open_model(Path(graph.source))  # the weight bytes are not read
    for t in model.graph.initializer:
        _strip(t)
    for node in model.graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                _strip(a.t)
    return model.ByteSize()


def _strip(t) -> None:
    from .frontends.onnx_wire import MODEL_FILE

    if any(e.key == "location" and e.value == MODEL_FILE for e in t.external_data):
        t.ClearField("data_location")  # inline in the file: open_model marked it external
    for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data",
              "uint64_data", "string_data", "external_data"):
        t.ClearField(f)


def dmo_how(fmt: str) -> str:
    """What the DMO level means for this format: for `.tflite` TFLM runs the
    offline plan as written; for ONNX only infermem's own arena executor
    applies the overlaps (no deployable ONNX runtime takes an external plan)."""
    if fmt == "tflite":
        return "outputs over inputs where proven safe for TFLM's kernels (an offline plan)"
    return ("outputs over inputs where proven safe for infermem's arena executor only: "
            "no deployable ONNX runtime applies these overlaps")


def plan_arena(source: Graph, graph: Graph, order: Sequence[int], strategy: str, dmo: bool,
               alignment: int, time_limit: float) -> int:
    """Arena of `graph` (maybe a what-if of `source`) planned in `order`: the
    problem the runtime sees for `source`, resized to `graph`'s tensors."""
    from .planners import plan
    from .planning import build_problem

    prob = build_problem(graph, tuple(order), alignment)  # a what-if is resized there
    if dmo:
        from .overlap import with_overlaps

        prob = with_overlaps(graph, tuple(order), prob)
    return plan(prob, strategy, time_limit=time_limit).arena_bytes


def _try(fn: Callable[[], object]) -> tuple[object | None, str | None]:
    """(result, None), or (None, why) when the machinery is missing or unfinished."""
    try:
        return fn(), None
    except (ImportError, NotImplementedError) as e:
        return None, f"not available yet ({type(e).__name__}: {e})"


def model_needs(graph: Graph, what: WhatIf | None = None, alignment: int = 16,
                time_limit: float = 5.0, measure: bool = False, patch=None,
                fuse: str | None = None) -> Needs:
    """RAM and flash at every level for `graph` (with `what` applied to all);
    the `patch` level too when `patch` (a `rewrite.level.PatchSpec`) is given,
    the `fuse` level when `fuse` (a runtime of `fusion.RUNTIMES`) is."""
    what = what or WhatIf()
    g = apply(graph, what)
    persistent, head = _persistent(graph, measure)
    kv = kv_bytes(graph)
    structure = structure_bytes(graph)
    pruned = what.prune is not None

    def flash(x: Graph) -> int:
        return (weights_flash_bytes(x) if pruned else x.weights_bytes) + structure

    def level(name: str, arena: int | None, weights: int | None, how: str) -> Level:
        ok = arena is not None
        return Level(name, LABELS[name], ok, arena, arena + persistent.bytes + kv if ok else None,
                     weights + structure if ok else None, weights if ok else None, how)

    def arena(x: Graph, order, strategy: str, dmo: bool = False) -> int:
        return plan_arena(graph, x, order, strategy, dmo, alignment, time_limit)

    wbytes = flash(g) - structure
    levels = [level("runtime", *_runtime(graph, g, head, arena, wbytes))]
    best = arena(g, graph.file_order, "best")
    levels.append(level("infermem", best, wbytes, "infermem's best plan, file order"))
    sched, why = _try(lambda: _best_order(g, alignment, time_limit))
    order, prev = graph.file_order, best
    if sched is None:
        levels.append(level("reorder", None, None, f"reordering {why}"))
    else:
        a = arena(g, sched, "best")
        order, note = (sched, "memory-optimal operator order") if a < prev else (
            order, "no order beats the file's; file order kept")
        prev = min(a, prev)
        levels.append(level("reorder", prev, wbytes, note))
    dmo_arena, why_dmo = _try(lambda: arena(g, order, "best", dmo=True))
    if dmo_arena is None:
        levels.append(level("dmo", None, None, f"DMO {why_dmo}"))
    else:
        prev = min(dmo_arena, prev)
        levels.append(level("dmo", prev, wbytes, dmo_how(graph.format)))
    if fuse is not None and graph.format != "onnx":
        levels.append(level("fuse", None, None, "ONNX only: TFLite's converter has already "
                                                "fused activations into the operators"))
    elif fuse is not None:
        a, how = _fused_arena(g, fuse, alignment, time_limit, sched is not None,
                              dmo_arena is not None, arena)
        prev = min(a, prev)
        levels.append(level("fuse", prev, wbytes, how))
    pl = None
    if patch is not None:
        from .rewrite.level import patch_level

        pl = patch_level(graph, patch, lambda pg, time_limit=time_limit: plan_arena(
            graph, apply(pg, what), pg.file_order, "best", dmo_arena is not None, alignment,
            time_limit), measure, prev)
        lv = level("patch", pl.arena_bytes, wbytes, pl.how)
        levels.append(dataclasses.replace(lv, flash_bytes=lv.flash_bytes + pl.extra_flash)
                      if lv.available else lv)
        prev = min(prev, pl.arena_bytes or prev)
    i8 = _int8(graph, g, alignment, time_limit, sched is not None,
               dmo_arena is not None, flash, structure, persistent, prev)
    if pl is not None and pl.graph is not None:
        i8 = _patched_int8(i8, pl, what, dmo_arena is not None, alignment, time_limit)
    levels.append(i8)
    return Needs(graph.name, graph.format, alignment, persistent, structure, tuple(levels),
                 what.describe() if what.active else None, kv)


def _fused_arena(g: Graph, runtime: str, alignment: int, time_limit: float, reorder: bool,
                 dmo: bool, arena: Callable) -> tuple[int, str]:
    """The arena of `g` fused as `runtime` fuses it, on the memory-optimal
    order and with DMO when those levels are available."""
    from .fusion import RUNTIMES, find, fused_graph

    fusion = find(g, runtime, alignment)
    fused = fused_graph(g, fusion)
    order = _best_order(fused, alignment, time_limit) if reorder else fused.file_order
    how = (f"fused as {RUNTIMES[runtime]} fuses it ({len(fusion.layouts)} groups), each group "
           "run in place or row by row by infermem's arena executor (`verify --fuse`)")
    return arena(fused, order, "best", dmo), how


def _best_order(g: Graph, alignment: int, time_limit: float) -> tuple[int, ...]:
    from .schedule import best_order

    return tuple(best_order(g, alignment=alignment, time_limit=time_limit).order)


def _persistent(graph: Graph, measure: bool) -> tuple[Persistent, int | None]:
    """The measured TFLM tail (and head) when asked and possible, else the estimate."""
    est = estimate_persistent(graph)
    if not (measure and graph.format == "tflite" and graph.source):
        return est, None
    if unrunnable_in_tflm(graph):
        return dataclasses.replace(est, source=f"{est.source}; {unrunnable_in_tflm(graph)}"), None
    from .tflm import measure as tflm_measure

    try:
        m = tflm_measure(graph.source, bisect=False)
    except Failure as e:
        return dataclasses.replace(est, source=f"{est.source}; TFLM measurement failed: {e}"), None
    return Persistent(m.tail_bytes, "measured: TFLM's persistent tail for this file"), m.head_bytes


def unrunnable_in_tflm(graph: Graph) -> str | None:
    """Why TFLM cannot run a .tflite graph at the shapes it was loaded with
    (TFLM allocates the stored shapes, never resized ones), or None."""
    batch = graph.meta.get("batch", 1)
    if batch == 1:
        return None
    return (f"not measured in TFLM: it runs the file's stored shapes and cannot resize "
            f"to batch {batch}")


def _runtime(graph: Graph, g: Graph, head: int | None, arena, wbytes: int):
    """(arena, weights, how) as the runtime plans it today."""
    planned = arena(g, graph.file_order, "tflm")
    if graph.format != "tflite":
        how = "TFLM's greedy planner as a stand-in (ONNX has no MCU runtime of its own)"
    elif head is not None and g is graph:
        return head, wbytes, (
            f"measured in TFLM (head); TFLM's planner, re-implemented: {planned:,} B")
    else:
        how = "TFLM's greedy planner on TFLM's planning problem"
    return planned, wbytes, how


def _int8(graph: Graph, g: Graph, alignment: int, time_limit: float, reorder: bool, dmo: bool,
          flash, structure: int, persistent: Persistent, prev: int) -> Level:
    g8 = with_dtypes(g, "int8", "int8")
    same = all(g8.tensors[n].dtype == t.dtype for n, t in g.tensors.items())
    order = _best_order(g8, alignment, time_limit) if reorder else graph.file_order
    a = plan_arena(graph, g8, order, "best", dmo, alignment, time_limit)
    used = ", ".join(x for x, on in (("reorder", reorder), ("DMO", dmo)) if on) or "best plan"
    how = ("the model is already int8" if same else "what-if: int8 weights and activations")
    a = min(a, prev) if same else a
    w = flash(g8) - structure
    ram = a + persistent.bytes + kv_bytes(g8)  # an int8 what-if: an int8 KV cache too
    return Level("int8", LABELS["int8"], True, a, ram, w + structure, w,
                 f"{how}; {used}", changes_model=not same)


def _patched_int8(i8: Level, pl, what: WhatIf, dmo: bool, alignment: int,
                  time_limit: float) -> Level:
    """The int8 what-if on the patched graph, where that is smaller (a model
    already int8 keeps the patch level, flash included); its RAM is the int8
    level's with the patched arena in place of the unpatched one."""
    if not i8.changes_model:
        same = i8.arena_bytes == pl.arena_bytes
        return dataclasses.replace(i8, flash_bytes=i8.flash_bytes + pl.extra_flash * same,
                                   how=i8.how + ", patch" * same)
    pg = pl.graph
    a = plan_arena(pg, with_dtypes(apply(pg, what), "int8", "int8"), pg.file_order, "best",
                   dmo, alignment, time_limit)
    if a >= i8.arena_bytes:
        return i8
    return dataclasses.replace(i8, arena_bytes=a, ram_bytes=i8.ram_bytes - i8.arena_bytes + a,
                               flash_bytes=i8.flash_bytes + pl.extra_flash,
                               how=f"{i8.how}; on the patched graph")


def device_fit(needs: Needs, device: Device) -> DeviceFit:
    fits, ext = {}, {}
    ram_ext = max(device.sram_bytes, device.external_ram_bytes or 0)
    flash_ext = None if device.flash_bytes is None else (
        device.flash_bytes + (device.external_flash_bytes or 0))
    for lv in needs.levels:
        if not lv.available:
            fits[lv.name] = ext[lv.name] = None
            continue
        fits[lv.name] = lv.ram_bytes <= device.sram_bytes and _le(lv.flash_bytes,
                                                                  device.flash_bytes)
        ext[lv.name] = lv.ram_bytes <= ram_ext and _le(lv.flash_bytes, flash_ext)
    return DeviceFit(device, fits, ext, _verdict(needs, device, fits, ext))


def _le(need: int, have: int | None) -> bool:
    return have is None or need <= have


def _verdict(needs: Needs, device: Device, fits, ext) -> str:
    if fits["runtime"]:
        return "fits as the runtime plans it"
    names = [lv.name for lv in needs.levels]
    first = next((n for n in names[1:] if fits[n]), None)
    if first and needs.level(first).changes_model:
        return "fits only with int8 weights and activations (what-if; see `infermem quantize`)"
    if first:
        return f"fits only with infermem ({LABELS[first]})"
    first = next((n for n in names if ext[n]), None)
    if first:
        return f"fits only using external memory ({LABELS[first]})"
    best = min((lv for lv in needs.levels if lv.available), key=lambda lv: lv.ram_bytes)
    short = []
    if best.ram_bytes > device.sram_bytes:
        short.append(f"RAM short by {best.ram_bytes - device.sram_bytes:,} B")
    if not _le(best.flash_bytes, device.flash_bytes):
        short.append(f"flash short by {best.flash_bytes - device.flash_bytes:,} B")
    return "does not fit: " + ", ".join(short)


def fit(needs: Needs, devices: Sequence[Device]) -> FitReport:
    return FitReport(needs, tuple(device_fit(needs, d) for d in devices))


def to_json(report: FitReport) -> dict:
    """The documented `fit --json` document."""
    n = report.needs
    return {
        "model": n.model,
        "format": n.format,
        "alignment": n.alignment,
        "whatif": n.whatif,
        "persistent": {"bytes": n.persistent.bytes, "source": n.persistent.source},
        "structure_bytes": n.structure_bytes,
        "kv_cache_bytes": n.kv_cache_bytes,
        "levels": {lv.name: {"label": lv.label, "available": lv.available,
                             "arena_bytes": lv.arena_bytes, "ram_bytes": lv.ram_bytes,
                             "weights_bytes": lv.weights_bytes, "flash_bytes": lv.flash_bytes,
                             "how": lv.how, "changes_model": lv.changes_model}
                   for lv in n.levels},
        "devices": [_device_json(n, f) for f in report.devices],
    }


def _device_json(n: Needs, f: DeviceFit) -> dict:
    d = f.device
    return {
        "name": d.name, "kind": d.kind, "core": d.core, "sram_bytes": d.sram_bytes,
        "flash_bytes": d.flash_bytes, "external_ram_bytes": d.external_ram_bytes,
        "external_flash_bytes": d.external_flash_bytes, "source": d.source,
        "verdict": f.verdict,
        "levels": {lv.name: {"ram_bytes": lv.ram_bytes, "flash_bytes": lv.flash_bytes,
                             "fits": f.fits[lv.name],
                             "fits_with_external_memory": f.fits_external[lv.name]}
                   for lv in n.levels},
    }
