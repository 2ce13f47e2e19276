"""User-given model inputs: one format for every command that takes `--inputs`.

One input set is either an `.npz` with one array per graph input, keyed by the
input's name, or a folder of `.npy` files, each named after an input
(`NAME.npy`) or its position (`0.npy`, `1.npy`, ...).  A single-input model
takes any one array.  Shapes and dtypes are checked by the caller, which
knows what the runtime expects.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import BadInput


def _read(path: Path) -> dict[str, np.ndarray]:
    """Arrays by key (.npz) or by file stem (a folder of .npy)."""
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise BadInput(f"{path}: no .npy files in this folder")
        out = {}
        for f in files:
            try:
                out[f.stem] = np.load(f, allow_pickle=False)
            except (OSError, ValueError, EOFError) as e:
                raise BadInput(f"{f}: not a readable .npy array ({e})") from None
        return out
    if not path.exists():
        raise BadInput(f"{path}: no such file or folder")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise BadInput(f"{path}: not a readable .npz of arrays ({e})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise BadInput(f"{path}: give an .npz (one array per input) or a folder of .npy files")
    with z:
        try:
            return {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise BadInput(f"{path}: not a readable .npz of arrays ({e})") from None


def read_inputs(path: str | Path, names: Sequence[str]) -> list[np.ndarray]:
    """One input set for a model whose graph inputs are `names`, in that order."""
    path = Path(path)
    arrays = _read(path)
    if len(names) == 1 and len(arrays) == 1:
        return [next(iter(arrays.values()))]
    out = []
    for k, name in enumerate(names):
        x = arrays.get(name, arrays.get(str(k)))
        if x is None:
            raise BadInput(f"{path}: no array for graph input {name!r} (by name or as {k}); "
                           f"found {sorted(arrays)}")
        out.append(x)
    extra = sorted(set(arrays) - set(names) - {str(k) for k in range(len(names))})
    if extra:
        raise BadInput(f"{path}: arrays {extra} match no graph input (inputs: {list(names)})")
    return out
