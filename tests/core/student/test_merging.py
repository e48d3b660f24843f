"""Merging: standalone folder, tied embeddings kept, logits and greedy outputs equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill_assets.core.student.merging import compare_merged, merge_adapter

TEXTS = [
    "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
    "收件人:王建国 天津市河西区友谊路18号 13800138000",
]


@pytest.fixture(scope="module")
def random_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter with non-zero A and B (an untrained LoRA is an identity and proves nothing)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
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
                p.mul_(5.0)  # large enough to move the logits visibly
    out = tmp_path_factory.mktemp("adapter") / "adapter"
    peft_model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(out))
    return out


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
