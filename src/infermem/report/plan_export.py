"""A verified plan as the files people take away: JSON and a C header."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..planners.problem import Plan, Problem

PLAN_FORMAT_VERSION = 1


def plan_to_json(model: str, problem: Problem, plan: Plan, order: Sequence[int]) -> dict:
    """The documented plan file (`infermem plan --json` / `-o plan.json`)."""
    return {
        "version": PLAN_FORMAT_VERSION,
        "model": model,
        "strategy": plan.strategy,
        "arena_bytes": plan.arena_bytes,
        "lower_bound_bytes": plan.lower_bound_bytes,
        "gap": round(plan.gap, 6),
        "optimal": plan.optimal,
        "alignment": problem.alignment,
        "seconds": round(plan.seconds, 6),
        "order": list(order),
        "overlaps": [
            {"output": o.output, "input": o.input, "max_bytes": o.max_bytes}
            for o in problem.overlaps
        ],
        "tensors": [
            {
                "name": b.name,
                "index": b.index,
                "bytes": b.size,
                "first": b.first,
                "last": b.last,
                "offset": plan.offsets[b.name],
            }
            for b in sorted(problem.buffers, key=lambda b: (plan.offsets[b.name], b.first))
        ],
    }


MAX_IDENT = 48  # converter-made tensor names run to hundreds of characters


def c_identifier(name: str) -> str:
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name).upper()
    return ident if ident and not ident[0].isdigit() else f"T_{ident}"


def plan_to_header(model: str, problem: Problem, plan: Plan) -> str:
    """A C header: the arena size and one offset per tensor, as #defines (named
    by tensor index where the model has indices, else by tensor name; the full
    name in a comment) and a table indexed like the model's tensors."""
    guard = f"INFERMEM_{c_identifier(model)}_PLAN_H"
    lines = [
        f"/* Arena plan for {model}: strategy {plan.strategy}, written by infermem. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        f"#define INFERMEM_ARENA_BYTES {plan.arena_bytes}u",
        f"#define INFERMEM_ARENA_ALIGNMENT {problem.alignment}u",
        "",
    ]
    seen: set[str] = set()
    for b in problem.buffers:
        ident = f"T{b.index}" if b.index is not None else c_identifier(b.name)[:MAX_IDENT]
        while ident in seen:
            ident += "_"
        seen.add(ident)
        name = b.name.replace("*/", "* /")
        lines.append(f"#define INFERMEM_OFFSET_{ident} {plan.offsets[b.name]}u "
                     f"/* {b.size} B: {name} */")
    indexed = [b for b in problem.buffers if b.index is not None]
    if indexed:
        n = 1 + max(b.index for b in indexed)
        table = [-1] * n
        for b in indexed:
            table[b.index] = plan.offsets[b.name]
        lines += [
            "",
            "/* Offset of each tensor by its index in the model file; -1: not in the arena. */",
            f"static const int infermem_tensor_offsets[{n}] = {{",
            *(f"  {v}," for v in table),
            "};",
        ]
    lines += ["", f"#endif /* {guard} */", ""]
    return "\n".join(lines)
