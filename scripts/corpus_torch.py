"""The PyTorch half of the corpus: what each ONNX file is and how it is exported.

Imported by make_corpus.py (generation venv only). Each entry is exported by
`torch.onnx.export(..., dynamic_axes=...)` (the TorchScript exporter, as the
zoos' export scripts call it), with the input/output names and dynamic axes
those zoos use; `run_shapes` are the concrete shapes a user would pass for the
symbolic dims.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from corpus_seq import GPT2, VOCAB, Bert, GRUDenoiser, LSTMKeywordSpotter
from corpus_vision import PPLCNet, ResNet18, UNet, YOLOv8


@dataclass(frozen=True)
class TorchSpec:
    """One exported ONNX corpus model."""

    name: str
    build: Callable[[], torch.nn.Module]
    inputs: dict[str, str]  # name -> "float32" | "int64", in forward() order
    outputs: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]
    run_shapes: dict[str, list[int]]
    opset: int
    description: str
    real_world: str
    value_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    minus_one_dims: bool = False  # rewrite symbolic dims to dim_value -1 (Paddle style)
    qdq: bool = False  # also emit onnxruntime's static QDQ int8 quantization of the export

    @property
    def made_by(self) -> str:
        how = (f"torch {torch.__version__.split('+')[0]} -> torch.onnx.export(dynamo=False) "
               f"opset {self.opset}, dynamic_axes")
        if self.minus_one_dims:
            how += "; dynamic dims rewritten to dim_value -1 as Paddle2ONNX writes them"
        return how

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Each input's value range: given, else [-1, 1] for floats, [0, 10) for integers."""
        return {n: self.value_range.get(n, (0, 10) if dtype == "int64" else (-1.0, 1.0))
                for n, dtype in self.inputs.items()}

    def example_args(self, batch: int | None = None) -> tuple[torch.Tensor, ...]:
        """Seeded tensors at the run shapes (batch replaced when given)."""
        args = []
        for name, dtype in self.inputs.items():
            shape = list(self.run_shapes[name])
            if batch is not None:
                shape[0] = batch
            lo, hi = self.ranges()[name]
            if dtype == "int64":
                args.append(torch.randint(int(lo), int(hi), shape))
            else:
                args.append(torch.rand(shape) * (hi - lo) + lo)
        return tuple(args)


def calibrate_torch_bn(model: torch.nn.Module, spec: TorchSpec) -> None:
    """Give BatchNorm trained-like statistics (see fixture_archs.calibrate_batchnorm).

    A fresh BatchNorm is the identity, so random deep nets squash activations
    and outputs stop depending on the input. Random affine parts, then running
    statistics := the statistics of a seeded batch of 8 (momentum 1).
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not bns:
        return
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.momentum = 1.0
        model.train()
        model(*spec.example_args(batch=8))
    for bn in bns:
        bn.momentum = 0.1


def _seq_axes(names, *extra: str) -> dict[str, dict[int, str]]:
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    for n in extra:
        axes[n] = {0: "batch_size"}
    return axes


IMAGE = {0: "batch_size"}
GPT2_PAST = [f"past_key_values.{i}.{kv}" for i in range(2) for kv in ("key", "value")]
GPT2_PRESENT = [f"present.{i}.{kv}" for i in range(2) for kv in ("key", "value")]
IDS = {"input_ids": (0, VOCAB), "attention_mask": (1, 2), "token_type_ids": (0, 2)}

TORCH_MODELS: tuple[TorchSpec, ...] = (
    TorchSpec(
        "resnet18_torchvision", ResNet18, {"input": "float32"}, ("output",),
        {"input": IMAGE, "output": IMAGE}, {"input": [1, 3, 96, 96]}, 17,
        "torchvision resnet18 module tree (BasicBlock x [2,2,2,2]) at widths 8/16/32/64, "
        "10 classes",
        "the torchvision export tutorial: dynamic batch ('batch_size'), BatchNorm folded into "
        "Conv by the exporter, Flatten + Gemm head", qdq=True),
    TorchSpec(
        "yolov8n_det", YOLOv8, {"images": "float32"}, ("output0",),
        {"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch", 2: "anchors"}},
        {"images": [1, 3, 160, 160]}, 17,
        "ultralytics YOLOv8n layout (Conv/C2f/SPPF, PAN neck with nearest Upsample, DFL "
        "Detect head) at width 0.125, 4 classes",
        "`yolo export format=onnx dynamic=True`: batch, height and width dynamic; the head "
        "computes anchors and reshapes from Shape/Gather/Concat/Range chains; Split, Resize, "
        "Softmax, Sigmoid", {"images": (0.0, 1.0)}),
    TorchSpec(
        "pplcnet_textline_cls", PPLCNet, {"x": "float32"}, ("softmax_0.tmp_0",),
        {"x": {0: "N"}, "softmax_0.tmp_0": {0: "N"}}, {"x": [1, 3, 48, 192]}, 11,
        "PaddleOCR PP-LCNet x0.25 text-line orientation classifier (depthwise-separable "
        "blocks, hard-swish, SE, 1280-channel last conv, softmax), 48x192 input, 2 classes",
        "Paddle2ONNX writes the dynamic batch as dim_value -1 on the input and the output "
        "(x: [-1, 3, 48, 192]); opset 11: HardSwish as HardSigmoid + Mul",
        minus_one_dims=True),
    TorchSpec(
        "unet_seg", UNet, {"input": "float32"}, ("output",),
        {"input": {0: "batch", 2: "height", 3: "width"},
         "output": {0: "batch", 2: "height", 3: "width"}}, {"input": [1, 3, 64, 64]}, 13,
        "milesial/Pytorch-UNet layout at 1/8 width (8..64 channels), 3 levels, 2 classes: "
        "one bilinear up (align_corners=True), two ConvTranspose ups",
        "a segmentation export with dynamic batch, height and width: ConvTranspose, Resize "
        "(linear, align_corners) and the skip padding computed from Shape differences into a "
        "Pad"),
    TorchSpec(
        "bert_tiny", Bert, {n: "int64" for n in ("input_ids", "attention_mask", "token_type_ids")},
        ("last_hidden_state", "pooler_output"),
        _seq_axes(("input_ids", "attention_mask", "token_type_ids", "last_hidden_state"),
                  "pooler_output"),
        {n: [1, 16] for n in ("input_ids", "attention_mask", "token_type_ids")}, 17,
        "Hugging Face BertModel layout: 2 layers, hidden 64, 4 heads, intermediate 256, "
        "vocab 1000; erf GELU, LayerNormalization, pooler",
        "a transformers.onnx-style export: dynamic batch_size and sequence_length, Gather "
        "embeddings, position ids sliced from a buffer by the input's length, extended "
        "attention mask, Reshape/Transpose head splitting with shapes computed in the graph",
        IDS),
    TorchSpec(
        "gpt2_tiny", GPT2, {"input_ids": "int64", "attention_mask": "int64"}, ("logits",),
        _seq_axes(("input_ids", "attention_mask", "logits")),
        {"input_ids": [1, 16], "attention_mask": [1, 16]}, 14,
        "Hugging Face GPT2LMHeadModel layout: 2 layers, n_embd 64, 4 heads, vocab 1000, "
        "tied lm_head; tanh GELU, LayerNorm decomposed (opset 14)",
        "a GPT-2 export without past: dynamic batch and sequence, Conv1D as Gemm on a "
        "flattened view, causal mask sliced from a buffer and applied with Where, Range "
        "position ids", IDS),
    TorchSpec(
        "gpt2_tiny_with_past", lambda: GPT2(with_past=True),
        {"input_ids": "int64", "attention_mask": "int64"} | {n: "float32" for n in GPT2_PAST},
        ("logits", *GPT2_PRESENT),
        {"input_ids": {0: "batch_size", 1: "sequence_length"},
         "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
         "logits": {0: "batch_size", 1: "sequence_length"}}
        | {n: {0: "batch_size", 2: "past_sequence_length"} for n in GPT2_PAST}
        | {n: {0: "batch_size", 2: "past_sequence_length + sequence_length"}
           for n in GPT2_PRESENT},
        {"input_ids": [1, 4], "attention_mask": [1, 12]} | {n: [1, 4, 8, 16] for n in GPT2_PAST},
        14,
        "the same GPT-2 with past_key_values inputs and present outputs (decoder with "
        "KV cache)",
        "the 'decoder_with_past' half of a Hugging Face causal-LM export: KV cache concatenated "
        "to the new keys/values, position ids from Range(past_length, past_length + "
        "sequence_length), mask over past + new tokens", IDS),
    TorchSpec(
        "lstm_kws", LSTMKeywordSpotter, {"mfcc": "float32"}, ("logits",),
        {"mfcc": {0: "batch", 1: "frames"}, "logits": {0: "batch"}}, {"mfcc": [1, 49, 40]}, 13,
        "LSTM keyword spotter (Hello Edge LSTM: 40 MFCC x 49 frames, LSTM 64, last frame, "
        "12 keywords)",
        "nn.LSTM(batch_first=True) exported as an ONNX LSTM op with Transposes, initial state "
        "built from the input's Shape, last frame taken by Gather/Slice; dynamic batch and "
        "frames"),
    TorchSpec(
        "gru_denoiser", GRUDenoiser, {"features": "float32"}, ("gains", "vad"),
        {"features": {0: "batch", 1: "frames"}, "gains": {0: "batch", 1: "frames"},
         "vad": {0: "batch", 1: "frames"}}, {"features": [1, 100, 42]}, 13,
        "RNNoise-style noise suppressor: dense tanh, three GRUs (24, 48, 96) with feature "
        "concatenation, 22 band gains + VAD",
        "three ONNX GRU ops in a streaming audio model, dynamic batch and frame count"),
)
