"""Eval throughput: the seeds' one-sample-at-a-time `model.generate` loop vs the batched backend.

Same random Qwen3-shaped model, same prompts (student prompt, chat template with thinking off),
same greedy decoding and max_new_tokens. CPU: hidden 256, 4 layers (real Qwen vocabulary, so the
LM head costs what it costs in the real model); CUDA: Qwen3-0.6B's published shape.
Last line: `ratio=<x> eval_samples_per_s batched over one-at-a-time`.

    python benchmarks/bench_eval.py [--n 64] [--max-new-tokens 32] [--batch-size 16] [--threads N]

On a shared 2-core box, 2 torch threads make the batched GEMMs wait on a busy core (measured
here: batched 15.4 s with 2 threads vs 5.6 s with 1, one-at-a-time ~33 s either way).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CPU_SHAPE: dict[str, Any] = {
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
}

TEMPLATES = (
    "电话:{phone}:{district}{road}{no}号 {poi} {b}号楼:收件者:{name}",
    "收件人:{name} {province}{city}{district}{road}{no}号 {phone}",
    "{province}{city}{district}{road}{no}号{poi}{b}栋 {name} 电话 {phone}",
    "{name},{phone},{district}{road}{no}号",
    "寄到{city}{district}{road}{no}号{poi},联系人{name},手机号码:{phone},工作日白天送货,谢谢",
)
PLACES = (
    ("云南省", "大理白族自治州", "大理市"),
    ("天津市", "天津市", "河西区"),
    ("浙江省", "杭州市", "西湖区"),
    ("广东省", "深圳市", "南山区"),
    ("四川省", "成都市", "武侯区"),
)


def make_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        province, city, district = rng.choice(PLACES)
        out.append(
            TEMPLATES[i % len(TEMPLATES)].format(
                province=province,
                city=city,
                district=district,
                road=rng.choice(["人民路", "珠江道", "文三路", "科技园南路", "长江大道"]),
                no=rng.randrange(1, 300),
                poi=rng.choice(["大理古城国际酒店", "金泰大厦", "阳光小区", "创业园"]),
                b=rng.randrange(1, 20),
                name=rng.choice(["段丽娟", "慕容修远", "王建国", "李娜", "张伟"]),
                phone="2" + "".join(str(rng.randrange(10)) for _ in range(10)),
            )
        )
    return out


def build_model(out_dir: Path, cuda: bool) -> Path:
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from distill_assets.core.student.base_models import QWEN3_0_6B_SHAPE, TINY_QWEN3_CONFIG
    from distill_assets.core.student.qwen_tokenizer import build_qwen_tokenizer

    build_qwen_tokenizer(out_dir / "tok")
    cfg = {**TINY_QWEN3_CONFIG, **(QWEN3_0_6B_SHAPE if cuda else CPU_SHAPE)}
    config = Qwen3Config(**cfg)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = cfg["eos_token_id"]
    model.generation_config.pad_token_id = cfg["pad_token_id"]
    model_dir = out_dir / "model"
    model.save_pretrained(str(model_dir))
    for f in (out_dir / "tok").iterdir():
        (model_dir / f.name).write_bytes(f.read_bytes())
    return model_dir


def one_at_a_time(backend: Any, requests: list[tuple[str, str]], max_new_tokens: int) -> int:
    """The seeds' eval loop: render, tokenize and `generate` each sample alone."""
    import torch

    from distill_assets.core.student.chat_template import render_prompt

    tok, model = backend.tokenizer, backend.model
    tokens_out = 0
    for system, user in requests:
        enc = tok(render_prompt(tok, system, user), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **enc.to(backend.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=backend.stop_ids,
                pad_token_id=backend.pad_id,
            )
        tokens_out += out.shape[1] - enc["input_ids"].shape[1]
    return tokens_out


def main() -> None:
    import torch

    from distill_assets.core.common.prompts import student_prompt
    from distill_assets.core.student.inference import TransformersBackend

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    requests = [(student_prompt(), t) for t in make_texts(args.n)]

    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        t0 = time.perf_counter()
        model_dir = build_model(Path(tmp), cuda)
        backend = TransformersBackend(
            model_dir, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
        )
        n_params = sum(p.numel() for p in backend.model.parameters())
        print(
            f"model: random Qwen3 {'0.6B shape' if cuda else 'hidden 256 x 4 layers'}, "
            f"{n_params / 1e6:.0f}M params, {backend.device} {backend.info['dtype']}, "
            f"torch threads {torch.get_num_threads()}, built in {time.perf_counter() - t0:.0f}s"
        )
        backend.generate(requests[:2])  # warm-up (allocator, kernels)
        one_at_a_time(backend, requests[:1], 2)

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        base_tokens = one_at_a_time(backend, requests, args.max_new_tokens)
        base_s = time.perf_counter() - t0
        base_mem = torch.cuda.max_memory_allocated() if cuda else 0

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        gens = backend.generate(requests)
        cand_s = time.perf_counter() - t0
        cand_mem = torch.cuda.max_memory_allocated() if cuda else 0
        cand_tokens = sum(g.tokens_out for g in gens)

    n = len(requests)
    for name, secs, toks, mem in (
        ("one-at-a-time", base_s, base_tokens, base_mem),
        (f"batched (batch {args.batch_size})", cand_s, cand_tokens, cand_mem),
    ):
        line = (
            f"{name}: {n} samples in {secs:.1f}s, {n / secs:.2f} samples/s, "
            f"{toks} tokens out, {toks / secs:.1f} tokens/s"
        )
        if cuda:
            line += f", peak GPU memory {mem / 2**30:.2f} GiB"
        print(line)
    print(f"ratio={(n / cand_s) / (n / base_s):.2f} eval_samples_per_s batched over one-at-a-time")


if __name__ == "__main__":
    main()
