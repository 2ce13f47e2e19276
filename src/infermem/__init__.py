"""infermem: profile, plan and shrink the memory of ML inference on small devices.

The Python API is one function per command, each returning a typed result
with `.to_json()` (see `infermem.api` for the reference):

    import infermem
    result = infermem.plan("model.tflite", dmo=True)
    print(result.arena_bytes)

Importing the package is cheap on purpose: heavy parts (numpy, onnx, psutil,
runtimes) load only when a name below is first used.
"""

from __future__ import annotations

import sys
import types

__version__ = "0.1.0"

API = ("load", "profile", "plan", "optimize", "verify", "fit", "monitor", "report", "measure",
       "quantize", "demo", "devices", "max_batch")
_LAZY = {
    "Monitor": ("infermem.monitor.session", "Monitor"),
    **{name: ("infermem.api", name) for name in API},
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'infermem' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """Several API functions share a name with a submodule (`infermem.profile`
    the function, `infermem/profile.py` the module).  Importing a submodule
    normally sets the package attribute to the module; here the API name wins,
    so `infermem.profile(...)` always works.  The modules stay importable as
    `from infermem.profile import ...`."""

    def __setattr__(self, name: str, value) -> None:
        if name in API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
