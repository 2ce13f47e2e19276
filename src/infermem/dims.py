"""Symbolic dimensions by name: `--dim sequence_length=128`.

A transformer export names its dynamic axes (`batch_size`, `sequence_length`,
`past_sequence_length`) and writes derived ones as expressions
(`past_sequence_length + sequence_length` for a decoder's attention mask).
Asking for one `--input-shape` per input repeats the same length six times
and invites inconsistent ones; naming the dim once sets it in every input
that uses it, expressions included.

Expressions are parsed, never `eval`ed: a sum of products of integers and
names (`a + b`, `2 * a`, `a*b + 1`).  Any other dim_param ('floor(a/2)',
'unk__12') is an opaque name of its own.  A symbolic dim left unset is an
error naming it, except a batch dim (one that appears only as the leading
dim of inputs), which takes 1, what runtimes allocate when nobody resizes,
with a note that says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput

Dim = int | str | None  # a size, a dim_param (name or expression), or unnamed (None)
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_.]*)|([+*]))")


@dataclass(frozen=True)
class ModelDims:
    """The declared dims of a model's graph inputs and outputs, file order."""

    path: str
    inputs: Mapping[str, tuple[Dim, ...] | None]
    outputs: Mapping[str, tuple[Dim, ...] | None]

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every name the inputs' dims use (expressions split into their names)."""
        seen: dict[str, None] = {}
        for dims in self.inputs.values():
            for d in dims or ():
                if isinstance(d, str):
                    seen.update(dict.fromkeys(names_in(d)))
        return tuple(seen)

    @property
    def batch_symbols(self) -> frozenset[str]:
        """Names used only as the leading dim of inputs (the batch)."""
        lead, rest = set(), set()
        for dims in self.inputs.values():
            for k, d in enumerate(dims or ()):
                if isinstance(d, str):
                    (lead if k == 0 and parse(d) == ((d,),) else rest).update(names_in(d))
        return frozenset(lead - rest)


def parse_dim(text: str) -> tuple[str, int]:
    """'sequence_length=128' -> ('sequence_length', 128); 0 is allowed (an
    empty past: a decoder's prefill step)."""
    name, sep, value = text.rpartition("=")
    name = name.strip()
    if not sep or not name or not value.strip().isdigit():
        raise BadInput(f"--dim expects NAME=N with N a whole number >= 0, got {text!r}")
    return name, int(value)


def parse(expr: str) -> tuple[tuple[int | str, ...], ...] | None:
    """A sum of products, as terms of factors; None if `expr` is not one."""
    pos, terms, factors, want_atom = 0, [], [], True
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            return None if expr[pos:].strip() else _close(terms, factors, want_atom)
        num, name, op = m.groups()
        pos = m.end()
        if want_atom and op is None:
            factors.append(int(num) if num is not None else name)
        elif not want_atom and op == "*":
            pass
        elif not want_atom and op == "+":
            terms.append(tuple(factors))
            factors = []
        else:
            return None
        want_atom = not want_atom
    return _close(terms, factors, want_atom)


def _close(terms: list, factors: list, want_atom: bool):
    if want_atom:
        return None
    return (*terms, tuple(factors))


def names_in(expr: str) -> tuple[str, ...]:
    """The names an expression uses; an opaque dim_param is its own name."""
    tree = parse(expr)
    if tree is None:
        return (expr,)
    return tuple(dict.fromkeys(f for term in tree for f in term if isinstance(f, str)))


def evaluate(expr: str, values: Mapping[str, int]) -> int | None:
    """The expression's value, or None while a name in it is unset."""
    tree = parse(expr)
    if tree is None:
        return values.get(expr)
    total = 0
    for term in tree:
        prod = 1
        for f in term:
            if isinstance(f, str):
                if f not in values:
                    return None
                f = values[f]
            prod *= f
        total += prod
    return total


def model_dims(path: str | Path) -> ModelDims:
    """The declared input and output dims, read without the weights."""
    from .frontends import sniff_format

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    if sniff_format(path) == "tflite":
        return _tflite_dims(path)
    return _onnx_dims(path)


def _onnx_dims(path: Path) -> ModelDims:
    import onnx

    from .frontends.onnx_load import input_dims_of

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf raises many kinds of errors
        raise BadInput(f"{path}: not a readable ONNX model ({e})") from None
    inits = {t.name for t in model.graph.initializer}

    def plain(vi) -> tuple[Dim, ...] | None:
        dims = input_dims_of(vi)
        return None if dims is None else tuple(None if d == "?" else d for d in dims)

    return ModelDims(str(path), {vi.name: plain(vi) for vi in model.graph.input
                                 if vi.name not in inits},
                     {vi.name: plain(vi) for vi in model.graph.output})


def _tflite_dims(path: Path) -> ModelDims:
    from .batch import _tflite_dims as dims

    return ModelDims(str(path), dims(path), {})


@dataclass(frozen=True)
class Resolved:
    shapes: dict[str, tuple[int, ...]]  # every graph input's shape
    values: dict[str, int]  # every symbol's value, defaults included
    notes: tuple[str, ...]  # the defaults taken


def resolve(md: ModelDims, values: Mapping[str, int],
            given: Mapping[str, tuple[int, ...]] | None = None) -> Resolved:
    """Input shapes with `values` set by name (expressions evaluated), the
    user's `given` shapes kept for the inputs they name; BadInput for an
    unknown name or a dim still unset."""
    given = dict(given or {})
    known = md.symbols
    for name in values:
        if name not in known:
            raise BadInput(f"--dim {name}: not a symbolic dim of {md.path} ({_listing(md)})")
    values, notes = dict(values), []
    for b in sorted(md.batch_symbols - set(values)):
        values[b] = 1
        notes.append(f"{b}=1 (a batch dim not set by --dim)")
    shapes = {}
    for name, dims in md.inputs.items():
        if name in given:
            shapes[name] = tuple(given[name])
            continue
        if dims is None:
            raise BadInput(f"input {name!r} has no shape in {md.path}; give --input-shape "
                           f"{name}=DxDx...")
        shapes[name] = tuple(_size(name, k, d, values, md) for k, d in enumerate(dims))
    return Resolved(shapes, values, tuple(notes))


def _size(inp: str, k: int, d: Dim, values: Mapping[str, int], md: ModelDims) -> int:
    if isinstance(d, int):
        return d
    v = None if d is None else evaluate(d, values)
    if v is None:
        what = "an unnamed dim" if d is None else repr(d)
        missing = [n for n in names_in(d) if n not in values] if d else []
        how = (f"give --dim {'=N --dim '.join(missing)}=N" if missing
               else f"give --input-shape {inp}=...")
        raise BadInput(f"input {inp!r} dim {k} is {what}, still unset: {how} ({_listing(md)})")
    return v


def _listing(md: ModelDims) -> str:
    syms = md.symbols
    return ("its symbolic dims: " + ", ".join(syms)) if syms else "it has no named dims"

