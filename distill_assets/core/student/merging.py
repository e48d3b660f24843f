"""Merge a LoRA adapter into its base: a standalone HF folder that loads without peft."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import (
    atomic_dir,
    atomic_write_text,
    package_versions,
    sha256_dir,
)
from distill_assets.core.common.log import Logger, null_log


@dataclass
class MergeResult:
    merged_dir: Path
    merged_sha256: str
    adapter_sha256: str
    dtype: str
    tie_word_embeddings: bool
    n_params: int
    wall_s: float
    lineage: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


def _embeddings_tied(model: Any) -> bool:
    out_emb, in_emb = model.get_output_embeddings(), model.get_input_embeddings()
    if out_emb is None or in_emb is None:
        return False
    return out_emb.weight.data_ptr() == in_emb.weight.data_ptr()


def merge_adapter(
    base_model: str | Path, adapter_dir: Path, out_dir: Path, log: Logger = null_log
) -> MergeResult:
    """base + adapter -> `out_dir` (safetensors, tokenizer, chat template, generation config).

    Merged in the base's own dtype. A base with tied embeddings (Qwen3-0.6B) must stay tied:
    LoRA on linear layers never touches the shared matrix, and anything else is an error.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distill_assets.core.student.base_models import model_fingerprint

    t0 = time.perf_counter()
    base_model, adapter_dir, out_dir = str(base_model), Path(adapter_dir), Path(out_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter_dir}: adapter_config.json missing (not a PEFT adapter)")
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype="auto")
    dtype = next(base.parameters()).dtype
    want_tied = bool(getattr(base.config, "tie_word_embeddings", False))
    log(f"merge: base={base_model} dtype={dtype} tied={want_tied} adapter={adapter_dir}")
    peft_model = PeftModel.from_pretrained(base, str(adapter_dir))
    merged = peft_model.merge_and_unload()
    merged.eval()
    if want_tied and not (merged.config.tie_word_embeddings and _embeddings_tied(merged)):
        raise ValueError(f"{adapter_dir}: merging untied lm_head from embed_tokens in {base_model}")
    n_params = sum(p.numel() for p in merged.parameters())  # tied weights counted once
    tok_dir = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else base_model
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    with atomic_dir(out_dir) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / "distill_merge.json").write_text(
            json.dumps(
                {"base_model": base_model, "adapter_sha256": sha256_dir(adapter_dir)}, indent=2
            ),
            "utf-8",
        )
    if (out_dir / "adapter_config.json").exists():
        raise RuntimeError(f"{out_dir}: merged folder still holds an adapter config")
    result = MergeResult(
        merged_dir=out_dir,
        merged_sha256=sha256_dir(out_dir),
        adapter_sha256=sha256_dir(adapter_dir),
        dtype=str(dtype).removeprefix("torch."),
        tie_word_embeddings=bool(
            json.loads((out_dir / "config.json").read_text()).get("tie_word_embeddings", False)
        ),
        n_params=n_params,
        wall_s=time.perf_counter() - t0,
        lineage={
            "base_model": model_fingerprint(base_model),
            "merged_model": model_fingerprint(out_dir),
            "tokenizer_from": str(tok_dir),
            "versions": package_versions(),
        },
    )
    if want_tied and not result.tie_word_embeddings:
        raise ValueError(f"{out_dir}/config.json lost tie_word_embeddings")
    log(f"merge: saved {out_dir} ({n_params:,} params, {result.dtype}) in {result.wall_s:.1f}s")
    return result


def compare_merged(
    base_model: str | Path,
    adapter_dir: Path,
    merged_dir: Path,
    prompts: list[str],
    max_new_tokens: int = 16,
    system: str | None = None,
) -> dict[str, Any]:
    """Merged model vs base + adapter on the same prompts, both in fp32.

    `prompts` are user texts, rendered with the chat template (system defaults to the student
    prompt). Returns max_abs_logit_diff over every prompt position, greedy_equal (the greedy
    continuations of `max_new_tokens` are identical) and the indices that differ.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.student.chat_template import encode_prompt

    if not prompts:
        raise ValueError("compare_merged needs at least one prompt")
    system = student_prompt() if system is None else system
    tokenizer = AutoTokenizer.from_pretrained(str(merged_dir))
    ref = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32),
        str(adapter_dir),
    ).eval()
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32).eval()
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    max_diff, mismatches = 0.0, []
    with torch.inference_mode():
        for i, text in enumerate(prompts):
            ids = torch.tensor([encode_prompt(tokenizer, system, text)])
            mask = torch.ones_like(ids)
            a = ref(input_ids=ids, attention_mask=mask).logits
            b = merged(input_ids=ids, attention_mask=mask).logits
            max_diff = max(max_diff, float((a - b).abs().max()))
            gen = {
                "attention_mask": mask,
                "max_new_tokens": max_new_tokens,
                "do_sample": False,
                "eos_token_id": eos,
                "pad_token_id": pad,
            }
            ga = ref.generate(input_ids=ids, **gen)  # type: ignore[operator]
            gb = merged.generate(input_ids=ids, **gen)  # type: ignore[attr-defined]
            if ga.shape != gb.shape or not torch.equal(ga, gb):
                mismatches.append(i)
    return {
        "max_abs_logit_diff": max_diff,
        "greedy_equal": not mismatches,
        "greedy_mismatches": mismatches,
        "n_prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        "dtype": "float32",
    }


# Written beside the weights: the system prompt the student was trained with (`distill predict`
# and a served model read it from the model folder).
SYSTEM_PROMPT_FILE = "system_prompt.txt"


@dataclass
class MergedModel:
    merge: MergeResult
    comparison: dict[str, Any]
    fingerprint: dict[str, Any]
    base_model_path: str


def build_merged_model(
    base_model: str | Path,
    adapter_dir: Path,
    dataset_dir: Path,
    out_dir: Path,
    compare_samples: int,
    log: Logger = null_log,
) -> MergedModel:
    """Merge, save the student's system prompt beside it, and compare it with base+adapter on
    the first test texts of the dataset it was trained on."""
    from distill_assets.core.dataset.folder import dataset_student_prompt, read_dataset
    from distill_assets.core.student.base_models import model_fingerprint

    result = merge_adapter(base_model, adapter_dir, out_dir, log=log)
    system = dataset_student_prompt(dataset_dir)
    atomic_write_text(out_dir / SYSTEM_PROMPT_FILE, system)
    frame = read_dataset(dataset_dir)
    texts = frame.loc[frame["split"] == "test", "text"].head(compare_samples).tolist()
    comparison = compare_merged(base_model, adapter_dir, out_dir, texts, system=system)
    return MergedModel(result, comparison, model_fingerprint(out_dir), str(base_model))
