"""The KV cache of a decoder: past key/value inputs and present outputs.

A decoder exported with its cache (Hugging Face's `decoder_with_past`,
onnxruntime-genai, Optimum) takes the keys and values of every earlier token
as inputs and returns them with the new token's appended.  Those buffers are
not per-step scratch: the runtime (or the generation loop) holds them from
one step to the next, so they never share bytes with the step's activations.
They grow with the context length while the activations of a decode step do
not, which is why they are the line a context-length budget is about.

Recognised (ONNX graphs): a graph input of rank >= 3 and a float dtype whose
name is `past_key_values.*`, `past.*`, `past_key*`, `past_value*` or
`past_N`, and a graph output of the same kind named `present.*`,
`present_key*`, `present_value*` or `present_N` (the matching outputs).

Counted: the past inputs' bytes plus the present outputs' bytes, both live
during a step (the runtime reads past and writes present, which is past plus
the new tokens).  The assumption is that they do not alias, as in
onnxruntime's CPU provider running a standard export (present is a Concat's
fresh output).  A runtime that updates one preallocated cache in place
(onnxruntime's GroupQueryAttention with a shared past/present buffer,
llama.cpp) needs only the present bytes: `inplace_bytes`.

These tensors are held outside the arena: `lifetimes` leaves them out of the
planning problem, and the executor gives them their own buffers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .graph import Graph

PAST = re.compile(r"^(past_key_values[._]|past[._]|past_key|past_value|past_?\d+$)")
PRESENT = re.compile(r"^(present[._]|present_key|present_value|present_?\d+$)")


@dataclass(frozen=True)
class KVCache:
    past: tuple[str, ...]  # graph input names
    present: tuple[str, ...]  # graph output names
    past_bytes: int
    present_bytes: int

    @property
    def bytes(self) -> int:
        """Past and present, both live during a step (no in-place update)."""
        return self.past_bytes + self.present_bytes

    @property
    def inplace_bytes(self) -> int:
        """A runtime that appends to one preallocated cache: the present only."""
        return self.present_bytes

    def to_json(self) -> dict:
        return {"bytes": self.bytes, "past_bytes": self.past_bytes,
                "present_bytes": self.present_bytes, "inplace_bytes": self.inplace_bytes,
                "past": list(self.past), "present": list(self.present),
                "counted": "past inputs + present outputs (no in-place update assumed)"}


def _cache_like(graph: Graph, name: str, pattern: re.Pattern) -> bool:
    t = graph.tensors[name]
    return bool(pattern.match(name)) and len(t.shape) >= 3 and t.dtype.startswith(("float",
                                                                                   "bfloat"))


def kv_cache(graph: Graph) -> KVCache | None:
    """The model's KV cache at its current shapes; None when it has none."""
    if graph.format != "onnx":
        return None
    past = tuple(n for n in graph.inputs if _cache_like(graph, n, PAST))
    present = tuple(n for n in graph.outputs if _cache_like(graph, n, PRESENT))
    if not past and not present:
        return None
    return KVCache(past, present, sum(graph.tensors[n].nbytes for n in past),
                   sum(graph.tensors[n].nbytes for n in present))


def kv_line(kv: KVCache | None) -> str:
    """The profile's and plan's line for the KV cache ('' without one), newline-ended."""
    if kv is None:
        return ""
    return (f"KV cache (outside the arena): {kv.bytes:,} B = past inputs {kv.past_bytes:,} B "
            f"({len(kv.past)}) + present outputs {kv.present_bytes:,} B ({len(kv.present)}); "
            f"{kv.inplace_bytes:,} B if the runtime updates the cache in place\n")


def kv_bytes(graph: Graph) -> int:
    kv = kv_cache(graph)
    return kv.bytes if kv else 0


def outside_arena(graph: Graph) -> frozenset[str]:
    """Root tensors the KV cache holds, which the arena plan leaves out."""
    kv = kv_cache(graph)
    if kv is None:
        return frozenset()
    return frozenset(graph.root(n) for n in (*kv.past, *kv.present))
