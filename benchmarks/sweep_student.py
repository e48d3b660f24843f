"""A few student recipes on the same data: train tokens/s and exact match, side by side.

How the demo profile's recipe was chosen: each setting trains a LoRA on the same synthetic
records (labels = gold, the offline teacher's ~97% stand-in) and is scored on the same held-out
rows, raw and canonicalised, read exactly as `distill predict` reads them. CPU by default
(SmolLM2-135M, 2 cores: ~5 min per setting at --n 240); any base with --model.

Last line: `ratio=<x> canonicalised exact match, demo recipe over the previous recipe`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# name -> (LoraParams overrides on the demo preset, student prompt)
SETTINGS: dict[str, tuple[dict, str]] = {
    "previous (lr 3e-4, seeds prompt)": ({"learning_rate": 3e-4}, "student_system"),
    "lr 3e-4, short prompt": ({"learning_rate": 3e-4}, "student_short"),
    "demo (lr 1e-3, short prompt)": ({}, "student_short"),
    "lr 1e-3, LoRA on top 20 layers": ({"lora_layers": 20}, "student_short"),
    "lr 1e-3, LoRA on top 12 layers": ({"lora_layers": 12}, "student_short"),
}


def write_dataset(out: Path, n: int, n_eval: int, prompt: str, seed: int) -> list[dict]:
    import json

    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.common.schema import FIELDS, label_to_json
    from distill_assets.core.data.synth import generate_batch

    df = generate_batch(n + 8 + n_eval, seed=seed)
    system = student_prompt(prompt)
    rows = []
    for row in df.itertuples(index=False):
        label = {f: str(getattr(row, f"gold_{f}")) for f in FIELDS}
        rows.append({"text": str(row.text), "label": label})  # type: ignore[attr-defined]

    def lines(part: list[dict]) -> str:
        msgs = [
            {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": r["text"]},
                    {"role": "assistant", "content": label_to_json(r["label"])},
                ]
            }
            for r in part
        ]
        return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in msgs)

    out.mkdir(parents=True, exist_ok=True)
    (out / "train.messages.jsonl").write_text(lines(rows[:n]), "utf-8")
    (out / "val.messages.jsonl").write_text(lines(rows[n : n + 8]), "utf-8")
    return rows[n + 8 :]


def run_setting(name, overrides, prompt, base, work, args) -> dict:
    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.evaluation.runs import run_model
    from distill_assets.core.evaluation.score import read_views, score_answers
    from distill_assets.core.student.merging import merge_adapter
    from distill_assets.core.student.training import train_lora
    from distill_assets.core.student.training_params import LoraParams

    data = work / f"data-{prompt}"
    held_out = write_dataset(data, args.n, args.eval, prompt, args.seed)
    params = replace(LoraParams.demo(), max_train_samples=None, **overrides)
    out = work / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    t0 = time.perf_counter()
    res = train_lora(base, data, out / "train", params)
    train_s = time.perf_counter() - t0
    merged = out / "merged"
    merge_adapter(base, res.adapter_dir, merged)
    texts = [r["text"] for r in held_out]
    opts = {
        "backend": "transformers",
        "max_new_tokens": 160,
        "batch_size": 16,
        "json_constrained": False,
        "device": None,
        "dtype": None,
    }
    run = run_model(merged, student_prompt(prompt), texts, opts, name, lambda m: None)
    views = read_views(run.outputs, texts)
    labels = [r["label"] for r in held_out]
    return {
        "setting": name,
        "tokens_per_s": res.tokens_per_s,
        "train_s": train_s,
        "canonical": score_answers(views.canonical, labels)["exact_match"],
        "raw": score_answers(views.raw, labels)["exact_match"],
        "valid": score_answers(views.raw, labels)["valid_json_rate"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=240, help="training examples per setting")
    ap.add_argument("--eval", type=int, default=60, help="held-out rows scored")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="substrings of the settings to run")
    args = ap.parse_args()
    from distill_assets.core.student.base_models import resolve_base_model

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = resolve_base_model(args.model, work / "models", log=print)
        for name, (overrides, prompt) in SETTINGS.items():
            if args.only and not any(s in name for s in args.only):
                continue
            r = run_setting(name, overrides, prompt, base, work, args)
            results.append(r)
            print(
                f"{r['setting']:<36} tokens/s={r['tokens_per_s']:7.0f} train_s={r['train_s']:6.0f} "
                f"valid={r['valid']:.2f} raw_exact={r['raw']:.2f} "
                f"canonical_exact={r['canonical']:.2f}",
                flush=True,
            )
    by = {r["setting"]: r for r in results}
    demo, prev = by.get("demo (lr 1e-3, short prompt)"), by.get("previous (lr 3e-4, seeds prompt)")
    if demo and prev:
        print(
            f"ratio={demo['canonical'] / max(prev['canonical'], 1e-9):.2f} canonicalised exact "
            "match, demo recipe over the previous recipe"
        )
    else:
        print("ratio=n/a (run both the demo and the previous setting)")


if __name__ == "__main__":
    main()
