"""LoRA training on the tiny Qwen3: the loss drops, every artifact is written, a kill resumes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from distill_assets.core.student.learning_curve import read_learning_curve
from distill_assets.core.student.training import TrainingInterrupted, interrupt_after, train_lora
from distill_assets.core.student.training_data import read_messages
from distill_assets.core.student.training_log import loss_rows
from distill_assets.core.student.training_params import LoraParams

FAST = replace(LoraParams.test(), max_steps=6, save_steps=3, eval_steps=3, logging_steps=1)


def test_presets() -> None:
    seeds = LoraParams.seeds_recipe()
    assert (seeds.r, seeds.alpha, seeds.learning_rate, seeds.epochs) == (8, 32, 1e-4, 10)
    assert (seeds.per_device_batch_size, seeds.gradient_accumulation) == (20, 16)
    assert (seeds.warmup_ratio, seeds.max_length, seeds.bf16) == (0.05, 2048, True)
    assert seeds.target_modules == "all-linear"
    demo = LoraParams.demo()
    assert (demo.r, demo.alpha, demo.learning_rate, demo.lr_scheduler) == (16, 32, 1e-3, "cosine")
    assert demo.per_device_batch_size == 4
    assert LoraParams.for_profile("test") == LoraParams.test()
    with pytest.raises(ValueError, match="unknown profile"):
        LoraParams.for_profile("nope")


def test_read_messages_names_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "train.messages.jsonl"
    good = {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}
    path.write_text(json.dumps(good) + "\n" + '{"messages": [{"role": "user"}]}\n')
    with pytest.raises(ValueError, match=r"train\.messages\.jsonl:2"):
        read_messages(path)


def test_loss_rows_merges_train_and_eval() -> None:
    rows = loss_rows(
        [
            {"loss": 2.0, "learning_rate": 0.1, "epoch": 0.5, "step": 1},
            {"eval_loss": 1.5, "epoch": 0.5, "step": 1},
            {"loss": 1.0, "learning_rate": 0.1, "epoch": 1.0, "step": 2},
            {"train_runtime": 3.0, "step": 2},
        ]
    )
    assert rows == [
        {"step": 1, "loss": 2.0, "eval_loss": 1.5, "lr": 0.1, "epoch": 0.5},
        {"step": 2, "loss": 1.0, "eval_loss": None, "lr": 0.1, "epoch": 1.0},
    ]


def test_train_lora_lowers_loss_and_writes_artifacts(
    tiny_model_dir: Path, tiny_messages_dir: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    res = train_lora(tiny_model_dir, tiny_messages_dir, tmp_path / "run", FAST, log=lines.append)
    assert res.steps == 6
    assert res.last_loss < res.first_loss - 0.1, (res.first_loss, res.last_loss)
    assert res.final_eval_loss == res.final_eval_loss  # not NaN
    assert (res.adapter_dir / "adapter_config.json").is_file()
    assert (res.adapter_dir / "adapter_model.safetensors").is_file()
    assert (res.adapter_dir / "tokenizer.json").is_file()
    for png in (res.train_loss_png, res.eval_loss_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(x) for x in res.loss_log.read_text().splitlines()]
    assert {"step", "loss", "eval_loss", "lr", "epoch"} <= set(rows[0])
    assert any(r["eval_loss"] is not None for r in rows)
    summary = json.loads(res.summary_json.read_text())
    assert summary["adapter_sha256"] == res.adapter_sha256
    assert summary["lineage"]["base_model"]["model_type"] == "qwen3"
    assert res.train_tokens > 0 and res.tokens_per_s > 0 and res.peak_memory_mb > 0
    assert res.params["r"] == FAST.r
    assert any("tokens/s=" in line for line in lines)
    # The test preset asks for a learning curve: 2 points over the 6 steps, on 4 val rows.
    curve = read_learning_curve(tmp_path / "run")
    assert curve == res.learning_curve
    assert [p["step"] for p in curve] == [3, 6]
    assert [p["examples"] for p in curve] == [3 * FAST.per_device_batch_size, 24]
    assert all(p["n"] >= 1 and 0.0 <= p["raw_exact_match"] <= p["exact_match"] <= 1 for p in curve)


def test_lora_on_the_top_layers_only(tiny_model_dir: Path, tiny_messages_dir: Path, tmp_path):
    params = replace(FAST, max_steps=1, lora_layers=1, curve_rows=None)
    train_lora(tiny_model_dir, tiny_messages_dir, tmp_path / "run", params)
    config = json.loads((tmp_path / "run" / "adapter" / "adapter_config.json").read_text())
    from transformers import AutoConfig

    layers = AutoConfig.from_pretrained(tiny_model_dir).num_hidden_layers
    assert config["layers_to_transform"] == [layers - 1]
    assert not (tmp_path / "run" / "learning_curve.json").exists()


def test_resume_after_interrupt(
    tiny_model_dir: Path, tiny_messages_dir: Path, tmp_path: Path
) -> None:
    from transformers import TrainerCallback

    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train_lora(tiny_model_dir, tiny_messages_dir, out, FAST, callbacks=[interrupt_after(4)])
    assert (out / "checkpoints" / "checkpoint-3").is_dir()
    assert not (out / "adapter").exists()

    seen: list[int] = []

    class Steps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[override]
            seen.append(state.global_step)

    res = train_lora(tiny_model_dir, tiny_messages_dir, out, FAST, callbacks=[Steps()])
    assert res.resumed_from_step == 3
    assert seen == [4, 5, 6]  # continued from the checkpoint, not from step 0
    assert res.steps == 6
    steps = [json.loads(x)["step"] for x in res.loss_log.read_text().splitlines()]
    assert steps[0] == 1 and steps[-1] == 6  # history before the kill is kept

    # Different params: the stale checkpoints are not resumed.
    res2 = train_lora(
        tiny_model_dir, tiny_messages_dir, out, replace(FAST, max_steps=1, save_steps=1)
    )
    assert res2.resumed_from_step is None and res2.steps == 1


@pytest.mark.slow
def test_train_and_merge_smollm2(
    smollm2_dir: Path, tiny_messages_dir: Path, tmp_path: Path
) -> None:
    from distill_assets.core.student.merging import compare_merged, merge_adapter

    params = replace(
        LoraParams.demo(),
        max_steps=3,
        max_train_samples=12,
        max_eval_samples=4,
        save_steps=3,
        logging_steps=1,
        learning_rate=1e-3,
    )
    res = train_lora(smollm2_dir, tiny_messages_dir, tmp_path / "run", params)
    assert res.steps == 3 and res.last_loss < res.first_loss
    merged = merge_adapter(smollm2_dir, res.adapter_dir, tmp_path / "merged")
    assert merged.tie_word_embeddings is True
    cmp = compare_merged(smollm2_dir, res.adapter_dir, merged.merged_dir, ["李娜 杭州市西湖区"], 4)
    assert cmp["max_abs_logit_diff"] < 1e-3 and cmp["greedy_equal"]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_packed_rows_do_not_attend_across_examples(tiny_model_dir: Path, dtype: str) -> None:
    """One packed row gives each example the logits it gets alone: attention stays inside
    each example, in the dtype the real model trains in."""
    import torch
    from transformers import AutoModelForCausalLM

    from distill_assets.core.student.training_data import PackCollator, PadCollator

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=getattr(torch, dtype))
    model.eval()
    feats = [
        {"input_ids": ids, "labels": [-100, -100, *ids[2:]], "attention_mask": [1] * len(ids)}
        for ids in ([11, 12, 13, 14, 15], [21, 22, 23], [31, 32, 33, 34])
    ]
    packed = PackCollator()(feats)
    assert packed["input_ids"].shape == (1, 12) and "attention_mask" not in packed
    assert packed["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3]]
    assert packed["labels"][0, [0, 5, 8]].tolist() == [-100, -100, -100]
    tol = 1e-4 if dtype == "float32" else 2e-2
    with torch.no_grad():
        together = model(**packed, use_cache=False).logits
        start = 0
        for f in feats:
            alone = model(input_ids=torch.tensor([f["input_ids"]])).logits[0]
            n = len(f["input_ids"])
            assert torch.allclose(together[0, start : start + n].float(), alone.float(), atol=tol)
            start += n
        # The padded layout reads the same examples: the same loss over the same labels.
        padded = PadCollator(0)(feats)
        loss_pad = model(**padded).loss
        loss_pack = model(**packed, use_cache=False).loss
    assert abs(float(loss_pad) - float(loss_pack)) < tol * 10


def test_train_lora_with_packing(tiny_model_dir: Path, tiny_messages_dir: Path, tmp_path):
    params = replace(FAST, max_steps=2, packing=True, curve_rows=None)
    res = train_lora(tiny_model_dir, tiny_messages_dir, tmp_path / "run", params)
    assert res.steps == 2 and res.train_tokens > 0
    assert res.params["packing"] is True
