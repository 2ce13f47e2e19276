"""Sweep throughput: models per minute on 1 and 2 local workers and on a
2-worker local Dask cluster, on the project's fixtures, in one run.

    python benchmarks/sweep.py [--only GLOB] [--verify] [--no-measure] [--markdown]

Corpus: every tests/fixtures/*.tflite and *.onnx (all levels, the default
options of `infermem sweep`, TFLM measuring each .tflite's runtime level).
Each configuration evaluates the whole corpus from scratch (no cache),
through `infermem.sweep.sweep`, so the wall time includes starting the
worker processes, as a user's sweep does.  The Dask cluster is a
`LocalCluster(n_workers=2, threads_per_worker=1)`: two worker processes on
this machine behind a scheduler, the path a real cluster takes
(`Client.map` + `as_completed`, model bytes shipped with each task).  The
table gives models/min and the ratio to one local worker, and checks that
the three configurations computed the same figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from infermem.sweep import SweepOptions, close_workers, sweep, to_json

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def corpus(only: str) -> list[Path]:
    return sorted(p for p in FIXTURES.glob(only) if p.suffix in (".tflite", ".onnx"))


def timed(models: list[Path], options: SweepOptions, **how) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = sweep(models, options, **how)
    seconds = time.perf_counter() - t0
    close_workers()
    return seconds, to_json(r)


def figures(doc: dict) -> list:
    """What must not depend on where the sweep ran."""
    return [(m["model"], m["status"], {k: v["arena_bytes"] for k, v in m["levels"].items()})
            for m in doc["models"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="*", help="glob of fixture names (default: all)")
    ap.add_argument("--verify", action="store_true", help="sweep with --verify")
    ap.add_argument("--no-measure", action="store_true", help="sweep with --no-measure")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    from distributed import LocalCluster

    models = corpus(args.only)
    options = SweepOptions(verify=args.verify, measure=not args.no_measure)
    runs = {}
    runs["local, 1 worker"] = timed(models, options, jobs=1)
    runs["local, 2 workers"] = timed(models, options, jobs=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        runs["Dask LocalCluster, 2 workers"] = timed(models, options,
                                                     scheduler=cluster.scheduler_address)
    base = runs["local, 1 worker"][0]
    same = len({repr(figures(doc)) for _, doc in runs.values()}) == 1
    failed = [m["name"] for m in runs["local, 1 worker"][1]["models"] if m["status"] != "ok"]
    head = (f"{len(models)} models ({len(failed)} failed: {', '.join(failed) or '-'}), "
            f"same figures in all three: {same}")
    rows = [(name, f"{s:.1f}", f"{len(models) / s * 60:.1f}", f"{base / s:.2f}x")
            for name, (s, _) in runs.items()]
    cols = ("configuration", "wall s", "models/min", "vs 1 worker")
    if args.markdown:
        print(head + "\n")
        print("| " + " | ".join(cols) + " |\n|---|---:|---:|---:|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        print(head)
        print(f"{cols[0]:<30} {cols[1]:>8} {cols[2]:>11} {cols[3]:>12}")
        for r in rows:
            print(f"{r[0]:<30} {r[1]:>8} {r[2]:>11} {r[3]:>12}")


if __name__ == "__main__":
    main()
