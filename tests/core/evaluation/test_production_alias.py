"""The production alias: promote only what passed the gate, atomically, with a rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill_assets.core.common.lineage import ASSET_CHAIN
from distill_assets.core.evaluation import production as prod
from tests.production_chain import fake_version


def test_promote_points_the_alias_at_a_frozen_copy(tmp_path: Path):
    fake_version(tmp_path, "v1")
    current = prod.promote(tmp_path, "v1", reason="first model")
    assert current["version"] == "v1" and current["reason"] == "first model"
    assert current["gate"] == "tuned exact match beats base" and current["previous"] == []
    link = tmp_path / "production" / "model"
    assert link.is_symlink() and link.resolve() == Path(current["model_path"]).resolve()
    assert (link / "config.json").read_text("utf-8") == '{"model_type": "qwen3"}'
    # The eval's decoding goes with the model, for `distill predict` to decode alike by default.
    decoding = {"json_constrained": True, "grounded": True, "canonicalize": True}
    assert current["decoding"] == decoding
    assert json.loads((link / "decoding.json").read_text("utf-8")) == decoding
    assert prod.read_current(tmp_path) == current
    # A rebuild of the partition later does not change what production holds.
    (tmp_path / "artifacts" / "v1" / "merged_model" / "config.json").unlink()
    assert (link / "config.json").exists()


def test_a_version_that_failed_the_gate_is_not_promoted(tmp_path: Path):
    fake_version(tmp_path, "bad", passed=False)
    with pytest.raises(prod.PromotionError, match="did not pass the promotion gate"):
        prod.promote(tmp_path, "bad", reason="try")
    assert prod.read_current(tmp_path) is None
    assert not (tmp_path / "production" / "model").exists()


def test_an_altered_artifact_is_not_promoted(tmp_path: Path):
    fake_version(tmp_path, "v1")
    (tmp_path / "artifacts" / "v1" / "training_dataset" / "data.txt").write_text("x", "utf-8")
    with pytest.raises(prod.PromotionError, match="altered file"):
        prod.promote(tmp_path, "v1", reason="try")


def test_rollback_restores_the_previous_model(tmp_path: Path):
    fake_version(tmp_path, "v1")
    fake_version(tmp_path, "v2", tuned=0.9)
    first = prod.promote(tmp_path, "v1", reason="first")
    second = prod.promote(tmp_path, "v2", reason="better")
    assert [p["version"] for p in second["previous"]] == ["v1"]
    back = prod.rollback(tmp_path, reason="v2 misbehaves")
    assert back["version"] == "v1" and back["rolled_back_from"] == "v2"
    assert back["model_path"] == first["model_path"] and back["previous"] == []
    assert (tmp_path / "production" / "model").resolve() == Path(first["model_path"]).resolve()
    with pytest.raises(prod.PromotionError, match="nothing to roll back"):
        prod.rollback(tmp_path)
    history = (tmp_path / "production" / "history.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(h)["action"] for h in history] == ["promote", "promote", "rollback"]


def test_chain_of_the_model_in_production(tmp_path: Path):
    with pytest.raises(prod.PromotionError, match="no model in production"):
        prod.production_chain(tmp_path)
    fake_version(tmp_path, "v1")
    prod.promote(tmp_path, "v1", reason="first")
    chain = prod.production_chain(tmp_path)
    assert chain.ok, chain.problems
    links = dict(chain.links)
    assert tuple(name for name, _ in chain.links) == ASSET_CHAIN
    assert links["raw_addresses"]["file_sha256"] == "v1-sha"
    assert links["teacher_labels"]["teacher_model"] == "qwen3-235b-a22b"
    assert links["teacher_labels"]["prompt_hash"] == "abc123def456"
    assert links["eval_report"]["tuned_exact_match"] == 0.8
    snapshot = Path(chain.record["model_path"]) / "config.json"
    snapshot.unlink()
    snapshot.write_text("tampered", "utf-8")
    assert any("altered file" in p for p in prod.production_chain(tmp_path).problems)
