"""Resize (and Upsample): nearest, linear and cubic, separable per axis.

Every resized axis gets, at bind time, a table: for each output index the
input indices it draws from (edge-clamped) and their weights, from the
coordinate transformation (half_pixel, half_pixel_symmetric,
pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize), the
nearest mode (round_prefer_floor/ceil, floor, ceil), cubic_coeff_a,
exclude_outside and antialias.  Arithmetic in float64, integers rounded and
saturated on the way out.

Chunk order: for each index over the axes before the first resized axis
(for an NCHW image: every (n, c) plane), read the input block X[lead], then
write the output block Y[lead].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .blocked import Blocked, lead_chunks
from .registry import register

MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
         "asymmetric", "tf_crop_and_resize")
NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


@dataclass(frozen=True)
class AxisTable:
    index: np.ndarray  # (out, taps) input indices, clamped
    weight: np.ndarray | None  # (out, taps); None: nearest (one tap)
    outside: np.ndarray | None  # (out,) bool: tf_crop_and_resize extrapolation


def source_coords(mode: str, n: int, o: int, scale: float, roi: tuple[float, float]):
    """Each output index's coordinate in the input, and which fall outside it."""
    y = np.arange(o, dtype=np.float64)
    length = scale * n
    if mode == "align_corners":
        return (np.zeros(o) if length == 1 else y * (n - 1) / (length - 1)), None
    if mode == "asymmetric":
        return y / scale, None
    if mode == "pytorch_half_pixel":
        return (np.full(o, -0.5) if length == 1 else (y + 0.5) / scale - 0.5), None
    if mode == "half_pixel_symmetric":
        offset = n / 2 * (1 - o / length)
        return offset + (y + 0.5) / scale - 0.5, None
    if mode == "tf_crop_and_resize":
        a, b = roi
        x = (np.full(o, (b - a) * (n - 1) / 2) if length == 1
             else y * (b - a) * (n - 1) / (length - 1)) + a * (n - 1)
        return x, (x < 0) | (x > n - 1)
    return (y + 0.5) / scale - 0.5, None


def _keys(x: np.ndarray, a: float) -> np.ndarray:
    """The cubic convolution kernel with coefficient a."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def axis_table(n: int, o: int, scale: float, roi: tuple[float, float], attrs: dict,
               mode: str) -> AxisTable:
    coord = attrs["coordinate_transformation_mode"]
    x, outside = source_coords(coord, n, o, scale, roi)
    xi = np.floor(x)
    frac = x - xi
    if mode == "nearest":
        nm = attrs["nearest_mode"]
        up = {"round_prefer_floor": frac > 0.5, "round_prefer_ceil": frac >= 0.5,
              "floor": np.zeros(o, bool), "ceil": frac > 0}[nm]
        idx = np.where(frac == 0, xi, xi + up)
        return AxisTable(np.clip(idx, 0, n - 1).astype(np.intp)[:, None], None, outside)
    aa = bool(attrs["antialias"]) and scale < 1
    s = min(scale, 1.0) if aa else 1.0
    support = 1 if mode == "linear" else 2
    taps = 2 - 2 * (math.floor(-support / s) + 1) if aa else 2 * support
    start = np.where(frac == 0, xi - taps // 2, xi - taps // 2 + 1)
    pos = start[:, None] + np.arange(taps)[None, :]
    d = (pos - x[:, None]) * s
    if mode == "linear":
        w = np.clip(1 - np.abs(d), 0, 1)
    else:
        w = _keys(d, float(attrs["cubic_coeff_a"]))
    if aa:
        w = w / w.sum(axis=1, keepdims=True)
    if attrs["exclude_outside"]:
        w = np.where((pos < 0) | (pos >= n), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1.0, total)
    return AxisTable(np.clip(pos, 0, n - 1).astype(np.intp), w, outside)


@register("Resize", "Upsample")
class Resize(Blocked):
    order = "per index over the axes before the first resized axis: read X[lead], write Y[lead]"

    def prepare(self) -> None:
        xs, ys = self.in_shapes[0], self.out_shapes[0]
        rank = len(xs)
        old = self.op.type == "Upsample" or self.opset < 11
        a = self.attrs
        mode = str(a.get("mode", "nearest"))
        if mode not in ("nearest", "linear", "cubic", "bilinear"):
            raise self.fail(f"mode {mode!r} is not supported")
        self.mode = "linear" if mode == "bilinear" else mode
        attrs = {
            "coordinate_transformation_mode": "asymmetric" if old else str(
                a.get("coordinate_transformation_mode", "half_pixel")),
            "nearest_mode": "floor" if old else str(a.get("nearest_mode", "round_prefer_floor")),
            "cubic_coeff_a": a.get("cubic_coeff_a", -0.75),
            "exclude_outside": a.get("exclude_outside", 0),
            "antialias": a.get("antialias", 0),
        }
        if attrs["coordinate_transformation_mode"] not in MODES:
            raise self.fail(f"coordinate_transformation_mode "
                            f"{attrs['coordinate_transformation_mode']!r} is not supported")
        if attrs["nearest_mode"] not in NEAREST:
            raise self.fail(f"nearest_mode {attrs['nearest_mode']!r} is not supported")
        scales, roi = self.scales(old, rank)
        self.tables: dict[int, AxisTable] = {}
        for ax in range(rank):
            r = (roi[ax], roi[ax + rank])
            if scales[ax] == 1 and ys[ax] == xs[ax] and r == (0.0, 1.0):
                continue
            self.tables[ax] = axis_table(xs[ax], ys[ax], scales[ax], r, attrs, self.mode)
        self.first = min(self.tables, default=rank)
        self.extrapolation = float(a.get("extrapolation_value", 0.0))
        self.block_scratch(2 * int(np.prod(ys[self.first:])) * 4, 2)

    def scales(self, old: bool, rank: int) -> tuple[list[float], list[float]]:
        """Per-axis scale factors and roi, checked against the graph's output shape."""
        xs, ys = self.in_shapes[0], list(self.out_shapes[0])
        roi = [0.0] * rank + [1.0] * rank
        if old:
            sc = self.ints_or_floats(1) if self.has_input(1) else self.attrs.get("scales")
            return [float(v) for v in sc or [1.0] * rank], roi
        axes = self.ints("axes") or list(range(rank))
        axes = [x + rank if x < 0 else x for x in axes]
        r = self.ints_or_floats(1)
        if r is not None and len(r) == 2 * len(axes):
            for i, x in enumerate(axes):
                roi[x], roi[x + rank] = r[i], r[i + len(axes)]
        sc, sizes = self.ints_or_floats(2), self.ints_or_floats(3)
        full = [1.0] * rank
        if sc:
            for i, x in enumerate(axes):
                full[x] = float(sc[i])
            want = [int(math.floor(n * s)) for n, s in zip(xs, full, strict=True)]
        elif sizes:
            want = list(xs)
            for i, x in enumerate(axes):
                want[x] = int(sizes[i])
            full = [w / n for w, n in zip(want, xs, strict=True)]
            policy = self.attrs.get("keep_aspect_ratio_policy", "stretch")
            if policy != "stretch":
                s = (min if policy == "not_larger" else max)(full[x] for x in axes)
                full = [s if x in axes else 1.0 for x in range(rank)]
                want = [int(s * xs[x] + 0.5) if x in axes else xs[x] for x in range(rank)]
        else:
            raise self.fail("neither scales nor sizes is given")
        if want != ys:
            raise self.fail(f"scales/sizes give output {want}, the graph says {ys}")
        return full, roi

    def ints_or_floats(self, k: int) -> list[float] | None:
        if not self.has_input(k):
            return None
        v = self.const(k)
        if v is None:
            raise self.fail(f"input {k} (roi/scales/sizes) must be a constant (a weight)")
        return np.asarray(v).reshape(-1).tolist()

    def chunks(self):
        for writes, reads, lead in lead_chunks(self.in_shapes[0], self.first, 1):
            yield writes, (*reads, *[None] * (len(self.op.inputs) - 1)), lead

    def compute(self, lead, x, *rest):
        y = x.astype(np.float64)
        for ax, t in self.tables.items():
            local = ax - self.first
            if t.weight is None:
                y = np.take(y, t.index[:, 0], axis=local)
            else:
                g = np.take(y, t.index, axis=local)  # (..., out, taps, ...)
                shape = (1,) * local + t.weight.shape + (1,) * (y.ndim - local - 1)
                y = np.sum(g * t.weight.reshape(shape), axis=local + 1)
            if t.outside is not None and t.outside.any():
                m = t.outside.reshape((1,) * local + (-1,) + (1,) * (y.ndim - local - 1))
                y = np.where(m, self.extrapolation, y)
        dt = self.out_dtypes[0]
        if dt.kind in "iu":
            info = np.iinfo(dt)
            y = np.clip(np.rint(y), info.min, info.max)
        return (y,)
