"""Seeded random inputs for a TFLM model, shaped and typed as its input tensors.

Quantized inputs cover their whole integer range (int8 uniform over
[-128, 127]) so that every code path of a kernel sees data; float inputs are
standard normal.  The same seed gives the same inputs in every process, which
is what lets two interpreters in two child processes be compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import BadInput
from ._model import TflmModel

DTYPES = {
    "FLOAT32": np.float32, "FLOAT16": np.float16, "FLOAT64": np.float64, "INT8": np.int8,
    "UINT8": np.uint8, "INT16": np.int16, "UINT16": np.uint16, "INT32": np.int32,
    "UINT32": np.uint32, "INT64": np.int64, "UINT64": np.uint64, "BOOL": np.bool_,
}  # fmt: skip


def input_specs(model: TflmModel) -> list[tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each graph input of subgraph 0, in the model's input order."""
    specs = []
    for i in model.main.inputs:
        t = model.main.tensors[i]
        if t.type not in DTYPES:
            raise BadInput(f"{model.path}: input {t.name!r} has type {t.type}, not runnable here")
        specs.append((t.shape, np.dtype(DTYPES[t.type])))
    return specs


def random_inputs(model: TflmModel, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype in input_specs(model):
        if dtype.kind == "f":
            x = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            x = rng.integers(0, 2, size=shape).astype(dtype)
        elif dtype.itemsize >= 4:
            x = rng.integers(-100 if dtype.kind == "i" else 0, 100, size=shape).astype(dtype)
        else:
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
        out.append(np.ascontiguousarray(x))
    return out


def load_inputs(model: TflmModel, path: str | Path) -> list[np.ndarray]:
    """One user-given input set (`inputfiles`: an .npz or a folder of .npy),
    checked against the model's input shapes and types (a mismatch is BadInput)."""
    from ..inputfiles import read_inputs

    names = [model.main.tensors[i].name for i in model.main.inputs]
    out = []
    for x, name, (shape, dtype) in zip(read_inputs(path, names), names, input_specs(model),
                                       strict=True):
        if tuple(x.shape) != tuple(shape):
            raise BadInput(f"{path}: input {name!r} has shape {tuple(x.shape)}; the model "
                           f"takes {tuple(shape)}")
        if x.dtype != dtype:
            raise BadInput(f"{path}: input {name!r} has dtype {x.dtype}; the model takes {dtype}")
        out.append(np.ascontiguousarray(x))
    return out


def tflm_input_shapes(path: str | Path, input_shapes: Mapping[str, Sequence[int]]) -> dict:
    """Check --input-shape against what TFLM can run, and say how dynamic dims
    were resolved ({"shape_notes", "dynamic_dims_resolved"}, as in a Graph's meta).

    TFLM allocates every tensor at the shape stored in the file: the
    tflite_micro interpreter has no resize_tensor_input, and an offline plan is
    laid out for the stored shapes.  So --input-shape may only restate the
    stored shape; any other is a BadInput that says what would work."""
    from ..frontends.tflite import (
        dynamic_dims,
        input_batch,
        read_bytes,
        shape_note,
        stored_shape_default,
        unique_names,
    )
    from ._model import check_loadable

    source = str(path)
    fb = check_loadable(read_bytes(Path(path)), source)  # the loader's checks come first
    names = unique_names(fb.tensors)
    inputs = {names[i]: fb.tensors[i] for i in fb.inputs}
    unknown = sorted(set(input_shapes) - set(inputs))
    if unknown:
        raise BadInput(f"{source}: --input-shape names {', '.join(map(repr, unknown))}, "
                       f"not an input; the inputs are {', '.join(map(repr, inputs))}")
    resolved = []
    for name, t in inputs.items():
        wanted = input_shapes.get(name)
        if wanted is None:
            if dynamic_dims(t):
                resolved.append(stored_shape_default(name, t, source))
            continue
        input_batch(name, t, tuple(wanted), source)  # names fixed dims and ranks first
        if tuple(wanted) != tuple(t.shape):
            stored = "x".join(map(str, t.shape))
            raise BadInput(
                f"{source}: TFLM runs input {name!r} at its stored shape {list(t.shape)} and "
                f"cannot resize it to {list(wanted)} (the tflite_micro interpreter has no "
                f"resize, and offline plans are laid out for the stored shapes); use "
                f"--input-shape {name}={stored} or none, re-convert the model with that "
                f"shape fixed to run it in TFLM, or plan it without TFLM "
                f"(`infermem plan --input-shape ...`)"
            )
    note = shape_note(resolved)
    return {"shape_notes": [note] if note else [], "dynamic_dims_resolved": resolved}
