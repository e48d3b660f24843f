"""Merging: standalone folder, tied embeddings kept, logits and greedy outputs equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill_assets.core.evaluation.gates import merged_matches_adapter
from distill_assets.core.student.merging import answer_budget, compare_merged, merge_adapter

TEXTS = [
    "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
    "收件人:王建国 天津市河西区友谊路18号 13800138000",
]


def _random_adapter(model_dir: Path, out: Path, b_scale: float = 1.0) -> Path:
    """An adapter with non-zero A and B (an untrained LoRA is an identity and proves nothing);
    `b_scale` != 1 makes the same adapter with every B scaled (a wrong merge, like a misread
    alpha)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype="auto")
    cfg = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules="all-linear",
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.mul_(5.0 * (b_scale if "lora_B" in name else 1.0))  # moves logits visibly
    peft_model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(model_dir)).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def random_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _random_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter") / "adapter")


@pytest.fixture(scope="module")
def bf16_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen3 saved in bf16, as Qwen3-0.6B ships."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("bf16") / "tiny-qwen3-bf16"
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.bfloat16)
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(out))
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    return out


@pytest.fixture(scope="module")
def bf16_merge(bf16_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """(adapter, merged folder, wrongly merged folder) on the bf16 base."""
    root = tmp_path_factory.mktemp("bf16merge")
    adapter = _random_adapter(bf16_model_dir, root / "adapter")
    res = merge_adapter(bf16_model_dir, adapter, root / "merged")
    assert res.dtype == "bfloat16"
    # The LoRA scaling (alpha / r = 2) lost: a real bug, half the adapter merged.
    wrong_adapter = _random_adapter(bf16_model_dir, root / "wrong-adapter", b_scale=0.5)
    wrong = merge_adapter(bf16_model_dir, wrong_adapter, root / "wrong")
    return adapter, res.merged_dir, wrong.merged_dir


@pytest.fixture(scope="module")
def merged_dir(tiny_model_dir: Path, random_adapter: Path, tmp_path_factory) -> Path:
    res = merge_adapter(tiny_model_dir, random_adapter, tmp_path_factory.mktemp("m") / "merged")
    assert res.tie_word_embeddings is True
    assert res.dtype == "float32"
    assert res.merged_sha256 and res.adapter_sha256
    return res.merged_dir


def test_merged_loads_without_peft_and_stays_tied(merged_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert not (merged_dir / "adapter_config.json").exists()
    cfg = json.loads((merged_dir / "config.json").read_text())
    assert cfg["tie_word_embeddings"] is True
    assert (merged_dir / "model.safetensors").is_file()
    assert (merged_dir / "generation_config.json").is_file()
    assert (merged_dir / "chat_template.jinja").is_file()
    model = AutoModelForCausalLM.from_pretrained(str(merged_dir))
    assert type(model).__name__ == "Qwen3ForCausalLM"  # not a PeftModel
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    tok = AutoTokenizer.from_pretrained(str(merged_dir))
    assert tok.eos_token == "<|im_end|>"


def test_merged_matches_base_plus_adapter(
    tiny_model_dir: Path, random_adapter: Path, merged_dir: Path
) -> None:
    cmp = compare_merged(tiny_model_dir, random_adapter, merged_dir, TEXTS, max_new_tokens=8)
    assert cmp["max_abs_logit_diff"] < 1e-4
    assert cmp["greedy_equal"] is True
    assert cmp["n_prompts"] == 2


def test_compare_detects_a_different_model(tiny_model_dir: Path, random_adapter: Path) -> None:
    # The base alone is not base + adapter: the check must see the difference.
    cmp = compare_merged(tiny_model_dir, random_adapter, tiny_model_dir, TEXTS[:1], 4)
    assert cmp["max_abs_logit_diff"] > 1e-3


def test_merge_rejects_non_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        merge_adapter(tiny_model_dir, tmp_path, tmp_path / "out")


def test_bf16_merge_passes_the_check_in_its_own_dtype(bf16_model_dir: Path, bf16_merge) -> None:
    # A correct bf16 merge differs from base+adapter by rounding (~0.05 in logits here), far
    # above the fp32 threshold: compared like with like it passes, over whole answers.
    adapter, merged, _ = bf16_merge
    cmp = compare_merged(bf16_model_dir, adapter, merged, TEXTS, max_new_tokens=48)
    assert cmp["dtype"] == "bfloat16"
    assert cmp["max_abs_logit_diff"] > 1e-3  # the fp32 threshold alone would block it
    assert cmp["rounding_logit_diff"] > 0
    assert cmp["answer_tokens"] == [48, 48]  # a random model never stops: the whole budget
    verdict = merged_matches_adapter(cmp, 1e-3)
    assert verdict.passed, verdict.detail
    assert verdict.metrics["threshold"] > 1e-3


def test_bf16_wrong_merge_still_fails(bf16_model_dir: Path, bf16_merge) -> None:
    adapter, _, wrong = bf16_merge
    cmp = compare_merged(bf16_model_dir, adapter, wrong, TEXTS, max_new_tokens=48)
    verdict = merged_matches_adapter(cmp, 1e-3)
    assert not verdict.passed, verdict.detail
    assert cmp["mean_abs_logit_diff"] > verdict.metrics["mean_threshold"]


def test_fp32_merge_keeps_the_fp32_threshold(
    tiny_model_dir: Path, random_adapter: Path, merged_dir: Path
) -> None:
    cmp = compare_merged(tiny_model_dir, random_adapter, merged_dir, TEXTS[:1], max_new_tokens=8)
    assert cmp["rounding_logit_diff"] == 0.0
    verdict = merged_matches_adapter(cmp, 1e-3)
    assert verdict.passed and verdict.metrics["threshold"] == 1e-3


def test_gate_tells_rounding_ties_from_wrong_answers() -> None:
    base = {
        "max_abs_logit_diff": 0.05,
        "rounding_logit_diff": 0.04,
        "dtype": "bfloat16",
        "mean_abs_logit_diff": 0.002,
        "rounding_mean_diff": 0.002,
    }
    tie = {
        **base,
        "greedy_equal": False,
        "greedy_mismatches": [0],
        "greedy_divergences": [{"prompt": 0, "step": 30, "ref_margin": 0.01}],
    }
    far = {**tie, "greedy_divergences": [{"prompt": 0, "step": 30, "ref_margin": 2.0}]}
    assert merged_matches_adapter(tie, 1e-3).passed
    assert not merged_matches_adapter(far, 1e-3).passed
    equal = {**base, "greedy_equal": True, "greedy_mismatches": []}
    assert merged_matches_adapter(equal, 1e-3).passed
    assert not merged_matches_adapter({**equal, "max_abs_logit_diff": 0.5}, 1e-3).passed
    assert not merged_matches_adapter({**equal, "mean_abs_logit_diff": 0.01}, 1e-3).passed


def test_answer_budget_covers_the_longest_answer(tiny_model_dir: Path) -> None:
    from distill_assets.core.common.schema import label_to_json
    from tests.conftest import DALI_LABEL

    answer = label_to_json(DALI_LABEL)
    budget = answer_budget(tiny_model_dir, ["{}", answer])
    assert budget > 16 + 16  # the old fixed 16 tokens covered not even half an answer
    from transformers import AutoTokenizer

    n = len(AutoTokenizer.from_pretrained(str(tiny_model_dir))(answer)["input_ids"])
    assert budget == n + 1 + 16


def test_build_merged_model_reads_whole_test_answers(
    tiny_model_dir: Path, random_adapter: Path, tmp_path: Path
) -> None:
    import pandas as pd

    from distill_assets.core.common.schema import label_to_json
    from distill_assets.core.student.merging import SYSTEM_PROMPT_FILE, build_merged_model
    from tests.conftest import SAMPLE_RECORDS

    rows = [{"text": t, **label, "split": "test"} for t, label in SAMPLE_RECORDS[:2]]
    ds = tmp_path / "dataset"
    ds.mkdir()
    pd.DataFrame(rows).to_parquet(ds / "dataset.parquet")
    built = build_merged_model(tiny_model_dir, random_adapter, ds, tmp_path / "merged", 2)
    answers = [label_to_json(label) for _, label in SAMPLE_RECORDS[:2]]
    assert built.comparison["max_new_tokens"] == answer_budget(tmp_path / "merged", answers)
    assert (tmp_path / "merged" / SYSTEM_PROMPT_FILE).is_file()
    assert merged_matches_adapter(built.comparison, 1e-3).passed
