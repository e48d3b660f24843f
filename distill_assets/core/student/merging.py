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


def _load_pair(base_model: str, adapter_dir: Path, merged_dir: Path, device: str) -> Any:
    """(ref, merged, fp32 ref): base+adapter in the merged model's own dtype, the merged model,
    and base+adapter in fp32 (only when the merge is not fp32: it measures the rounding)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    def ref_in(dtype: Any) -> Any:
        base = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
        return PeftModel.from_pretrained(base, str(adapter_dir)).to(device).eval()  # type: ignore[arg-type]

    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype="auto").to(device).eval()  # type: ignore[arg-type]
    dtype = next(merged.parameters()).dtype
    ref = ref_in(dtype)
    exact = ref if dtype == torch.float32 else ref_in(torch.float32)
    return ref, merged, exact, dtype


def _greedy_with_logits(tokenizer: Any, max_new_tokens: int) -> dict[str, Any]:
    eos = tokenizer.eos_token_id
    return {
        "max_new_tokens": max_new_tokens,
        "do_sample": False,
        "eos_token_id": eos,
        "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
        "return_dict_in_generate": True,
        "output_logits": True,
    }


def compare_merged(
    base_model: str | Path,
    adapter_dir: Path,
    merged_dir: Path,
    prompts: list[str],
    max_new_tokens: int = 256,
    system: str | None = None,
) -> dict[str, Any]:
    """Merged model vs base + adapter, like with like: both in the merged model's dtype.

    For each prompt (a user text, rendered with the chat template) the reference's greedy answer
    is generated to its end (eos or `max_new_tokens`, which should cover the longest answer), then
    both models read prompt + answer and every position's logits are compared
    (max_abs_logit_diff, mean_abs_logit_diff). `rounding_logit_diff` / `rounding_mean_diff` are
    how far the reference in this dtype already is from itself in fp32: the noise a correct
    merge may add (0 for an fp32 merge). Greedy answers are compared token for token; at a
    first differing token the reference's margin between the two choices is kept, so the gate
    can tell a rounding tie from a wrong merge.
    """
    import torch
    from transformers import AutoTokenizer

    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.student.chat_template import encode_prompt

    if not prompts:
        raise ValueError("compare_merged needs at least one prompt")
    system = student_prompt() if system is None else system
    tokenizer = AutoTokenizer.from_pretrained(str(merged_dir))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ref, merged, exact, dtype = _load_pair(str(base_model), adapter_dir, merged_dir, device)
    gen = _greedy_with_logits(tokenizer, max_new_tokens)
    max_diff = noise = scale = sum_diff = sum_noise = 0.0
    n_logits = 0
    divergences: list[dict[str, Any]] = []
    answer_tokens: list[int] = []
    with torch.inference_mode():
        for i, text in enumerate(prompts):
            ids = torch.tensor([encode_prompt(tokenizer, system, text)], device=device)
            mask = torch.ones_like(ids)
            ga = ref.generate(input_ids=ids, attention_mask=mask, **gen)  # type: ignore[operator]
            gb = merged.generate(input_ids=ids, attention_mask=mask, **gen)  # type: ignore[operator]
            a_seq, b_seq = ga.sequences[0, ids.shape[1] :], gb.sequences[0, ids.shape[1] :]
            answer_tokens.append(int(a_seq.shape[0]))
            div = _first_divergence(a_seq.tolist(), b_seq.tolist())
            if div is not None:
                step_logits = ga.logits[div].float()[0] if div < len(ga.logits) else None
                margin = _margin(step_logits, a_seq, b_seq, div)
                divergences.append({"prompt": i, "step": div, "ref_margin": margin})
            full = ga.sequences
            fmask = torch.ones_like(full)
            a = ref(input_ids=full, attention_mask=fmask).logits.float()
            b = merged(input_ids=full, attention_mask=fmask).logits.float()
            d = (a - b).abs()
            max_diff, sum_diff = max(max_diff, float(d.max())), sum_diff + float(d.sum())
            n_logits += d.numel()
            scale = max(scale, float(a.abs().max()))
            if exact is not ref:
                e = (a - exact(input_ids=full, attention_mask=fmask).logits.float()).abs()
                noise, sum_noise = max(noise, float(e.max())), sum_noise + float(e.sum())
    return {
        "max_abs_logit_diff": max_diff,
        "mean_abs_logit_diff": sum_diff / n_logits,
        "rounding_logit_diff": noise,
        "rounding_mean_diff": sum_noise / n_logits,
        "max_abs_logit": scale,
        "greedy_equal": not divergences,
        "greedy_mismatches": [d["prompt"] for d in divergences],
        "greedy_divergences": divergences,
        "answer_tokens": answer_tokens,
        "n_prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        "dtype": str(dtype).removeprefix("torch."),
    }


def _first_divergence(a: list[int], b: list[int]) -> int | None:
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return k
    return None if len(a) == len(b) else min(len(a), len(b))


def _margin(step_logits: Any, a_seq: Any, b_seq: Any, k: int) -> float | None:
    """The reference's logit of its own token minus that of the merged model's token at step k
    (None when one answer simply ended earlier: then there is no tie to speak of)."""
    if step_logits is None or k >= len(a_seq) or k >= len(b_seq):
        return None
    return float(step_logits[int(a_seq[k])] - step_logits[int(b_seq[k])])


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
    from distill_assets.core.common.schema import FIELDS, label_to_json
    from distill_assets.core.dataset.folder import dataset_student_prompt, read_dataset
    from distill_assets.core.student.base_models import model_fingerprint

    result = merge_adapter(base_model, adapter_dir, out_dir, log=log)
    system = dataset_student_prompt(dataset_dir)
    atomic_write_text(out_dir / SYSTEM_PROMPT_FILE, system)
    frame = read_dataset(dataset_dir)
    test = frame[frame["split"] == "test"].head(compare_samples)
    answers = [label_to_json({f: str(row[f]) for f in FIELDS}) for _, row in test.iterrows()]
    budget = answer_budget(out_dir, answers)
    texts = test["text"].tolist()
    comparison = compare_merged(base_model, adapter_dir, out_dir, texts, budget, system=system)
    return MergedModel(result, comparison, model_fingerprint(out_dir), str(base_model))


def answer_budget(model_dir: str | Path, answers: list[str], slack: int = 16) -> int:
    """Greedy tokens that cover the longest expected answer with its end of turn, and `slack`
    more: the comparison reads whole answers, not a prefix."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    lengths = [len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers]
    return max(lengths, default=0) + 1 + slack
