"""Context length under a budget (`fit --max-seq`), memory against length
(`profile --sweep`), symbolic dims by name (`--dim`) and the KV cache line,
on the corpus's tiny GPT-2 (with and without past) and BERT.

The direct figures are computed here independently: input shapes written out
by hand, `infermem.plan` (the planner API `plan` uses), the KV bytes from the
shapes — never through the search or `--dim`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import infermem
from infermem.cli import main

CORPUS = Path(__file__).parent / "corpus"
PAST = CORPUS / "gpt2_tiny_with_past.onnx"
GPT2 = CORPUS / "gpt2_tiny.onnx"
BERT = CORPUS / "bert_tiny.onnx"
LAYERS, HEADS, HEAD_DIM, F32 = 2, 4, 16, 4  # gpt2_tiny: 2 layers, 4 heads of 16


def run_json(capsys, *argv) -> dict:
    assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def decode_shapes(past: int, batch: int = 1) -> dict:
    """One new token against a cache of `past`, written out per input."""
    shapes = {"input_ids": (batch, 1), "attention_mask": (batch, past + 1)}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            shapes[f"past_key_values.{i}.{kind}"] = (batch, HEADS, past, HEAD_DIM)
    return shapes


def kv_from_shapes(past: int, new: int, batch: int = 1) -> int:
    """Past inputs + present outputs (past + new tokens), float32."""
    per = batch * HEADS * HEAD_DIM * F32 * 2 * LAYERS  # key and value, every layer
    return per * past + per * (past + new)


def direct_total(path: Path, shapes: dict, kv: int = 0) -> int:
    """arena of `infermem.plan` + KV cache + weights, at hand-written shapes."""
    graph = infermem.load(path, shapes)
    return infermem.plan(graph).arena_bytes + kv + graph.weights_bytes


def test_max_seq_decode_step_agrees_with_direct_plans(capsys):
    """The must-show: the found cache length L fits by a direct plan, L + 1 does not."""
    budget = direct_total(PAST, decode_shapes(3), kv_from_shapes(3, 1)) + 1000
    doc = run_json(capsys, "fit", PAST, "--budget", budget, "--dim", "sequence_length=1",
                   "--max-seq", "past_sequence_length", "--json")
    n = doc["max_seq"]
    assert doc["dim"] == "past_sequence_length" and 3 <= n < 127  # not the model's limit
    at = direct_total(PAST, decode_shapes(n), kv_from_shapes(n, 1))
    above = direct_total(PAST, decode_shapes(n + 1), kv_from_shapes(n + 1, 1))
    assert at <= budget < above
    assert (doc["at"]["total_bytes"], doc["above"]["total_bytes"]) == (at, above)
    assert doc["at"]["kv_cache_bytes"] == kv_from_shapes(n, 1)
    assert doc["at"]["fits"] and not doc["above"]["fits"]


def test_max_seq_encoder_agrees_and_seq_names_the_sequence_dim(capsys):
    """BERT has one sequence dim, so 'seq' is it; no KV cache."""
    def shapes(n):
        return {k: (1, n) for k in ("input_ids", "attention_mask", "token_type_ids")}

    budget = direct_total(BERT, shapes(6)) + 2000
    doc = run_json(capsys, "fit", BERT, "--budget", budget, "--max-seq", "seq", "--json")
    n = doc["max_seq"]
    assert doc["dim"] == "sequence_length" and n >= 6
    assert direct_total(BERT, shapes(n)) <= budget < direct_total(BERT, shapes(n + 1))
    assert doc["at"]["kv_cache_bytes"] == 0


def test_max_seq_refuses_clearly(capsys):
    """Not even length 1, a dim the model lacks, 'seq' ambiguous in a decoder."""
    assert main(["fit", str(GPT2), "--budget", "64KiB", "--max-seq", "seq"]) == 0
    assert "Not even sequence_length=1 fits" in capsys.readouterr().out
    assert main(["fit", str(GPT2), "--budget", "1MiB", "--max-seq", "context"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no symbolic dim 'context'" in err and "sequence_length" in err and "\n" not in err
    assert main(["fit", str(PAST), "--budget", "1MiB", "--max-seq", "seq"]) == 2
    err = capsys.readouterr().err
    assert "--dim sequence_length=1 --max-seq past_sequence_length" in err


def test_kv_cache_line_is_past_plus_present_from_the_shapes(capsys):
    past, new = 5, 3
    dims = ["--dim", f"sequence_length={new}", "--dim", f"past_sequence_length={past}"]
    prof = run_json(capsys, "profile", PAST, *dims, "--json")
    assert prof["kv_cache"]["bytes"] == kv_from_shapes(past, new)
    assert prof["kv_cache"]["present_bytes"] == prof["kv_cache"]["inplace_bytes"]
    assert len(prof["kv_cache"]["past"]) == len(prof["kv_cache"]["present"]) == 2 * LAYERS
    plan = run_json(capsys, "plan", PAST, *dims, "--json")
    placed = {t["name"] for t in plan["tensors"]}
    assert not placed & {*prof["kv_cache"]["past"], *prof["kv_cache"]["present"]}
    assert plan["kv_cache"]["bytes"] == kv_from_shapes(past, new)
    reordered = run_json(capsys, "plan", PAST, *dims, "--reorder", "--json")  # schedule agrees
    assert reordered["order_change"]["peak_bytes"] <= plan["lower_bound_bytes"]
    fit = run_json(capsys, "fit", PAST, *dims, "--no-measure", "--device", "pico", "--json")
    lv = fit["levels"]["infermem"]
    assert fit["kv_cache_bytes"] == kv_from_shapes(past, new)
    assert lv["ram_bytes"] == lv["arena_bytes"] + fit["persistent"]["bytes"] + \
        kv_from_shapes(past, new)
    assert main(["profile", str(PAST), *dims]) == 0
    assert f"KV cache (outside the arena): {kv_from_shapes(past, new):,} B" in \
        capsys.readouterr().out
    assert run_json(capsys, "profile", GPT2, "--dim", "sequence_length=4", "--json")[
        "kv_cache"] is None


def test_kv_cache_outside_the_arena_still_verifies(capsys):
    """The executor holds the cache in its own buffers, as a runtime does."""
    doc = run_json(capsys, "verify", PAST, "--dim", "sequence_length=2", "--dim",
                   "past_sequence_length=3", "--runs", "1", "--json")
    assert doc["ok"] and {"present.0.key", "logits"} <= set(doc["outputs"])


def test_dim_sets_every_input_and_evaluates_expressions(capsys):
    """--dim gives the same plan as the hand-written --input-shape of each input."""
    by_dim = run_json(capsys, "plan", PAST, "--dim", "sequence_length=1", "--dim",
                      "past_sequence_length=9", "--dim", "batch_size=2", "--json")
    by_shape = infermem.plan(PAST, input_shapes=decode_shapes(9, batch=2))
    assert by_dim["arena_bytes"] == by_shape.arena_bytes
    assert infermem.shapes_for(PAST, {"sequence_length": 1, "past_sequence_length": 9}) == \
        decode_shapes(9)
    # --input-shape keeps priority for the input it names
    mixed = infermem.shapes_for(PAST, {"sequence_length": 1, "past_sequence_length": 9},
                                {"attention_mask": (1, 10)})
    assert mixed["attention_mask"] == (1, 10)


def test_dim_errors_are_one_line_exit_2(capsys):
    assert main(["plan", str(PAST), "--dim", "seq_len=8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not a symbolic dim" in err
    assert "batch_size, sequence_length, past_sequence_length" in err
    assert main(["plan", str(PAST), "--dim", "sequence_length=8"]) == 2
    assert "--dim past_sequence_length=N" in capsys.readouterr().err
    assert main(["plan", str(PAST), "--dim", "sequence_length=eight"]) == 2
    assert "NAME=N" in capsys.readouterr().err
    from infermem.frontends.onnx_suggest import by_name_hint

    hint = by_name_hint([("attention_mask", ("b", "past + new")), ("ids", ("b", "new"))])
    assert hint.endswith("--dim b=N --dim past=N --dim new=N")  # the refusal names --dim


def test_sweep_json_is_monotone_in_the_kv_cache_and_plots(capsys, tmp_path):
    out = tmp_path / "sweep.png"
    doc = run_json(capsys, "profile", PAST, "--dim", "sequence_length=1", "--sweep",
                   "seq=4..16", "--plot", out, "--json")
    pts = doc["points"]
    assert doc["dim"] == "past_sequence_length" and [p["length"] for p in pts] == \
        [4, 8, 16]
    kv = [p["kv_cache_bytes"] for p in pts]
    assert all(a < b for a, b in zip(kv, kv[1:], strict=False))
    assert kv == [kv_from_shapes(n, 1) for n in (4, 8, 16)]
    assert all(p["total_bytes"] == p["arena_bytes"] + p["kv_cache_bytes"] + p["weights_bytes"]
               for p in pts)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # an explicit list and the step form; the prefill (empty past) is a length too
    doc = run_json(capsys, "profile", PAST, "--dim", "past_sequence_length=0", "--sweep",
                   "sequence_length=2,6", "--json")
    assert [p["kv_cache_bytes"] for p in doc["points"]] == [kv_from_shapes(0, 2),
                                                             kv_from_shapes(0, 6)]


def test_sweep_specs_parse_and_bad_ones_are_refused():
    from infermem.errors import BadInput
    from infermem.seqlen import parse_sweep

    assert parse_sweep("seq=128..4096")[1] == (128, 256, 512, 1024, 2048, 4096)
    assert parse_sweep("seq=128..512:128")[1] == (128, 256, 384, 512)
    assert parse_sweep("past_sequence_length=3,1,2") == ("past_sequence_length", (1, 2, 3))
    for bad in ("seq", "seq=a..b", "=1,2", "seq=1..100000:1"):
        with pytest.raises(BadInput):
            parse_sweep(bad)


def test_max_seq_with_max_batch_is_a_frontier(capsys):
    """The largest length at batch 1, 2, 4, ...: shorter as the batch grows,
    each checked against a direct plan."""
    def shapes(b, n):
        return {"input_ids": (b, n), "attention_mask": (b, n)}

    budget = direct_total(GPT2, shapes(1, 3))
    doc = run_json(capsys, "fit", GPT2, "--budget", budget, "--max-seq", "seq",
                   "--max-batch", "--json")
    rows = doc["frontier"]
    assert [r["batch"] for r in rows] == [2 ** k for k in range(len(rows))] and len(rows) >= 2
    lengths = [r["max_seq"] for r in rows]
    assert lengths[0] == 3 and all(a > b for a, b in zip(lengths, lengths[1:], strict=False))
    b, n = rows[-1]["batch"], rows[-1]["max_seq"]
    assert direct_total(GPT2, shapes(b, n)) <= budget < direct_total(GPT2, shapes(b, n + 1))


def test_expressions_parse_without_eval():
    from infermem.dims import evaluate, names_in

    assert evaluate("past_sequence_length + sequence_length",
                    {"past_sequence_length": 7, "sequence_length": 1}) == 8
    assert evaluate("2*a + b*3", {"a": 2, "b": 1}) == 7
    assert evaluate("a + b", {"a": 1}) is None
    assert names_in("__import__('os')") == ("__import__('os')",)  # opaque: a name, not code
    assert np.isclose(evaluate("a*a", {"a": 3}), 9)
