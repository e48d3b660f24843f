"""The training examples: messages JSONL -> token ids with the loss on the answer only."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import sha256_file, sha256_text
from distill_assets.core.common.log import Logger
from distill_assets.core.student.chat_template import IGNORE_INDEX, ExampleTooLong, encode_example
from distill_assets.core.student.training_params import LoraParams


def read_messages(path: Path) -> list[tuple[str, str, str]]:
    """(system, user, answer) per line of a messages JSONL; errors name the file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (expected a training_dataset folder)")
    rows: list[tuple[str, str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                msgs = json.loads(line)["messages"]
                by_role = {m["role"]: m["content"] for m in msgs}
                if msgs[-1]["role"] != "assistant" or "user" not in by_role:
                    raise ValueError("needs a user turn and a final assistant turn")
                rows.append((by_role.get("system", ""), by_role["user"], msgs[-1]["content"]))
            except (json.JSONDecodeError, KeyError, TypeError, IndexError, ValueError) as exc:
                raise ValueError(f"{path}:{lineno}: bad messages row: {exc}") from exc
    return rows


def tokenize_rows(
    tokenizer: Any, rows: Sequence[tuple[str, str, str]], max_length: int, where: str
) -> tuple[list[dict[str, list[int]]], int]:
    """Encoded examples and how many were dropped for exceeding max_length."""
    out, dropped = [], 0
    for i, (system, user, answer) in enumerate(rows):
        try:
            out.append(encode_example(tokenizer, system, user, answer, max_length))
        except ExampleTooLong:
            dropped += 1
        except ValueError as exc:
            raise ValueError(f"{where} row {i}: {exc}") from exc
    return out, dropped


class PadCollator:
    """Right-pads a batch to its longest example (labels with -100, mask with 0)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        n = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            n = math.ceil(n / self.pad_to_multiple_of) * self.pad_to_multiple_of
        pads = {"input_ids": self.pad_token_id, "labels": IGNORE_INDEX, "attention_mask": 0}
        return {
            key: torch.tensor([f[key] + [pad] * (n - len(f[key])) for f in features])
            for key, pad in pads.items()
        }


class PackCollator:
    """Concatenates a batch into one row without padding: position ids restart at every
    example and no attention mask is passed, which makes transformers build a block-diagonal
    causal mask (no attention across examples). Each example's first label is -100, so no
    token is trained to follow the previous example."""

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for f in features:
            ids += f["input_ids"]
            labels += [IGNORE_INDEX, *f["labels"][1:]]
            positions += range(len(f["input_ids"]))
        return {
            "input_ids": torch.tensor([ids]),
            "labels": torch.tensor([labels]),
            "position_ids": torch.tensor([positions]),
        }


def make_collator(params: LoraParams, pad_token_id: int, cuda: bool) -> Any:
    """The batch layout the params ask for: packed rows, or padded rows (to a multiple of 8
    on CUDA, where tensor cores want it)."""
    return PackCollator() if params.packing else PadCollator(pad_token_id, 8 if cuda else None)


@dataclass
class Examples:
    train: list[dict[str, list[int]]]
    val: list[dict[str, list[int]]]
    train_file: Path
    val_file: Path
    dataset_hash: str
    dropped: int


def load_examples(tokenizer: Any, dataset_dir: Path, params: LoraParams, log: Logger) -> Examples:
    train_file, val_file = dataset_dir / "train.messages.jsonl", dataset_dir / "val.messages.jsonl"
    train_rows, val_rows = read_messages(train_file), read_messages(val_file)
    if params.max_train_samples is not None:
        train_rows = train_rows[: params.max_train_samples]
    if params.max_eval_samples is not None:
        val_rows = val_rows[: params.max_eval_samples]
    train, dropped_train = tokenize_rows(tokenizer, train_rows, params.max_length, str(train_file))
    val, dropped_val = tokenize_rows(tokenizer, val_rows, params.max_length, str(val_file))
    if not train:
        raise ValueError(f"{train_file}: no training example fits max_length={params.max_length}")
    if dropped_train or dropped_val:
        log(f"train: dropped {dropped_train} train / {dropped_val} val examples > max_length")
    n_tokens = sum(len(x["input_ids"]) for x in train)
    log(f"train: {len(train)} train ({n_tokens:,} tokens), {len(val)} val examples")
    dataset_hash = sha256_text(sha256_file(train_file) + sha256_file(val_file))
    return Examples(train, val, train_file, val_file, dataset_hash, dropped_train + dropped_val)
