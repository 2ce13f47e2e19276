"""One option vocabulary: every subcommand's parser is walked, and an option
that several commands take must be the same option everywhere (same
destination, type, action, choices, metavar and help text).

The only help texts allowed to differ are the ones that name what the option
holds for that command (`-o` names the file it writes, `--device` its
default), and they must still come from the shared definition.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict

import pytest

from infermem.cli import build_parser, leaf_parsers

PARSER = build_parser()
LEAVES = {p.prog.removeprefix("infermem ").strip(): p for p in leaf_parsers(PARSER)}

# help text from a shared template with one part that names the command's own case
TEMPLATED = {
    "--output": re.compile(r"write .+ to this file"),
    "--device": re.compile(r"a target device by name or alias \(repeatable; default: .+\)"),
    "--runs": re.compile(r"how many times the model runs: .+ \(default \d+\)"),
    "--timeout": re.compile(r"stop .+ after S seconds \(default: .+\)"),
    "--arena-size": re.compile(r"TFLM arena_size to run with, in bytes \(default: .+\)"),
    "--plot": re.compile(r"draw .+ to this image \(\.png, \.svg or \.pdf\)"),
}
# allowed differences in the option itself, each with its reason
EXCEPTIONS = {
    ("--output", "sweep"): "repeatable: one results file per format (.json, .csv, .html)",
}
# the vocabulary the issue asks for, on the commands that must have it
REQUIRED = {
    "--json": None,  # every command that prints a result
    "--quiet": None,  # every command
    "--input-shape": ("profile", "plan", "verify", "fit", "report", "optimize", "tflm measure",
                      "quantize"),
    "--dim": ("profile", "plan", "verify", "fit", "report", "optimize", "tflm measure",
              "quantize", "monitor"),
    "--align": ("profile", "plan", "verify", "fit", "report", "optimize", "tflm measure"),
    "--strategy": ("plan", "verify", "optimize", "report"),
    "--time-limit": ("plan", "verify", "optimize", "fit", "report"),
    "--inputs": ("verify", "optimize"),
    "--output": ("plan", "optimize", "quantize", "report", "demo"),
}


def _options(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Long option name -> action, for the options a user sees (not --help, not
    the hidden aliases kept for old scripts)."""
    out = {}
    for a in p._actions:
        if not a.option_strings or isinstance(a, argparse._HelpAction):
            continue
        if a.help == argparse.SUPPRESS:
            continue
        long = next((s for s in a.option_strings if s.startswith("--")), a.option_strings[0])
        out[long] = a
    return out


def _signature(a: argparse.Action) -> dict:
    choices = list(a.choices) if a.choices is not None else None
    return {"option_strings": sorted(a.option_strings), "dest": a.dest, "type": a.type,
            "action": type(a).__name__, "nargs": a.nargs, "choices": choices,
            "metavar": a.metavar, "const": a.const}


BY_OPTION: dict[str, dict[str, argparse.Action]] = defaultdict(dict)
for _cmd, _p in LEAVES.items():
    for _name, _a in _options(_p).items():
        BY_OPTION[_name][_cmd] = _a
SHARED = sorted(o for o, cmds in BY_OPTION.items() if len(cmds) > 1)


def test_the_walk_sees_every_command():
    assert {"profile", "plan", "verify", "optimize", "tflm measure", "fit", "report", "demo",
            "quantize", "monitor"} <= set(LEAVES)
    assert "--json" in SHARED and "--quiet" in SHARED


@pytest.mark.parametrize("option", SHARED)
def test_a_shared_option_is_the_same_everywhere(option):
    cmds = BY_OPTION[option]
    sigs = {cmd: _signature(a) for cmd, a in cmds.items() if (option, cmd) not in EXCEPTIONS}
    first_cmd, first = next(iter(sigs.items()))
    for cmd, sig in sigs.items():
        for key in ("dest", "type", "action", "nargs", "choices", "const"):
            assert sig[key] == first[key], (
                f"{option}: {key} is {sig[key]!r} in `{cmd}` but {first[key]!r} in `{first_cmd}`")
        assert sig["option_strings"] == first["option_strings"], (option, cmd)
    helps = {cmd: a.help for cmd, a in cmds.items()}
    if option in TEMPLATED:
        bad = {c: h for c, h in helps.items() if not TEMPLATED[option].fullmatch(h)}
        assert not bad, f"{option}: help not from the shared template: {bad}"
    else:
        assert len(set(helps.values())) == 1, f"{option}: help differs: {helps}"
        if option != "--time-limit":  # its default differs by command, shown in the help
            defaults = {cmd: a.default for cmd, a in cmds.items()}
            assert len({repr(v) for v in defaults.values()}) == 1, (option, defaults)


@pytest.mark.parametrize("option", sorted(REQUIRED))
def test_the_issue_s_vocabulary_is_where_it_belongs(option):
    want = REQUIRED[option]
    if want is None:
        want = list(LEAVES)
    missing = [c for c in want if option not in _options(LEAVES[c])]
    assert not missing, f"{option} is missing on: {missing}"


def test_short_o_is_always_output():
    for cmd, p in LEAVES.items():
        for a in p._actions:
            if "-o" in a.option_strings:
                assert "--output" in a.option_strings and a.dest == "output", cmd


def test_json_is_a_flag_everywhere():
    """`--json` prints to stdout; no command takes a path for it."""
    for cmd, a in BY_OPTION["--json"].items():
        assert isinstance(a, argparse._StoreTrueAction), cmd


def test_a_bare_optional_value_option_before_the_model_leaves_the_model_alone(capsys):
    """`plan --fuse MODEL` is `--fuse` alone then the model, as `plan MODEL --fuse`."""
    from infermem.cli import main

    model = "tests/corpus/resnet8_tf2onnx.onnx"
    shape = ["--input-shape", "input=1x32x32x3"]
    assert main(["plan", "--fuse", model, *shape, "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["plan", model, "--fuse", *shape, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["arena_bytes"] == before["arena_bytes"]
    assert main(["plan", "--fuse", "bogus", model]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
