"""onnxruntime as the reference the arena executor is checked against.

`Reference(model, names)` builds an in-memory copy of the model (the user's
file is never touched) whose graph outputs also expose the intermediate
values `names`, and runs it with graph optimisations off, so every value is
the one ONNX's operator-by-operator semantics give, and nothing is fused away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from ..errors import BadInput, Failure


def load_model(source: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    if isinstance(source, onnx.ModelProto):
        return source
    try:
        return onnx.load(str(source))  # external data is read from the model's folder
    except Exception as e:  # noqa: BLE001 - onnx raises many kinds for a bad file
        raise BadInput(f"{source}: onnx cannot load it ({e})") from None


class Reference:
    """An onnxruntime session over `model` that returns its outputs plus `extra` values."""

    def __init__(self, source: str | Path | onnx.ModelProto, extra: Iterable[str] = (),
                 dtypes: Mapping[str, str] | None = None, optimize: bool = False) -> None:
        import onnxruntime as ort

        model = onnx.ModelProto()
        model.CopyFrom(load_model(source))
        self.outputs = [o.name for o in model.graph.output]
        produced = {o for n in model.graph.node for o in n.output if o}
        have = set(self.outputs)
        self.extra = [n for n in dict.fromkeys(extra) if n in produced and n not in have]
        dtypes = dtypes or {}
        for name in self.extra:
            elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtypes.get(name, "float32")))
            model.graph.output.append(helper.make_tensor_value_info(name, elem, None))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 2
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if not optimize:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            raise Failure(f"onnxruntime cannot run the model: {str(e).splitlines()[0]}") from None
        self.names = [o.name for o in self.session.get_outputs()]

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every output and extra value by name."""
        feed = {i.name: inputs[i.name] for i in self.session.get_inputs() if i.name in inputs}
        try:
            values = self.session.run(None, feed)
        except Exception as e:  # noqa: BLE001
            raise Failure(f"onnxruntime failed: {str(e).splitlines()[0]}") from None
        return dict(zip(self.names, values, strict=True))
