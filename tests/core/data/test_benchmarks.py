"""Frozen gold benchmarks: registered once, refused when changed, read back for every eval."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.benchmarks import (
    add_benchmark,
    add_unseen_styles,
    load_benchmarks,
    unseen_styles_file,
)
from distill_assets.core.data.input_formats import InputError
from distill_assets.core.evaluation.history import benchmark_history
from tests.conftest import DALI_LABEL, DALI_TEXT


def _file(path, rows: int = 3, **extra) -> None:
    frame = pd.DataFrame([{"text": DALI_TEXT + str(i), **DALI_LABEL, **extra} for i in range(rows)])
    frame.to_json(path, orient="records", lines=True, force_ascii=False)


def test_add_benchmark_plain_field_names_and_frozen(tmp_path) -> None:
    src = tmp_path / "gold.jsonl"
    _file(src)
    meta = add_benchmark(tmp_path / "home", "shop-a", src)
    assert meta["rows"] == 3
    assert add_benchmark(tmp_path / "home", "shop-a", src) == meta  # same content: a no-op
    (bench,) = load_benchmarks(tmp_path / "home")
    assert bench.name == "shop-a" and bench.sha256 == meta["sha256"]
    assert bench.golds[0] == DALI_LABEL and bench.texts[2] == DALI_TEXT + "2"
    _file(src, rows=4)
    with pytest.raises(ValueError, match="frozen"):
        add_benchmark(tmp_path / "home", "shop-a", src)


def test_add_benchmark_refuses_unlabelled_files_and_bad_names(tmp_path) -> None:
    src = tmp_path / "texts.jsonl"
    pd.DataFrame({"text": [DALI_TEXT]}).to_json(src, orient="records", lines=True)
    with pytest.raises(InputError, match="six fields"):
        add_benchmark(tmp_path / "home", "b", src)
    with pytest.raises(ValueError, match="benchmark name"):
        add_benchmark(tmp_path / "home", "../x", src)
    assert load_benchmarks(tmp_path / "home") == []


def _metrics(exact: float, when: str) -> dict:
    s = {"exact_match": exact, "valid_json_rate": 1.0, "field_accuracy": dict.fromkeys(FIELDS)}
    return {
        "evaluated_at": when,
        "benchmarks": {"b": {"n": 3, "sha256": "x", "tuned": s, "tuned_raw": s}},
    }


def test_history_lists_the_latest_versions_with_the_current_one(tmp_path) -> None:
    for i, v in enumerate(["v1", "v2", "v3"]):
        d = tmp_path / v / "eval_report"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(_metrics(0.1 * i, f"2026-01-0{i + 1}")))
    rows = benchmark_history(tmp_path, "b", current=("v3", _metrics(0.9, "2026-02-01")), latest=2)
    assert [(r["version"], r["exact_match"]) for r in rows] == [("v2", 0.1), ("v3", 0.9)]
    assert benchmark_history(tmp_path, "other") == []


def test_the_unseen_styles_benchmark_holds_only_settled_rows(tmp_path) -> None:
    meta = add_unseen_styles(tmp_path / "home")
    lines = unseen_styles_file().read_text("utf-8").splitlines()
    flagged = sum(json.loads(x).get("status", "ok") != "ok" for x in lines if x.strip())
    assert flagged > 0 and meta["rows"] == sum(1 for x in lines if x.strip()) - flagged
    (bench,) = load_benchmarks(tmp_path / "home")
    assert bench.name == "unseen_styles" and all(g["province"] for g in bench.golds)
    assert add_unseen_styles(tmp_path / "home") == meta  # registering twice is a no-op
