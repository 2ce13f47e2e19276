"""The architecture's invariants, read from the source with `ast`.

Every import counts, including the ones inside functions (a lazy import is
still a dependency).  See docs/architecture.md for why each rule holds.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import infermem

ROOT = Path(infermem.__file__).parent


def _module(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    is_pkg = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_pkg else parts), is_pkg


def _imports(path: Path) -> set[str]:
    """Absolute infermem modules (and names) imported anywhere in `path`."""
    name, is_pkg = _module(path)
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + [node.module or ""]).strip(".")
            else:
                mod = node.module or ""
            found |= {mod} | {f"{mod}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m.split(".")[0] == "infermem"}


def _unit(module: str) -> str:
    """The top-level unit: `infermem.overlap.trace` -> `overlap`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _edges() -> dict[str, set[tuple[str, str]]]:
    """unit -> {(importing module, imported module)} across units."""
    edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        name, _ = _module(path)
        for imp in _imports(path):
            if _unit(imp) not in ("", _unit(name)):
                edges[_unit(name)].add((name, imp))
    return edges


EDGES = _edges()

# unit -> the units it may never import (directly or lazily)
FORBIDDEN = {
    "overlap": {"tflm", "cli", "api", "report", "fit", "planning"},  # rules, never runs TFLM
    "planners": "ALL_BUT errors",  # a pure library: buffers in, offsets out
    "graph": "ALL_BUT errors",  # the IR knows no format and no planner
    "frontends": "ALL_BUT errors graph budget gcpause",  # files -> Graph, nothing about planning
    "monitor": "ALL_BUT errors outputs",  # memory over time; no model IR
    "sidebyside": {"cli", "api"},  # measured runs beside static figures
    "tflm": {"cli", "api", "report", "rewrite"},  # rewrites hand tflm bytes, not the reverse
    "rewrite": {"cli", "api", "report"},
    "report": {"cli"},
    "sweep": {"cli", "api"},  # the library a command and the Dask workers call
    "fusion": {"cli", "api", "report", "fit", "planning", "tflm"},  # graph -> fused graph
}


def _allowed_only(spec: str) -> set[str]:
    return set(spec.split()[1:])


@pytest.mark.parametrize("unit", sorted(FORBIDDEN))
def test_import_direction(unit):
    spec = FORBIDDEN[unit]
    bad = []
    for src, dst in sorted(EDGES.get(unit, ())):
        target = _unit(dst)
        if isinstance(spec, str):
            if target not in _allowed_only(spec):
                bad.append(f"{src} imports {dst}")
        elif target in spec:
            bad.append(f"{src} imports {dst}")
    assert not bad, "\n".join(bad)


def test_only_the_entry_points_import_the_cli():
    bad = [f"{s} imports {d}" for u, pairs in EDGES.items() for s, d in pairs
           if _unit(d) == "cli" and u not in ("__main__",)]  # fmt: skip
    assert not bad, "\n".join(bad)


def test_units_form_no_cycle():
    """The units' import graph is acyclic: data flows one way (api and cli on
    top, graph and planners at the bottom)."""
    graph = {u: {_unit(d) for _, d in pairs} - {""} for u, pairs in EDGES.items()}
    state: dict[str, int] = {}

    def visit(u: str, path: list[str]) -> None:
        state[u] = 1
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, u, v]))
            if v not in state:
                visit(v, [*path, u])
        state[u] = 2

    for u in sorted(graph):
        if u not in state:
            visit(u, [])


def test_align_up_has_one_definition_in_the_planners():
    defs = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py")
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(n, ast.FunctionDef) and n.name == "align_up"]  # fmt: skip
    assert defs == ["planners/problem.py"]


def test_the_checker_sees_lazy_imports():
    """Guard the test itself: a function-level import is found."""
    assert ("infermem.tflm.optimize", "infermem.tflm.dmo.add_overlaps") not in EDGES["tflm"]
    assert any(d.startswith("infermem.overlap") for _, d in EDGES["tflm"])
    # fit imports the TFLM measurement lazily, inside a function
    assert any(_unit(d) == "tflm" for _, d in EDGES["fit"])
