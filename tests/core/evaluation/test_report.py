"""The promotion gate and the rendered reports (tables, masking, escaping)."""

from __future__ import annotations

import pytest

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.evaluation.gates import promotion_gate
from distill_assets.core.evaluation.misses import miss_summary
from distill_assets.core.evaluation.report import render_html, render_markdown

REFERENCE = {
    "province": "云南省",
    "city": "大理白族自治州",
    "district": "大理市",
    "specific_location": "人民路25号",
    "name": "段丽娟",
    "phone": "23204753945",
}
TEXT = "电话:+86 232-0475-3945 大理市人民路25号 收件者:段丽娟 | 急件"


def _scores(exact: float, valid: float = 1.0, groups: dict | None = None) -> dict:
    out = {
        "n": 4,
        "valid_json_rate": valid,
        "exact_match": exact,
        "field_accuracy": dict.fromkeys(FIELDS, exact),
        "samples_per_s": 12.5,
        "tokens_per_s": 400.0,
    }
    if groups is not None:
        out["by_group"] = groups
    return out


def _metrics(base: float, tuned: float, gold: bool = False) -> dict:
    tuned_scores = _scores(tuned, 1.0, {"colon": {"n": 4, "exact_match": tuned}})
    raw = _scores(tuned / 2, 1.0, {"colon": {"n": 4, "exact_match": tuned / 2}})
    m = {
        "n": 4,
        "judged": "canonical",
        "base": _scores(base, 0.5, {"colon": {"n": 4, "exact_match": base}}),
        "tuned": tuned_scores,
        "tuned_canonical": tuned_scores,
        "tuned_on_base_rows": tuned_scores,
        "tuned_raw": raw,
        "misses": miss_summary([None], [REFERENCE], [TEXT], [False]),
        "gold": None,
        "params": {"base_prompt": "teacher", "tuned_prompt": "student"},
        "models": {"base": "b", "tuned": "t"},
    }
    if gold:
        m["gold"] = {"teacher": _scores(0.9), "base": _scores(0.1), "tuned": _scores(0.8)}
    return m


@pytest.mark.parametrize(
    ("base", "tuned", "threshold", "passed", "why"),
    [
        (0.1, 0.8, 0.5, True, ">= 0.500"),
        (0.1, 0.4, 0.5, False, "< threshold"),
        (0.8, 0.8, 0.5, False, "does not beat base"),
        (0.9, 0.8, 0.5, False, "does not beat base"),
        (0.0, 0.5, 0.5, True, "> base 0.000"),
    ],
)
def test_promotion_gate(base: float, tuned: float, threshold: float, passed: bool, why: str):
    ok, reason = promotion_gate(_metrics(base, tuned), threshold)
    assert ok is passed
    assert why in reason


def test_promotion_gate_names_missing_metrics() -> None:
    with pytest.raises(KeyError, match="metrics lack"):
        promotion_gate({"base": {"exact_match": 0.1}}, 0.5)


ERRORS = [
    {
        "id": "r7",
        "text": "电话:+86 232-0475-3945 大理市人民路25号 收件者:段丽娟 | 急件",
        "prediction": '{"name": "段丽娟", "phone": "23204753945"}',
        "parsed": None,
        "reference": REFERENCE,
        "wrong_fields": [],
    }
]


def test_markdown_report_tables_and_masking() -> None:
    md = render_markdown(_metrics(0.25, 0.75, gold=True), ERRORS, (True, "ok"), "chart.png")
    assert "| exact match | 25.0% | 75.0% | 37.5% | 75.0% |" in md
    assert "| valid JSON | 50.0% | 100.0% | 100.0% | 100.0% |" in md
    assert "| samples/s | 12.50 | 12.50 |" in md
    assert "| colon | 4 | 25.0% | 37.5% | 75.0% |" in md
    assert "| invalid_json | 1 | 100.0% |" in md
    assert "| metric (vs gold) | teacher | base | tuned |" in md
    assert "| exact match | 90.0% | 10.0% | 80.0% |" in md
    assert "PASSED: ok" in md
    assert "![per-field accuracy](chart.png)" in md
    assert "(invalid)" in md
    # No phone or name in clear, whatever its formatting; a literal | does not break the table.
    for secret in ("23204753945", "0475", "段丽娟"):
        assert secret not in md
    assert "232****3945" in md and "段**" in md
    assert "\\| 急件" in md


def test_html_report_escapes_and_masks() -> None:
    errors = [{**ERRORS[0], "text": "<b>段丽娟</b> 23204753945"}]
    page = render_html(_metrics(0.25, 0.75), errors)
    assert page.startswith("<!doctype html>")
    assert "&lt;b&gt;段**&lt;/b&gt; 232****3945" in page
    assert "<b>" not in page and "段丽娟" not in page
    assert "against gold" not in page  # no gold columns: no gold section
    assert "<td>exact match</td><td>25.0%</td><td>75.0%</td><td>37.5%</td>" in page
