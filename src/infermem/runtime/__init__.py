"""The arena executor: run a model inside one preallocated buffer at a plan's
offsets, with streaming kernels whose read/write order is explicit, and check
the result against onnxruntime (`verify`).  See executor.py for the loop,
kernels/ for the operators and their chunk orders, trace.py for tracing."""

from __future__ import annotations

from .arena import Arena
from .executor import Executor, run
from .trace import Access, Chunk, Trace

__all__ = ["Access", "Arena", "Chunk", "Executor", "Trace", "run"]
