"""The README runs: every command of its command table parses (and has a
working `--help`), every subcommand is in the table, and its Python code
blocks execute as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from infermem.cli import build_parser, main
from infermem.examples import example_path

README = Path(__file__).parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
FIXTURES = Path(__file__).parent / "fixtures"


def _table(heading: str) -> list[str]:
    """The first column (its `infermem ...` commands) of the table under `heading`."""
    section = TEXT.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| `infermem")]
    return [c for ln in rows for c in re.findall(r"`(infermem [^`]+)`", ln.split("|")[1])]


COMMANDS = _table("## Commands")


def _concrete(command: str, tmp: Path) -> list[str]:
    """The table's placeholders replaced by real files."""
    words = []
    for w in shlex.split(command)[1:]:
        if w == "MODEL" or w == "MODEL.tflite":
            w = str(example_path("tflite"))
        elif w == "MODEL.onnx":
            w = str(FIXTURES / "resnet_f32.onnx")
        elif w.startswith(("OUT.", "report.", "results.")):
            w = str(tmp / w)
        elif w == "PATH...":
            w = str(FIXTURES / "ds_cnn_int8.tflite")
        elif w == "CMD":
            words += ["python", "-c", "pass"]
            continue
        words.append(w)
    return words


def test_the_table_lists_every_command():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    listed = {c.split()[1] for c in COMMANDS}
    assert listed == set(sub.choices), f"README table vs CLI: {listed ^ set(sub.choices)}"


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_in_the_table_parses_and_has_help(command, tmp_path, capsys):
    words = _concrete(command, tmp_path)
    args = build_parser().parse_args(words)  # SystemExit (a failed test) if it does not parse
    assert callable(args.func)
    cut = words.index("--") if "--" in words else len(words)
    assert main([*words[:cut], "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: infermem")


BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
