"""A crash-safe, on-disk cache of teacher answers, so that no answer is ever paid for twice.

SQLite in WAL mode, one committed transaction per answer, written the moment it arrives. A
committed transaction is in the WAL file before `put` returns, so a SIGKILL of the process
loses at most the answer in flight and never corrupts earlier entries (SQLite's journal makes
every commit atomic). `synchronous=NORMAL` does not fsync each commit: that guards against a
process crash, not a power cut; pass `durable=True` for an fsync per answer.

Only answers that parsed ("ok"/"repaired") are stored: errors, refusals and invalid answers are
never cached, so a rerun asks for them again. The key covers everything that shapes the
answer: base URL, model, the full system prompt's hash, generation parameters and the text.
The API key is never part of an entry.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import sha256_text

CACHE_FILE = "teacher_cache.sqlite3"
CACHE_SCHEMA = 1


def cache_key(base_url: str, model: str, prompt_sha: str, params: dict[str, Any], text: str) -> str:
    """sha256 over a canonical JSON of everything that determines the teacher's answer."""
    payload = {
        "v": CACHE_SCHEMA,
        "base_url": base_url.rstrip("/"),
        "model": model,
        "prompt": prompt_sha,
        "params": params,
        "text": text,
    }
    return sha256_text(json.dumps(payload, ensure_ascii=False, sort_keys=True))


@dataclass(frozen=True)
class CachedAnswer:
    raw_response: str
    tokens_in: int
    tokens_out: int
    latency_s: float
    response_model: str


class LabelCache:
    """Key -> answer store; safe to share between threads and between processes."""

    def __init__(self, cache_dir: str | os.PathLike[str], durable: bool = False) -> None:
        self.path = Path(cache_dir) / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS answers ("
                " key TEXT PRIMARY KEY, raw_response TEXT NOT NULL,"
                " tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,"
                " latency_s REAL NOT NULL, response_model TEXT NOT NULL,"
                " created_at REAL NOT NULL)"
            )
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise RuntimeError(f"label cache {self.path} is unreadable: {exc}") from exc

    def get_many(self, keys: list[str]) -> dict[str, CachedAnswer]:
        out: dict[str, CachedAnswer] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    "SELECT key, raw_response, tokens_in, tokens_out, latency_s, response_model"
                    f" FROM answers WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, raw, t_in, t_out, lat, model in rows:
                    out[key] = CachedAnswer(raw, int(t_in), int(t_out), float(lat), model)
        return out

    def put(self, key: str, answer: CachedAnswer) -> None:
        """Commit one answer now (autocommit: the INSERT is its own transaction)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    answer.raw_response,
                    answer.tokens_in,
                    answer.tokens_out,
                    answer.latency_s,
                    answer.response_model,
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LabelCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
