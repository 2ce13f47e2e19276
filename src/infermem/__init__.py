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
       "quantize", "demo", "devices", "max_batch", "plan_patched",
       "profile_patched", "max_seq", "sweep_lengths", "shapes_for")
MODULE_API = ("profile", "fit", "quantize", "monitor", "report")  # also submodules
_LAZY = {
    "Monitor": ("infermem.monitor.session", "Monitor"),
    **{name: ("infermem.api", name) for name in API},
}


def __getattr__(name: str):
    import importlib

    if name in MODULE_API:
        return importlib.import_module(f"{__name__}.{name}")  # a callable module, see below
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'infermem' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """Five API functions share a name with a submodule: `infermem.profile` the
    function and `infermem/profile.py` the module (also `fit`, `quantize`,
    `monitor`, `report`).  Such a submodule stays a module (every import form
    works) and becomes callable: `infermem.profile(...)` calls
    `infermem.api.profile(...)`."""

    def __setattr__(self, name: str, value) -> None:
        if name in MODULE_API and isinstance(value, types.ModuleType):
            value.__class__ = _callable_module_class(name)
        super().__setattr__(name, value)


_CALLABLE: dict[str, type] = {}


def _callable_module_class(name: str) -> type:
    if name not in _CALLABLE:

        def __call__(self, *args, **kwargs):  # noqa: N807
            import importlib

            return getattr(importlib.import_module("infermem.api"), name)(*args, **kwargs)

        __call__.__doc__ = f"infermem.api.{name}(...): see help(infermem.api.{name})"
        _CALLABLE[name] = type(f"CallableModule_{name}", (types.ModuleType,),
                               {"__call__": __call__})
    return _CALLABLE[name]


sys.modules[__name__].__class__ = _Package
