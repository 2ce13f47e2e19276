"""Byte sizes written by people: "512MB", "256 KiB", "1.5GB", "65536".

Memory is sold and specified in powers of two (a "256 KB" SRAM holds 262,144
bytes), so every unit here is binary, JEDEC style: K = KB = KiB = 1024 bytes,
M = MB = MiB = 1024**2, G = GB = GiB = 1024**3.  A bare number is bytes.
"""

from __future__ import annotations

import re

from .errors import BadInput

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int, what: str = "size") -> int:
    """Bytes in `text` (an int passes through); BadInput for anything else,
    naming `what` so the user knows which argument or field was wrong."""
    if isinstance(text, bool):
        raise BadInput(f"{what}: expected a size like 512KB or 1.5GB, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise BadInput(f"{what}: a size cannot be negative ({text})")
        return text
    if not isinstance(text, str):
        raise BadInput(f"{what}: expected a size like 512KB or 1.5GB, got {text!r}")
    m = _SIZE.match(text)
    if not m or (m.group(3) and m.group(3).lower() == "ib" and not m.group(2)):
        raise BadInput(
            f"{what}: cannot read {text!r} as a size; write e.g. 65536, 256KiB, 512MB or 1.5GB "
            "(units are powers of 1024)"
        )
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value != int(value):
        raise BadInput(f"{what}: {text!r} is not a whole number of bytes")
    return int(value)
