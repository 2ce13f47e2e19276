"""`infermem report`: the HTML page is written, parses, carries the library's
figures and its plots, and never lets a model file inject markup."""

from __future__ import annotations

import base64
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from infermem.cli import main
from infermem.frontends import load
from infermem.planners import plan
from infermem.planning import build_problem, plan_model
from infermem.profile import profile
from infermem.report.gather import gather
from infermem.report.html import render
from infermem.schedule import best_order

FIXTURES = Path(__file__).parent / "fixtures"
VOID = {"meta", "img", "br", "hr", "input", "link", "col", "wbr", "source"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert(1)</script>"


class Strict(HTMLParser):
    """Records tags and checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Strict:
    p = Strict()
    p.feed(page)
    p.close()
    assert p.stack == [], f"unclosed elements {p.stack}"
    return p


def run_report(model: Path, out: Path, *extra: str) -> str:
    assert main(["report", str(model), "-o", str(out), "--time-limit", "2", *extra]) == 0
    return out.read_text("utf-8")


def check_images(p: Strict, n: int) -> None:
    assert len(p.images) == n
    for src in p.images:
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64"
        assert base64.b64decode(data)[:8] == PNG_MAGIC


@pytest.fixture(scope="module")
def ds_cnn(tmp_path_factory) -> tuple[Path, str]:
    model = FIXTURES / "ds_cnn_int8.tflite"
    out = tmp_path_factory.mktemp("report") / "ds_cnn.html"
    return model, run_report(model, out, "--no-tflm")


def test_tflite_page_carries_the_library_figures(ds_cnn):
    model, page = ds_cnn
    p = parse(page)
    check_images(p, 1)  # the live plot; the layouts are inline SVG
    assert "<script" not in page.lower()  # no JavaScript, no external assets
    assert not re.search(r'(src|href)="(https?:)?//', page)
    g = load(model)
    prof = profile(g)
    problem = build_problem(g, g.file_order)
    text = " ".join(p.text)
    for n in (prof.peak_bytes, prof.weights_bytes, plan(problem, "tflm").arena_bytes,
              plan(problem, "best").arena_bytes, plan(problem, "linear").arena_bytes,
              plan_model(g, "best", 2.0, dmo=True).plan.arena_bytes):
        assert f"{n:,}" in text, n
    for section in ("live", "planners", "layout", "dmo", "fit"):
        assert f'id="{section}"' in page
    assert "not measured (--no-tflm)" in text  # the TFLM card says why it is empty
    for row in prof.operators:  # the per-operator table has a row per step
        assert f"{row.live_bytes:,}" in text


def test_report_data_matches_the_library():
    model = FIXTURES / "inception_block_int8.tflite"  # a branching graph: reordering helps
    d = gather(model, time_limit=2.0, tflm=False, devices=["STM32F401RE", "pico"])
    g = load(model)
    assert d.profile.peak_bytes == profile(g).peak_bytes
    assert d.runtime.plan.arena_bytes == plan(build_problem(g, g.file_order), "tflm").arena_bytes
    assert d.infermem_bytes <= d.best.plan.arena_bytes <= d.runtime_bytes
    assert [f.device.name for f in d.fit.devices] == ["STM32F401RE", "Raspberry Pi Pico"]
    sched = best_order(g, time_limit=2.0)
    assert d.reorder_profile is not None
    assert d.reorder_profile.peak_bytes == sched.peak_bytes < d.profile.peak_bytes
    page = render(d)
    parse(page)
    assert f"{d.saving:.1%}" in page
    assert "Memory-optimal operator order" in page and f"{sched.peak_bytes:,} B" in page
    assert "Raspberry Pi Pico" in page and "ESP32-DevKitC" not in page


def test_onnx_page(tmp_path):
    model = FIXTURES / "inception_block_f32.onnx"
    page = run_report(model, tmp_path / "r.html", "--device", "nrf52840")
    p = parse(page)
    check_images(p, 1)  # the live plot; the layouts are inline SVG
    text = " ".join(p.text)
    g = load(model)
    assert f"{profile(g).peak_bytes:,}" in text
    assert f"{plan(build_problem(g, g.file_order), 'best').arena_bytes:,}" in text
    assert "nRF52840 DK" in text
    assert "TFLM's arena head" not in text  # no TFLM run for ONNX, and no card for one


def _hostile_model(path: Path) -> None:
    x = helper.make_tensor_value_info(HOSTILE, TensorProto.FLOAT, [1, 8, 16, 16])
    y = helper.make_tensor_value_info('"><img src=x onerror=alert(2)>', TensorProto.FLOAT,
                                      [1, 8, 16, 16])
    w = numpy_helper.from_array(np.ones((8, 8, 1, 1), np.float32), "w&<b>")
    nodes = [
        helper.make_node("Conv", [HOSTILE, "w&<b>"], ["<b>mid</b>"], name="<i>conv</i>"),
        helper.make_node("Relu", ["<b>mid</b>"], [y.name], name="<style>relu"),
    ]
    graph = helper.make_graph(nodes, "<script>model</script>", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def test_hostile_names_are_escaped(tmp_path):
    model = tmp_path / "<u>evil.onnx"  # the file name reaches the title and header
    _hostile_model(model)
    page = run_report(model, tmp_path / "evil.html")
    p = parse(page)
    assert set(p.tags) <= {"html", "head", "meta", "title", "style", "body", "main", "header",
                           "div", "h1", "h2", "h3", "p", "span", "code", "em", "section",
                           "table", "thead", "tbody", "tr", "th", "td", "details", "summary",
                           "img", "br", "footer", "ul", "li", "a", "strong", "i",
                           "svg", "rect", "line", "text"}
    assert len(p.images) == 1  # only the report's own plot, no injected <img>
    lowered = page.lower()
    assert "<script" not in lowered and "<b>" not in lowered and "onerror=alert" not in \
        lowered.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the names are shown, escaped
    assert "&lt;b&gt;mid&lt;/b&gt;" in page and "&lt;u&gt;evil" in page


def test_refuses_to_overwrite_the_model(tmp_path, capsys):
    model = tmp_path / "m.tflite"
    shutil.copy(FIXTURES / "ds_cnn_int8.tflite", model)
    before = model.read_bytes()
    assert main(["report", str(model), "-o", str(model), "--no-tflm"]) == 2
    assert model.read_bytes() == before
    assert "refusing to overwrite" in capsys.readouterr().err


def test_bad_arguments_are_clear(tmp_path, capsys):
    model = FIXTURES / "ds_cnn_int8.tflite"
    assert main(["report", str(model), "-o", str(tmp_path / "no" / "r.html")]) == 2
    assert main(["report", str(model), "-o", str(tmp_path / "r.html"), "--strategy", "nope"]) == 2
    assert main(["report", str(model), "-o", str(tmp_path / "r.html"), "--device", "zz80"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "invalid choice: 'nope'" in err
    assert "unknown device" in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
