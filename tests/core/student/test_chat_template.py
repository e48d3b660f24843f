"""Chat rendering: thinking off, and a loss mask that covers exactly the answer + end of turn."""

from __future__ import annotations

import pytest

from distill_assets.core.common.prompts import student_prompt
from distill_assets.core.common.schema import label_to_json
from distill_assets.core.student.chat_template import (
    IGNORE_INDEX,
    ExampleTooLong,
    encode_example,
    encode_prompt,
    render_example,
    render_prompt,
)
from tests.conftest import DALI_LABEL
from tests.conftest import DALI_TEXT as USER

ANSWER = label_to_json(DALI_LABEL)


def test_qwen3_prompt_has_empty_think_block(tiny_tokenizer) -> None:
    prompt = render_prompt(tiny_tokenizer, "SYS", USER)
    assert prompt == (
        "<|im_start|>system\nSYS<|im_end|>\n"
        f"<|im_start|>user\n{USER}<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )


def test_qwen3_render_example(tiny_tokenizer) -> None:
    prompt, completion = render_example(tiny_tokenizer, "SYS", USER, ANSWER)
    assert prompt == render_prompt(tiny_tokenizer, "SYS", USER)
    assert completion == ANSWER + "<|im_end|>"


def _check_mask(tokenizer, system: str) -> None:
    enc = encode_example(tokenizer, system, USER, ANSWER, max_length=1024)
    ids, labels = enc["input_ids"], enc["labels"]
    assert len(ids) == len(labels) == len(enc["attention_mask"])
    kept = [t for t in labels if t != IGNORE_INDEX]
    assert kept, "loss mask is empty"
    n_prompt = labels.index(kept[0])
    assert all(t == IGNORE_INDEX for t in labels[:n_prompt])
    assert labels[n_prompt:] == ids[n_prompt:]
    assert tokenizer.decode(kept) == ANSWER + tokenizer.eos_token
    assert kept[-1] == tokenizer.eos_token_id
    assert ids[:n_prompt] == encode_prompt(tokenizer, system, USER)


def test_loss_mask_qwen3(tiny_tokenizer) -> None:
    _check_mask(tiny_tokenizer, student_prompt())
    assert tiny_tokenizer.eos_token_id == 151645


def test_no_system_prompt(tiny_tokenizer) -> None:
    prompt = render_prompt(tiny_tokenizer, "", USER)
    assert prompt.startswith("<|im_start|>user\n")
    _check_mask(tiny_tokenizer, "")


def test_too_long_and_empty_fail(tiny_tokenizer) -> None:
    with pytest.raises(ExampleTooLong):
        encode_example(tiny_tokenizer, "SYS", USER, ANSWER, max_length=10)
    with pytest.raises(ValueError, match="empty"):
        render_example(tiny_tokenizer, "SYS", USER, "")


def test_template_without_end_token_gets_eos(tiny_tokenizer) -> None:
    saved = tiny_tokenizer.chat_template
    tiny_tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
    )
    try:
        _prompt, completion = render_example(tiny_tokenizer, "S", "U", "A")
    finally:
        tiny_tokenizer.chat_template = saved
    assert completion == "A" + tiny_tokenizer.eos_token


@pytest.mark.slow
def test_loss_mask_smollm2(smollm2_dir) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(smollm2_dir))
    prompt, completion = render_example(tok, "SYS", USER, ANSWER)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>system\nSYS<|im_end|>" in prompt
    assert completion == ANSWER + "<|im_end|>"
    _check_mask(tok, student_prompt())
