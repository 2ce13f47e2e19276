"""The report's patch-based inference section (`report --patch`): the live
memory per operator before and after the rewrite, and the stage split."""

from __future__ import annotations

from .html_kit import Col, esc, num, section, src, table


def patch_section(r, img: str) -> str:
    """`r`: an `api.patching.PatchProfileResult`; `img` its `plots.patch_plot`."""
    if r.after is None:
        return section("patch", "Patch-based inference (what-if)",
                       f"Not patched: {esc(r.choice.reason)}.", "")
    b, a, p = r.stage_before, r.stage_after, r.choice.result
    rows = [["operators", num(b.stage_ops), num(a.stage_ops)],
            ["live-set peak of the stage, B", num(b.stage_peak), num(a.stage_peak)],
            ["live-set peak of the rest, B", num(b.rest_peak), num(a.rest_peak)],
            ["model peak, B", num(r.before.profile.peak_bytes), num(r.after.profile.peak_bytes)],
            ["MACs", num(p.macs_before), num(p.macs_after)],
            ["flash (file), B", num(p.flash_before), num(p.flash_after)]]
    body = img + table([Col(""), Col("as it is", True), Col("patched", True)], rows)
    lead = (f"{esc(p.describe())}. The rewrite runs the first stage one tile at a time "
            "(`infermem optimize --patch` writes it, verified "
            + ("in TFLM" if r.before.graph.format == "tflite" else
               "against onnxruntime and by `infermem verify`") + "); nothing was written "
            f"for this page. Candidates ranked by {esc(r.choice.ranked_by)}. "
            + src("computed"))
    return section("patch", "Patch-based inference (what-if)", lead, body)
