"""TensorFlow Lite Micro as ground truth and as target.

`measure` runs a model in TFLM's own Python interpreter (in a child process)
and reports the arena it really used; `tflm_problem` builds the planning
problem exactly as TFLM's allocator does; `write_offline_plan` writes
offsets into a copy of the model as `OfflineMemoryAllocation` metadata,
which TFLM trusts blindly; `verify` runs original and planned model and
requires identical outputs; `optimize` is the whole pipeline.
"""

from __future__ import annotations

from .measure import TflmArena, TflmRun, measure, min_arena, run
from .offline import write_offline_plan
from .optimize import OptimizeResult, optimize, plan_offsets
from .problem import TflmProblem, build, tflm_problem
from .verify import Difference, VerifyResult, verify

__all__ = [
    "Difference",
    "OptimizeResult",
    "TflmArena",
    "TflmProblem",
    "TflmRun",
    "VerifyResult",
    "build",
    "measure",
    "min_arena",
    "optimize",
    "plan_offsets",
    "run",
    "tflm_problem",
    "verify",
    "write_offline_plan",
]
