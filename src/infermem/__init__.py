"""infermem: profile, plan and shrink the memory of ML inference on small devices.

Importing the package is cheap on purpose: heavy parts (numpy, onnx, psutil,
runtimes) load only when a name below is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Monitor": ("infermem.monitor.session", "Monitor"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'infermem' has no attribute {name!r}")
