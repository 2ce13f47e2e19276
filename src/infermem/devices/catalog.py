"""The device catalog: real targets with their memory, read from TOML.

The bundled `devices.toml` lists boards and chips with the datasheet or vendor
page each figure comes from; a user file of the same shape adds targets or
replaces bundled ones of the same name.  Every entry is checked on load, so a
typo in a user file is a clear error, not a wrong verdict later.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import BadInput
from ..sizes import parse_size

KINDS = ("mcu", "board", "sbc")
_FIELDS = {
    "name", "aliases", "kind", "core", "sram", "sram_bytes", "flash", "flash_bytes",
    "external_ram", "external_ram_bytes", "external_flash", "external_flash_bytes",
    "source", "notes",
}


@dataclass(frozen=True)
class Device:
    """One target.  `flash_bytes` is None where storage is a removable card
    (single-board computers): no limit is checked."""

    name: str
    kind: str
    core: str
    sram_bytes: int
    flash_bytes: int | None
    source: str
    external_ram_bytes: int | None = None
    external_flash_bytes: int | None = None
    aliases: tuple[str, ...] = ()
    notes: str = ""

    def keys(self) -> tuple[str, ...]:
        """The names this device answers to, lower-cased."""
        return tuple(n.lower() for n in (self.name, *self.aliases))


def _size(entry: dict, key: str, where: str, required: bool) -> int | None:
    """`key` given as a size string ("256 KiB") or `key_bytes` as an int."""
    if key in entry and f"{key}_bytes" in entry:
        raise BadInput(f"{where}: give either {key!r} or {key + '_bytes'!r}, not both")
    raw = entry.get(key, entry.get(f"{key}_bytes"))
    if raw is None:
        if required:
            raise BadInput(f"{where}: missing {key!r} (e.g. {key} = \"256 KiB\")")
        return None
    n = parse_size(raw, f"{where}: {key}")
    if n <= 0:
        raise BadInput(f"{where}: {key} must be more than 0 bytes")
    return n


def _text(entry: dict, key: str, where: str, required: bool = True) -> str:
    v = entry.get(key, "")
    if not isinstance(v, str) or (required and not v.strip()):
        raise BadInput(f"{where}: {key!r} must be a non-empty string")
    return v.strip()


def parse_device(entry: object, where: str) -> Device:
    """One `[[device]]` table -> Device, or BadInput saying what is wrong."""
    if not isinstance(entry, dict):
        raise BadInput(f"{where}: each [[device]] must be a table")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise BadInput(f"{where}: unknown field(s) {', '.join(unknown)}; known: {sorted(_FIELDS)}")
    name = _text(entry, "name", where)
    where = f"{where} ({name})"
    kind = _text(entry, "kind", where)
    if kind not in KINDS:
        raise BadInput(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise BadInput(f"{where}: aliases must be a list of non-empty strings")
    return Device(
        name=name,
        kind=kind,
        core=_text(entry, "core", where, required=False),
        sram_bytes=_size(entry, "sram", where, required=True),
        flash_bytes=_size(entry, "flash", where, required=kind != "sbc"),
        source=_text(entry, "source", where),
        external_ram_bytes=_size(entry, "external_ram", where, required=False),
        external_flash_bytes=_size(entry, "external_flash", where, required=False),
        aliases=tuple(aliases),
        notes=_text(entry, "notes", where, required=False),
    )


def parse_catalog(text: str, source: str) -> tuple[Device, ...]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"{source}: not valid TOML ({e})") from None
    unknown = sorted(set(doc) - {"device"})
    if unknown:
        raise BadInput(f"{source}: unknown top-level key(s) {unknown}; expected [[device]] tables")
    entries = doc.get("device", [])
    if not isinstance(entries, list) or not entries:
        raise BadInput(f"{source}: no [[device]] tables")
    devices = tuple(parse_device(e, f"{source}: device {i + 1}") for i, e in enumerate(entries))
    _check_unique(devices, source)
    return devices


def _check_unique(devices: Sequence[Device], source: str) -> None:
    seen: dict[str, str] = {}
    for d in devices:
        for k in d.keys():
            if k in seen and seen[k] != d.name:
                raise BadInput(f"{source}: {k!r} names both {seen[k]!r} and {d.name!r}")
            seen[k] = d.name


def bundled() -> tuple[Device, ...]:
    """The catalog shipped with infermem."""
    text = resources.files("infermem.devices").joinpath("devices.toml").read_text("utf-8")
    return parse_catalog(text, "devices.toml (bundled)")


def load_catalog(extra: Iterable[str | Path] = ()) -> tuple[Device, ...]:
    """The bundled catalog plus each user file in `extra`; a user device
    replaces a bundled one with the same name (case-insensitive)."""
    devices = {d.name.lower(): d for d in bundled()}
    for path in extra:
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except OSError as e:
            raise BadInput(f"{path}: cannot read the devices file ({e.strerror})") from None
        except UnicodeDecodeError:
            raise BadInput(f"{path}: the devices file is not UTF-8 text") from None
        for d in parse_catalog(text, str(path)):
            devices[d.name.lower()] = d
    merged = tuple(devices.values())
    _check_unique(merged, "the merged device catalog")
    return merged


def find(devices: Sequence[Device], wanted: str) -> Device:
    """The device named (or aliased) `wanted`, case-insensitively; a unique
    substring match also counts.  BadInput lists close names otherwise."""
    key = wanted.strip().lower()
    exact = [d for d in devices if key in d.keys()]
    if exact:
        return exact[0]
    partial = [d for d in devices if any(key in k for k in d.keys())] if key else []
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        names = ", ".join(d.name for d in partial[:8])
        raise BadInput(f"device {wanted!r} is ambiguous: it matches {names}")
    everything = {k: d.name for d in devices for k in d.keys()}
    close = dict.fromkeys(everything[k] for k in difflib.get_close_matches(key, everything, 5, 0.5))
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise BadInput(
        f"unknown device {wanted!r}{hint} (`infermem fit --list-devices` shows all "
        f"{len(devices)}; add your own with --devices FILE)"
    )


def select(devices: Sequence[Device], names: Sequence[str]) -> tuple[Device, ...]:
    """The devices named in `names` (all of them when `names` is empty)."""
    if not names:
        return tuple(devices)
    return tuple(dict.fromkeys(find(devices, n) for n in names))
