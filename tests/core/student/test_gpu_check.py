"""`make gpu-check` is known to run: its main on CPU with the tiny shape and tiny sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import gpu_check


def test_gpu_check_runs_end_to_end_on_cpu(tiny_model_dir: Path, capsys) -> None:
    rc = gpu_check.main(
        [
            "--shape", "tiny", "--steps", "2", "--batch", "2", "--accumulation", "1",
            "--train-samples", "8", "--eval-rows", "4", "--eval-batch", "4",
            "--max-new-tokens", "8", "--compare", "1", "--no-vllm",
            "--tokenizer-dir", str(tiny_model_dir),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert rc == 0, out[-2000:]
    assert last.startswith("gpu-check: parity=pass train_tokens_per_s=")
    assert "eval_transformers_samples_per_s=" in last and "mfu=n/a" in last
    assert "parity: pass: bfloat16:" in out  # the model really is bf16, checked as such


@pytest.mark.parametrize(
    ("name", "peak"), [("NVIDIA H200", 989.0), ("NVIDIA A100-SXM4-80GB", 312.0)]
)
def test_card_peak(name: str, peak: float) -> None:
    assert gpu_check.card_peak_tflops(name) == peak
    assert gpu_check.card_peak_tflops("Some GPU") is None
