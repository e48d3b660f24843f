"""Check verdicts: every one can fail, and says why."""

import json

import pandas as pd
import pytest

from distill_assets.core.evaluation.gates import (
    dataset_drop_rate as check_drop_rate,
)
from distill_assets.core.evaluation.gates import (
    dataset_no_leakage as check_no_leakage,
)
from distill_assets.core.evaluation.gates import (
    dataset_schema as check_schema,
)
from tests.label_frames import build, filler, label


def test_check_no_leakage_detects_a_leak(tmp_path):
    twin_label = filler(1)[0][2] | {"specific_location": "友谊南路0号"}
    twin = ("twin", "天津市河西区友谊南路0号 王甲子 13900000000", twin_label, "ok")
    res = build(tmp_path, [*filler(30), twin])
    assert check_no_leakage(res.out_dir).passed
    path = res.out_dir / "dataset.parquet"
    df = pd.read_parquet(path)
    split = df["split"].tolist()
    i = df["id"].tolist().index("twin")
    split[i] = "test" if split[i] != "test" else "train"
    df["split"] = split
    df.to_parquet(path, index=False)
    verdict = check_no_leakage(res.out_dir)
    ok, detail = verdict.passed, verdict.detail
    assert not ok and "name+phone" in detail


def test_check_schema_detects_tampering(tmp_path):
    res = build(tmp_path, filler(20))
    assert check_schema(res.out_dir).passed
    p = res.out_dir / "train.alpaca.jsonl"
    lines = p.read_text("utf-8").splitlines(keepends=True)
    rec = json.loads(lines[0])
    rec["output"] = json.dumps({"province": "x"})
    lines[0] = json.dumps(rec, ensure_ascii=False) + "\n"
    p.write_text("".join(lines), "utf-8")
    verdict = check_schema(res.out_dir)
    ok, detail = verdict.passed, verdict.detail
    assert not ok and "train.alpaca.jsonl line 1" in detail
    (res.out_dir / "val.messages.jsonl").unlink()
    assert not check_schema(res.out_dir).passed


def test_check_drop_rate_accepts_result_manifest_and_path(tmp_path):
    rows = filler(8) + [("bad", "x 1", label("", "", "", "", "", ""), "error")] * 1
    res = build(tmp_path, rows)
    assert res.drop_rate == pytest.approx(1 / 9, abs=1e-6)
    assert check_drop_rate(res, 0.2).passed
    verdict = check_drop_rate(res, 0.05)
    ok, detail = verdict.passed, verdict.detail
    assert not ok and "teacher_failed=1" in detail
    assert check_drop_rate(res.out_dir, 0.2).passed
    assert not check_drop_rate(res.out_dir / "manifest.json", 0.05).passed
    assert check_drop_rate(res.manifest(), 0.2).passed


def test_check_schema_reads_the_writers_files_without_parsing_each_line(tmp_path, monkeypatch):
    """Files byte for byte as the writer makes them pass without the per-line check; a file
    written otherwise (here: the same records with other spacing) gets the per-line check."""
    from distill_assets.core.evaluation import gates

    res = build(tmp_path, filler(20))
    seen: list[str] = []
    real = gates._check_record

    def spy(kind, line, *args):
        seen.append(kind)
        return real(kind, line, *args)

    monkeypatch.setattr(gates, "_check_record", spy)
    assert check_schema(res.out_dir).passed and seen == []
    p = res.out_dir / "train.alpaca.jsonl"
    lines = p.read_text("utf-8").splitlines()
    p.write_text(
        "".join(
            json.dumps(json.loads(x), indent=None, separators=(",", ":"), ensure_ascii=False) + "\n"
            for x in lines
        ),
        "utf-8",
    )
    assert check_schema(res.out_dir).passed and "alpaca" in seen
