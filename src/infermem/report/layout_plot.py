"""The classic arena picture: x = step, y = address, one rectangle per tensor."""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from ..outputs import atomic_write
from ..planners.problem import Plan, Problem

PLOT_FORMATS = ("png", "svg", "pdf")


def check_plot_path(path: Path) -> str:
    """The image format named by `path`'s extension; BadInput for any other, so
    a typo is a clear error before planning, not a matplotlib traceback after."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        accepted = ", ".join("." + f for f in PLOT_FORMATS)
        raise BadInput(f"--plot {path}: the extension must be one of {accepted}")
    return fmt


def plot_layout(problem: Problem, plan: Plan, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=120)
    cmap = plt.get_cmap("tab20")
    kib = 1024.0
    for i, b in enumerate(sorted(problem.buffers, key=lambda b: b.first)):
        off = plan.offsets[b.name]
        ax.add_patch(Rectangle((b.first - 0.45, off / kib), b.last - b.first + 0.9, b.size / kib,
                               facecolor=cmap(i % 20), edgecolor="black", linewidth=0.4,
                               alpha=0.85))
    steps = max(problem.steps, 1)
    ax.axhline(plan.arena_bytes / kib, color="crimson", linestyle="--", linewidth=1.2,
               label=f"arena {plan.arena_bytes:,} B ({plan.strategy})")
    ax.axhline(plan.lower_bound_bytes / kib, color="gray", linestyle=":", linewidth=1.2,
               label=f"live-set lower bound {plan.lower_bound_bytes:,} B")
    ax.set_xlim(-1, steps)
    ax.set_ylim(0, max(plan.arena_bytes, 1) / kib * 1.08)
    ax.set_xlabel("operator step")
    ax.set_ylabel("arena address (KiB)")
    ax.set_title(title or "arena layout")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fmt = check_plot_path(path)
    try:
        with atomic_write(path) as f:
            fig.savefig(f, format=fmt)
    finally:
        plt.close(fig)
