"""Composed layouts: a large share of the synthetic batch, many distinct shapes, gold that the
text supports, and a rule teacher that reads every one of them."""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.synth import COMPOSED_SHARE, COMPOSED_STYLES, STYLES, generate_batch
from distill_assets.core.data.synth_compose import Parts, compose
from distill_assets.core.teacher.rule_teacher import GazetteerTeacher


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    return generate_batch(3000, seed=11)


def _layout(style: str) -> str:
    return style.partition("+")[0]


def test_composed_share_and_modes(batch: pd.DataFrame) -> None:
    layouts = Counter(_layout(s) for s in batch["style"])
    composed = sum(layouts[s] for s in COMPOSED_STYLES)
    assert abs(composed / len(batch) - COMPOSED_SHARE) < 0.05
    assert all(layouts[s] > 100 for s in COMPOSED_STYLES)
    assert all(layouts[s] > 50 for s in STYLES)


def _shape(row: dict[str, str]) -> str:
    """The text with its values masked: what is left is the layout."""
    text = row["text"]
    for value in (row["gold_specific_location"], row["gold_name"]):
        text = text.replace(value, "V")
    return re.sub(r"[\d\u4e00-\u9fff·()（）+\-]+", "V", text)


def test_composed_texts_are_not_a_handful_of_templates(batch: pd.DataFrame) -> None:
    rows = batch.to_dict("records")
    composed = [r for r in rows if _layout(r["style"]) in COMPOSED_STYLES]
    fixed = [r for r in rows if _layout(r["style"]) in STYLES]
    composed_shapes = {_shape(r) for r in composed[:800]}
    fixed_shapes = {_shape(r) for r in fixed[:800]}
    assert len(composed_shapes) > 3 * len(fixed_shapes), (len(composed_shapes), len(fixed_shapes))


def test_composed_gold_is_written_in_the_text(batch: pd.DataFrame) -> None:
    for r in batch.to_dict("records"):
        if _layout(r["style"]) not in COMPOSED_STYLES:
            continue
        text = r["text"]
        assert r["gold_name"] in text and r["gold_specific_location"] in text, r
        assert r["gold_phone"] in re.sub(r"\D", "", text), r


def test_compose_is_deterministic_per_seed() -> None:
    parts = Parts(("云南", "大理州", "大理市"), "人民路25号", "段丽娟", "23204753945")
    assert compose(parts, 5) == compose(parts, 5)
    assert len({compose(parts, s)[0] for s in range(50)}) > 40


def test_rule_teacher_reads_every_layout(batch: pd.DataFrame) -> None:
    """The teacher labels the student's training data: each layout, fixed or composed, at
    99% or more against gold."""
    teacher = GazetteerTeacher()
    wrong: Counter[str] = Counter()
    total: Counter[str] = Counter()
    examples: list[str] = []
    for r in batch.to_dict("records"):
        layout = _layout(r["style"])
        total[layout] += 1
        got = teacher.label(r["text"])
        if got != {f: r[f"gold_{f}"] for f in FIELDS}:
            wrong[layout] += 1
            examples.append(f"[{r['style']}] {r['text']!r} -> {got}")
    low = {k: 1 - wrong[k] / total[k] for k in total if wrong[k] / total[k] > 0.01}
    assert not low, f"{low}\n" + "\n".join(examples[:20])
