"""Planner benchmark on synthetic CNN-like problems (infermem.planners.synthetic).

Prints, per problem size and with/without allowed overlaps (DMO), each
strategy's arena, its gap to the lower bound, and the wall time of `plan`
(validation included); then how often `exact` proves optimality on 100-buffer
problems within its time limit.  Run: python benchmarks/planners_synthetic.py
"""

from __future__ import annotations

import argparse
import statistics
import time

from infermem.planners import plan
from infermem.planners.search import GREEDIES
from infermem.planners.synthetic import cnn_like

ORDER = [
    "linear",
    "tflm",
    "tflm-dmo",
    "best-fit",
    "breadth",
    "conflicts",
    "best",
    "hill-climb",
    "exact",
]


def limit(strategy: str, n: int, args: argparse.Namespace) -> float | None:
    """Time limit for a strategy at size n (None: skip it there)."""
    if strategy == "exact":
        return args.exact_limit if n <= args.exact_max else None
    if strategy == "hill-climb":
        return 2.0 if n <= 1000 else 5.0
    return 10.0


def row(n: int, ov: bool, strategy: str, t_limit: float, seed: int) -> str:
    p = cnn_like(n, seed=seed, overlaps=ov)
    t = time.perf_counter()
    r = plan(p, strategy, time_limit=t_limit, seed=seed)
    wall = time.perf_counter() - t
    opt = {True: "yes", False: "no", None: "?"}[r.optimal]
    return (
        f"{n:>6} {'dmo' if ov else '-':>4} {strategy:<11} {r.arena_bytes:>12,} "
        f"{r.lower_bound_bytes:>12,} {100 * r.gap:>7.2f}% {wall:>8.3f}s {opt:>4}"
    )


def table(args: argparse.Namespace) -> None:
    print(
        f"{'n':>6} {'ovl':>4} {'strategy':<11} {'arena B':>12} {'bound B':>12} "
        f"{'gap':>8} {'time':>9} {'opt':>4}"
    )
    for n in args.sizes:
        for ov in (False, True):
            for s in ORDER:
                t_limit = limit(s, n, args)
                if t_limit is not None:
                    print(row(n, ov, s, t_limit, args.seed), flush=True)
            print()


def exact_rate(args: argparse.Namespace) -> None:
    for ov in (False, True):
        proved, times, gaps = 0, [], []
        for seed in range(args.exact_runs):
            p = cnn_like(100, seed=1000 + seed, overlaps=ov, skip=0.35)
            greedy = min(plan(p, s).arena_bytes for s in GREEDIES)
            t = time.perf_counter()
            r = plan(p, "exact", time_limit=args.exact_limit, seed=seed)
            times.append(time.perf_counter() - t)
            proved += bool(r.optimal)
            gaps.append(100 * (greedy / r.arena_bytes - 1))
        print(
            f"exact, 100 buffers, {'with' if ov else 'without'} overlaps: optimal proven "
            f"{proved}/{args.exact_runs} within {args.exact_limit:g} s; time median "
            f"{statistics.median(times):.2f} s, max {max(times):.2f} s; best greedy above "
            f"exact by median {statistics.median(gaps):.2f}%, max {max(gaps):.2f}%",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-limit", type=float, default=10.0)
    ap.add_argument("--exact-max", type=int, default=1000, help="largest n to run exact on")
    ap.add_argument("--exact-runs", type=int, default=20)
    args = ap.parse_args()
    table(args)
    exact_rate(args)


if __name__ == "__main__":
    main()
