"""Training record formats: Alpaca and chat messages (what ms-swift and LLaMA-Factory read)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from distill_assets.core.prompts import student_prompt
from distill_assets.core.schema import label_to_json


def to_alpaca(text: str, label: Mapping[str, str]) -> dict[str, str]:
    """One Alpaca record; the student prompt is both the instruction and the system prompt."""
    prompt = student_prompt()
    return {
        "instruction": prompt,
        "input": text,
        "output": label_to_json(dict(label)),
        "system": prompt,
    }


def to_messages(text: str, label: Mapping[str, str]) -> dict[str, list[dict[str, str]]]:
    """One chat record: system (student prompt), user (the text), assistant (the label JSON)."""
    return {
        "messages": [
            {"role": "system", "content": student_prompt()},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label_to_json(dict(label))},
        ]
    }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def alpaca_lines(texts: Iterable[str], outputs: Iterable[str]) -> Iterable[str]:
    """JSON lines equal to `to_alpaca` records, built by string joins (the prompt is constant).

    `outputs` are label JSON strings (`label_to_json`); this is the fast path for large sets.
    """
    p = _dumps(student_prompt())
    head = '{"instruction": ' + p + ', "input": '
    tail = ', "system": ' + p + "}\n"
    for t, o in zip(texts, outputs, strict=True):
        yield head + _dumps(t) + ', "output": ' + _dumps(o) + tail


def messages_lines(texts: Iterable[str], outputs: Iterable[str]) -> Iterable[str]:
    """JSON lines equal to `to_messages` records, built by string joins."""
    head = (
        '{"messages": [{"role": "system", "content": '
        + _dumps(student_prompt())
        + '}, {"role": "user", "content": '
    )
    mid = '}, {"role": "assistant", "content": '
    for t, o in zip(texts, outputs, strict=True):
        yield head + _dumps(t) + mid + _dumps(o) + "}]}\n"


def write_lines(path: str | os.PathLike[str], lines: Iterable[str]) -> int:
    """Stream text lines into `path` atomically (temp file, fsync, rename); returns the count.

    Streaming keeps memory flat for million-row files, unlike building one big string.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
            for line in lines:
                fh.write(line)
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return n


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per line (UTF-8, non-ASCII kept) atomically; returns the count."""
    return write_lines(path, (_dumps(r) + "\n" for r in records))


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a bad line raises ValueError naming the file and line."""
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {n}: invalid JSON ({exc.msg})") from None
    return out
