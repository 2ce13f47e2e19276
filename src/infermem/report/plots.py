"""Plots for the HTML report, returned as PNG bytes (the page embeds them).

No model-derived text is drawn: names from a model file stay in the HTML,
where they are escaped, never in matplotlib's text (which parses `$...$`).
Colours are muted and shared with the page's CSS.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..planners.problem import Plan, Problem
from ..profile import Profile

INK, MUTED, GRID = "#1f2933", "#7b8794", "#e4e7eb"
ACCENT = "#3a6ea5"  # live memory, infermem
RUNTIME = "#c0684f"  # the runtime's plan
GOOD = "#4c8c6a"  # infermem's plans
DMO = "#7a5ea8"
BOXES = ("#8fb3d9", "#a9c8a0", "#e3b78f", "#c3aed6", "#94c9c4", "#e6a5a5", "#c9c28f",
         "#a7b8c9", "#d6b3c8", "#b5c99a")


@dataclass(frozen=True)
class Unit:
    name: str
    scale: float

    def of(self, n: float) -> float:
        return n / self.scale


def unit_for(n: int) -> Unit:
    """The axis unit that keeps the largest value between 1 and 1024."""
    for name, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return Unit(name, float(scale))
    return Unit("B", 1.0)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 9, "axes.edgecolor": GRID,
        "axes.labelcolor": INK, "xtick.color": MUTED, "ytick.color": MUTED,
        "axes.titlesize": 10, "axes.titleweight": "bold", "axes.titlecolor": INK,
        "text.usetex": False,
    })
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _tidy(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def live_plot(p: Profile, lines: Mapping[str, tuple[int, str]],
              reordered: Profile | None = None) -> bytes:
    """Live arena bytes per step (file order), the peak marked; `lines` are
    label -> (bytes, colour) drawn as horizontal references (arena sizes)."""
    plt = _pyplot()
    live = [r.live_bytes for r in p.operators]
    top = max([*live, *(b for b, _ in lines.values()), 1])
    u = unit_for(top)
    fig, ax = plt.subplots(figsize=(11, 3.4))
    steps = list(range(len(live)))
    ys = [u.of(v) for v in live]
    ax.fill_between(steps, ys, step="mid", color=ACCENT, alpha=0.18, linewidth=0)
    ax.step(steps, ys, where="mid", color=ACCENT, linewidth=1.6, label="live set, file order")
    if reordered is not None:
        ax.step(steps, [u.of(r.live_bytes) for r in reordered.operators], where="mid",
                color=INK, linewidth=1.0, linestyle=(0, (4, 2)), alpha=0.7,
                label="live set, memory-optimal order")
    for label, (value, colour) in lines.items():
        ax.axhline(u.of(value), color=colour, linewidth=1.1, linestyle="--", label=label)
    if p.peak_step is not None:
        ax.plot([p.peak_step], [u.of(p.peak_bytes)], "o", color=RUNTIME, markersize=6, zorder=5)
        right = p.peak_step > 0.7 * len(live)  # keep the label inside the axes
        ax.annotate(f"peak {p.peak_bytes:,} B", (p.peak_step, u.of(p.peak_bytes)),
                    xytext=(-8 if right else 8, 8), textcoords="offset points", color=INK,
                    fontsize=9, ha="right" if right else "left")
    ax.set_xlim(-0.6, max(len(live) - 0.4, 0.6))
    ax.set_ylim(0, u.of(top) * 1.15)
    ax.set_xlabel("operator step")
    ax.set_ylabel(f"live bytes ({u.name})")
    _tidy(ax)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), fontsize=8, frameon=False,
              ncol=len(lines) + 1 + (reordered is not None), handlelength=2.4)
    fig.tight_layout()
    return _png(fig)


def patch_plot(before: Profile, after: Profile, stage_before: int, stage_after: int) -> bytes:
    """Live bytes per step before and after patching, side by side on one byte
    scale (the step counts differ: the rewrite adds operators); the patched
    stage shaded in both."""
    plt = _pyplot()
    top = max(before.peak_bytes, after.peak_bytes, 1)
    u = unit_for(top)
    fig, axes = plt.subplots(1, 2, figsize=(11, 2.9), sharey=True,
                             gridspec_kw={"width_ratios": [1, 2]})
    for ax, p, stage, title, colour in (
            (axes[0], before, stage_before, "as it is", RUNTIME),
            (axes[1], after, stage_after, "patched", ACCENT)):
        live = [u.of(r.live_bytes) for r in p.operators]
        steps = list(range(len(live)))
        ax.axvspan(-0.5, stage - 0.5, color=GRID, alpha=0.6, linewidth=0)
        ax.fill_between(steps, live, step="mid", color=colour, alpha=0.18, linewidth=0)
        ax.step(steps, live, where="mid", color=colour, linewidth=1.4)
        ax.set_title(f"{title}: peak {p.peak_bytes:,} B (shaded: the patched stage)",
                     fontsize=9, color=INK)
        ax.set_xlim(-0.6, max(len(live) - 0.4, 0.6))
        ax.set_xlabel("operator step")
        _tidy(ax)
    axes[0].set_ylim(0, u.of(top) * 1.15)
    axes[0].set_ylabel(f"live bytes ({u.name})")
    fig.tight_layout()
    return _png(fig)


@dataclass(frozen=True)
class Panel:
    title: str  # not model-derived (strategy and level names)
    problem: Problem
    plan: Plan
    colour: str


def layout_panels(panels: Sequence[Panel]) -> bytes:
    """The arena layouts side by side on one address scale, so the smaller
    arena is seen as smaller: x = step, y = address, one box per buffer."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    top = max([p.plan.arena_bytes for p in panels] + [1])
    u = unit_for(top)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 4.2), sharey=True,
                             squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for i, b in enumerate(sorted(panel.problem.buffers, key=lambda b: (b.first, b.name))):
            if b.size == 0:
                continue
            ax.add_patch(Rectangle(
                (b.first - 0.45, u.of(panel.plan.offsets[b.name])), b.last - b.first + 0.9,
                u.of(b.size), facecolor=BOXES[i % len(BOXES)], edgecolor="white",
                linewidth=0.5, alpha=0.85))
        ax.axhline(u.of(panel.plan.arena_bytes), color=panel.colour, linewidth=1.4)
        ax.set_title(f"{panel.title}\n{panel.plan.arena_bytes:,} B", loc="left")
        ax.set_xlim(-1, max(panel.problem.steps, 1))
        ax.set_xlabel("operator step")
        _tidy(ax)
    axes[0][0].set_ylim(0, u.of(top) * 1.05)
    axes[0][0].set_ylabel(f"arena address ({u.name})")
    fig.tight_layout()
    return _png(fig)
