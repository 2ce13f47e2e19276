"""The report explains the peak: the HTML is parsed (stdlib `html.parser`) and
its sections checked against the library's own figures; the page stays
self-contained (no script, nothing fetched) and the layout stays usable at
400+ operators.
"""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import infermem
from infermem.cli import main
from infermem.report.layout_svg import STEP_PX
from infermem.report.peak import peak_tensors, weights_per_operator

FIXTURES = Path(__file__).parent / "fixtures"


class Page(HTMLParser):
    """Sections, tables, SVG rectangles with their titles, links, and every URL."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.current: str | None = None
        self.tags: list[str] = []
        self.rect_titles: list[str] = []
        self.svgs: list[dict] = []
        self.links: list[dict] = []
        self.urls: list[str] = []
        self._in_rect = self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.current = a.get("id")
            self.sections[self.current] = []
        if tag == "svg":
            self.svgs.append(a)
        if tag == "rect":
            self._in_rect = True
        if tag == "title" and self._in_rect:
            self._in_title = True
        if tag == "a":
            self.links.append(a)
        for k in ("src", "href", "xlink:href", "action", "data"):
            if a.get(k):
                self.urls.append(a[k])

    def handle_endtag(self, tag):
        if tag == "rect":
            self._in_rect = False
        if tag == "title":
            self._in_title = False
        if tag == "section":
            self.current = None

    def handle_data(self, data):
        if self._in_title:
            self.rect_titles.append(data)
        if self.current:
            self.sections[self.current].append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.sections[section]).split())


@pytest.fixture(scope="module")
def mobilenet():
    r = infermem.report(FIXTURES / "mobilenet_v1_int8.tflite", measure=False)
    return r, Page(r.html)


def test_sections_are_there(mobilenet):
    _, page = mobilenet
    for sid in ("notes", "live", "peak", "weights", "planners", "layout", "dmo", "fit",
                "downloads"):
        assert sid in page.sections, sid


def test_peak_section_lists_the_live_tensors_with_their_operators(mobilenet):
    r, page = mobilenet
    d = r.data
    rows = peak_tensors(d.graph, d.profile)
    assert sum(x.bytes for x in rows) == d.profile.peak_bytes
    text = page.text("peak")
    assert f"{d.profile.peak_bytes:,}" in text
    for x in rows:
        assert f"{x.bytes:,}" in text
        assert f"#{x.producer.index} {x.producer.type}" in text if x.producer else "graph input"
        for c in x.consumers[:4]:
            assert f"#{c.index} {c.type}" in text
    peak_op = d.graph.operators[d.profile.peak_operator_index]
    assert f"operator #{peak_op.index}, {peak_op.type}" in text


def test_weights_per_operator(mobilenet):
    r, page = mobilenet
    rows = weights_per_operator(r.data.graph)
    text = page.text("weights")
    biggest = max(rows, key=lambda x: x.bytes)
    assert f"{biggest.bytes:,}" in text and f"#{biggest.index}" in text
    assert sum(x.bytes for x in rows) >= r.data.profile.weights_bytes  # shared ones repeat


def test_layout_is_inline_svg_with_a_title_per_buffer(mobilenet):
    r, page = mobilenet
    d = r.data
    expected = sum(1 for pm in (d.runtime, d.best, d.dmo) for b in pm.problem.buffers
                   if b.size and b.name in pm.plan.offsets)
    assert len(page.rect_titles) == expected
    assert len(page.svgs) == 3
    first = d.best.problem.buffers[0]
    assert any(t.startswith(f"{first.name}: {first.size:,} B at offset") for t in page.rect_titles)


def test_downloads_are_data_urls_holding_the_report(mobilenet):
    r, page = mobilenet
    links = [a for a in page.links if "download" in a]
    assert {Path(a["download"]).suffix for a in links} == {".json", ".csv"}
    assert all(a["href"].startswith("data:") for a in links)
    js = next(a for a in links if a["download"].endswith(".json"))
    doc = json.loads(base64.b64decode(js["href"].split(",", 1)[1]))
    assert doc["summary"] == r.to_json()["summary"]
    csv_ops = next(a for a in links if a["download"].endswith("_operators.csv"))
    lines = base64.b64decode(csv_ops["href"].split(",", 1)[1]).decode().splitlines()
    assert len(lines) == 1 + len(r.data.graph.operators)


def test_page_is_self_contained(mobilenet):
    r, page = mobilenet
    assert "script" not in page.tags and "iframe" not in page.tags and "link" not in page.tags
    assert all(u.startswith(("data:", "#")) for u in page.urls), [u[:40] for u in page.urls]
    assert "http://" not in r.html and "https://" not in r.html and "url(" not in r.html


def test_notes_say_what_each_figure_includes(mobilenet):
    _, page = mobilenet
    text = page.text("notes")
    assert "runtime's own code" in text and "not included" in text and "scratch" in text
    onnx_page = Page(infermem.report(FIXTURES / "resnet_f32.onnx").html)
    assert "infermem's own arena executor only" in onnx_page.text("notes")
    assert "+DMO (executor)" in onnx_page.text("fit")


def _deep(path: Path, layers: int) -> Path:
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(
            rng.standard_normal((4, 4, 3, 3)).astype(np.float32), f"w{i}"))
        nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev = f"r{i}"
    g = helper.make_graph(nodes, "deep",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 4, 8, 8])],
                          inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_layout_is_a_scrollable_strip_at_400_operators(tmp_path):
    model = _deep(tmp_path / "deep.onnx", 210)  # 420 operators
    r = infermem.report(model, tmp_path / "deep.html", time_limit=2)
    page = Page(r.html)
    steps = r.data.best.problem.steps
    assert steps >= 420
    assert all(int(s["width"]) >= STEP_PX * steps for s in page.svgs)  # not squeezed
    assert r.html.count('<div class="scroll svgbox">') == 3  # each strip scrolls sideways
    assert len(page.rect_titles) >= 3 * 420


def test_report_json_on_stdout(capsys):
    assert main(["report", str(FIXTURES / "ds_cnn_int8.tflite"), "--json", "--no-measure"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["peak"]["tensors"] and doc["output"] is None
    assert main(["report", str(FIXTURES / "ds_cnn_int8.tflite")]) == 2
    assert "-o OUT.html" in capsys.readouterr().err
