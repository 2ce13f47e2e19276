"""Real targets (SRAM, flash, external memory) and where each figure comes from.

`load_catalog()` gives the bundled catalog (`devices.toml`) merged with any
user files; `find` / `select` look devices up by name or alias.
"""

from __future__ import annotations

from .catalog import KINDS, Device, bundled, find, load_catalog, parse_catalog, select

__all__ = ["KINDS", "Device", "bundled", "find", "load_catalog", "parse_catalog", "select"]
