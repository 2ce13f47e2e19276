"""Real int8 quantization of an ONNX model, with what it costs and what it saves.

`quantize` runs onnxruntime's own quantizer: static QDQ (int8 weights and
activations, activation ranges calibrated on data) or, with `weights_only`,
dynamic quantization (int8 weights, activations quantized at run time).
Calibration data come from `.npy` / `.npz` files in a folder (one sample per
file, or a stack of samples in a `.npy` for a single-input model), or are N
seeded random inputs, which give ranges but say nothing about accuracy: the
result says so.

The output error is measured on the same inputs for the float and the
quantized model, both run in onnxruntime: max and mean absolute difference
and cosine similarity per output.  With random calibration those inputs are
other random inputs (a different seed), not the ones calibrated on.  The
profile of the result is infermem's own, which counts a QDQ model as deployed
(int8 tensors).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadInput, Failure
from .outputs import atomic_path, check_output

MAX_SAMPLES = 10_000
_NP_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
              "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
              "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


@dataclass(frozen=True)
class OutputError:
    name: str
    max_abs: float
    mean_abs: float
    cosine: float


@dataclass(frozen=True)
class Footprint:
    """infermem's figures for one model file (None with a reason if it cannot read it)."""

    weights_bytes: int | None
    arena_bytes: int | None
    peak_bytes: int | None
    file_bytes: int
    note: str = ""


@dataclass(frozen=True)
class QuantizeResult:
    source: str
    output: str
    mode: str  # "static QDQ" | "dynamic (weight-only)"
    samples: int
    calibration: str  # where the calibration data came from
    evaluation: str  # the inputs the output error was measured on
    warning: str | None
    before: Footprint
    after: Footprint
    errors: tuple[OutputError, ...]


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]]):
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)


def _session(path: str | Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise BadInput(f"{path}: onnxruntime cannot load the model ({e})") from None


def _input_specs(sess, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, tuple]:
    """name -> (shape, numpy dtype); symbolic batch -> 1, other symbols need `shapes`."""
    out = {}
    for i in sess.get_inputs():
        if i.type not in _NP_DTYPES:
            raise BadInput(f"input {i.name!r} has type {i.type}, which infermem cannot feed")
        dims = list(shapes.get(i.name, i.shape))
        for k, d in enumerate(dims):
            if not isinstance(d, int) or d <= 0:
                if k != 0:
                    raise BadInput(f"input {i.name!r} has a symbolic dimension {k} ({i.shape}); "
                                   f"give its shape with --input-shape {i.name}=1x...")
                dims[k] = 1
        out[i.name] = (tuple(dims), _NP_DTYPES[i.type])
    return out


def random_feeds(specs: Mapping[str, tuple], n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """`n` seeded inputs: floats uniform in [0, 1) (image-like), integers small."""
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(n):
        feed = {}
        for name, (shape, dt) in specs.items():
            if np.dtype(dt).kind == "f":
                feed[name] = rng.random(shape).astype(dt)
            else:
                feed[name] = rng.integers(0, 2, shape).astype(dt)
        feeds.append(feed)
    return feeds


def load_feeds(folder: str | Path, specs: Mapping[str, tuple]) -> list[dict[str, np.ndarray]]:
    """Samples from `.npz` (keys = input names, or one array for one input) and
    `.npy` files (one sample, or a stack of them for a single-input model)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"--calibration {folder}: not a folder of .npy/.npz files, nor a count")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".npy", ".npz"))
    if not files:
        raise BadInput(f"--calibration {folder}: no .npy or .npz files in it")
    feeds: list[dict[str, np.ndarray]] = []
    for f in files:
        feeds.extend(_file_feeds(f, specs))
        if len(feeds) > MAX_SAMPLES:
            raise BadInput(f"--calibration {folder}: more than {MAX_SAMPLES} samples")
    return feeds


def _file_feeds(f: Path, specs: Mapping[str, tuple]) -> list[dict[str, np.ndarray]]:
    try:
        loaded = np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BadInput(f"{f}: cannot read it as a numpy file ({e})") from None
    if isinstance(loaded, np.ndarray):
        arrays = {next(iter(specs)): loaded} if len(specs) == 1 else None
        if arrays is None:
            raise BadInput(f"{f}: a .npy holds one array, the model has inputs "
                           f"{list(specs)}; use .npz files keyed by input name")
    else:
        with loaded:
            keys = list(loaded.files)
            if set(specs) <= set(keys):
                arrays = {k: loaded[k] for k in specs}
            elif len(specs) == 1 and len(keys) == 1:
                arrays = {next(iter(specs)): loaded[keys[0]]}
            else:
                raise BadInput(f"{f}: keys {keys} do not name the model's inputs {list(specs)}")
    return _split(f, arrays, specs)


def _split(f: Path, arrays: Mapping[str, np.ndarray], specs) -> list[dict[str, np.ndarray]]:
    """One sample per file, or a stack along a new leading axis."""
    stacks = set()
    for name, a in arrays.items():
        shape, dt = specs[name]
        if tuple(a.shape) == shape:
            stacks.add(None)
        elif tuple(a.shape[1:]) == shape or (a.ndim == len(shape) and a.shape[1:] == shape[1:]
                                             and shape[0] == 1):
            stacks.add(a.shape[0])
        else:
            raise BadInput(f"{f}: {name!r} has shape {list(a.shape)}, the model wants "
                           f"{list(shape)} (or a stack of them)")
    if len(stacks) != 1:
        raise BadInput(f"{f}: inputs disagree on the number of samples")
    n = stacks.pop()
    if n is None:
        return [{k: a.astype(specs[k][1]) for k, a in arrays.items()}]
    return [{k: a[i].reshape(specs[k][0]).astype(specs[k][1]) for k, a in arrays.items()}
            for i in range(n)]


def footprint(path: str | Path, shapes: Mapping[str, tuple[int, ...]]) -> Footprint:
    """Weights, best-plan arena and live-set peak as infermem counts them."""
    from .frontends import load
    from .planning import plan_model
    from .profile import profile

    size = Path(path).stat().st_size
    try:
        g = load(path, dict(shapes))
        return Footprint(g.weights_bytes, plan_model(g, "best", 5.0).plan.arena_bytes,
                         profile(g).peak_bytes, size)
    except BadInput as e:
        return Footprint(None, None, None, size, f"infermem cannot profile it: {e}")


def output_errors(src: str | Path, dst: str | Path,
                  feeds: Sequence[Mapping[str, np.ndarray]]) -> tuple[OutputError, ...]:
    """Float vs quantized outputs on the same inputs, both in onnxruntime."""
    a, b = _session(src), _session(dst)
    names = [o.name for o in a.get_outputs()]
    ref = [a.run(names, dict(f)) for f in feeds]
    try:
        got = [b.run(names, dict(f)) for f in feeds]
    except Exception as e:  # noqa: BLE001
        raise Failure(f"{dst}: the quantized model does not run in onnxruntime ({e})") from None
    out = []
    for k, name in enumerate(names):
        x = np.concatenate([np.asarray(r[k], np.float64).ravel() for r in ref])
        y = np.concatenate([np.asarray(g[k], np.float64).ravel() for g in got])
        diff = np.abs(x - y)
        denom = float(np.linalg.norm(x) * np.linalg.norm(y))
        cos = float(x @ y / denom) if denom else (1.0 if not diff.any() else 0.0)
        out.append(OutputError(name, float(diff.max(initial=0.0)),
                               float(diff.mean()) if diff.size else 0.0, cos))
    return tuple(out)


def quantize(src: str | Path, dst: str | Path, calibration: str | int | None = None,
             weights_only: bool = False, per_channel: bool = True, seed: int = 0,
             shapes: Mapping[str, tuple[int, ...]] | None = None,
             force: bool = False) -> QuantizeResult:
    """Quantize `src` into a new file `dst` (never in place) and measure it.  `dst`
    follows the output rules of `outputs.check_output` (`force` to replace)."""
    src, dst = Path(src), Path(dst)
    _check_paths(src, dst, force)
    shapes = dict(shapes or {})
    specs = _input_specs(_session(src), shapes)
    feeds, where, warn = _calibration(calibration, specs, seed)
    evals, how = _evaluation(feeds, specs, seed, random=warn is not None)
    mode = "dynamic (weight-only)" if weights_only else "static QDQ"
    with tempfile.TemporaryDirectory(prefix="infermem-quant-") as tmp:
        pre = _preprocess(src, Path(tmp) / "pre.onnx")
        with atomic_path(dst) as out:
            _run_quantizer(pre, out, feeds, weights_only, per_channel)
    fixed = {k: v[0] for k, v in specs.items()}
    return QuantizeResult(str(src), str(dst), mode, len(feeds), where, how, warn,
                          footprint(src, fixed), footprint(dst, fixed),
                          output_errors(src, dst, evals))


def _check_paths(src: Path, dst: Path, force: bool) -> None:
    if not src.is_file():
        raise BadInput(f"{src}: no such file")
    if src.suffix.lower() != ".onnx":
        raise BadInput(f"{src}: quantize works on ONNX models (.onnx); for .tflite use the "
                       "TFLite converter's full-integer quantization")
    check_output(dst, [src], force=force, what="-o")


def _calibration(calibration, specs, seed) -> tuple[list, str, str | None]:
    if calibration is None:
        calibration = 16
    if isinstance(calibration, int) or str(calibration).isdigit():
        n = int(calibration)
        if not 1 <= n <= MAX_SAMPLES:
            raise BadInput(f"--calibration {n}: the number of random samples must be "
                           f"1..{MAX_SAMPLES}")
        return (random_feeds(specs, n, seed), f"{n} seeded random inputs (seed {seed})",
                "calibrated on random inputs: ranges are not those of real data, so accuracy "
                "is unknown; pass --calibration DIR with real samples (.npy/.npz)")
    feeds = load_feeds(calibration, specs)
    return feeds, f"{len(feeds)} samples from {calibration}", None


def _evaluation(feeds, specs, seed: int, random: bool) -> tuple[list, str]:
    """Inputs to measure the error on: with random calibration, other random
    inputs (a different seed) rather than the ones calibrated on."""
    if not random:
        return list(feeds), f"the {len(feeds)} calibration samples"
    n = len(feeds)
    return random_feeds(specs, n, seed + 1), f"{n} other seeded random inputs (seed {seed + 1})"


def _preprocess(src: Path, out: Path) -> Path:
    """onnxruntime's recommended pre-processing (shape inference, folding);
    the original model when it cannot be applied."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quant_pre_process(str(src), str(out), skip_symbolic_shape=True)
        return out
    except Exception:  # noqa: BLE001 - pre-processing is an optimisation, not a requirement
        return src


def _run_quantizer(src: Path, dst: Path, feeds, weights_only: bool, per_channel: bool) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    try:
        if weights_only:
            quantize_dynamic(str(src), str(dst), per_channel=per_channel,
                             weight_type=QuantType.QInt8)
        else:
            quantize_static(str(src), str(dst), _Reader(feeds), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8)
    except Exception as e:  # noqa: BLE001 - surface onnxruntime's reason, not a traceback
        raise Failure(f"onnxruntime could not quantize {src.name}: {e}") from None
    if not dst.is_file() or dst.stat().st_size == 0:
        raise Failure(f"onnxruntime did not write {dst}")
