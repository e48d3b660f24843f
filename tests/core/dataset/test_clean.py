import json

import pandas as pd
import pytest

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.dataset.clean import CleaningParams, DatasetError, build_training_dataset
from distill_assets.core.evaluation.gates import (
    dataset_no_leakage as check_no_leakage,
)
from distill_assets.core.evaluation.gates import (
    dataset_schema as check_schema,
)
from tests.label_frames import (
    GOOD,
    GOOD_TEXT,
    build,
    canon,
    filler,
    frames,
    kept_frame,
    label,
    small_params,
)

# --------------------------------------------------------------------------- normalisation


# --------------------------------------------------------------------------- cleaning rules


def test_each_rule_drops_with_its_reason_and_keeps_canonical_rows(tmp_path):
    fill = filler(12)
    fw_text = "电话：１３９００００００９９，杭州西湖区文三路１号，李四"
    fw_label = label("浙江省", "杭州", "西湖区", "文三路1号", "李四", "+86 139-0000-0099")
    dup_text = fill[1][1].replace(" ", "\u3000 ", 1)  # same text once normalised
    rows = [
        ("good", GOOD_TEXT, GOOD, "ok"),
        ("fullwidth", fw_text, fw_label, "repaired"),
        ("failed", "x 13812345678", label("", "", "", "", "", ""), "invalid_json"),
        ("nolabel", "没有标签的文本 13812345679", None, ""),
        ("schema", "张三 13812345670 西湖区文三路1号", GOOD | {"name": None}, "ok"),
        ("emptytext", "   ", GOOD, "ok"),
        ("region", GOOD_TEXT.replace("段丽娟", "段丽"), GOOD | {"province": "浙江"}, "ok"),
        ("required", GOOD_TEXT + " ", GOOD | {"name": ""}, "ok"),
        ("phone", GOOD_TEXT + "。", GOOD | {"phone": "13999999999"}, "ok"),
        ("name", GOOD_TEXT + "!", GOOD | {"name": "赵敏"}, "ok"),
        ("loc", GOOD_TEXT + "?", GOOD | {"specific_location": "解放路9号"}, "ok"),
        *fill,
        ("dup", dup_text, fill[1][2], "ok"),
    ]
    res = build(tmp_path, rows)
    assert res.drop_reasons == {
        "teacher_failed": 1,
        "missing_label": 1,
        "invalid_schema": 1,
        "empty_text": 1,
        "region_inconsistent": 1,
        "empty_required_field": 1,
        "phone_not_in_text": 1,
        "name_not_in_text": 1,
        "location_not_in_text": 1,
        "duplicate_text": 1,
    }
    assert res.counts["input"] == len(rows)
    assert res.counts["kept"] == len(rows) - 10 == 14
    assert res.drop_rate == pytest.approx(10 / len(rows), abs=1e-6)
    df = kept_frame(res).set_index("id")
    assert set(df.index) == {"good", "fullwidth", *(f"f{i}" for i in range(12))}
    g = df.loc["good"]
    assert (g["province"], g["city"], g["district"]) == ("云南省", "大理白族自治州", "大理市")
    assert g["phone"] == "23204753945" and g["name"] == "段丽娟"
    fw = df.loc["fullwidth"]
    assert fw["text"] == "电话:13900000099,杭州西湖区文三路1号,李四"  # normalised text is stored
    assert (fw["province"], fw["city"], fw["phone"]) == ("浙江省", "杭州市", "13900000099")
    assert df.loc["f1", "text"] == fill[1][1]  # the first of the two duplicates is kept
    for name in ("train", "val", "test"):
        assert (tmp_path / "ds" / f"{name}.alpaca.jsonl").is_file()
    assert check_schema(res.out_dir).passed
    assert check_no_leakage(res.out_dir).passed


def test_outputs_are_consistent_and_manifest_records_lineage(tmp_path):
    res = build(tmp_path, [("good", GOOD_TEXT, GOOD, "ok"), *filler(20)])
    manifest = json.loads((res.out_dir / "manifest.json").read_text("utf-8"))
    assert manifest["counts"] == res.counts
    assert manifest["dataset_sha256"] == res.dataset_sha256
    # 8 dataset files + review.parquet and review.csv (issue 14)
    assert set(manifest["files"]) == set(res.files) and len(res.files) == 10
    assert manifest["params"]["test_size"] == 2
    assert manifest["lineage"]["raw_sha256"] and manifest["lineage"]["student_prompt_hash"]
    assert set(manifest["field_coverage"]) == set(FIELDS)
    total = 0
    for split in ("train", "val", "test"):
        lines = (res.out_dir / f"{split}.messages.jsonl").read_text("utf-8").splitlines()
        assert len(lines) == res.counts[split]
        total += len(lines)
        for line in lines:
            answer = json.loads(json.loads(line)["messages"][2]["content"])
            assert list(answer) == list(FIELDS)
    assert total == res.counts["kept"] == 21
    card = (res.out_dir / "data_card.md").read_text("utf-8")
    assert "| train |" in card


def test_teacher_vs_gold_is_measured(tmp_path):
    rows = [("good", GOOD_TEXT, GOOD, "ok"), *filler(9)]
    raw, labels = frames(rows)
    tianjin = {"province": "天津市", "city": "天津市", "district": "河西区"}
    gold = {r[0]: dict(r[2]) | tianjin for r in rows}  # gold uses official names
    gold["good"] = label(
        "云南省", "大理白族自治州", "大理市", GOOD["specific_location"], "段丽娟", "23204753945"
    )
    gold["f0"] = dict(gold["f0"], name="别人")  # the teacher is wrong on one row's name
    for f in FIELDS:
        raw[f"gold_{f}"] = [gold[i][f] for i in raw["id"]]
    res = build_training_dataset(raw, labels, tmp_path / "ds", small_params(), canonicalize=canon)
    vs = res.teacher_vs_gold
    assert vs is not None
    # as given, the teacher wrote short region names ("云南", "天津"): wrong before cleaning
    assert vs["answered"]["rows"] == 10
    assert vs["answered"]["per_field"]["name"] == pytest.approx(0.9)
    assert vs["answered"]["per_field"]["province"] == 0.0
    assert vs["answered"]["per_field"]["phone"] == 1.0  # 232-0475-3945 normalised
    # after cleaning the regions are official; f0 still disagrees on the name
    assert vs["kept"]["exact"] == pytest.approx(0.9)
    assert vs["kept"]["per_field"]["province"] == 1.0
    df = kept_frame(res)
    assert {f"gold_{f}" for f in FIELDS} <= set(df.columns)
    assert "Teacher vs gold" in (res.out_dir / "data_card.md").read_text("utf-8")


def test_no_gold_gives_none(tmp_path):
    assert build(tmp_path, filler(10)).teacher_vs_gold is None


# --------------------------------------------------------------------------- split


def test_too_few_training_rows_raises_and_writes_nothing(tmp_path):
    rows = filler(5)
    with pytest.raises(DatasetError, match="training rows"):
        build(tmp_path, rows, params=small_params(min_train_rows=50))
    assert not (tmp_path / "ds").exists()


def test_bad_frames_fail_loudly(tmp_path):
    raw, labels = frames(filler(5))
    with pytest.raises(DatasetError, match="lacks columns"):
        build_training_dataset(
            raw, labels.drop(columns=["phone"]), tmp_path / "x", canonicalize=canon
        )
    dup = pd.concat([raw, raw.head(1)])
    with pytest.raises(DatasetError, match="duplicate ids"):
        build_training_dataset(dup, labels, tmp_path / "x", canonicalize=canon)
    other = labels.copy()
    other.loc[0, "text"] = "完全不同的文本"
    with pytest.raises(DatasetError, match="f0"):
        build_training_dataset(raw, other, tmp_path / "x", canonicalize=canon)


def test_data_card_masks_names_and_phones(tmp_path):
    res = build(
        tmp_path,
        [("good", GOOD_TEXT, GOOD, "ok"), *filler(4)],
        params=small_params(card_examples=50),
    )
    card = (res.out_dir / "data_card.md").read_text("utf-8")
    df = kept_frame(res)
    for _, row in df[df["split"] == "train"].iterrows():
        assert row["phone"] not in card
        assert row["name"] not in card
        assert row["phone"][:3] + "****" + row["phone"][-4:] in card
        assert row["name"][0] + "*" * (len(row["name"]) - 1) in card


def test_real_gazetteer_on_synthetic_batch(tmp_path):
    from distill_assets.core.data.synth import generate_batch

    raw = generate_batch(300, seed=5)
    labels = pd.DataFrame({"id": raw["id"], "text": raw["text"], "status": "ok"})
    for f in FIELDS:
        labels[f] = raw[f"gold_{f}"]
    # a wrong region and an invented name, as a teacher might produce
    labels.loc[0, "district"] = "不存在区"
    labels.loc[1, "name"] = "查无此人"
    res = build_training_dataset(raw, labels, tmp_path / "ds", CleaningParams(test_size=30))
    assert res.drop_reasons.get("region_inconsistent", 0) == 1
    assert res.drop_reasons.get("name_not_in_text", 0) == 1
    assert res.counts["kept"] == 298
    assert res.teacher_vs_gold is not None and res.teacher_vs_gold["kept"]["exact"] == 1.0
    assert check_schema(res.out_dir).passed and check_no_leakage(res.out_dir).passed


def test_review_statuses_are_counted_and_written_to_the_review_file(tmp_path):
    """ambiguous / conflict / no_region never train: each is its own drop reason and the rows
    land in review.parquet and review.csv beside the dataset, with the teacher's candidates."""
    from distill_assets.core.dataset.folder import read_review

    amb = label("", "", "朝阳区", "建国路88号", "陈小春", "13910001234")
    rows = [
        ("good", GOOD_TEXT, GOOD, "ok"),
        ("amb", "朝阳区建国路88号 陈小春 13910001234", amb, "ambiguous"),
        ("con", "山西省朝阳区建国路1号 张三 13800001111", label("", "", "", "建国路1号", "张三",
                                                                "13800001111"), "conflict"),
        ("nor", "北京路88号 赵六 13600004444", label("", "", "", "北京路88号", "赵六",
                                                     "13600004444"), "no_region"),
        ("failed", "x 13812345678", label("", "", "", "", "", ""), "invalid_json"),
        *filler(8),
    ]  # fmt: skip
    raw, labels = frames(rows)
    candidates = "candidates 北京市/北京市/朝阳区; 吉林省/长春市/朝阳区"
    labels.loc[labels["id"] == "amb", "error"] = candidates
    res = build_training_dataset(raw, labels, tmp_path / "ds", small_params(), canonicalize=canon)
    assert res.drop_reasons == {"ambiguous": 1, "conflict": 1, "no_region": 1, "teacher_failed": 1}
    assert "amb" not in set(kept_frame(res)["id"])
    review = read_review(res.out_dir)
    assert sorted(review["id"]) == ["amb", "con", "nor"]  # failures are counted, not reviewed
    got = review.set_index("id")
    assert got.loc["amb", "status"] == "ambiguous"
    assert "吉林省/长春市/朝阳区" in got.loc["amb", "detail"]
    assert got.loc["amb", "text"].startswith("朝阳区建国路88号")
    assert got.loc["nor", "specific_location"] == "北京路88号"
    csv_bytes = (res.out_dir / "review.csv").read_bytes()
    assert csv_bytes.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM as written
    back = pd.read_csv(res.out_dir / "review.csv", encoding="utf-8-sig", dtype=str)
    assert sorted(back["id"]) == ["amb", "con", "nor"]
    manifest = json.loads((res.out_dir / "manifest.json").read_text("utf-8"))
    assert manifest["review"] == {
        "rows": 3,
        "statuses": {"ambiguous": 1, "conflict": 1, "no_region": 1},
    }
    assert {"review.parquet", "review.csv"} <= set(manifest["files"])
    assert check_schema(res.out_dir).passed


def test_review_file_exists_when_nothing_needs_review(tmp_path):
    from distill_assets.core.dataset.folder import read_review

    res = build(tmp_path, [("good", GOOD_TEXT, GOOD, "ok"), *filler(8)])
    review = read_review(res.out_dir)
    assert len(review) == 0 and "detail" in review.columns
    assert res.review_counts == {}
