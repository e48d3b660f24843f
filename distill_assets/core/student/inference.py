"""Inference backends for the student: one interface, `transformers` (CPU/GPU) and `vllm` (GPU).

Both render prompts with chat.render_prompt (the exact template the model was trained with) and
decode greedily. The transformers backend batches with left padding and stops each row at the
end-of-turn token or as soon as its JSON object is closed, which is what makes batched eval fast:
a random or half-trained model otherwise rambles until max_new_tokens.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.student.json_decoding import (
    Grounding,
    Skeleton,
    make_constraint,
    make_json_stop,
    token_bytes_table,
)
from distill_assets.core.teacher.answers import strip_think


@dataclass(frozen=True)
class Generation:
    text: str  # decoded answer, think block and end-of-turn token removed
    tokens_in: int  # prompt tokens (no padding)
    tokens_out: int  # generated tokens up to and including the stop (no padding)


class Backend(Protocol):
    kind: str
    info: dict[str, Any]

    def generate(self, requests: Sequence[tuple[str, str]]) -> list[Generation]: ...

    def close(self) -> None: ...


def load_backend(
    kind: str, model_path: str | Path, *, log: Logger = null_log, **options: Any
) -> Backend:
    """A ready backend of `kind` ("transformers" or "vllm") for a local model folder or hub id.

    `options` are the backend's decoding options (max_new_tokens, batch_size, json_constrained,
    device, dtype); vLLM batches and places the model itself, so it ignores batch_size and
    device.
    """
    for name in ("max_new_tokens", "batch_size"):
        if name in options and options[name] < 1:
            raise ValueError(f"{name} must be >= 1, got {options[name]}")
    if kind == "transformers":
        return TransformersBackend(model_path, log=log, **options)
    if kind == "vllm":
        from distill_assets.core.student.vllm_backend import VllmBackend

        vllm_options = {k: v for k, v in options.items() if k not in ("batch_size", "device")}
        return VllmBackend(model_path, log=log, **vllm_options)
    raise ValueError(f"unknown inference backend {kind!r}: expected 'transformers' or 'vllm'")


# ---------------------------------------------------------------- transformers


def fast_bf16(device: str) -> bool:
    """Whether bf16 is the fast dtype here: on CUDA, and on a CPU with AMX tiles (oneDNN runs
    bf16 matmuls on them; Xeon 4th gen and later). Elsewhere on CPU fp32 is faster."""
    import torch

    if device.startswith("cuda"):
        return True
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private API, hence guarded
    return bool(probe is not None and probe())


def _resolve_dtype(dtype: Any, device: str) -> Any:
    import torch

    if dtype is None:
        return torch.bfloat16 if fast_bf16(device) else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
        "fp32": torch.float32,
        "float32": torch.float32,
    }
    if str(dtype) not in names:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {sorted(names)}")
    return names[str(dtype)]


class TransformersBackend:
    """Batched greedy generation with transformers (left padding, length-sorted batches)."""

    kind = "transformers"

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_new_tokens: int = 256,
        batch_size: int = 16,
        json_constrained: bool = False,
        grounded: bool = False,
        device: str | None = None,
        dtype: Any = None,
        log: Logger = null_log,
        model: Any = None,
        tokenizer: Any = None,
    ) -> None:
        """`model`/`tokenizer` already loaded (a model in training: the learning curve) are
        used as they are instead of loading `model_path`."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.log = log
        self.cache_implementation = os.environ.get("DISTILL_KV_CACHE") or None
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        # Grounded decoding is the JSON constraint plus copied fields held to spans of the text.
        self.grounded = grounded
        self.json_constrained = json_constrained or grounded
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = _resolve_dtype(dtype, self.device)
        path = str(model_path)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        self.model: Any = model or AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype)
        if model is None:
            self.model.to(self.device)
        else:
            self.device = str(next(model.parameters()).device)
            self.dtype = next(model.parameters()).dtype
        self.model.eval()
        self.stop_ids = self._stop_ids()
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else self.stop_ids[0]
        self.token_bytes = token_bytes_table(self.tokenizer)
        vocab = int(self.model.get_output_embeddings().weight.shape[0])  # type: ignore[union-attr]
        self.token_bytes += [b""] * max(0, vocab - len(self.token_bytes))
        self.skeleton: Skeleton | None = None
        if self.json_constrained:
            self._skeleton()  # fail at load time on a budget too small
        # Logits processors applied before the JSON constraint (tests steer the model with them)
        # and after it (tests script outputs with them).
        self.prior_processors: list[Any] = []
        self.extra_processors: list[Any] = []
        self.info: dict[str, Any] = {
            "kind": self.kind,
            "model": path,
            "device": self.device,
            "dtype": str(self.dtype).replace("torch.", ""),
            "max_new_tokens": max_new_tokens,
            "batch_size": batch_size,
            "json_constrained": self.json_constrained,
            "grounded": grounded,
            "stop_ids": self.stop_ids,
        }
        log(f"transformers backend: {path} on {self.device} ({self.info['dtype']})")

    def _skeleton(self) -> Skeleton:
        """The JSON constraint's vocabulary tables, built on first use (~1 s for 150k tokens)."""
        if self.skeleton is None:
            self.skeleton = Skeleton(self.tokenizer, self.token_bytes, len(self.token_bytes))
        need = self.skeleton.finish_cost(self.skeleton.tail(0))
        if self.max_new_tokens < need:
            raise ValueError(
                f"json_constrained needs max_new_tokens >= {need} (the empty six-key "
                f"object's length in tokens), got {self.max_new_tokens}"
            )
        return self.skeleton

    def _stop_ids(self) -> list[int]:
        from distill_assets.core.student.chat_template import end_of_turn

        tok = self.tokenizer
        ids: list[int] = []
        eot = tok.convert_tokens_to_ids(end_of_turn(tok))
        if isinstance(eot, int) and eot >= 0:
            ids.append(eot)
        gen_eos = self.model.generation_config.eos_token_id
        for i in [gen_eos] if isinstance(gen_eos, int) else list(gen_eos or []):
            ids.append(int(i))
        vocab = tok.get_vocab()
        ids += [vocab[t] for t in ("<|im_end|>", "<|endoftext|>") if t in vocab]
        if not ids:
            raise ValueError(f"{self.model.name_or_path}: no end-of-turn token to stop on")
        return list(dict.fromkeys(ids))

    def encode(self, requests: Sequence[tuple[str, str]]) -> list[list[int]]:
        from distill_assets.core.student.chat_template import render_prompt

        prompts = [render_prompt(self.tokenizer, s, u) for s, u in requests]
        enc = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        return [list(x) for x in enc]

    def generate(self, requests: Sequence[tuple[str, str]]) -> list[Generation]:
        self.info.update(
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
            json_constrained=self.json_constrained,
            grounded=self.grounded,
        )
        encoded = self.encode(requests)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: list[Generation | None] = [None] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            texts = [requests[i][1] for i in idx]
            batch = self._generate_batch([encoded[i] for i in idx], texts)
            for i, gen in zip(idx, batch, strict=True):
                results[i] = gen
            self.log(f"generated {min(start + self.batch_size, len(order))}/{len(order)}")
        return [r for r in results if r is not None]

    def _generate_batch(self, batch: list[list[int]], texts: list[str]) -> list[Generation]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        width = max(len(x) for x in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, x in enumerate(batch):
            ids[r, width - len(x) :] = torch.tensor(x, dtype=torch.long)
            mask[r, width - len(x) :] = 1
        stop = make_json_stop(self.token_bytes, width, len(batch))
        processors = LogitsProcessorList(self.prior_processors)
        if self.json_constrained:
            skeleton = self._skeleton()
            groundings = [Grounding(skeleton, t) for t in texts] if self.grounded else None
            processors.append(
                make_constraint(
                    skeleton,
                    self.token_bytes,
                    width,
                    self.max_new_tokens,
                    self.stop_ids,
                    groundings,
                )
            )
        processors.extend(self.extra_processors)
        config = GenerationConfig(
            cache_implementation=self.cache_implementation,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
        )
        with torch.inference_mode():
            out = self.model.generate(  # type: ignore[operator]
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([stop]),
                logits_processor=processors,
            )
        new = out[:, width:].tolist()
        stop_set = set(self.stop_ids)
        gens = []
        for r, toks in enumerate(new):
            n = len(toks)
            for j, t in enumerate(toks):
                if t in stop_set:
                    n = j + 1
                    break
            if stop.done_at[r] is not None:
                n = min(n, stop.done_at[r])
            keep = [t for t in toks[:n] if t not in stop_set]
            text = self.tokenizer.decode(keep, skip_special_tokens=True)
            gens.append(Generation(strip_think(text), len(batch[r]), n))
        return gens

    def close(self) -> None:
        import gc

        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
