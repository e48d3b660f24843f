"""training_dataset with `include_previous: true`: this version's rows and every earlier one's,
the earlier test split kept in place, every version named in the lineage and audited."""

from __future__ import annotations

import pandas as pd

from distill_assets.core.common.lineage import audit, read_manifest
from distill_assets.core.data.dataset_versions import register_synthetic
from distill_assets.defs.assets import raw_addresses, teacher_labels, training_dataset

DATA_ASSETS = [raw_addresses, teacher_labels, training_dataset]


def _dataset(env, key: str) -> pd.DataFrame:
    return pd.read_parquet(env.asset_dir(key, "training_dataset") / "dataset.parquet")


def test_training_dataset_grows_over_earlier_versions(env):
    v1 = env.add(register_synthetic(env.home, 150, seed=21, name="grow-a").key)
    assert env.materialize(DATA_ASSETS, v1).success
    v2 = env.add(register_synthetic(env.home, 150, seed=22, name="grow-b").key)
    config = {"ops": {"training_dataset": {"config": {"include_previous": True}}}}
    # Only this version: nothing of grow-a.
    assert env.materialize(DATA_ASSETS, v2).success
    alone = _dataset(env, v2)
    assert env.materialize([training_dataset], v2, run_config=config).success
    both = _dataset(env, v2)
    first = _dataset(env, v1)

    assert len(both) > len(alone) and len(both) <= len(alone) + len(first)
    assert set(both["id"].str.split("/").str[0]) == {v1, v2}
    assert both["text"].is_unique  # de-duplicated across versions
    split = dict(zip(both["text"], both["split"], strict=True))
    earlier_test = first.loc[first["split"] == "test", "text"]
    assert len(earlier_test) and {split[t] for t in earlier_test} == {"test"}

    lineage = read_manifest(env.asset_dir(v2, "training_dataset"))
    (entry,) = lineage["included_versions"]
    assert entry["version"] == v1
    assert (
        entry["training_dataset"]
        == read_manifest(env.asset_dir(v1, "training_dataset"))["data_version"]
    )
    assert lineage["params"]["include_previous"] is True
    result = audit(env.home / "artifacts", v2)
    step = next(s for s in result.steps if s["asset"] == "training_dataset")
    assert {i["asset"] for i in step["included"]} == {
        "raw_addresses",
        "teacher_labels",
        "training_dataset",
    }
    assert not [p for p in result.problems if "included" in p]
