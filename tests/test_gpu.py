"""CUDA paths (make test-gpu on a GPU box): bf16 training, merge in the base's dtype, batched
generation on the device. Skipped where torch sees no CUDA device."""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def test_bf16_training_merge_and_generation_on_cuda(tiny_model_dir, tiny_messages_dir, tmp_path):
    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.student.inference import load_backend
    from distill_assets.core.student.merging import compare_merged, merge_adapter
    from distill_assets.core.student.training import train_lora
    from distill_assets.core.student.training_params import LoraParams

    params = replace(LoraParams.test(), max_steps=8, bf16=None)
    train = train_lora(tiny_model_dir, tiny_messages_dir, tmp_path / "lora", params)
    assert train.lineage["device"] == "cuda" and train.lineage["bf16"] is True
    assert train.last_loss < train.first_loss
    assert train.peak_memory_mb > 0

    merged = merge_adapter(tiny_model_dir, train.adapter_dir, tmp_path / "merged")
    assert merged.tie_word_embeddings
    from distill_assets.core.evaluation.gates import merged_matches_adapter

    comparison = compare_merged(
        tiny_model_dir, train.adapter_dir, merged.merged_dir, ["李娜 15912345678"], 32
    )
    verdict = merged_matches_adapter(comparison, 1e-3)
    assert verdict.passed, verdict.detail

    backend = load_backend("transformers", merged.merged_dir, max_new_tokens=8, batch_size=4)
    try:
        assert backend.info["device"] == "cuda"
        texts = ["收件人:王建国 天津市河西区友谊路18号 13800138000", "李娜 15912345678"]
        gens = backend.generate([(student_prompt(), t) for t in texts])
        assert len(gens) == 2 and all(1 <= g.tokens_out <= 8 for g in gens)
        assert gens[0].tokens_in > gens[1].tokens_in  # input order kept (longer text first)
    finally:
        backend.close()


def test_gpu_check_script_on_cuda(tiny_model_dir, capsys):
    # The tiny shape through benchmarks/gpu_check.py on the device: MFU and memory reported.
    from benchmarks import gpu_check

    argv = ["--shape", "tiny", "--steps", "4", "--batch", "4", "--accumulation", "1",
            "--train-samples", "32", "--eval-rows", "16", "--max-new-tokens", "16",
            "--compare", "2", "--tokenizer-dir", str(tiny_model_dir)]  # fmt: skip
    assert gpu_check.main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "parity=pass" in last and "peak_gpu_gib=" in last
