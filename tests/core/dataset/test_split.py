"""The leakage-free split: grouped, deterministic, sized."""

import numpy as np

from distill_assets.core.dataset.clean import CleaningParams, build_training_dataset
from distill_assets.core.dataset.split import _components
from tests.label_frames import build, canon, filler, frames, kept_frame


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
