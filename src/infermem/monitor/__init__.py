"""Runtime memory monitor: what a program's memory does over time, phase by phase.

`Monitor` samples this process; `monitor_model` and `monitor_command` run a
model or any command in a child process and watch it from outside.  Every
name loads on first use, so that importing a submodule (the monitored
child imports `runtimes`) costs nothing else.
"""

from __future__ import annotations

_LAZY = {
    "Monitor": "session",
    "monitor_model": "runner",
    "monitor_command": "runner",
    "MonitorResult": "result",
    "RunError": "result",
    "PhaseStats": "phases",
    "Iterations": "phases",
    "Timeline": "timeline",
    "LeakVerdict": "leak",
    "detect_leak": "leak",
    "runs_to_detect": "leak",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
