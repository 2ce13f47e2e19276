"""`infermem fit MODEL`: does it fit on my board, and what must change if not?"""

from __future__ import annotations

import argparse
import json

from ._common import (
    add_device_arg,
    add_device_file_arg,
    add_fuse_arg,
    add_json_arg,
    add_no_measure_arg,
    add_patch_args,
    add_shape_args,
    add_time_limit_arg,
    add_whatif_args,
    console,
    print_shape_notes,
)


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="RAM and flash per optimisation level, checked against devices")
    p.add_argument("model", nargs="?", help="model file (.onnx or .tflite)")
    add_shape_args(p)
    add_device_arg(p, "every device")
    add_device_file_arg(p)
    p.add_argument("--devices", dest="device_file", action="append", help=argparse.SUPPRESS)
    p.add_argument("--kind", choices=("mcu", "board", "sbc"), help="only devices of this kind")
    p.add_argument("--list-devices", action="store_true", help="list the known devices and exit")
    add_time_limit_arg(p, 5.0)
    add_no_measure_arg(p)
    p.add_argument("--budget", metavar="SIZE",
                   help="a memory budget (512MB, 256KiB, 1.5GB; powers of 1024): checked as "
                        "one more target, or the limit for --max-batch")
    p.add_argument("--max-batch", action="store_true",
                   help="the largest batch whose best plan (arena + KV cache + weights) fits "
                        "--budget; with --max-seq, the largest length at batch 1, 2, 4, ...")
    p.add_argument("--max-seq", metavar="DIM",
                   help="the largest value of a symbolic dim ('seq': the model's sequence "
                        "dim) whose best plan (arena + KV cache + weights) fits --budget; "
                        "decode step: --dim sequence_length=1 --max-seq past_sequence_length")
    add_fuse_arg(p)
    add_patch_args(p)
    add_json_arg(p)
    add_whatif_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import BadInput

    if args.list_devices:
        return _list(args.device_file, args.json)
    if not args.model:
        raise BadInput("fit needs a MODEL (or --list-devices)")
    if args.max_seq or args.max_batch:
        if not args.budget:
            flag = "--max-seq" if args.max_seq else "--max-batch"
            raise BadInput(f"{flag} needs --budget SIZE (e.g. --budget 512MB)")
        return _max_seq(args) if args.max_seq else _max_batch(args)
    return _fit(args)


def _fit(args) -> int:
    from ..api import fit
    from ..report.fit_table import render_devices, render_needs

    r = fit(args.model, devices=args.device, device_files=args.device_file, kind=args.kind,
            budget=args.budget, time_limit=args.time_limit, alignment=args.align,
            measure=args.measure, input_shapes=dict(args.input_shape),
            weights_dtype=args.weights_dtype, activations_dtype=args.activations_dtype,
            prune=args.prune, patch=args.patch, patch_until=args.patch_until,
            max_mac_overhead=args.max_mac_overhead, fuse=args.fuse)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
        return 0
    print_shape_notes(r.graph.meta.get("shape_notes", ()))
    out = console()
    render_needs(r.report, out)
    render_devices(r.report, out)
    return 0


def _max_batch(args) -> int:
    from ..api import max_batch
    from ..report.fit_table import render_max_batch

    r = max_batch(args.model, args.budget, time_limit=args.time_limit, alignment=args.align,
                  input_shapes=dict(args.input_shape))
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
    else:
        render_max_batch(r.result, console())
    return 0


def _max_seq(args) -> int:
    from ..api import max_seq
    from ..report.seq_table import render_frontier, render_max_seq

    out = console()
    r = max_seq(args.model, args.budget, args.max_seq, dims=dict(args.dim),
                batch=args.max_batch, input_shapes=dict(args.input_shape),
                time_limit=args.time_limit, alignment=args.align, fuse=args.fuse)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
    elif r.frontier is not None:
        render_frontier(r.frontier, out)
    else:
        render_max_seq(r.result, out)
    return 0


def _list(files, as_json: bool) -> int:
    from rich.table import Table

    from ..api import devices
    from ..report.units import human_bytes

    catalog = devices(files)
    if as_json:
        print(json.dumps([{"name": d.name, "aliases": list(d.aliases), "kind": d.kind,
                           "core": d.core, "sram_bytes": d.sram_bytes,
                           "flash_bytes": d.flash_bytes,
                           "external_ram_bytes": d.external_ram_bytes,
                           "external_flash_bytes": d.external_flash_bytes,
                           "source": d.source, "notes": d.notes} for d in catalog], indent=2))
        return 0
    table = Table(title=f"{len(catalog)} devices")
    for col in ("name", "kind", "SRAM", "flash", "ext RAM", "ext flash", "source"):
        table.add_column(col)
    for d in catalog:
        table.add_row(d.name, d.kind, human_bytes(d.sram_bytes), human_bytes(d.flash_bytes),
                      human_bytes(d.external_ram_bytes), human_bytes(d.external_flash_bytes),
                      d.source)
    console().print(table)
    return 0
