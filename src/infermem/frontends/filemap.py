"""A model file as a read-only memory map: its bytes are read when touched.

Both frontends hand out weights as numpy views over the file's bytes; over a
map, a 1.5 GB model costs what is actually read (shapes, graph structure),
not 1.5 GB more.  The map stays open while any view over it lives.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path


def map_file(path: Path) -> mmap.mmap | bytes:
    """A read-only map of the whole file, or b"" for an empty one (mmap refuses
    those).  OSError as `open` raises it."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
