"""The vLLM backend's contract without vLLM: a fake `vllm` module records what it is asked."""

from __future__ import annotations

import json
import os
import re
import sys
import types
from typing import Any

import pytest

from distill_assets.core.common.schema import FIELDS, label_to_json
from distill_assets.core.student import vllm_backend
from distill_assets.core.student.vllm_backend import (
    FIELD_MAX_CHARS,
    VllmBackend,
    constrained_budget,
    label_regex,
)
from tests.conftest import SAMPLE_RECORDS


def test_regex_is_the_training_layout() -> None:
    rx = re.compile(label_regex())
    for _, label in SAMPLE_RECORDS:
        assert rx.fullmatch(label_to_json(label))
    label = SAMPLE_RECORDS[0][1]
    compact = json.dumps(label, ensure_ascii=False, separators=(",", ":"))
    assert not rx.fullmatch(compact)  # vLLM's compact JSON is not what the model learned
    reordered = json.dumps(dict(reversed(list(label.items()))), ensure_ascii=False)
    assert not rx.fullmatch(reordered)
    too_long = label_to_json({**label, "name": "名" * (FIELD_MAX_CHARS["name"] + 1)})
    assert not rx.fullmatch(too_long)


def test_budget_covers_the_longest_answer_the_regex_allows(tiny_tokenizer) -> None:
    # Rare characters (4 UTF-8 bytes) in every field at its longest: the worst answer.
    worst = label_to_json({f: "\U00020000" * FIELD_MAX_CHARS[f] for f in FIELDS})
    assert re.fullmatch(label_regex(), worst)
    n = len(tiny_tokenizer(worst + "<|im_end|>", add_special_tokens=False)["input_ids"])
    assert n <= constrained_budget(tiny_tokenizer)


class _Out:
    def __init__(self, text: str, finish_reason: str) -> None:
        self.text, self.finish_reason, self.token_ids = text, finish_reason, [1, 2, 3]


class _Req:
    def __init__(self, text: str, finish_reason: str) -> None:
        self.outputs, self.prompt_token_ids = [_Out(text, finish_reason)], [1]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch, tiny_tokenizer) -> types.SimpleNamespace:
    rec = types.SimpleNamespace(llm_kwargs=None, params=None, prompts=None, shutdown=0, env=None)
    rec.answer = (label_to_json(SAMPLE_RECORDS[0][1]), "stop")

    class LLM:
        def __init__(self, **kw: Any) -> None:
            import os

            rec.llm_kwargs, rec.env = kw, os.environ.get("VLLM_BATCH_INVARIANT")
            self.llm_engine = types.SimpleNamespace(
                engine_core=types.SimpleNamespace(shutdown=self._shutdown)
            )

        def _shutdown(self) -> None:
            rec.shutdown += 1

        def get_tokenizer(self) -> Any:
            return tiny_tokenizer

        def generate(self, prompts: list[str], params: Any, use_tqdm: bool) -> list[_Req]:
            rec.prompts, rec.params = prompts, params
            return [_Req(*rec.answer) for _ in prompts]

    class SamplingParams:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    class StructuredOutputsParams:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams, mod.__version__ = LLM, SamplingParams, "fake"  # type: ignore[attr-defined]
    sp = types.ModuleType("vllm.sampling_params")
    sp.StructuredOutputsParams = StructuredOutputsParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sp)
    monkeypatch.delenv("VLLM_BATCH_INVARIANT", raising=False)
    return rec


def test_batch_invariance_only_on_cuda(fake_vllm, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    b = VllmBackend("m", max_new_tokens=16, memory_utilization=0.1)
    assert fake_vllm.env is None and b.info["batch_invariant"] is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    try:
        b = VllmBackend("m", max_new_tokens=16, memory_utilization=0.1)
        assert fake_vllm.env == "1" and b.info["batch_invariant"] is True
    finally:
        os.environ.pop("VLLM_BATCH_INVARIANT", None)


def test_constrained_generation_uses_the_regex_and_its_budget(fake_vllm, tiny_tokenizer) -> None:
    b = VllmBackend("m", max_new_tokens=16, json_constrained=True, memory_utilization=0.1)
    (gen,) = b.generate([("SYS", SAMPLE_RECORDS[0][0])])
    assert gen.text == label_to_json(SAMPLE_RECORDS[0][1])
    kw = fake_vllm.params.kw
    assert kw["temperature"] == 0.0
    assert kw["max_tokens"] == constrained_budget(tiny_tokenizer) > 16
    assert kw["structured_outputs"].kw == {"regex": label_regex()}
    assert fake_vllm.prompts[0].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_a_truncated_constrained_answer_is_an_error(fake_vllm) -> None:
    fake_vllm.answer = ('{"province": "云南', "length")
    b = VllmBackend("m", json_constrained=True, memory_utilization=0.1)
    with pytest.raises(RuntimeError, match="row 0: constrained answer cut"):
        b.generate([("SYS", "text")])


def test_close_shuts_the_engine_down(fake_vllm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_backend, "_destroy_vllm_state", lambda: None)
    b = VllmBackend("m", memory_utilization=0.1)
    b.close()
    assert fake_vllm.shutdown == 1 and b.llm is None
    b.close()  # twice is harmless
    assert fake_vllm.shutdown == 1


def test_grounded_decoding_is_refused_with_a_way_out() -> None:
    with pytest.raises(ValueError, match="--backend transformers"):
        VllmBackend("m", grounded=True)
