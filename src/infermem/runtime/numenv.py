"""How numpy runs inside the executor: one BLAS thread, small ufunc buffers.

A chunk's product is small (one output row: M x K times K x OW).  OpenBLAS's
threads cost more than they give at that size, and on a busy two-core machine
they spin against each other (measured: 0.14 ms single-threaded vs 1.6 ms with
two threads for a 64x576 @ 576x56 product).  `lean_numpy()` switches
numpy's OpenBLAS to one thread for the duration of a run and restores it; it
does nothing if numpy's BLAS is not an OpenBLAS it can find.

numpy's ufuncs buffer an operand that needs casting or has awkward strides in
blocks of `getbufsize()` elements (8192 by default: 32-64 KiB per operand per
call).  `lean_numpy()` lowers that to UFUNC_BUFFER elements for the run, so
the memory a kernel allocates beyond its declared scratch stays a few KiB
(measured: a broadcast in-place subtract allocates 33 KiB at 8192, 5 KiB at
1024, at the same speed).
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


UFUNC_BUFFER = 1024


@contextlib.contextmanager
def lean_numpy() -> Iterator[None]:
    import numpy as np

    fns = _openblas()
    threads = fns[0]() if fns else None
    if fns:
        fns[1](1)
    old = np.setbufsize(UFUNC_BUFFER)
    try:
        yield
    finally:
        np.setbufsize(old)
        if fns:
            fns[1](threads)
