"""`make gpu-check`: the gpu profile's student path end to end on one GPU, offline, in minutes.

A random model with Qwen/Qwen3-0.6B's published shape in bf16 (no hub: the shape is
core/student/base_models.QWEN3_0_6B_SHAPE, the tokenizer the offline Qwen3 one), LoRA trained
with the seeds' recipe's batch shape (20 x 16 accumulation, max length 2048) for a few dozen
steps, merged, the blocking parity check, then an eval of a few hundred rows with the
transformers backend (and vLLM where it is installed). Prints train tokens/s, model FLOPs
utilisation against the card's bf16 peak, peak GPU memory and eval samples/s; exit 1 when the
parity check fails. `--shape tiny` runs the same steps on CPU in seconds (its smoke test).
Last line: `gpu-check: parity=<pass|FAIL> train_tokens_per_s=<x> mfu=<x> ...`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Dense bf16 peak TFLOPS by card (datasheets, without sparsity); --peak-tflops overrides.
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def card_peak_tflops(name: str) -> float | None:
    for card, peak in BF16_PEAK_TFLOPS.items():
        if card in name.upper():
            return peak
    return None


def build_random_model(out: Path, shape: str, tokenizer_dir: str | None = None) -> Path:
    """Qwen3-0.6B's config (or the tiny one) with random bf16 weights and the Qwen3 tokenizer."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from distill_assets.core.student.base_models import (
        QWEN3_0_6B_SHAPE,
        TINY_QWEN3_CONFIG,
        build_tiny_qwen3,
    )

    build_tiny_qwen3(out, tokenizer_dir=tokenizer_dir)  # layout, generation config, tokenizer
    if shape == "qwen3-0.6b":
        cfg = Qwen3Config(**{**TINY_QWEN3_CONFIG, **QWEN3_0_6B_SHAPE})
        torch.manual_seed(0)
        model = Qwen3ForCausalLM(cfg)
    else:
        model = Qwen3ForCausalLM.from_pretrained(str(out))
    model.to(dtype=torch.bfloat16)  # type: ignore[call-arg]
    for f in out.glob("*.safetensors"):
        f.unlink()
    model.save_pretrained(str(out))
    return out


def _eval(kind: str, model: Path, texts: list[str], batch: int, max_new: int) -> dict[str, Any]:
    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.student.inference import load_backend
    from distill_assets.core.teacher.answers import parse_prediction

    opts: dict[str, Any] = {"max_new_tokens": max_new}
    if kind == "transformers":
        opts["batch_size"] = batch
    backend = load_backend(kind, model, **opts)
    try:
        t0 = time.perf_counter()
        gens = backend.generate([(student_prompt(), t) for t in texts])
        seconds = time.perf_counter() - t0
    finally:
        backend.close()
    valid = sum(parse_prediction(g.text) is not None for g in gens)
    return {"samples_per_s": len(texts) / seconds, "valid_json": valid / len(texts)}


def _peak_gpu_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from benchmarks.bench_train import write_dataset
    from distill_assets.core.common.schema import FIELDS, label_to_json
    from distill_assets.core.data.synth import generate_batch
    from distill_assets.core.evaluation.gates import merged_matches_adapter
    from distill_assets.core.student.base_models import model_fingerprint
    from distill_assets.core.student.merging import answer_budget, compare_merged, merge_adapter
    from distill_assets.core.student.training import train_lora
    from distill_assets.core.student.training_params import LoraParams

    cuda = torch.cuda.is_available()
    if args.shape == "qwen3-0.6b" and not cuda:
        raise SystemExit(
            "gpu-check: no CUDA device (torch.cuda.is_available() is False); "
            "--shape tiny runs the same steps on CPU"
        )
    t_start = time.perf_counter()
    params = replace(
        LoraParams.seeds_recipe(),
        max_steps=args.steps,
        eval_steps=10**6,
        save_steps=10**6,
        logging_steps=max(1, args.steps // 4),
        max_eval_samples=8,
        bf16=cuda,
    )
    if args.batch:
        params = replace(params, per_device_batch_size=args.batch)
    if args.accumulation:
        params = replace(params, gradient_accumulation=args.accumulation)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        root = Path(tmp)
        base = build_random_model(root / "base", args.shape, args.tokenizer_dir)
        n_params = int(model_fingerprint(base)["n_params"])
        dataset = write_dataset(root / "data", args.train_samples, seed=0)
        print(
            f"gpu-check: {args.shape} ({n_params / 1e6:.0f}M params, bf16) cuda={cuda} "
            f"batch={params.per_device_batch_size}x{params.gradient_accumulation} "
            f"steps={params.max_steps}"
        )
        res = train_lora(base, dataset, root / "lora", params, log=print, resume=False)
        train_peak = _peak_gpu_gib()
        merged = merge_adapter(base, res.adapter_dir, root / "merged", log=print).merged_dir
        test = generate_batch(args.eval_rows + args.compare, seed=1)
        texts = [str(t) for t in test["text"]]
        answers = [
            label_to_json({f: str(test.iloc[i][f"gold_{f}"]) for f in FIELDS})
            for i in range(args.compare)
        ]
        cmp = compare_merged(
            base, res.adapter_dir, merged, texts[: args.compare], answer_budget(merged, answers)
        )
        verdict = merged_matches_adapter(cmp, args.max_abs_logit_diff)
        print(f"parity: {'pass' if verdict.passed else 'FAIL'}: {verdict.detail}")
        rows, max_new = texts[args.compare :], args.max_new_tokens
        evals = {"transformers": _eval("transformers", merged, rows, args.eval_batch, max_new)}
        if args.vllm and cuda:
            try:
                import vllm  # noqa: F401  # pyright: ignore[reportMissingImports]
            except ImportError:
                print("vllm: not installed, skipped")
            else:
                evals["vllm"] = _eval("vllm", merged, rows, 0, max_new)
    peak_tflops = args.peak_tflops or (
        card_peak_tflops(torch.cuda.get_device_name()) if cuda else None
    )
    # 6 N per trained token (forward 2N, backward 4N); attention FLOPs left out.
    mfu = 6 * n_params * res.tokens_per_s / (peak_tflops * 1e12) if peak_tflops else None
    return {
        "parity": verdict.passed,
        "train_tokens_per_s": res.tokens_per_s,
        "mfu": mfu,
        "peak_gpu_gib": max(train_peak, _peak_gpu_gib()),
        "eval": evals,
        "wall_s": time.perf_counter() - t_start,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="gpu profile smoke run: train, merge, check, eval")
    ap.add_argument("--shape", choices=["qwen3-0.6b", "tiny"], default="qwen3-0.6b")
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps")
    ap.add_argument("--batch", type=int, default=0, help="per-device batch (0: the recipe's)")
    ap.add_argument("--accumulation", type=int, default=0, help="0: the recipe's")
    ap.add_argument("--train-samples", type=int, default=2000)
    ap.add_argument("--eval-rows", type=int, default=300)
    ap.add_argument("--eval-batch", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--compare", type=int, default=4, help="texts for the parity check")
    ap.add_argument("--max-abs-logit-diff", type=float, default=1e-3)
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="0: from the card's name")
    ap.add_argument("--no-vllm", dest="vllm", action="store_false")
    ap.add_argument("--tokenizer-dir", default=None, help="reuse a built Qwen3 tokenizer folder")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    out = run(parse_args(argv))
    mfu = f"{out['mfu']:.1%}" if out["mfu"] is not None else "n/a"
    evals = " ".join(
        f"eval_{k}_samples_per_s={v['samples_per_s']:.1f} eval_{k}_valid={v['valid_json']:.2f}"
        for k, v in out["eval"].items()
    )
    print(
        f"gpu-check: parity={'pass' if out['parity'] else 'FAIL'} "
        f"train_tokens_per_s={out['train_tokens_per_s']:.0f} mfu={mfu} "
        f"peak_gpu_gib={out['peak_gpu_gib']:.1f} {evals} wall_s={out['wall_s']:.0f}"
    )
    return 0 if out["parity"] else 1


if __name__ == "__main__":
    sys.exit(main())
