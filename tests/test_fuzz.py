"""A short seeded run of the fuzz harness (`benchmarks/fuzz.py`; the long run
and its figures are in the README): hostile models and paths across the model
commands, each with an exit code in {0, 1, 2}, no traceback, within time, and
nothing the user gave modified.  A failure names its case number; replay it
with `python benchmarks/fuzz.py --seed 14 --no-heavy --only N`."""

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fuzz import run_case_inprocess, run_case_subprocess  # noqa: E402
from fuzz_cases import COMMANDS, Case, bomb, chain, make_case, wide  # noqa: E402

SEED = 14
CASES = 320


def _failures(results) -> str:
    return "\n".join(f"{r.title}: {'; '.join(r.problems)}" for r in results if r.problems)


def test_seeded_fuzz_run_in_process(tmp_path):
    cases = [make_case(SEED, n) for n in range(CASES)]
    results = [run_case_inprocess(c, tmp_path, limit_s=30) for c in cases]
    assert not _failures(results), _failures(results)
    assert len(results) >= 300
    assert {c.family for c in cases} == {"onnx", "tflite", "bytes", "paths"}
    assert {c.command for c in cases if c.family != "paths"} == set(COMMANDS)
    codes = Counter(r.rc for r in results)
    assert codes[0] > 30 and codes[2] > 100  # both accepted and refused models were run


def test_real_processes_give_real_exit_codes(tmp_path):
    """Two cases of each family through `python -m infermem`."""
    picked, seen = [], Counter()
    for n in range(CASES):
        c = make_case(SEED, n)
        if seen[c.family] < 2 and c.command not in ("optimize", "tflm-measure", "fit-tflm"):
            seen[c.family] += 1
            picked.append(c)
    results = [run_case_subprocess(c, tmp_path) for c in picked]
    assert not _failures(results), _failures(results)
    assert len(results) == 8 and all(r.rc in (0, 1, 2) for r in results)


@pytest.mark.slow
def test_resource_bombs_stay_within_time_and_memory(tmp_path):
    """Folding bombs, a 30,000-node chain and a 20,000-input Concat, each in a
    real process killed over 120 s (wall, on a loaded machine) or 1.5 GiB."""
    models = {f"bomb-{b}": bomb(b) for b in ("range", "constantofshape", "expand", "tile")}
    models |= {"deep-30000": chain(30000), "wide-Concat-20000": wide(20000, "Concat")}
    cases = [
        Case(k, "onnx", name, cmd, (cmd, "{d}/m.onnx"), {"m.onnx": data}, heavy=True)
        for k, (name, data) in enumerate(models.items())
        for cmd in ("profile", "plan")
    ]
    results = [run_case_subprocess(c, tmp_path, limit_s=120, rss_limit_mb=1536) for c in cases]
    assert not _failures(results), _failures(results)
