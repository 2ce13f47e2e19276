"""Run the executor's small matrix products on one BLAS thread.

A chunk's product is small (one output row: M x K times K x OW).  OpenBLAS's
threads cost more than they give at that size, and on a busy two-core machine
they spin against each other (measured: 0.14 ms single-threaded vs 1.6 ms with
two threads for a 64x576 @ 576x56 product).  `one_blas_thread()` switches
numpy's OpenBLAS to one thread for the duration of a run and restores it; it
does nothing if numpy's BLAS is not an OpenBLAS it can find.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from collections.abc import Iterator
from functools import cache

_SYMBOLS = (  # (get, set) pairs: scipy-openblas (numpy wheels), plain OpenBLAS
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


@cache
def _openblas() -> tuple[ctypes._CFuncPtr, ctypes._CFuncPtr] | None:
    import numpy as np

    here = os.path.dirname(os.path.dirname(np.__file__))
    for path in sorted(glob.glob(os.path.join(here, "numpy.libs", "*openblas*"))) + sorted(
            glob.glob(os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _SYMBOLS:
            if hasattr(lib, get) and hasattr(lib, set_):
                getter, setter = getattr(lib, get), getattr(lib, set_)
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                return getter, setter
    return None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    fns = _openblas()
    if fns is None:
        yield
        return
    getter, setter = fns
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)
