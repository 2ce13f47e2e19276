"""Builtin options of TFLite window operators, checked.

The DMO margins, the executor and TFLM's kernels divide by strides and
multiply by dilations, and split channels into groups; a file with a zero
stride, a zero dilation, a padding that is neither SAME nor VALID, or a
convolution whose filter does not fit its input's channels is refused here,
naming the operator and the field, instead of crashing a kernel or a TFLM
child later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import BadInput

MAX_WINDOW = 1 << 20  # a stride, dilation or filter beyond this is not a model
_STRIDES = ("stride_h", "stride_w")
_DILATIONS = ("dilation_h_factor", "dilation_w_factor")
_FILTER = ("filter_height", "filter_width")
WINDOW_FIELDS: dict[str, tuple[str, ...]] = {
    "CONV_2D": _STRIDES + _DILATIONS,
    "DEPTHWISE_CONV_2D": _STRIDES + _DILATIONS,
    "TRANSPOSE_CONV": _STRIDES,
    "AVERAGE_POOL_2D": _STRIDES + _FILTER,
    "MAX_POOL_2D": _STRIDES + _FILTER,
    "L2_POOL_2D": _STRIDES + _FILTER,
    "CONV_3D": ("stride_d", *_STRIDES, "dilation_d_factor", *_DILATIONS),
    "CONV_3D_TRANSPOSE": ("stride_d", *_STRIDES, "dilation_d_factor", *_DILATIONS),
}
PADDINGS = ("SAME", "VALID")


def check_options(kinds: Sequence[str], attrs: Sequence[Mapping[str, Any]], source: str,
                  shapes: Sequence[Sequence[tuple[int, ...] | None]] = ()) -> None:
    """BadInput for a window operator without options, with a field out of
    range, or (given each operator's input shapes) a filter that does not fit."""
    for i, (kind, a) in enumerate(zip(kinds, attrs, strict=True)):
        fields = WINDOW_FIELDS.get(kind)
        if fields is None:
            continue
        where = f"{source}: operator {i} ({kind})"
        if not a:
            raise BadInput(f"{where} has no builtin options (strides, padding)")
        for f in fields:
            v = a.get(f)
            if not isinstance(v, int) or not 1 <= v <= MAX_WINDOW:
                raise BadInput(f"{where}: option {f}={v!r} must be in 1..{MAX_WINDOW}")
        if a.get("padding") not in PADDINGS:
            raise BadInput(f"{where}: option padding={a.get('padding')!r} is not SAME or VALID")
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and i < len(shapes):
            _check_filter(kind, shapes[i], where)


def _check_filter(kind: str, shapes: Sequence[tuple[int, ...] | None], where: str) -> None:
    """Input NHWC and filter OHWI (CONV_2D) or 1HWC (DEPTHWISE) of one convolution."""
    x, w = (list(shapes) + [None, None])[:2]
    if x is None or w is None or len(x) != 4 or len(w) != 4:
        raise BadInput(f"{where}: input {x} and filter {w} must both be 4-D")
    c = x[3]
    fits = (c > 0 and w[3] > 0 and c % w[3] == 0 and w[0] % (c // w[3]) == 0) \
        if kind == "CONV_2D" \
        else (c > 0 and w[0] == 1 and w[3] % c == 0)
    if not fits:
        raise BadInput(f"{where}: filter shape {list(w)} does not fit input channels {c}")
