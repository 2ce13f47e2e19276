"""op_type -> kernel class table, apart from `__init__` so kernel modules can
import `register` without an import cycle."""

from __future__ import annotations

from collections.abc import Callable

KERNELS: dict[str, type] = {}


def register(*op_types: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        for t in op_types:
            if t in KERNELS:
                raise ValueError(f"kernel for {t!r} registered twice")
            KERNELS[t] = cls
        cls.op_types = op_types
        return cls

    return deco
