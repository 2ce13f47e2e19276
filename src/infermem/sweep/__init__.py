"""`infermem sweep`: a model zoo × target devices × optimisation levels.

Every model is one `Task` (task.py), evaluated by `worker.run_task` in a
child process with a per-model timeout, on a local pool (local.py) or a Dask
cluster (cluster.py); results are cached by model content + options +
infermem version (cache.py), fitted to the devices on the client
(results.py) and written as JSON / CSV / HTML (writers.py, html.py) as they
arrive.  `sweep()` (run.py) is the whole pipeline.
"""

from __future__ import annotations

from .cache import Cache, default_dir
from .results import SweepResult, to_json
from .run import sweep
from .task import DEFAULT_LEVELS, SweepOptions, Task, discover, evaluate, parse_levels
from .worker import close_workers, run_task

__all__ = [
    "DEFAULT_LEVELS",
    "Cache",
    "SweepOptions",
    "SweepResult",
    "Task",
    "close_workers",
    "default_dir",
    "discover",
    "evaluate",
    "parse_levels",
    "run_task",
    "sweep",
    "to_json",
]
