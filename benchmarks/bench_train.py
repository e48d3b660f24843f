"""Training throughput: train_lora's path vs the seed-004 recipe, same model, data and samples.

baseline  = HF Trainer + DataCollatorForSeq2Seq, batch 4, padding to the longest, random batches,
            loss through the model (logits for every position).
candidate = core.training.train_lora: length-grouped batches, dynamic padding, output head only
            at the supervised (answer) positions.

Both train the same LoRA (same r/alpha/targets/lr) on the same tokenized examples (loss on the
answer only) for one epoch; tokens/s counts non-pad tokens over the training loop's wall time.
CPU: the tiny Qwen3 (or --model smollm2-135m). CUDA: a random model with Qwen3-0.6B's published
shape, bf16, and MFU. Last line: `ratio=<x> train_tokens_per_s candidate over seed-004 baseline`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def write_dataset(out: Path, n: int, seed: int) -> Path:
    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.common.schema import FIELDS, label_to_json
    from distill_assets.core.data.synth import generate_batch

    df = generate_batch(n + 8, seed=seed)
    system = student_prompt()
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in df.itertuples(index=False):
        label = {f: str(getattr(row, f"gold_{f}")) for f in FIELDS}
        msgs = [
            {"role": "system", "content": system},
            {"role": "user", "content": str(row.text)},  # type: ignore[attr-defined]
            {"role": "assistant", "content": label_to_json(label)},
        ]
        lines.append(json.dumps({"messages": msgs}, ensure_ascii=False))
    (out / "train.messages.jsonl").write_text("\n".join(lines[:n]) + "\n", "utf-8")
    (out / "val.messages.jsonl").write_text("\n".join(lines[n:]) + "\n", "utf-8")
    return out


def build_model(spec: str, cache: Path, cuda: bool) -> str:
    from distill_assets.core.student.base_models import (
        QWEN3_0_6B_SHAPE,
        TINY_QWEN3_CONFIG,
        build_tiny_qwen3,
        resolve_base_model,
    )

    if not cuda or spec != "tiny-qwen3":
        return resolve_base_model(spec, cache, log=print)
    # CUDA: the tiny model's tokenizer with Qwen3-0.6B's shape.
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tiny = Path(resolve_base_model("tiny-qwen3", cache, log=print))
    out = cache / "qwen3-0.6b-random"
    if not (out / "config.json").is_file():
        build_tiny_qwen3(out, tokenizer_dir=tiny)
        cfg = Qwen3Config(**{**TINY_QWEN3_CONFIG, **QWEN3_0_6B_SHAPE})
        torch.manual_seed(0)
        big = Qwen3ForCausalLM(cfg)
        big.to(dtype=torch.bfloat16)  # type: ignore[call-arg]
        big.save_pretrained(str(out))
    return str(out)


def run_baseline(base: str, dataset: Path, params, out: Path) -> tuple[float, int, int]:
    """The seed-004 recipe: Trainer + DataCollatorForSeq2Seq, no length grouping."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    from distill_assets.core.student.training_data import read_messages, tokenize_rows

    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(base)
    rows = read_messages(dataset / "train.messages.jsonl")
    train, _ = tokenize_rows(tok, rows, params.max_length, "train")
    model = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch.bfloat16 if cuda else torch.float32
    )
    model = get_peft_model(
        model,
        LoraConfig(
            r=params.r,
            lora_alpha=params.alpha,
            lora_dropout=params.dropout,
            target_modules=params.target_modules,
            task_type="CAUSAL_LM",
        ),
    )
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=params.per_device_batch_size,
        num_train_epochs=1,
        learning_rate=params.learning_rate,
        lr_scheduler_type=params.lr_scheduler,
        bf16=cuda,
        logging_steps=10**6,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=params.seed,
        remove_unused_columns=False,
        use_cpu=not cuda,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,  # type: ignore[arg-type]
        data_collator=DataCollatorForSeq2Seq(tok, padding="longest"),
    )
    tokens = sum(len(x["input_ids"]) for x in train)
    t0 = time.perf_counter()
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0, tokens, trainer.state.global_step


def main() -> None:
    ap = argparse.ArgumentParser(description="train_lora vs the seed-004 training recipe")
    ap.add_argument("--model", default="tiny-qwen3", help="tiny-qwen3 | smollm2-135m | path")
    ap.add_argument("--samples", type=int, default=0, help="training samples (0: by device)")
    ap.add_argument("--cache", default=".cache/models")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak (H100)")
    a = ap.parse_args()

    import torch

    from distill_assets.core.student.training import train_lora
    from distill_assets.core.student.training_params import LoraParams

    cuda = torch.cuda.is_available()
    n = a.samples or (2000 if cuda else 64)
    base = build_model(a.model, Path(a.cache), cuda)
    params = replace(
        LoraParams.demo(),
        epochs=1,
        max_train_samples=None,
        max_eval_samples=8,
        eval_steps=10**6,
        save_steps=10**6,
        logging_steps=10**6,
        bf16=None,
    )
    if cuda:
        params = replace(params, per_device_batch_size=20, max_length=2048)
    print(f"bench-train: model={base} samples={n} batch={params.per_device_batch_size} cuda={cuda}")
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        root = Path(tmp)
        dataset = write_dataset(root / "data", n, seed=0)
        b_s, b_tok, b_steps = run_baseline(base, dataset, params, root / "baseline")
        b_tps = b_tok / b_s
        print(
            f"baseline  (seed-004): {b_tok} tokens {b_steps} steps in {b_s:.1f}s "
            f"= {b_tps:.0f} tok/s"
        )
        res = train_lora(
            base, dataset, root / "candidate", params, log=lambda m: None, resume=False
        )
        c_tps = res.tokens_per_s
        print(
            f"candidate (train_lora): {res.train_tokens} tokens {res.steps} steps "
            f"= {c_tps:.0f} tok/s, peak {res.peak_memory_mb:.0f} MB"
        )
        if cuda:
            from distill_assets.core.student.base_models import model_fingerprint

            n_params = model_fingerprint(base)["n_params"]
            peak = a.peak_tflops * 1e12
            # 6 * N * tokens (forward 2N, backward 4N), attention FLOPs left out.
            for name, tps in (("baseline", b_tps), ("candidate", c_tps)):
                print(f"MFU {name}: {6 * n_params * tps / peak:.3%}")
    print(f"ratio={c_tps / b_tps:.2f} train_tokens_per_s candidate over seed-004 baseline")


if __name__ == "__main__":
    main()
