"""The three runtimes a model can be monitored under, each split into the steps
whose memory the report separates: import, session creation, inference.

Input shapes and dtypes come from the runtime itself (never from infermem's
frontends: this measures what the runtime does with the file as it is).  A
dynamic dimension must be fixed with `--input-shape NAME=DxD`.  Inputs are
seeded random data of the right dtype; memory does not depend on the values
for these runtimes.

Runs inside the monitored child; module-level imports stay standard-library.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NamedTuple

from ..errors import BadInput

RUNTIMES = ("onnxruntime", "litert", "tflm")

_MODULES = {
    "onnxruntime": ("onnxruntime", "onnxruntime"),
    "litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflm": ("tflite_micro.python.tflite_micro.runtime", "tflite-micro"),
}

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(uint16)": "uint16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


class InputSpec(NamedTuple):
    """One input as the runtime reports it (a NamedTuple: dataclasses would
    cost the monitored child's start-up an import a plain script does not pay)."""

    name: str
    shape: tuple[int, ...]
    dtype: str


def import_runtime(runtime: str):
    """Import the runtime's Python module; a missing one is the user's to install."""
    if runtime not in _MODULES:
        raise BadInput(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    module, dist = _MODULES[runtime]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BadInput(
            f"runtime {runtime!r} is not installed in this Python ({e}); "
            f"install it with `pip install {dist}`"
        ) from None


def check_model_bytes(runtime: str, data: bytes) -> None:
    """Cheap format check, so a wrong file is a clear error, not a runtime crash."""
    if runtime in ("litert", "tflm"):
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise BadInput(f"not a TFLite flatbuffer (no 'TFL3' identifier); {runtime} needs one")
    elif not data:
        raise BadInput("the model file is empty")


def _fix_shape(name: str, shape, given: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    if name in given:
        return given[name]
    dims = tuple(shape)
    if any(not isinstance(d, int) or d < 0 for d in dims):
        # fixed dims kept, batch 1, the other dynamic dims named, never a made-up size
        hint = "x".join(str(d) if isinstance(d, int) and d >= 0 else "1" if k == 0 else f"D{k}"
                        for k, d in enumerate(dims))
        fill = " (fill in each D)" if "D" in hint else ""
        raise BadInput(
            f"input {name!r} has a dynamic shape {list(dims)}; "
            f"fix it with --input-shape {name}={hint}{fill}"
        )
    return dims


def _check_names(given: dict[str, tuple[int, ...]], names: list[str]) -> None:
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise BadInput(f"--input-shape names unknown inputs {unknown}; inputs are {names}")


class Session:
    """A created runtime session with its input specs; `run(feeds)` infers once."""

    inputs: list[InputSpec]

    def run(self, feeds: list[object]) -> None:
        raise NotImplementedError

    def facts(self) -> dict[str, str]:
        """What the runtime itself reports about its memory (TFLM: arena head/tail)."""
        return {}


class _Ort(Session):
    def __init__(self, mod, data: bytes, shapes, arena_size, threads):
        opts = mod.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self._s = mod.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        infos = self._s.get_inputs()
        _check_names(shapes, [i.name for i in infos])
        self.inputs = []
        for i in infos:
            if i.type not in _ORT_TYPES:
                raise BadInput(f"input {i.name!r} has type {i.type}, which infermem cannot feed")
            shape = tuple(d if isinstance(d, int) else -1 for d in i.shape)
            self.inputs.append(
                InputSpec(i.name, _fix_shape(i.name, shape, shapes), _ORT_TYPES[i.type])
            )
        self._names = [i.name for i in self.inputs]

    def run(self, feeds):
        self._s.run(None, dict(zip(self._names, feeds, strict=True)))


class _LiteRT(Session):
    def __init__(self, mod, data: bytes, shapes, arena_size, threads):
        self._data = data  # the interpreter reads the buffer in place: keep it alive
        self._it = mod.Interpreter(model_content=data, num_threads=threads)
        details = self._it.get_input_details()
        _check_names(shapes, [d["name"] for d in details])
        for d in details:
            if d["name"] in shapes:
                self._it.resize_tensor_input(d["index"], list(shapes[d["name"]]))
        self._it.allocate_tensors()
        details = self._it.get_input_details()
        self.inputs = [
            InputSpec(d["name"], tuple(int(x) for x in d["shape"]), d["dtype"].__name__)
            for d in details
        ]
        self._idx = [d["index"] for d in details]

    def run(self, feeds):
        for i, x in zip(self._idx, feeds, strict=True):
            self._it.set_tensor(i, x)
        self._it.invoke()


class _c_stderr:  # noqa: N801  (used as a function: `with _c_stderr() as printed:`)
    """Hold back what C code prints on fd 2 while TFLM builds its interpreter
    (its "Failed to allocate ... missing: N" lines) or reports its arena;
    yields a function that returns it, so a failure can be one clear message
    instead.  A class, not contextlib + tempfile: the child imports this
    module before it runs anything, and those imports would be overhead."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        if hasattr(os, "memfd_create"):
            self._fd = os.memfd_create("infermem-stderr")
        else:
            path = os.path.join(
                os.environ.get("TMPDIR", "/tmp"), f".infermem-{os.getpid()}-{id(self)}"
            )
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.unlink(path)  # anonymous from now on, as a TemporaryFile
        os.dup2(self._fd, 2)
        return self.text

    def text(self) -> str:
        size = os.fstat(self._fd).st_size
        return os.pread(self._fd, size, 0).decode(errors="replace")

    def __exit__(self, *exc) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        os.close(self._fd)


class _Tflm(Session):
    def __init__(self, mod, data: bytes, shapes, arena_size, threads):
        self._data = data
        with _c_stderr() as printed:
            try:
                self._it = mod.Interpreter.from_bytes(data, arena_size=arena_size)
                self.inputs = self._input_specs()
            except Exception as e:
                if "allocate tensors" in str(e):
                    raise
                lines = printed().strip().splitlines()
                raise RuntimeError(f"{e}{'; TFLM printed: ' + lines[-1] if lines else ''}") from e
        _check_names(shapes, [s.name for s in self.inputs])
        for s in self.inputs:
            if s.name in shapes and shapes[s.name] != s.shape:
                raise BadInput(f"TFLM cannot resize inputs: {s.name} is {list(s.shape)}")

    def _input_specs(self) -> list[InputSpec]:
        inputs = []
        for k in range(_tflite_input_count(self._data)):  # probing past the end prints
            d = self._it.get_input_details(k)
            inputs.append(
                InputSpec(f"input_{k}", tuple(int(x) for x in d["shape"]), d["dtype"].__name__)
            )
        return inputs

    def run(self, feeds):
        for k, x in enumerate(feeds):
            self._it.set_input(x, k)
        self._it.invoke()

    def facts(self) -> dict[str, str]:
        """TFLM's "Arena allocation head/tail N bytes", captured from fd 2
        (printed by C code) so it reaches neither the user nor the report twice."""
        import re

        with _c_stderr() as printed:
            self._it.print_allocations()
            text = printed()
        found = re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text)
        return {f"tflm_{k}_bytes": v for k, v in found}


def _tflite_input_count(data: bytes) -> int:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    return fb.Model.GetRootAs(data, 0).Subgraphs(0).InputsLength()


_SESSIONS = {"onnxruntime": _Ort, "litert": _LiteRT, "tflm": _Tflm}


def create_session(runtime, module, data, shapes, arena_size=None, threads=None) -> Session:
    """Build the runtime's session; its own load errors become BadInput."""
    try:
        return _SESSIONS[runtime](module, data, dict(shapes), arena_size, threads)
    except BadInput:
        raise
    except Exception as e:
        if runtime == "tflm" and "allocate tensors" in str(e):
            given = f"arena_size={arena_size:,} B" if arena_size else "the default arena_size"
            raise BadInput(
                f"the TFLM arena is too small: {given} cannot hold the model's tensors; "
                "give a larger --arena-size (`infermem tflm measure MODEL` reports the "
                "smallest that works)"
            ) from None
        raise BadInput(f"{runtime} could not load the model: {type(e).__name__}: {e}") from None


def make_inputs(inputs: list[InputSpec], seed: int = 0) -> list:
    """Seeded random tensors of each input's shape and dtype."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for s in inputs:
        dt = np.dtype(s.dtype)
        if dt.kind == "f":
            out.append(rng.standard_normal(s.shape).astype(dt))
        elif dt.kind in "iu" and dt.itemsize <= 2:  # quantized data; wider ints are indices
            info = np.iinfo(dt)
            lo, hi = max(info.min, -128), min(info.max, 127)
            out.append(rng.integers(lo, hi, size=s.shape, endpoint=True).astype(dt))
        else:
            out.append(np.zeros(s.shape, dtype=dt))
    return out
