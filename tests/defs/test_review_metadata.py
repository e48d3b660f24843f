"""Issue 14: rows the teacher cannot settle reach the UI as a review file, not as training."""

from __future__ import annotations

import json

import pandas as pd

from distill_assets.core.data.dataset_versions import register_file
from distill_assets.defs.assets import raw_addresses, teacher_labels, training_dataset

UNSETTLED = {
    "朝阳区建国路88号 陈小春 13910001234": "ambiguous",
    "山西省朝阳区建国路1号 张三 13800001111": "conflict",
    "北京路88号 赵六 13600004444": "no_region",
}


def test_training_dataset_shows_the_review_file(env, tmp_path):
    names = "甲乙丙丁戊己庚辛"
    texts = [f"天津市河西区友谊路{i}号 王{names[i]}明 1390000{i:04d}" for i in range(8)]
    texts += list(UNSETTLED)
    path = tmp_path / "batch.jsonl"
    path.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), "utf-8"
    )
    key = env.add(register_file(env.home, path, name="review").key)
    result = env.materialize([raw_addresses, teacher_labels, training_dataset], key)
    assert result.success
    (mat,) = result.asset_materializations_for_node("training_dataset")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["review_rows"] == 3
    assert "ambiguous=1" in meta["review_file"] and "review.csv" in meta["review_file"]
    assert meta["drop_reasons"] == {"ambiguous": 1, "conflict": 1, "no_region": 1}
    folder = env.asset_dir(key, "training_dataset")
    review = pd.read_parquet(folder / "review.parquet")
    assert dict(zip(review["text"], review["status"], strict=True)) == UNSETTLED
    assert (folder / "review.csv").is_file()
    kept = pd.read_parquet(folder / "dataset.parquet")
    assert not set(kept["text"]) & set(UNSETTLED)
