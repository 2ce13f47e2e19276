"""A sweep's results as one document: models × levels × devices.

Workers return what depends only on the model and the options (cached);
the fit against each device is computed here, on the client, from the
cached levels (`fit.device_fit`), so choosing other devices never re-runs a
model.  `smallest_level` is the first chosen level (in `fit.LEVELS` order)
at which the model fits the device on-chip; None when none does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import __version__
from ..devices import Device
from ..fit import Level, Needs, Persistent, device_fit
from .task import SweepOptions


@dataclass(frozen=True)
class SweepResult:
    options: SweepOptions
    devices: tuple[Device, ...]
    models: tuple[dict, ...]  # worker results (+ "cached"), sorted by path
    total: int  # models found
    seconds: float
    complete: bool  # False when interrupted

    @property
    def failed(self) -> tuple[dict, ...]:
        return tuple(m for m in self.models if m["status"] != "ok")


def needs_from_json(doc: dict) -> Needs:
    """The `Needs` a worker computed, back from its JSON (see `fit.to_json`)."""
    levels = tuple(Level(name, v["label"], v["available"], v["arena_bytes"], v["ram_bytes"],
                         v["flash_bytes"], v["weights_bytes"], v["how"], v["changes_model"])
                   for name, v in doc["levels"].items())
    p = doc["persistent"]
    return Needs(doc["model"], doc["format"], doc["alignment"], Persistent(p["bytes"], p["source"]),
                 doc["structure_bytes"], levels, doc.get("whatif"))


def device_fits(result: dict, devices: Sequence[Device], levels: Sequence[str]) -> dict:
    """{device name: {smallest_level, fits, fits_with_external_memory, verdict}}."""
    if result["status"] != "ok":
        return {}
    needs = needs_from_json(result["needs"])
    out = {}
    for d in devices:
        f = device_fit(needs, d)
        out[d.name] = {
            "smallest_level": next((lv for lv in levels if f.fits[lv]), None),
            "fits": {lv: f.fits[lv] for lv in levels},
            "fits_with_external_memory": {lv: f.fits_external[lv] for lv in levels},
            "verdict": f.verdict,
        }
    return out


def _levels(result: dict, levels: Sequence[str]) -> dict:
    if result["status"] != "ok":
        return {}
    ver = result.get("verification") or {}
    out = {}
    for lv in levels:
        v = dict(result["needs"]["levels"][lv])
        v.pop("label", None)
        proof = ver.get(lv, {})
        v["verified"] = proof.get("verified")
        v["verified_arena_bytes"] = proof.get("verified_arena_bytes")
        v["verify_how"] = proof.get("how")
        out[lv] = v
    return out


def model_json(result: dict, devices: Sequence[Device], levels: Sequence[str]) -> dict:
    needs = result.get("needs") or {}
    return {
        "model": result["model"], "name": result["name"], "format": result["format"],
        "sha256": result["sha256"], "status": result["status"],
        "error_kind": result["error_kind"], "error": result["error"],
        "seconds": result["seconds"], "cached": bool(result.get("cached")),
        "profile": result["profile"],
        "persistent": needs.get("persistent"), "structure_bytes": needs.get("structure_bytes"),
        "levels": _levels(result, levels),
        "devices": device_fits(result, devices, levels),
    }


def to_json(r: SweepResult) -> dict:
    """The documented `sweep --json` document."""
    o = r.options
    return {
        "infermem_version": __version__,
        "options": {**o.key_fields(), "timeout": o.timeout},
        "summary": {"models": r.total, "done": len(r.models), "failed": len(r.failed),
                    "cached": sum(1 for m in r.models if m.get("cached")),
                    "complete": r.complete, "seconds": round(r.seconds, 2)},
        "devices": [{"name": d.name, "kind": d.kind, "sram_bytes": d.sram_bytes,
                     "flash_bytes": d.flash_bytes} for d in r.devices],
        "models": [model_json(m, r.devices, o.levels) for m in r.models],
    }
