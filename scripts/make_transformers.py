"""Build the large transformer corpus (BERT-base-like, GPT-2-small-like) into benchmarks/.models/.

Run with the generation venv (torch is not an infermem dependency; see
make_corpus.py for how /work/venv-tf is made):

    /work/venv-tf/bin/python scripts/make_transformers.py [--out DIR] [--only NAME ...]
    /work/venv-tf/bin/python scripts/make_transformers.py --only bert_L12 --layers 2 \
        --hidden 128 --heads 2 --out /tmp/small    # a small variant: bert_L2_H128_A2.onnx

The modules are the corpus's Hugging-Face-shaped ones (scripts/corpus_seq.py),
exported the same way (TorchScript exporter, dynamic batch_size and
sequence_length, BERT at opset 17, GPT-2 at opset 14) at real sizes, with
random weights from a fixed per-file seed (the same bytes on every run):

    file                 layers hidden heads ffn   vocab  positions  params  file
    bert_L12.onnx        12     768    12    3072  30522  512        109 M   0.44 GB
    bert_L24.onnx        24     768    12    3072  30522  512        194 M   0.78 GB
    bert_L48.onnx        48     768    12    3072  30522  512        364 M   1.46 GB
    bert_L12_ext.onnx    bert_L12's weights in bert_L12_ext.onnx.data (ONNX external data)
    gpt2_L12.onnx        12     768    12    3072  50257  1024       124 M   0.51 GB
    gpt2_L12_past.onnx   the same with past_key_values.{i}.{key,value} inputs, present outputs

Every model has symbolic input dims, so infermem needs them fixed:

    bert_*:          --input-shape input_ids=1x128 --input-shape attention_mask=1x128
                     --input-shape token_type_ids=1x128
    gpt2_L12:        --input-shape input_ids=1x256 --input-shape attention_mask=1x256
    gpt2_L12_past:   --input-shape input_ids=1x1 --input-shape attention_mask=1x256 and, for
                     i in 0..11 and kv in key, value:
                     --input-shape past_key_values.{i}.{kv}=1x12x255x64
                     (batch_size x heads x past_sequence_length x head size; attention_mask
                     covers past + new tokens)

`infermem_args(spec)` returns exactly these lists. Each file is checked once
in onnxruntime at those shapes (it loads, runs, its outputs vary with the
input). Files are written under a temporary name and renamed, so a reader
never sees half a file; an existing file is kept unless --force.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.dont_write_bytecode = True  # leave no scripts/__pycache__ behind
sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_check import _feeds, varies  # noqa: E402
from corpus_seq import GPT2, Bert  # noqa: E402
from corpus_torch import TorchSpec, _seq_axes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / ".models" / "transformers"
CHECK_RUNS = 3
BERT_IO = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Sizes:
    """A transformer's dimensions (intermediate = the feed-forward width)."""

    layers: int
    hidden: int = 768
    heads: int = 12
    intermediate: int = 3072
    vocab: int = 30522
    positions: int = 512


@dataclass(frozen=True)
class Spec:
    """One file of the transformer corpus: family, sizes, the lengths it is checked at."""

    name: str
    family: str  # "bert" | "gpt2" | "gpt2_past"
    sizes: Sizes
    seq: int  # sequence length checked (GPT-2 with past: past + 1 new token)
    external: bool = False  # weights in NAME.onnx.data beside the file
    seed_name: str = ""  # whose weights (the _ext file shares bert_L12's)

    @property
    def seed(self) -> int:
        return zlib.crc32((self.seed_name or self.name).encode())


SIZE_LETTER = {"hidden": "H", "heads": "A", "intermediate": "I", "vocab": "V", "positions": "P"}
GPT2_SIZES = Sizes(12, vocab=50257, positions=1024)
SPECS: tuple[Spec, ...] = (
    Spec("bert_L12", "bert", Sizes(12), 128),
    Spec("gpt2_L12", "gpt2", GPT2_SIZES, 256),
    Spec("gpt2_L12_past", "gpt2_past", GPT2_SIZES, 256),
    Spec("bert_L12_ext", "bert", Sizes(12), 128, external=True, seed_name="bert_L12"),
    Spec("bert_L24", "bert", Sizes(24), 128),
    Spec("bert_L48", "bert", Sizes(48), 128),
)


def past_names(layers: int, prefix: str) -> list[str]:
    """Hugging Face's KV-cache tensor names, key then value per layer."""
    return [f"{prefix}.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]


def run_shapes(spec: Spec) -> dict[str, list[int]]:
    """The concrete input shapes the file is checked (and profiled) at, batch 1."""
    s = spec.sizes
    if spec.family == "bert":
        return {n: [1, spec.seq] for n in BERT_IO}
    if spec.family == "gpt2":
        return {"input_ids": [1, spec.seq], "attention_mask": [1, spec.seq]}
    kv = [1, s.heads, spec.seq - 1, s.hidden // s.heads]
    return {"input_ids": [1, 1], "attention_mask": [1, spec.seq]} | \
        {n: kv for n in past_names(s.layers, "past_key_values")}


def infermem_args(spec: Spec) -> list[str]:
    """The `--input-shape NAME=DxD` arguments infermem needs for this file."""
    args = []
    for name, shape in run_shapes(spec).items():
        args += ["--input-shape", f"{name}={'x'.join(map(str, shape))}"]
    return args


def torch_spec(spec: Spec) -> TorchSpec:
    """The corpus's TorchSpec for this file: module, I/O names, dynamic axes, value ranges."""
    s = spec.sizes
    ids = {"input_ids": (0, s.vocab), "attention_mask": (1, 2), "token_type_ids": (0, 2)}
    if spec.family == "bert":
        return TorchSpec(
            spec.name, lambda: Bert(s.hidden, s.layers, s.heads, s.intermediate, s.vocab,
                                    s.positions),
            dict.fromkeys(BERT_IO, "int64"), ("last_hidden_state", "pooler_output"),
            _seq_axes((*BERT_IO, "last_hidden_state"), "pooler_output"), run_shapes(spec), 17,
            "BERT-base-like", "", ids)
    past = spec.family == "gpt2_past"
    inputs = {"input_ids": "int64", "attention_mask": "int64"}
    outputs: tuple[str, ...] = ("logits",)
    axes = _seq_axes(("input_ids", "attention_mask", "logits"))
    if past:
        pasts, presents = past_names(s.layers, "past_key_values"), past_names(s.layers, "present")
        inputs |= dict.fromkeys(pasts, "float32")
        outputs += tuple(presents)
        total = "past_sequence_length + sequence_length"
        axes["attention_mask"] = {0: "batch_size", 1: total}
        axes |= {n: {0: "batch_size", 2: "past_sequence_length"} for n in pasts}
        axes |= {n: {0: "batch_size", 2: total} for n in presents}
    return TorchSpec(
        spec.name, lambda: GPT2(s.hidden, s.layers, s.heads, past, s.vocab, s.positions),
        inputs, outputs, axes, run_shapes(spec), 14, "GPT-2-small-like", "", ids)


def export(spec: Spec, path: Path) -> None:
    """Seeded random weights, torch.onnx.export straight to a file (no copy held in memory)."""
    ts = torch_spec(spec)
    torch.manual_seed(spec.seed)
    model = ts.build().eval()
    with torch.no_grad():
        torch.onnx.export(model, ts.example_args(), str(path), input_names=list(ts.inputs),
                          output_names=list(ts.outputs), dynamic_axes=ts.dynamic_axes,
                          opset_version=ts.opset, dynamo=False, do_constant_folding=True)
    del model
    gc.collect()
    if spec.external:
        proto = onnx.load(str(path))
        onnx.save_model(proto, str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=f"{spec.name}.onnx.data",
                        size_threshold=1024)
        del proto
    onnx.checker.check_model(str(path))


def check(spec: Spec, path: Path) -> str:
    """Load and run the file in onnxruntime at its run shapes; every output must vary."""
    ts = torch_spec(spec)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    names = [o.name for o in sess.get_outputs()]
    start = time.perf_counter()
    results = [sess.run(None, _feeds(sess, ts.run_shapes, ts.ranges(), rng))
               for _ in range(CHECK_RUNS)]
    ms = (time.perf_counter() - start) / CHECK_RUNS * 1e3
    for i, name in enumerate(names):
        varies(name, [r[i] for r in results], False)
    return f"onnxruntime ok ({ms:.0f} ms/run), {names[0]} {list(results[0][0].shape)}"


def build(spec: Spec, out: Path, force: bool) -> None:
    """Export into a temporary folder inside `out`, check, then rename into place."""
    final = out / f"{spec.name}.onnx"
    data = out / f"{spec.name}.onnx.data"
    if not force and (final.exists() or (spec.external and data.exists())):
        print(f"{spec.name}: {final} exists, kept (--force to rebuild)")
        return
    tmp = out / f".{spec.name}.tmp{os.getpid()}"
    tmp.mkdir(parents=True)
    try:
        start = time.perf_counter()
        export(spec, tmp / final.name)
        note = check(spec, tmp / final.name)
        if spec.external:
            (tmp / data.name).chmod(0o644)  # onnx writes it owner-only
            os.replace(tmp / data.name, data)  # the data first: the .onnx points at it
        os.replace(tmp / final.name, final)
        size = final.stat().st_size + (data.stat().st_size if spec.external else 0)
        print(f"{spec.name}: wrote {final} ({size / 1e9:.2f} GB, "
              f"{time.perf_counter() - start:.0f} s); {note}")
        print(f"  infermem profile {final} {' '.join(infermem_args(spec))}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def resize(spec: Spec, args: argparse.Namespace) -> Spec:
    """Apply the size flags; a resized file is named after what changed (bert_L2_H128)."""
    changes = {k: v for k, v in vars(args).items() if k in Sizes.__dataclass_fields__
               and v is not None}
    if spec.family != "bert":
        changes.pop("intermediate", None)  # GPT-2's MLP is 4 x hidden
    if not changes:
        return spec
    sizes = replace(spec.sizes, **changes)
    base = spec.family.replace("_past", "")
    name = f"{base}_L{sizes.layers}" + "".join(
        f"_{SIZE_LETTER[k]}{v}" for k, v in changes.items() if k != "layers")
    name += "_past" if spec.family == "gpt2_past" else ""
    name += "_ext" if spec.external else ""
    return replace(spec, name=name, sizes=sizes, seq=min(spec.seq, sizes.positions),
                   seed_name=name.removesuffix("_ext"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="files to build (names, or a family: bert, gpt2)")
    ap.add_argument("--force", action="store_true", help="rebuild files that exist")
    for field in Sizes.__dataclass_fields__:
        ap.add_argument(f"--{field}", type=int, help=f"override every model's {field}"
                        + (" (BERT only; GPT-2's is 4 x hidden)" if field == "intermediate"
                           else ""))
    ap.add_argument("--seq", type=int, help="sequence length the onnxruntime check runs at")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [s for s in SPECS if not args.only
              or any(o in (s.name, s.name.split("_")[0]) for o in args.only)]
    if not chosen:
        raise SystemExit(f"--only: choose among {[s.name for s in SPECS]}, bert or gpt2")
    specs = {}  # resized BERTs of different depths become one file
    for spec in chosen:
        spec = resize(spec, args)
        specs[spec.name] = replace(spec, seq=args.seq) if args.seq else spec
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for spec in specs.values():
        build(spec, args.out, args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
