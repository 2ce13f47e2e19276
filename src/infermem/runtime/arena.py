"""One preallocated byte buffer and every activation as a numpy view into it.

The arena is allocated once, `arena_bytes` long, and never grows.  Each arena
tensor (input, output, activation) is a view at its planned offset with its own
dtype and shape; a view op's output (alias) is its root's bytes reshaped.
Weights live outside the arena, read-only, exactly as the frontend holds them
(no copy); a QDQ model's dequantized weight exists only while the operator
that reads it runs (declared as that kernel's scratch), and its dequantized
activations are `QView`s over their integer bytes (qview.py).  Nothing here
checks that the plan is *safe* — running it is how
`verify` finds out — but a plan that does not fit the model (a missing
tensor, a tensor past the arena's end) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import BadInput
from ..graph import Graph, Role, Tensor
from ..kvcache import outside_arena
from .qview import QView, qview

ARENA_ALIGNMENT = 64  # the buffer's own start, so that planned alignments hold


class Arena:
    """`buffer` is the arena (uint8); `view(name)` the array of any tensor the
    graph names (arena view, alias view, read-only weight), made on demand so
    that the executor holds no per-tensor objects between operators.  Every
    tensor the graph uses is placed once at construction, to refuse a plan
    that does not fit before anything runs.  A decoder's KV cache (kvcache.py)
is held outside the arena, as the runtime holds it: its own buffers."""

    def __init__(self, graph: Graph, offsets: Mapping[str, int], arena_bytes: int) -> None:
        if not isinstance(arena_bytes, (int, np.integer)) or arena_bytes < 0:
            raise BadInput(f"arena size must be a non-negative integer, got {arena_bytes!r}")
        self.graph = graph
        self.offsets = {k: int(v) for k, v in offsets.items()}
        self.nbytes = int(arena_bytes)
        raw = np.zeros(self.nbytes + ARENA_ALIGNMENT, dtype=np.uint8)
        skip = -raw.ctypes.data % ARENA_ALIGNMENT
        self.buffer = raw[skip : skip + self.nbytes]
        self.base = self.buffer.ctypes.data
        self.kv_cache = {n: np.zeros(graph.tensors[n].shape, graph.tensors[n].dtype)
                         for n in outside_arena(graph)}  # the runtime's own buffers
        used = {*graph.inputs, *graph.outputs}
        for op in graph.operators:
            used.update(t for t in (*op.inputs, *op.outputs) if t)
        for n in sorted(used):
            self.view(n, check=True)

    def view(self, name: str, check: bool = False) -> np.ndarray | QView:
        """The array of tensor `name`.  A dequantized weight (QDQ) is computed
        here, so it costs memory only while its operator holds it."""
        t = self.graph.tensors[name]
        root = self.graph.tensors[self.graph.root(name)]
        dequantized = t.dtype != root.dtype  # QDQ: a float view of integer bytes
        if root.role is Role.WEIGHT:
            w = _weight(root).reshape(t.shape)
            if dequantized:
                q = qview(t, root, w)
                if check:
                    return q
                w = q.load(w, (), None)
                w.flags.writeable = False
            return w
        if not root.is_arena:
            raise BadInput(f"tensor {name!r} views {root.name!r}, which is neither a weight "
                           "nor an arena tensor")
        if dequantized:
            return qview(t, root, self.place(root))
        if t.nbytes != root.nbytes:
            raise BadInput(f"view {name!r} {t.shape}/{t.dtype} does not match the bytes of "
                           f"{root.name!r} {root.shape}/{root.dtype}")
        return self.place(root).reshape(t.shape)

    def place(self, t: Tensor) -> np.ndarray:
        """The arena view of root tensor `t` at its planned offset."""
        if t.nbytes == 0:
            return np.empty(t.shape, dtype=t.dtype)
        if t.name in self.kv_cache and t.name not in self.offsets:
            return self.kv_cache[t.name]
        if t.name not in self.offsets:
            raise BadInput(
                f"the plan has no offset for arena tensor {t.name!r}: was it made for "
                "another model (or another execution order)?"
            )
        off, n = self.offsets[t.name], t.nbytes
        if off < 0 or off + n > self.nbytes:
            raise BadInput(
                f"tensor {t.name!r} at offset {off} ({n} bytes) does not fit in the "
                f"{self.nbytes}-byte arena"
            )
        return np.ndarray(t.shape, dtype=t.dtype, buffer=self.buffer, offset=off)

    def contains(self, a: np.ndarray) -> bool:
        addr = a.__array_interface__["data"][0]
        return self.base <= addr < self.base + self.nbytes


def _weight(t: Tensor) -> np.ndarray:
    """A read-only view of a weight's data (the frontend's array is not copied)."""
    if t.data is None:
        raise BadInput(f"weight {t.name!r} has no data")
    data = np.asarray(t.data)
    if tuple(data.shape) != tuple(t.shape) or str(data.dtype) != t.dtype:
        if data.size != int(np.prod(t.shape)):
            raise BadInput(f"weight {t.name!r}: data of shape {data.shape} does not match "
                           f"{t.shape}")
        data = data.reshape(t.shape).astype(t.dtype, copy=False)
    view = data.view()
    view.flags.writeable = False
    return view
