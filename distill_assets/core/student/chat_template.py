"""The one place that renders conversations with a tokenizer's chat template (thinking off).

Training, inference and merging checks all go through here, so the prompt a model is trained on
is byte for byte the prompt it is served with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

IGNORE_INDEX = -100

# Qwen3's chat template as published with Qwen/Qwen3-0.6B (tokenizer_config.json), tools
# included and kept in a file beside this module, so a tokenizer built here renders every
# conversation as the real one does. With enable_thinking=false the generation prompt ends in
# the empty think block, and the last assistant turn (after the last user query) carries it
# too, so a training example is the generation prompt followed by the answer.
QWEN3_CHAT_TEMPLATE = (Path(__file__).with_name("qwen3_chat_template.jinja")).read_text("utf-8")


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
