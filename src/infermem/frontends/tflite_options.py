"""TFLite builtin options -> a plain attrs dict.

Keys are the schema's field names in snake_case (`stride_h`, `padding`,
`dilation_h_factor`, `fused_activation_function`, `depth_multiplier`,
`keep_num_dims`, `keep_dims`, `axis`, `new_shape`, ...), exactly as they are
spelled in TFLite's schema.fbs.  Enum fields carry the enum's name ("SAME",
"RELU6", "FLOAT32"), vectors become tuples, nested tables become dicts.  So
rules downstream (DMO margins, the executor) read `attrs["stride_h"]` without
knowing the flatbuffer.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb


def enum_names(enum_class: type) -> dict[int, str]:
    """Value -> name for one of the schema's enum classes."""
    return {
        v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)
    }


OPERATOR_NAMES = enum_names(schema_fb.BuiltinOperator)
TENSOR_TYPE_NAMES = enum_names(schema_fb.TensorType)

# Option fields whose integer is an enum, by snake_case field name.
_ENUM_FIELDS: dict[str, dict[int, str]] = {
    "padding": enum_names(schema_fb.Padding),
    "fused_activation_function": enum_names(schema_fb.ActivationFunctionType),
    "weights_format": enum_names(schema_fb.FullyConnectedOptionsWeightsFormat),
    "kernel_type": enum_names(schema_fb.LSTMKernelType),
    "combiner": enum_names(schema_fb.CombinerType),
    "mode": enum_names(schema_fb.MirrorPadMode),
    "type": enum_names(schema_fb.LSHProjectionType),
    "algorithm": enum_names(schema_fb.RngAlgorithm),
    **{
        f: TENSOR_TYPE_NAMES
        for f in (
            "in_data_type",
            "out_data_type",
            "out_type",
            "output_type",
            "idx_out_type",
            "quantized_bias_type",
            "key_dtype",
            "value_dtype",
        )
    },
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """'dilationHFactor' -> 'dilation_h_factor' (the schema.fbs spelling)."""
    return _CAMEL.sub("_", name).lower()


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "__dict__"):
        return options_dict(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def options_dict(options: Any) -> dict[str, Any]:
    """One unpacked *OptionsT object -> {snake_case field: plain value}."""
    if options is None:
        return {}
    out = {}
    for key, value in vars(options).items():
        name = snake(key)
        names = _ENUM_FIELDS.get(name)
        if names is not None and isinstance(value, int) and not isinstance(value, bool):
            out[name] = names.get(value, value)
        else:
            out[name] = _plain(value)
    return out
