"""Builtin options of TFLite window operators, checked.

The DMO margins, the executor and TFLM's kernels divide by strides and
multiply by dilations; a file with a zero stride, a zero dilation or a
padding that is neither SAME nor VALID is refused here, naming the operator
and the field, instead of crashing a kernel or a TFLM child later.
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


def check_options(kinds: Sequence[str], attrs: Sequence[Mapping[str, Any]], source: str) -> None:
    """BadInput for a window operator without options or with a field out of range."""
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
