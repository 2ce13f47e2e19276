"""Memory over time with the phases shaded (matplotlib, Agg: no display needed).

RSS is the line; USS, when sampled, a second line; each phase a shaded band
labelled with its name; exact phase peaks (which the samples may miss) are
drawn as short bars at the phase's peak; the overall peak is annotated.  A
failed run is drawn the same way, with the error in the title, so the partial
timeline still says where it stopped.
"""

from __future__ import annotations

from .result import MonitorResult

_MIB = float(1 << 20)


def plot_timeline(r: MonitorResult, path, title: str | None = None, fmt: str | None = None) -> None:
    """Draw one run to `path` (a file name, or a binary file object with `fmt`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    tl = r.timeline
    colors = plt.get_cmap("tab10").colors
    top_phases = _outer(r)
    for k, p in enumerate(top_phases):
        ax.axvspan(p.start_s, max(p.end_s, p.start_s + 1e-4), color=colors[k % 10], alpha=0.15)
        ax.text(
            (p.start_s + p.end_s) / 2,
            1.0,
            p.name,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8,
            rotation=30,
        )
        ax.hlines(
            p.peak_rss_bytes / _MIB,
            p.start_s,
            max(p.end_s, p.start_s + 1e-3),
            colors=colors[k % 10],
            linewidth=2.5,
        )
    if len(tl):
        ax.plot(tl.t_s, tl.rss_bytes / _MIB, color="black", linewidth=1.0, label="RSS (sampled)")
        uss = tl.uss_bytes >= 0
        if uss.any():
            ax.plot(
                tl.t_s[uss],
                tl.uss_bytes[uss] / _MIB,
                color="tab:blue",
                linewidth=1.0,
                linestyle="--",
                label="USS (sampled)",
            )
    ax.axhline(
        r.peak_rss_bytes / _MIB,
        color="tab:red",
        linewidth=0.8,
        linestyle=":",
        label=f"peak RSS {r.peak_rss_bytes / _MIB:.1f} MiB",
    )
    if top_phases:
        ax.plot([], [], color="gray", linewidth=2.5, label="phase peak (exact)")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("memory (MiB)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(_title(r, title), fontsize=9, pad=28)
    fig.tight_layout()
    fig.savefig(path, format=fmt)
    plt.close(fig)


def plot_runs(results: dict, path, fmt: str | None = None) -> None:
    """One run as `plot_timeline` draws it; several (runtimes side by side) as
    one RSS line each, over time since each child started."""
    runs = {k: v for k, v in results.items() if v is not None}
    if len(runs) == 1:
        plot_timeline(next(iter(runs.values())), path, fmt=fmt)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    for name, r in runs.items():
        tl = r.timeline
        ax.plot(tl.t_s, tl.rss_bytes / _MIB, linewidth=1.0,
                label=f"{name}: peak RSS {r.peak_rss_bytes / _MIB:.1f} MiB")  # fmt: skip
    ax.set_xlabel("time since the child started (s)")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8)
    model = next(iter(runs.values())).target.get("model", "")
    ax.set_title(f"{model[-80:]}: runtimes side by side", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format=fmt)
    plt.close(fig)


def _outer(r: MonitorResult):
    """Phases not nested in another: shading nested ones would hide their parent."""
    out = []
    for p in r.phases:
        inside = any(
            q is not p
            and q.start_s <= p.start_s
            and p.end_s <= q.end_s
            and (q.start_s, q.end_s) != (p.start_s, p.end_s)
            for q in r.phases
        )
        if not inside:
            out.append(p)
    return out


def _title(r: MonitorResult, title: str | None) -> str:
    if title:
        return title
    what = r.target.get("model") or " ".join(r.target.get("command", []))
    if len(what) > 80:
        what = "..." + what[-77:]
    head = f"{what} ({r.target['runtime']})" if "runtime" in r.target else what
    if r.error is not None:
        return f"{head}\nFAILED: {r.error.message[:100]}"
    return head
