"""`fit --max-seq` checked against direct plans: the found length fits, the next does not.

    python benchmarks/context_length.py [--model PATH] [--budget 700MiB] [--layers 12]
        [--heads 12] [--head-dim 64]

Runs the decode-step search (`infermem.max_seq`, sequence_length 1, varying
past_sequence_length) on a GPT-2-like decoder with past_key_values inputs,
then plans the model directly at the found length L and at L + 1: input
shapes written out here per input (never through `--dim` or the search),
`infermem.load` + `infermem.plan` (the plan `infermem plan` gives), the KV
cache from the shapes (layers x key/value x heads x head size x 4 B x
(past + present)).  Prints one table: search vs direct at L and L + 1, and
whether each fits.  Default model: the transformer corpus's
`gpt2_L12_past.onnx` (scripts/make_transformers.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import infermem
from infermem.sizes import parse_size

DEFAULT = Path(__file__).parent / ".models" / "transformers" / "gpt2_L12_past.onnx"


def shapes(past: int, layers: int, heads: int, head_dim: int) -> dict:
    out = {"input_ids": (1, 1), "attention_mask": (1, past + 1)}
    for i in range(layers):
        for kind in ("key", "value"):
            out[f"past_key_values.{i}.{kind}"] = (1, heads, past, head_dim)
    return out


def direct(model: Path, past: int, a: argparse.Namespace) -> int:
    graph = infermem.load(model, shapes(past, a.layers, a.heads, a.head_dim))
    kv = a.layers * 2 * a.heads * a.head_dim * 4 * (past + past + 1)
    return infermem.plan(graph).arena_bytes + kv + graph.weights_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT)
    ap.add_argument("--budget", default="700MiB")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--head-dim", type=int, default=64)
    a = ap.parse_args()
    budget = parse_size(a.budget, "--budget")
    start = time.perf_counter()
    r = infermem.max_seq(a.model, budget, "past_sequence_length",
                         dims={"sequence_length": 1}).result
    took = time.perf_counter() - start
    print(f"{a.model.name}, budget {budget:,} B: largest past_sequence_length {r.length} "
          f"({len(r.probes)} plans, {took:.0f} s)")
    print(f"{'past':>6} {'search total B':>16} {'direct total B':>16}  fits")
    for p in (r.at, r.above):
        if p is None or p.refused:
            continue
        n = p.value("past_sequence_length")
        d = direct(a.model, n, a)
        print(f"{n:>6} {p.total_bytes:>16,} {d:>16,}  {d <= budget}"
              f"{'' if d == p.total_bytes else '  (differs)'}")


if __name__ == "__main__":
    main()
