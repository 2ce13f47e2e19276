"""`infermem fit MODEL`: does it fit on my board, and what must change if not?"""

from __future__ import annotations

import json

from ._common import (
    add_device_arg,
    add_json_arg,
    add_no_measure_arg,
    add_shape_args,
    add_time_limit_arg,
    console,
    shape_json,
)
from ._whatif import add_whatif_args, whatif_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="RAM and flash per optimisation level, checked against devices")
    p.add_argument("model", nargs="?", help="model file (.onnx or .tflite)")
    add_shape_args(p)
    add_device_arg(p, "every device")
    p.add_argument("--devices", action="append", default=[], metavar="FILE",
                   help="a TOML file of your own targets, merged with the bundled ones")
    p.add_argument("--kind", choices=("mcu", "board", "sbc"), help="only devices of this kind")
    p.add_argument("--list-devices", action="store_true", help="list the known devices and exit")
    add_time_limit_arg(p, 5.0)
    add_no_measure_arg(p)
    p.add_argument("--budget", metavar="SIZE",
                   help="a memory budget (512MB, 256KiB, 1.5GB; powers of 1024): checked as "
                        "one more target, or the limit for --max-batch")
    p.add_argument("--max-batch", action="store_true",
                   help="the largest batch whose best plan (arena + weights) fits --budget")
    add_json_arg(p)
    add_whatif_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..devices import Device, load_catalog, select
    from ..errors import BadInput
    from ..sizes import parse_size

    catalog = load_catalog(args.devices)
    if args.list_devices:
        return _list(catalog, args.json)
    if not args.model:
        raise BadInput("fit needs a MODEL (or --list-devices)")
    if args.max_batch:
        if not args.budget:
            raise BadInput("--max-batch needs --budget SIZE (e.g. --budget 512MB)")
        return _max_batch(args, parse_size(args.budget, "--budget"))
    devices = [d for d in select(catalog, args.device) if not args.kind or d.kind == args.kind]
    if args.budget:
        n = parse_size(args.budget, "--budget")
        devices.append(Device(f"budget {args.budget}", "board", "", n, None, "--budget"))
    if not devices:
        raise BadInput(f"no device of kind {args.kind!r} among those selected")
    return _fit(args, devices)


def _fit(args, devices) -> int:
    from ..fit import fit, model_needs, to_json
    from ..report.fit_table import render_devices, render_needs
    from ._common import load_graph

    graph = load_graph(args)
    needs = model_needs(graph, whatif_from_args(args), args.align, args.time_limit,
                        measure=args.measure)
    report = fit(needs, devices)
    if args.json:
        print(json.dumps({**to_json(report), **shape_json(graph.meta)}, indent=2))
        return 0
    out = console()
    render_needs(report, out)
    render_devices(report, out)
    return 0


def _max_batch(args, budget: int) -> int:
    from ..batch import max_batch
    from ..report.fit_table import max_batch_json, render_max_batch

    r = max_batch(args.model, budget, time_limit=args.time_limit, alignment=args.align,
                  given=dict(args.input_shape))
    if args.json:
        print(json.dumps(max_batch_json(r), indent=2))
    else:
        render_max_batch(r, console())
    return 0


def _list(catalog, as_json: bool) -> int:
    from rich.table import Table

    from ..report.units import human_bytes

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
