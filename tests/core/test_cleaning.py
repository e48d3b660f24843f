import json
import random
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from distill_assets.core.common.compare import disagreement_rate
from distill_assets.core.common.normalize import (
    normalize_array,
    normalize_phone,
    normalize_phone_array,
    normalize_text,
)
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.dataset.clean import CleaningParams, DatasetError, build_training_dataset
from distill_assets.core.dataset.split import _components
from distill_assets.core.evaluation.gates import (
    dataset_drop_rate as check_drop_rate,
)
from distill_assets.core.evaluation.gates import (
    dataset_no_leakage as check_no_leakage,
)
from distill_assets.core.evaluation.gates import (
    dataset_schema as check_schema,
)

# A tiny stand-in gazetteer: (province, city, district) official names and their short forms.
OFFICIAL = [
    ("云南省", "大理白族自治州", "大理市"),
    ("天津市", "天津市", "河西区"),
    ("浙江省", "杭州市", "西湖区"),
]
SHORT = {
    "云南": "云南省",
    "大理": "大理白族自治州",
    "天津": "天津市",
    "浙江": "浙江省",
    "杭州": "杭州市",
}


def canon(p: str, c: str, d: str) -> tuple[str, str, str] | None:
    p, c = SHORT.get(p, p), SHORT.get(c, c)
    hits = [o for o in OFFICIAL if (not p or o[0] == p) and (not c or o[1] == c)]
    hits = [o for o in hits if not d or o[2] == d]
    return hits[0] if len(hits) == 1 else None


def small_params(**kw) -> CleaningParams:
    return CleaningParams(**{"test_size": 2, "val_fraction": 0.1, **kw})


def label(p, c, d, loc, name, phone) -> dict[str, str]:
    return dict(zip(FIELDS, (p, c, d, loc, name, phone), strict=True))


def frames(rows: Sequence[tuple[str, str, dict | None, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """rows: (id, text, label or None for "no label row", status)."""
    raw = pd.DataFrame({"id": [r[0] for r in rows], "text": [r[1] for r in rows]})
    raw["source"] = "test"
    raw["style"] = ""
    lab = []
    for rid, text, lb, status in rows:
        if lb is not None:
            lab.append({"id": rid, "text": text, **lb, "status": status, "error": ""})
    labels = pd.DataFrame(lab).astype({f: object for f in FIELDS})
    return raw, labels


GOOD_TEXT = "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟"
GOOD = label("云南", "", "大理市", "人民路25号 大理古城国际酒店 3号楼", "段丽娟", "232-0475-3945")


def filler(n: int, start: int = 0) -> list[tuple[str, str, dict, str]]:
    """n distinct, valid rows (different people) in 天津."""
    out = []
    for i in range(start, start + n):
        phone = f"139{i:08d}"
        name = "王" + "甲乙丙丁戊己庚辛壬癸"[i % 10] + "子丑寅卯辰巳午未申酉"[i // 10 % 10]
        loc = f"友谊路{i}号"
        text = f"天津市河西区{loc} {name} {phone}"
        out.append((f"f{i}", text, label("天津", "天津", "河西区", loc, name, phone), "ok"))
    return out


def build(tmp_path, rows, **kw):
    raw, labels = frames(rows)
    params = kw.pop("params", small_params())
    return build_training_dataset(
        raw, labels, tmp_path / "ds", params, canonicalize=kw.pop("canonicalize", canon), **kw
    )


def kept_frame(result) -> pd.DataFrame:
    return pd.read_parquet(result.out_dir / "dataset.parquet")


# --------------------------------------------------------------------------- normalisation


def test_normalize_text_and_phone():
    assert normalize_text("\u3000电话：２３２\t\n０４  ＡＢ\u200b ") == "电话:232 04 AB"
    assert normalize_text("①号楼 ²") == "①号楼 ²"  # not full NFKC
    assert normalize_phone("+86 232-0475-3945") == "23204753945"
    assert normalize_phone("8613800138000") == "13800138000"
    assert normalize_phone("0086-13800138000") == "13800138000"
    assert normalize_phone("0871-65123456") == "087165123456"


def test_vectorised_normalisation_equals_scalar():
    rng = random.Random(7)
    pool = list("大理市人民路 25号ＡＢ１２：，\u3000\u00a0\t\n\u200b①²ﬁ㈱⼈丽娟\x1f\u2003") + [
        "e\u0301"
    ]
    values = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    assert normalize_array(values).to_pylist() == [normalize_text(v) for v in values]
    few = values[:40] * 200  # few distinct values: the dictionary path
    assert normalize_array(few).to_pylist() == [normalize_text(v) for v in few]
    phones = ["+86 138-0013-8000", "８６１３８００１３８０００", "(0871)6512", ""] * 300
    assert normalize_phone_array(phones).to_pylist() == [normalize_phone(v) for v in phones]


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
    assert set(manifest["files"]) == set(res.files) and len(res.files) == 8
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


def test_components_chain_links_through_both_keys():
    text = np.array([0, 0, 1, 2, 3])  # rows 0,1 share a text
    person = np.array([-1, 5, 5, -1, 6])  # rows 1,2 share name+phone
    comp = _components([text, person])
    assert comp[0] == comp[1] == comp[2]
    assert len({comp[0], comp[3], comp[4]}) == 3


def test_split_is_deterministic_grouped_and_sized(tmp_path):
    rows = filler(200)
    # pairs of different texts for the same person: each pair must share a split
    for k in range(30):
        i = 3 * k
        _, text, lb, _ = rows[i]
        loc = lb["specific_location"].replace("友谊路", "友谊南路")
        rows.append(
            (f"twin{k}", text.replace("友谊路", "友谊南路"), lb | {"specific_location": loc}, "ok")
        )
    params = CleaningParams(test_size=40, val_fraction=0.05)
    raw, labels = frames(rows)
    r1 = build_training_dataset(raw, labels, tmp_path / "a", params, canonicalize=canon)
    shuffled = raw.sample(frac=1, random_state=3)
    r2 = build_training_dataset(shuffled, labels, tmp_path / "b", params, canonicalize=canon)
    d1 = dict(zip(kept_frame(r1)["id"], kept_frame(r1)["split"], strict=True))
    d2 = dict(zip(kept_frame(r2)["id"], kept_frame(r2)["split"], strict=True))
    assert d1 == d2  # content decides, not row order
    r3 = build_training_dataset(raw, labels, tmp_path / "c", params, canonicalize=canon)
    assert r3.dataset_sha256 == r1.dataset_sha256
    for k in range(30):
        assert d1[f"twin{k}"] == d1[f"f{3 * k}"]
    assert r1.counts["kept"] == 230
    assert 40 <= r1.counts["test"] <= 41 and r1.counts["val"] >= 11
    assert r1.counts["train"] == 230 - r1.counts["test"] - r1.counts["val"]
    other = build_training_dataset(
        raw,
        labels,
        tmp_path / "d",
        CleaningParams(test_size=40, split_salt="x"),
        canonicalize=canon,
    )
    d3 = dict(zip(kept_frame(other)["id"], kept_frame(other)["split"], strict=True))
    assert d3 != d1  # another salt draws another split


def test_small_batch_keeps_most_rows_for_training(tmp_path):
    res = build(tmp_path, filler(10), params=CleaningParams())  # test_size 400 > batch
    assert res.counts["test"] == 2 and res.counts["val"] == 1 and res.counts["train"] == 7


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


def test_disagreement_rate():
    a = pd.DataFrame([{"id": "1", **GOOD}, {"id": "2", **GOOD}, {"id": "3", **GOOD}])
    b = a.copy()
    b.loc[1, "name"] = "别人"
    b.loc[2, "phone"] = "+86 23204753945"  # same after normalisation
    assert disagreement_rate(a, b) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="share no id"):
        disagreement_rate(a, b.assign(id=["x", "y", "z"]))


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
