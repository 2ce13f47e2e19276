"""What `verify` reads from the user: a plan JSON and an .npz of inputs.

Both are untrusted files: every field is checked, and a plan made for another
model (tensors this graph does not have, or arena tensors it lacks) is
refused with the first name that does not fit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInput
from ..graph import Graph, check_order
from ..lifetimes import lifetimes


@dataclass(frozen=True)
class PlanFile:
    strategy: str
    arena_bytes: int
    offsets: Mapping[str, int]
    order: tuple[int, ...] | None


def _int(v: object, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise BadInput(f"plan: {what} must be a non-negative integer, got {v!r}")
    return v


def read_plan(path: Path, graph: Graph) -> PlanFile:
    """Parse and check a plan JSON (`infermem plan -o`) against `graph`."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror or e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"{path}: not a JSON plan ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tensors"), list):
        raise BadInput(f"{path}: a plan needs a 'tensors' list (write one with infermem plan -o)")
    arena = _int(doc.get("arena_bytes"), "arena_bytes")
    offsets: dict[str, int] = {}
    for i, t in enumerate(doc["tensors"]):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise BadInput(f"{path}: tensors[{i}] needs a 'name' and an 'offset'")
        offsets[t["name"]] = _int(t.get("offset"), f"the offset of {t['name']!r}")
    order = doc.get("order")
    if order is not None:
        if not isinstance(order, list) or not all(isinstance(i, int) for i in order):
            raise BadInput(f"{path}: 'order' must be a list of operator indices")
        try:
            check_order(graph, order)
        except BadInput as e:
            raise BadInput(f"{path}: the plan's order does not fit this model (made for another "
                           f"model?): {e}") from None
        order = tuple(order)
    needed = {lt.name for lt in lifetimes(graph, order)}
    for name in offsets:
        if name not in needed:
            raise BadInput(f"{path}: the plan places tensor {name!r}, which this model has not "
                           "as an arena tensor: was the plan made for another model?")
    for name in needed:
        if name not in offsets and graph.tensors[name].nbytes:
            raise BadInput(f"{path}: the plan has no offset for tensor {name!r}: was it made "
                           "for another model?")
    return PlanFile(str(doc.get("strategy", "plan file")), arena, offsets, order)


def plan_fusion(path: Path) -> tuple[str, int] | None:
    """(runtime, alignment) of a plan made with `plan --fuse` (its `fusion`
    field), or None: such a plan places the fused graph's tensors, so the
    graph must be fused the same way before the plan is read."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # read_plan says what is wrong with the file
    fusion = doc.get("fusion") if isinstance(doc, dict) else None
    if fusion is None:
        return None
    runtime = fusion.get("runtime") if isinstance(fusion, dict) else None
    if not isinstance(runtime, str):
        raise BadInput(f"{path}: 'fusion' must say its 'runtime' (write it with infermem plan "
                       "--fuse -o)")
    return runtime, _int(doc.get("alignment", 16), "alignment") or 16


def load_inputs(path: Path, graph: Graph) -> dict[str, np.ndarray]:
    """Arrays by graph input name from one input set (`inputfiles`: an .npz or a
    folder of .npy; a single-input model takes any one array)."""
    from ..inputfiles import read_inputs

    return dict(zip(graph.inputs, read_inputs(path, graph.inputs), strict=True))
