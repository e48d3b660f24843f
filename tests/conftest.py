"""Shared fixtures: the tiny Qwen3 student (built once per session) and a small chat dataset."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The seeds' example and its label (docs/CONVENTIONS.md: the label convention).
DALI_TEXT = "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟"
DALI_LABEL: dict[str, str] = {
    "province": "云南省",
    "city": "大理白族自治州",
    "district": "大理市",
    "specific_location": "人民路25号 大理古城国际酒店 3号楼",
    "name": "段丽娟",
    "phone": "23204753945",
}
# A few real-looking records in the label convention, for datasets in tests.
SAMPLE_RECORDS: tuple[tuple[str, dict[str, str]], ...] = (
    (DALI_TEXT, DALI_LABEL),
    (
        "收件人:王建国 天津市河西区友谊路18号 13800138000",
        {
            "province": "天津市",
            "city": "天津市",
            "district": "河西区",
            "specific_location": "友谊路18号",
            "name": "王建国",
            "phone": "13800138000",
        },
    ),
    (
        "浙江省杭州市西湖区文三路90号 李娜 电话 15912345678",
        {
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "specific_location": "文三路90号",
            "name": "李娜",
            "phone": "15912345678",
        },
    ),
    (
        "广东省深圳市南山区科技园南区8栋 张伟 18688886666",
        {
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "specific_location": "科技园南区8栋",
            "name": "张伟",
            "phone": "18688886666",
        },
    ),
)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Qwen3ForCausalLM with the real Qwen3 tokenizer, built once per session."""
    from distill_assets.core.student.base_models import build_tiny_qwen3

    root = tmp_path_factory.mktemp("models")
    return build_tiny_qwen3(root / "tiny-qwen3", seed=0)


@pytest.fixture(scope="session")
def tiny_merged_dir(
    tiny_model_dir: Path, tiny_messages_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """What `merged_model` writes: the tiny Qwen3 + a briefly trained LoRA, merged. Greedy
    decoding of the untrained random model sits on near-ties that two correct kernels break
    differently; a few steps of training give it margins."""
    from dataclasses import replace

    from distill_assets.core.student.merging import merge_adapter
    from distill_assets.core.student.training import train_lora
    from distill_assets.core.student.training_params import LoraParams

    out = tmp_path_factory.mktemp("tiny-merged")
    params = replace(LoraParams.test(), max_steps=4, eval_steps=4, save_steps=4)
    train = train_lora(tiny_model_dir, tiny_messages_dir, out / "lora", params)
    return merge_adapter(tiny_model_dir, train.adapter_dir, out / "merged").merged_dir


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as an fp32 HF folder; converted once (~30 s) into .cache/ and reused
    by later sessions. Only slow tests use it."""
    from distill_assets.core.student.base_models import prepare_smollm2

    return prepare_smollm2(Path(__file__).resolve().parents[1] / ".cache" / "models")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def write_messages_dataset(out_dir: Path, n_train: int = 32, n_val: int = 8, seed: int = 0) -> Path:
    """train/val.messages.jsonl (as the training_dataset asset writes them) from SAMPLE_RECORDS.

    Phone numbers are varied so rows differ; the answer is always the canonical label JSON.
    """
    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.common.schema import label_to_json

    rng = random.Random(seed)
    system = student_prompt()
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("val", n_val)):
        lines = []
        for i in range(n):
            text, label = SAMPLE_RECORDS[i % len(SAMPLE_RECORDS)]
            phone = "1" + "".join(str(rng.randrange(10)) for _ in range(10))
            text = text.replace(label["phone"], phone)
            label = {**label, "phone": phone}
            msgs = [
                {"role": "system", "content": system},
                {"role": "user", "content": text},
                {"role": "assistant", "content": label_to_json(label)},
            ]
            lines.append(json.dumps({"messages": msgs}, ensure_ascii=False))
        (out_dir / f"{split}.messages.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    return out_dir


@pytest.fixture(scope="session")
def tiny_messages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small training_dataset-like folder with train/val messages JSONL."""
    return write_messages_dataset(tmp_path_factory.mktemp("dataset") / "dataset")
