"""One model on several runtimes, each beside infermem's prediction for it.

Joins the two halves `monitor` keeps apart: measured runs (`monitor`, which
knows no model IR) and static figures (`frontends`, `planning`, `tflm`).
`compare_runtimes` runs the model on each runtime in a fresh monitored
process; `predict` says what infermem expected and what is left unexplained;
`baseline` makes the one-operator models that measure each runtime's own cost.
"""

from .compare import Comparison, RuntimeRun, compare_runtimes, comparison_dict

__all__ = ["Comparison", "RuntimeRun", "compare_runtimes", "comparison_dict"]
