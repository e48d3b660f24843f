"""A dataset over this and every earlier version: de-duplicated across versions, a test split
that stays fixed once drawn, lineage that names every version and an audit that follows it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from distill_assets.core.common.lineage import asset_dir, audit, write_manifest
from distill_assets.core.dataset.clean import CleaningParams, DatasetError, build_training_dataset
from distill_assets.core.dataset.cumulative import build_with_previous
from distill_assets.core.dataset.split import pin_codes
from tests.label_frames import canon, filler, frames

PARAMS = CleaningParams(test_size=20, val_fraction=0.05)


def _put_version(root: Path, version: str, rows) -> None:
    """raw_addresses and teacher_labels artifacts of `version`, with their manifests."""
    raw, labels = frames(rows)
    raw_dir, lab_dir = (asset_dir(root, version, a) for a in ("raw_addresses", "teacher_labels"))
    raw_dir.mkdir(parents=True)
    lab_dir.mkdir(parents=True)
    raw.to_parquet(raw_dir / "raw.parquet", index=False)
    labels.to_parquet(lab_dir / "labels.parquet", index=False)
    write_manifest(raw_dir, asset="raw_addresses", version=version, code_version="t")
    up = {"raw_addresses": "x"}
    write_manifest(lab_dir, asset="teacher_labels", version=version, code_version="t", upstream=up)


def _put_dataset(root: Path, version: str, rows, params: CleaningParams) -> pd.DataFrame:
    """The training_dataset of `version` alone, as the asset writes it."""
    raw, labels = frames(rows)
    out = asset_dir(root, version, "training_dataset")
    build_training_dataset(raw, labels, out, params, canonicalize=canon)
    write_manifest(out, asset="training_dataset", version=version, code_version="t")
    return pd.read_parquet(out / "dataset.parquet")


def _build(root: Path, earlier, current: str, params: CleaningParams = PARAMS):
    out = asset_dir(root, current, "training_dataset")
    result, included = build_with_previous(root, earlier, current, out, params, canonicalize=canon)
    return result, included, pd.read_parquet(out / "dataset.parquet")


def test_rows_of_every_version_once_earliest_kept(tmp_path):
    _put_version(tmp_path, "v1", filler(100))
    _put_version(tmp_path, "v2", filler(100, start=50))  # f50..f99 again, then f100..f149
    result, included, ds = _build(tmp_path, ["v1"], "v2")
    assert result.counts["input"] == 200
    assert result.counts["kept"] == 150
    assert result.drop_reasons == {"duplicate_text": 50}
    by_text = dict(zip(ds["text"], ds["id"], strict=True))
    repeated = filler(100, start=50)[0][1]  # f50's text, in both versions
    assert by_text[repeated] == "v1/f50"  # the earliest version keeps it
    assert ds["id"].is_unique and set(ds["id"].str.split("/").str[0]) == {"v1", "v2"}
    assert [e["version"] for e in included] == ["v1"]
    assert included[0]["raw_addresses"] and included[0]["teacher_labels"]
    assert "training_dataset" not in included[0]  # v1 had no dataset built: nothing pinned


def test_an_earlier_test_split_stays_test(tmp_path):
    _put_version(tmp_path, "v1", filler(200))
    first = _put_dataset(tmp_path, "v1", filler(200), CleaningParams(test_size=20))
    _put_version(tmp_path, "v2", filler(300, start=200))
    # Another salt would draw other rows: only the pins keep v1's split in place.
    params = CleaningParams(test_size=40, val_fraction=0.05, split_salt="another")
    result, included, ds = _build(tmp_path, ["v1"], "v2", params)
    split = dict(zip(ds["text"], ds["split"], strict=True))
    was = dict(zip(first["text"], first["split"], strict=True))
    assert {split[t] for t, s in was.items() if s == "test"} == {"test"}
    assert all(split[t] != "test" for t, s in was.items() if s != "test")
    assert all(split[t] == s for t, s in was.items() if s == "val")
    assert result.counts["test"] == 40  # the rest of the quota drawn from new rows
    assert included[0]["training_dataset"]

    # Rebuilt without pins the same salt moves rows of v1's test into train.
    raw = pd.concat([frames(filler(200))[0], frames(filler(300, start=200))[0]])
    labels = pd.concat([frames(filler(200))[1], frames(filler(300, start=200))[1]])
    free = build_training_dataset(raw, labels, tmp_path / "free", params, canonicalize=canon)
    free_split = dict(
        zip(
            *(pd.read_parquet(free.out_dir / "dataset.parquet")[c] for c in ("text", "split")),
            strict=True,
        )
    )
    assert any(free_split[t] == "train" for t, s in was.items() if s == "test")


def test_test_rows_pinned_through_a_chain_of_versions(tmp_path):
    _put_version(tmp_path, "v1", filler(100))
    first = _put_dataset(tmp_path, "v1", filler(100), CleaningParams(test_size=10))
    _put_version(tmp_path, "v2", filler(100, start=100))
    _build(tmp_path, ["v1"], "v2", CleaningParams(test_size=15, split_salt="b"))
    write_manifest(
        asset_dir(tmp_path, "v2", "training_dataset"),
        asset="training_dataset",
        version="v2",
        code_version="t",
    )
    _put_version(tmp_path, "v3", filler(100, start=200))
    _, included, ds = _build(tmp_path, ["v1", "v2"], "v3", CleaningParams(test_size=5))
    split = dict(zip(ds["text"], ds["split"], strict=True))
    assert {split[t] for t in first.loc[first["split"] == "test", "text"]} == {"test"}
    assert [e["version"] for e in included] == ["v1", "v2"]
    assert int((ds["split"].to_numpy() == "test").sum()) >= 15  # v2's test holds v1's


def test_a_group_touching_an_earlier_test_row_goes_to_test(tmp_path):
    _put_version(tmp_path, "v1", filler(60))
    first = _put_dataset(tmp_path, "v1", filler(60), CleaningParams(test_size=5))
    test_id = first.loc[first["split"] == "test", "id"].iloc[0]
    i = int(test_id[1:])
    _, text, lb, status = filler(60)[i]
    twin = text.replace("友谊路", "友谊南路")  # another text, the same name+phone
    loc = lb["specific_location"].replace("友谊路", "友谊南路")
    _put_version(tmp_path, "v2", [("t1", twin, lb | {"specific_location": loc}, status)])
    _, _, ds = _build(tmp_path, ["v1"], "v2", CleaningParams(test_size=5, split_salt="other"))
    assert ds.loc[ds["id"] == "v2/t1", "split"].item() == "test"
    assert ds.loc[ds["id"] == f"v1/{test_id}", "split"].item() == "test"


def test_a_missing_earlier_artifact_is_a_clear_error(tmp_path):
    _put_version(tmp_path, "v2", filler(20))
    with pytest.raises(DatasetError, match="'v1' has no raw_addresses"):
        _build(tmp_path, ["v1"], "v2")


def test_pin_codes_prefer_test_then_val():
    previous = pa.table({"key": ["a", "a", "b", "c"], "split": ["train", "test", "val", "train"]})
    got = pin_codes(pa.array(["a", "b", "c", "d"], type=pa.large_string()), previous)
    assert got is not None and got.tolist() == [0, 1, 2, -1]
    assert pin_codes(pa.array(["a"], type=pa.large_string()), None) is None


def test_audit_follows_the_included_versions(tmp_path):
    _put_version(tmp_path, "v1", filler(50))
    _put_version(tmp_path, "v2", filler(50, start=50))
    _, included, _ = _build(tmp_path, ["v1"], "v2")
    ds_dir = asset_dir(tmp_path, "v2", "training_dataset")
    from distill_assets.core.common.lineage import upstream_versions

    up = upstream_versions(tmp_path, "v2", ("raw_addresses", "teacher_labels"))
    write_manifest(
        ds_dir,
        asset="training_dataset",
        version="v2",
        code_version="t",
        upstream=up,
        extra={"included_versions": included},
    )
    ok = audit(tmp_path, "v2")
    step = next(s for s in ok.steps if s["asset"] == "training_dataset")
    assert {(i["version"], i["asset"]) for i in step["included"]} == {
        ("v1", "raw_addresses"),
        ("v1", "teacher_labels"),
    }
    assert not [p for p in ok.problems if "included" in p]

    raw_file = asset_dir(tmp_path, "v1", "raw_addresses") / "raw.parquet"
    raw_file.write_bytes(raw_file.read_bytes() + b"x")
    bad = audit(tmp_path, "v2")
    assert any("included v1/raw_addresses: altered file" in p for p in bad.problems)
    assert np.all([s["asset"] != "v1" for s in bad.steps])
