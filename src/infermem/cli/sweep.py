"""`infermem sweep PATH...`: which model fits which board, at what level, for
a whole zoo; on this machine or a Dask cluster."""

from __future__ import annotations

import json
import sys

from ..errors import BadInput
from ._common import (
    add_align_arg,
    add_device_file_arg,
    add_force_arg,
    add_json_arg,
    add_no_measure_arg,
    add_time_limit_arg,
    add_timeout_arg,
)


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="a model zoo × devices × optimisation levels, "
                                     "on a local pool or a Dask cluster")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="model files and folders (searched recursively for .onnx / .tflite)")
    p.add_argument("--devices", default="all", metavar="NAMES|all",
                   help="comma-separated device names or aliases (default: all)")
    add_device_file_arg(p)
    p.add_argument("--levels", metavar="L,L,...",
                   help="levels to report (default: runtime,infermem,reorder,dmo,int8; name "
                        "patch to add it: a patched-rewrite search per .tflite; name fuse to "
                        "add TVM's fusion, ONNX)")
    p.add_argument("--verify", action="store_true",
                   help="prove each level's arena by running the model in it (TFLM / executor)")
    add_no_measure_arg(p)
    p.add_argument("--jobs", type=int, metavar="N", help="local workers (default: CPU count)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster (tcp://HOST:8786) instead of locally")
    add_timeout_arg(p, 300.0, "one model's evaluation (a failed row)")
    add_time_limit_arg(p, 5.0)
    add_align_arg(p)
    p.add_argument("--no-cache", action="store_true", help="evaluate every model again")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="result cache (default: $XDG_CACHE_HOME/infermem/sweep)")
    p.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                   help="write the results (.json, .csv or .html by extension; repeatable) "
                        "to this file")
    add_force_arg(p)
    add_json_arg(p)
    p.set_defaults(func=run)


def _devices(args):
    from ..devices import load_catalog, select

    catalog = load_catalog(args.device_file)
    names = [n.strip() for n in args.devices.split(",") if n.strip()]
    return catalog if names in ([], ["all"]) else select(catalog, names)


def run(args) -> int:
    from ..sweep import Cache, SweepOptions, discover, parse_levels, sweep, to_json
    from ..sweep.writers import Writer, check_outputs

    if args.jobs is not None and args.jobs < 1:
        raise BadInput(f"--jobs must be at least 1, got {args.jobs}")
    if args.jobs is not None and args.scheduler:
        raise BadInput("--jobs sizes the local pool; with --scheduler the cluster's workers run")
    options = SweepOptions(parse_levels(args.levels), args.verify, args.measure,
                           args.time_limit, args.align, args.timeout)
    devices = _devices(args)
    writer = Writer(check_outputs(args.output, discover(args.paths), args.force))
    cache = None if args.no_cache else Cache(args.cache_dir)
    last = []

    def on_result(partial) -> None:
        last[:] = [partial]
        writer.write(partial)

    try:
        result = sweep(args.paths, options, devices, args.jobs, args.scheduler, cache,
                       on_result, progress=not args.json)
    except KeyboardInterrupt:
        if last:
            import dataclasses

            writer.write(dataclasses.replace(last[0], complete=False), final=True)
        raise
    writer.write(result, final=True)
    for p in writer.paths:
        from ..outputs import written

        written(p)
    if args.json:
        print(json.dumps(to_json(result), indent=2))
    elif result.failed:
        print(f"infermem: {len(result.failed)} of {result.total} models failed "
              "(their rows say why)", file=sys.stderr)
    return 0
