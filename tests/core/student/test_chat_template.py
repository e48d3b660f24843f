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


# Held byte for byte: what Qwen/Qwen3-0.6B's published template renders with
# enable_thinking=False (the training text, the generation prompt, a history with a thought).
SYS = "你是地址抽取助手。"
TRAINING_TEXT = (
    "<|im_start|>system\n你是地址抽取助手。<|im_end|>\n"
    "<|im_start|>user\n天津市河西区友谊路18号 王建国<|im_end|>\n"
    '<|im_start|>assistant\n<think>\n\n</think>\n\n{"a": "b"}<|im_end|>\n'
)
GENERATION_PROMPT = (
    "<|im_start|>system\n你是地址抽取助手。<|im_end|>\n"
    "<|im_start|>user\n天津市河西区友谊路18号 王建国<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n\n</think>\n\n"
)
HISTORY_PROMPT = (
    "<|im_start|>user\n第一句<|im_end|>\n"
    "<|im_start|>assistant\n第一答<|im_end|>\n"
    "<|im_start|>user\n第二句<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n\n</think>\n\n"
)
TOOLS_PROMPT_HEAD = (
    "<|im_start|>system\n你是地址抽取助手。\n\n# Tools\n\nYou may call one or more functions to "
    "assist with the user query.\n\nYou are provided with function signatures within "
    '<tools></tools> XML tags:\n<tools>\n{"name": "f"}\n</tools>\n\nFor each function call, '
    "return a json object with function name and arguments within <tool_call></tool_call> XML "
    'tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call><|im_end|>\n"
)


def _render(tok, messages, gen: bool, **kw) -> str:
    return tok.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=gen, enable_thinking=False, **kw
    )


def _qwen3_conversations_render_as_published(tok) -> None:
    conv = [
        {"role": "system", "content": SYS},
        {"role": "user", "content": "天津市河西区友谊路18号 王建国"},
    ]
    assert _render(tok, conv, True) == GENERATION_PROMPT
    assert _render(tok, [*conv, {"role": "assistant", "content": '{"a": "b"}'}], False) == (
        TRAINING_TEXT
    )
    history = [
        {"role": "user", "content": "第一句"},
        {"role": "assistant", "content": "<think>\n想一想\n</think>\n\n第一答"},
        {"role": "user", "content": "第二句"},
    ]
    assert _render(tok, history, True) == HISTORY_PROMPT  # old thoughts dropped
    tools = _render(tok, conv, True, tools=[{"name": "f"}])
    assert tools.startswith(TOOLS_PROMPT_HEAD)
    assert render_prompt(tok, SYS, "天津市河西区友谊路18号 王建国") == GENERATION_PROMPT
    prompt, completion = render_example(tok, SYS, "天津市河西区友谊路18号 王建国", '{"a": "b"}')
    assert prompt + completion + "\n" == TRAINING_TEXT


def test_tiny_tokenizer_renders_what_qwen3_renders(tiny_tokenizer) -> None:
    _qwen3_conversations_render_as_published(tiny_tokenizer)


def test_saved_tokenizer_keeps_the_template(tiny_tokenizer, tmp_path) -> None:
    # What merging saves beside the merged weights (tokenizer.save_pretrained) reloads the same.
    from transformers import AutoTokenizer

    tiny_tokenizer.save_pretrained(str(tmp_path / "tok"))
    _qwen3_conversations_render_as_published(AutoTokenizer.from_pretrained(str(tmp_path / "tok")))


def test_training_tokens_are_the_rendered_conversation_tokenized(tiny_tokenizer) -> None:
    # Prompt and answer tokenized apart must give the tokens of the whole rendered text: the
    # model learns exactly the token sequence a backend feeds it and then reads back.
    enc = encode_example(tiny_tokenizer, SYS, USER, ANSWER, max_length=1024)
    full = _render(
        tiny_tokenizer,
        [
            {"role": "system", "content": SYS},
            {"role": "user", "content": USER},
            {"role": "assistant", "content": ANSWER},
        ],
        False,
    )
    want = tiny_tokenizer(full, add_special_tokens=False)["input_ids"]
    assert enc["input_ids"] == want[: len(enc["input_ids"])]
    assert tiny_tokenizer.decode(want[len(enc["input_ids"]) :]) == "\n"
