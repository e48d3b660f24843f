"""The data assets on the test profile: real work, metadata, manifests, clear failures."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd

from distill_assets.core.common.lineage import read_manifest
from distill_assets.core.data.dataset_versions import register_file, register_synthetic
from distill_assets.defs.assets import raw_addresses, teacher_labels, training_dataset

DATA_ASSETS = [raw_addresses, teacher_labels, training_dataset]


def _meta(result, asset: str) -> dict:
    (mat,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in mat.metadata.items()}


def test_data_assets_on_a_synthetic_version(env):
    spec = register_synthetic(env.home, 120, seed=5, name="t-syn")
    key = env.add(spec.key)
    result = env.materialize(DATA_ASSETS, key)
    assert result.success

    raw_meta = _meta(result, "raw_addresses")
    assert raw_meta["rows"] == 120 and raw_meta["has_gold"] is True
    labels = pd.read_parquet(env.asset_dir(key, "teacher_labels") / "labels.parquet")
    assert len(labels) == 120
    assert set(labels["teacher_model"]) == {labels["teacher_model"].iloc[0]}
    assert labels["teacher_model"].iloc[0].startswith("gazetteer")

    ds_meta = _meta(result, "training_dataset")
    assert ds_meta["train_rows"] > 0 and ds_meta["test_rows"] > 0
    assert (
        ds_meta["train_rows"] + ds_meta["val_rows"] + ds_meta["test_rows"] == ds_meta["rows_kept"]
    )
    assert "|" in ds_meta["data_card"]  # a Markdown table
    for name in ("train", "val", "test"):
        assert (env.asset_dir(key, "training_dataset") / f"{name}.messages.jsonl").exists()
        assert (env.asset_dir(key, "training_dataset") / f"{name}.alpaca.jsonl").exists()

    # Lineage: each manifest names its upstream data versions, which match the upstream's own.
    raw_m = read_manifest(env.asset_dir(key, "raw_addresses"))
    lab_m = read_manifest(env.asset_dir(key, "teacher_labels"))
    ds_m = read_manifest(env.asset_dir(key, "training_dataset"))
    assert lab_m["upstream"] == {"raw_addresses": raw_m["data_version"]}
    assert ds_m["upstream"]["teacher_labels"] == lab_m["data_version"]
    assert lab_m["prompt_hash"] and lab_m["teacher_model"]
    mat = result.asset_materializations_for_node("training_dataset")[0]
    assert mat.tags and mat.tags.get("dagster/data_version") == ds_m["data_version"]

    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["training_dataset_schema"] and checks["training_dataset_no_leakage"]


def test_previews_mask_phones_and_names(env):
    spec = register_synthetic(env.home, 60, seed=6, name="t-mask")
    key = env.add(spec.key)
    result = env.materialize([raw_addresses], key)
    preview = _meta(result, "raw_addresses")["preview"]
    raw = pd.read_parquet(env.asset_dir(key, "raw_addresses") / "raw.parquet")
    for phone in raw["gold_phone"].head(5):
        assert phone not in preview
    assert "****" in preview


def test_bad_input_file_fails_clearly_and_keeps_previous_artifacts(env, tmp_path):
    good = tmp_path / "batch.jsonl"
    good.write_text(
        json.dumps({"text": "电话:23204753945:大理市人民路25号:收件者:段丽娟"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    key = env.add(register_file(env.home, good, name="batch").key)
    assert env.materialize([raw_addresses], key).success
    before = (env.asset_dir(key, "raw_addresses") / "raw.parquet").read_bytes()

    bad = tmp_path / "notext.csv"
    bad.write_text("id,body\n1,hello\n", encoding="utf-8")
    # Registered before registration read files (validate=False): raw_addresses still refuses it.
    bad_key = env.add(register_file(env.home, bad, name="bad", validate=False).key)
    result = env.materialize([raw_addresses], bad_key, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data)
    assert "text" in message and "notext" in message
    assert not env.asset_dir(bad_key, "raw_addresses").exists()
    assert (env.asset_dir(key, "raw_addresses") / "raw.parquet").read_bytes() == before


def test_unregistered_version_is_a_clear_failure(env):
    key = env.add("never-registered")
    result = env.materialize([raw_addresses], key, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "not registered" in str(failure.event_specific_data)


def test_dagster_failure_type_is_raised(env):
    key = env.add("missing-spec")
    try:
        env.materialize([raw_addresses], key)
    except dg.Failure as exc:
        assert "raw_addresses failed" in str(exc.description)
    else:
        raise AssertionError("expected dg.Failure")


def _tree_bytes(folder) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_failed_blocking_check_keeps_the_last_good_artifact(env, monkeypatch):
    """A rebuild whose blocking check fails is staged, checked, and moved aside: the previous
    training_dataset of the partition stays byte for byte, the new one is in .rejected/."""
    from distill_assets.core.evaluation import gates

    spec = register_synthetic(env.home, 80, seed=7, name="t-reject")
    key = env.add(spec.key)
    assert env.materialize(DATA_ASSETS, key).success
    folder = env.asset_dir(key, "training_dataset")
    before = _tree_bytes(folder)
    assert "lineage.json" in before and "train.messages.jsonl" in before

    def leaky(dataset_dir) -> gates.Verdict:
        return gates.Verdict("training_dataset_no_leakage", False, "1 text in train and test")

    monkeypatch.setattr(gates, "dataset_no_leakage", leaky)
    # Another split salt changes the files: the rejected build differs from the kept one.
    run_config = {"ops": {"training_dataset": {"config": {"split_salt": "another-salt"}}}}
    result = env.materialize([training_dataset], key, run_config, raise_on_error=False)
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["training_dataset_no_leakage"] is False
    assert _tree_bytes(folder) == before
    (rejected,) = (env.home / "artifacts" / key / ".rejected").iterdir()
    assert rejected.name.startswith("training_dataset-")
    assert (rejected / "lineage.json").exists() and (rejected / "train.messages.jsonl").exists()
    # No staging folder is left behind beside the artifact.
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".training_dataset.")]
    # A second rejection right after is kept beside the first, not lost in a name clash.
    again = env.materialize([training_dataset], key, run_config, raise_on_error=False)
    assert not again.success
    assert len(list((env.home / "artifacts" / key / ".rejected").iterdir())) == 2
    assert _tree_bytes(folder) == before
