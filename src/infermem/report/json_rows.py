"""JSON for big documents: readable, and written by the C encoder.

`json.dumps(doc, indent=2)` falls back to the pure-Python encoder, which spent
most of `profile --json` on a 30,000-node model (about 3 million calls).
Here the top level is indented and every row of a list of objects is one
compact line from the C encoder: the same JSON value, one row per line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def dumps_rows(doc: dict[str, Any]) -> str:
    """`doc` as JSON: one key per line, lists of objects one object per line."""
    parts = []
    row = _row_encoder()
    for key, value in doc.items():
        k = json.dumps(key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows = ",\n    ".join(map(row, value))
            parts.append(f"  {k}: [\n    {rows}\n  ]")
        else:
            parts.append(f"  {k}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}" if parts else "{}"


def _row_encoder() -> Callable[[Any], str]:
    """`json.dumps` with its defaults, as one C encoder made once: `json.dumps`
    makes a new one per call, half the time of a 60,000-row document.  (No
    check for circular references: these documents are trees.)"""
    from json import encoder as E

    if E.c_make_encoder is None:  # a Python built without the C accelerator
        return json.dumps
    enc = E.c_make_encoder(None, E.JSONEncoder().default, E.encode_basestring_ascii, None,
                           ": ", ", ", False, False, True)
    return lambda v: "".join(enc(v, 0))
