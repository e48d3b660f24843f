"""The whole graph on the test profile: six assets for a small synthetic version."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from distill_assets.core.common.lineage import audit, read_manifest
from distill_assets.core.data.dataset_versions import register_synthetic
from distill_assets.core.evaluation import score as evaluation
from distill_assets.defs.assets import ALL_ASSETS

pytestmark = pytest.mark.slow


def _meta(result, asset: str) -> dict:
    (mat,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in mat.metadata.items()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests.defs.conftest import Env

    env = Env(tmp_path_factory.mktemp("e2e") / "home")
    spec = register_synthetic(env.home, 160, seed=11, name="e2e")
    key = env.add(spec.key)
    result = env.materialize(ALL_ASSETS, key)
    assert result.success
    return env, key, result


def test_all_six_materialised(run):
    env, key, result = run
    for asset in ALL_ASSETS:
        name = asset.key.to_user_string()
        assert result.asset_materializations_for_node(name), name
        assert read_manifest(env.asset_dir(key, name))["version"] == key


def test_training_loss_went_down(run):
    env, key, result = run
    meta = _meta(result, "lora_adapter")
    assert meta["last_loss"] < meta["first_loss"]
    log = [
        json.loads(line)
        for line in (env.asset_dir(key, "lora_adapter") / "loss_log.jsonl").read_text().splitlines()
    ]
    losses = [r["loss"] for r in log if r.get("loss") is not None]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    assert "data:image/png;base64," in meta["train_loss"]


def test_merged_model_loads_without_peft_and_matches(run):
    env, key, result = run
    merged = env.asset_dir(key, "merged_model")
    code = (
        "import sys; sys.modules['peft'] = None\n"
        "from transformers import AutoModelForCausalLM\n"
        f"m = AutoModelForCausalLM.from_pretrained({str(merged)!r})\n"
        "print(type(m).__name__, m.config.tie_word_embeddings)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0].endswith("ForCausalLM")
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check = checks["merged_model_matches_adapter"]
    assert check.passed
    assert check.metadata["max_abs_logit_diff"].value < 1e-3


def test_report_numbers_equal_a_recount(run):
    env, key, result = run
    out = env.asset_dir(key, "eval_report")
    metrics = json.loads((out / "metrics.json").read_text())
    for model in ("base", "tuned"):
        again = evaluation.recount(out / f"predictions_{model}.jsonl", view=metrics["judged"])
        for k in ("n", "valid_json_rate", "exact_match"):
            assert again[k] == pytest.approx(metrics[model][k]), (model, k)
        for field, acc in again["field_accuracy"].items():
            assert acc == pytest.approx(metrics[model]["field_accuracy"][field])
    meta = _meta(result, "eval_report")
    assert meta["tuned_exact_pct"] == pytest.approx(100 * metrics["tuned"]["exact_match"])
    assert "exact" in meta["report"].lower()


def test_eval_metadata_opens_with_the_headline(run):
    """What a person reads first: figures as percentages, the chart, then hashes."""
    env, key, result = run
    meta = _meta(result, "eval_report")
    keys = list(meta)
    assert keys[:4] == ["headline", "tuned_exact_pct", "tuned_raw_exact_pct", "base_exact_pct"]
    assert keys.index("per_field") < keys.index("report") < keys.index("lineage")
    assert keys.index("report") < keys.index("packages")  # the skeleton's lineage keys last
    assert isinstance(meta["tuned_exact_pct"], float) and "->" in meta["headline"]
    curve = json.loads((env.asset_dir(key, "eval_report") / "metrics.json").read_text())[
        "learning_curve"
    ]
    assert [p["step"] for p in curve] == [12, 24]  # the test preset: 24 steps, 2 points
    assert all(p["n"] == 4 and 0.0 <= p["exact_match"] <= 1.0 for p in curve)


def test_audit_verifies_and_catches_an_altered_file(run):
    env, key, _ = run
    artifacts = env.home / "artifacts"
    assert audit(artifacts, key).ok
    target = env.asset_dir(key, "training_dataset") / "test.alpaca.jsonl"
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\n")
        bad = audit(artifacts, key)
        assert not bad.ok
        assert any("test.alpaca.jsonl" in p for p in bad.problems)
    finally:
        target.write_bytes(original)
    assert audit(artifacts, key).ok
