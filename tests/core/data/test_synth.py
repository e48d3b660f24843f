"""The synthetic generator: columns, reproducibility, coverage, gold consistency, and the
gazetteer teacher's baseline accuracy against gold (the student must beat it)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.synth import (
    ADDRESS_FORMS,
    COLUMNS,
    COMPOSED_STYLES,
    STYLES,
    generate_batch,
)
from distill_assets.core.regions.canonical import canonicalize_region
from distill_assets.core.regions.tables import MUNICIPALITIES
from distill_assets.core.teacher.rule_teacher import GazetteerTeacher


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    return generate_batch(2000, seed=1)


@pytest.fixture(scope="module")
def rows(batch: pd.DataFrame) -> list[dict[str, str]]:
    return [{str(k): v for k, v in r.items()} for r in batch.to_dict("records")]


def test_columns_and_ids(batch: pd.DataFrame, rows: list[dict[str, str]]) -> None:
    assert tuple(batch.columns) == COLUMNS
    assert COLUMNS == ("id", "text", "source", "style", *(f"gold_{f}" for f in FIELDS))
    assert len(rows) == 2000
    assert {r["source"] for r in rows} == {"synthetic"}
    assert rows[0]["id"] == "syn-1-0000000"
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert all(isinstance(v, str) for v in r.values()), r


def test_reproducible_and_seeded() -> None:
    a = generate_batch(300, seed=5)
    pd.testing.assert_frame_equal(a, generate_batch(300, seed=5))
    b = generate_batch(300, seed=6)
    same = sum(x == y for x, y in zip(a["text"].tolist(), b["text"].tolist(), strict=True))
    assert same <= 3


def test_no_duplicate_texts(rows: list[dict[str, str]]) -> None:
    assert len({r["text"] for r in rows}) == len(rows)


def test_coverage_of_provinces_styles_and_forms(rows: list[dict[str, str]]) -> None:
    assert len({r["gold_province"] for r in rows}) == 31
    assert {r["style"].partition("+")[0] for r in rows} == set(STYLES) | set(COMPOSED_STYLES)
    forms = {r["style"].partition("+")[2] for r in rows} - {""}
    assert forms == set(ADDRESS_FORMS) - {"full"}
    assert len(STYLES) >= 12


def test_gold_follows_label_convention(rows: list[dict[str, str]]) -> None:
    for r in rows:
        triple = (r["gold_province"], r["gold_city"], r["gold_district"])
        assert canonicalize_region(*triple) == triple, r
        if r["gold_province"] in MUNICIPALITIES:
            assert r["gold_city"] == r["gold_province"]
        assert re.fullmatch(r"\d{11}", r["gold_phone"]), r
        assert r["gold_specific_location"] in r["text"], r
        assert r["gold_name"] in r["text"], r
        assert r["gold_phone"] in re.sub(r"\D", "", r["text"]), r


def test_omitted_levels_are_inferable(rows: list[dict[str, str]]) -> None:
    seen = set()
    for r in rows:
        form = r["style"].partition("+")[2]
        p, c, d = r["gold_province"], r["gold_city"], r["gold_district"]
        text = r["text"]
        if form == "district_only":
            assert p not in text and c not in text, r
            assert canonicalize_region("", "", d) == (p, c, d), r
        elif form == "no_province" and p not in MUNICIPALITIES:
            assert p not in text, r
            assert canonicalize_region("", c, d) == (p, c, d), r
        elif form == "no_city" and p not in MUNICIPALITIES:
            assert c not in text, r
            assert canonicalize_region(p, "", d) == (p, c, d), r
        else:
            continue
        seen.add(form)
    assert seen == {"district_only", "no_province", "no_city"}


def test_seed_styles_are_rendered(rows: list[dict[str, str]]) -> None:
    seed = [r["text"] for r in rows if r["style"].startswith("seed_colon")]
    assert seed and all(
        re.fullmatch(r"电话:[^:]+:[^:]+:(收件者|收件人|收货人):[^:]+", t) for t in seed
    )
    comma = [r["text"] for r in rows if r["style"].startswith("seed_comma_mobile")]
    assert comma and all(re.search(r"[,，] ?接收人.+[,，] ?MOBILE[:：]", t) for t in comma)
    assert any(re.search(r"\+86[ -]", r["text"]) for r in rows)
    assert any(r["gold_name"][:2] in ("欧阳", "慕容", "司马", "诸葛", "上官") for r in rows)


def test_edge_sizes() -> None:
    empty = generate_batch(0)
    assert tuple(empty.columns) == COLUMNS and len(empty) == 0
    assert len(generate_batch(1, seed=3)) == 1
    with pytest.raises(ValueError):
        generate_batch(-1)


def test_gazetteer_teacher_baseline_on_synthetic(rows: list[dict[str, str]]) -> None:
    teacher = GazetteerTeacher()
    wrong = []
    for r in rows:
        got = teacher.label(r["text"])
        if got != {f: r[f"gold_{f}"] for f in FIELDS}:
            wrong.append(f"{r['id']} [{r['style']}] {r['text']!r} -> {got}")
    exact = 1 - len(wrong) / len(rows)
    assert exact >= 0.97, f"exact {exact:.3f}:\n" + "\n".join(wrong[:30])


def test_names_and_streets_are_open_vocabulary(rows: list[dict[str, str]]) -> None:
    """Names and streets come from the gazetteer's ~1,300 place-name characters as well as the
    short lists, so a student learns to copy them rather than to recall the lists."""
    from distill_assets.core.data.synth_parts import _GIVEN, _ROAD_STEMS, _SURNAME_TOP

    listed = set("".join(_GIVEN)) | set(_SURNAME_TOP) | set("".join(_ROAD_STEMS))
    name_chars = {ch for r in rows for ch in r["gold_name"]}
    street_chars = {ch for r in rows for ch in r["gold_specific_location"]}
    assert len(name_chars - listed) > 500
    assert len(street_chars - listed) > 500
