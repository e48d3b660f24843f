"""The one place that renders conversations with a tokenizer's chat template (thinking off).

Training, inference and merging checks all go through here, so the prompt a model is trained on
is byte for byte the prompt it is served with.
"""

from __future__ import annotations

from typing import Any

IGNORE_INDEX = -100

# Qwen3's chat template without the tool-calling branches: ChatML; an assistant turn after the
# last user query carries its think block, and with enable_thinking=false the generation prompt
# is followed by the empty block, exactly as Qwen3 renders both.
QWEN3_CHAT_TEMPLATE = (
    "{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- set ns = namespace(last_query_index=messages|length - 1, found=false) %}"
    "{%- for message in messages[::-1] %}"
    "{%- set index = (messages|length - 1) - loop.index0 %}"
    "{%- if not ns.found and message.role == 'user' %}"
    "{%- set ns.found = true %}{%- set ns.last_query_index = index %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- for message in messages %}"
    "{%- if message.content is string %}{%- set content = message.content %}"
    "{%- else %}{%- set content = '' %}{%- endif %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{%- set reasoning_content = '' %}"
    "{%- if message.reasoning_content is string %}"
    "{%- set reasoning_content = message.reasoning_content %}"
    "{%- elif '</think>' in content %}"
    "{%- set reasoning_content = content.split('</think>')[0].rstrip('\\n')"
    ".split('<think>')[-1].lstrip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}"
    "{{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n')"
    " + '\\n</think>\\n\\n' + content.lstrip('\\n') }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + content }}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)


class ExampleTooLong(ValueError):
    """prompt + completion does not fit in max_length (never silently truncated)."""


def _messages(system: str, user: str) -> list[dict[str, str]]:
    msgs = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": user})
    return msgs


def _apply(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    # enable_thinking is a template variable: Qwen3 reads it, other templates ignore it.
    text = tokenizer.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        enable_thinking=False,
    )
    if not isinstance(text, str):
        raise TypeError(f"apply_chat_template returned {type(text).__name__}, expected str")
    return text


def render_prompt(tokenizer: Any, system: str, user: str) -> str:
    """System + user turns and the generation prompt (for Qwen3 with the empty think block)."""
    return _apply(tokenizer, _messages(system, user), add_generation_prompt=True)


def end_of_turn(tokenizer: Any) -> str:
    """The token that closes an assistant turn: the tokenizer's eos (<|im_end|> for ChatML)."""
    eos = tokenizer.eos_token
    if not eos:
        raise ValueError(f"{type(tokenizer).__name__} has no eos_token: cannot end a turn")
    return str(eos)


def render_example(tokenizer: Any, system: str, user: str, answer: str) -> tuple[str, str]:
    """(prompt, completion): completion is the answer plus the end-of-turn token as rendered.

    The full conversation must start with the generation prompt; anything the template writes
    after the end-of-turn token (a newline in ChatML) is not part of what the model should learn.
    """
    if not answer:
        raise ValueError("empty assistant answer: nothing to train on")
    prompt = render_prompt(tokenizer, system, user)
    full = _apply(
        tokenizer,
        [*_messages(system, user), {"role": "assistant", "content": answer}],
        add_generation_prompt=False,
    )
    if not full.startswith(prompt):
        raise ValueError(
            "chat template renders the assistant turn differently from its generation prompt; "
            f"prompt={prompt[-80:]!r} full={full[len(prompt) - 80 : len(prompt) + 40]!r}"
        )
    rest = full[len(prompt) :]
    if not rest.startswith(answer):
        raise ValueError(f"chat template changed the answer: {rest[:80]!r} vs {answer[:80]!r}")
    eot = end_of_turn(tokenizer)
    tail = rest[len(answer) :]
    cut = tail.find(eot)
    # Templates that do not close the turn get the eos appended, so generation learns to stop.
    completion = answer + (tail[: cut + len(eot)] if cut >= 0 else eot)
    return prompt, completion


def encode_prompt(tokenizer: Any, system: str, user: str) -> list[int]:
    """Token ids of the rendered prompt, as generation sees them (no extra special tokens)."""
    return list(
        tokenizer(render_prompt(tokenizer, system, user), add_special_tokens=False)["input_ids"]
    )


def encode_example(
    tokenizer: Any, system: str, user: str, answer: str, max_length: int
) -> dict[str, list[int]]:
    """input_ids / labels / attention_mask with labels -100 on the prompt.

    Prompt and completion are tokenized separately, as at inference time (the prompt alone is
    tokenized and the answer generated after it), so the loss covers exactly the answer and its
    end-of-turn token.
    """
    prompt, completion = render_example(tokenizer, system, user, answer)
    p_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    c_ids = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
    if not c_ids:
        raise ValueError("completion tokenized to nothing")
    n = len(p_ids) + len(c_ids)
    if n > max_length:
        raise ExampleTooLong(f"example has {n} tokens > max_length {max_length}")
    return {
        "input_ids": p_ids + c_ids,
        "labels": [IGNORE_INDEX] * len(p_ids) + c_ids,
        "attention_mask": [1] * n,
    }
