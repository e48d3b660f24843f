"""The inbox: data files dropped in a folder become dataset versions (named by file and
content hash; the same content twice is one version)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from distill_assets.core.common.artifacts import atomic_write_text, sha256_file
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.data.dataset_versions import (
    InvalidInputFile,
    VersionError,
    list_specs,
    register_file,
)

INBOX_ENV = "DISTILL_INBOX"
INBOX_SUFFIXES = frozenset({".jsonl", ".json", ".csv", ".parquet"})
REJECTED_DIR = "rejected"  # bad files are moved to <inbox>/rejected/ with <name>.reason.txt


@dataclass
class InboxScan:
    new_keys: list[str]  # versions that are not partitions yet
    cursor: dict[str, list[str]]
    rejected: dict[str, str] = field(default_factory=dict)  # file name -> why


def inbox_dir(home: Path) -> Path:
    """$DISTILL_INBOX, else <home>/inbox."""
    return Path(os.environ.get(INBOX_ENV) or Path(home) / "inbox")


def inbox_files(folder: Path) -> list[Path]:
    """Data files only: hidden files and other suffixes (.tmp, .part, ...) are half-written or
    not ours, so a producer writes `.name.jsonl` and renames it when complete."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in INBOX_SUFFIXES
    )


def reject_file(path: Path, reason: str) -> Path:
    """Move a bad inbox file to <inbox>/rejected/ and write why beside it."""
    dest_dir = path.parent / REJECTED_DIR
    dest_dir.mkdir(exist_ok=True)
    dest = dest_dir / path.name
    atomic_write_text(dest_dir / f"{path.name}.reason.txt", reason + "\n")
    os.replace(path, dest)
    return dest


def _signature(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def scan_inbox(
    home: Path,
    folder: Path,
    known: set[str],
    cursor: dict[str, list[str]],
    log: Logger = null_log,
) -> InboxScan:
    """Register new inbox files as versions: the keys not yet partitions, the new cursor, and
    the files rejected (read with the reader of raw_addresses and found bad: moved away).

    The cursor maps file name -> [size:mtime signature, version key], so unchanged files are not
    hashed again. A version is its content: a file whose bytes are already registered (under any
    name) maps to that version instead of making a new one.
    """
    new_cursor: dict[str, list[str]] = {}
    by_digest: dict[str, str] | None = None
    new_keys: list[str] = []
    rejected: dict[str, str] = {}
    for path in inbox_files(folder):
        sig = _signature(path)
        seen = cursor.get(path.name)
        if seen and seen[0] == sig:
            new_cursor[path.name] = seen
            continue
        if by_digest is None:
            by_digest = {s.sha256: s.key for s in list_specs(home) if s.kind == "file"}
        digest = sha256_file(path)
        key = by_digest.get(digest)
        if key is None:
            try:
                key = register_file(home, path).key
            except InvalidInputFile as exc:
                dest = reject_file(path, str(exc))
                rejected[path.name] = str(exc)
                log(f"inbox: rejected {path.name} (moved to {dest}): {exc}")
                continue
            except VersionError as exc:
                log(f"inbox: skipped {path.name} for now: {exc}")
                continue
            by_digest[digest] = key
            log(f"inbox: {path.name} registered as dataset_version {key}")
        elif key in known or key in new_keys:
            log(f"inbox: {path.name} has the content of version {key}; nothing new")
        new_cursor[path.name] = [sig, key]
        if key not in known and key not in new_keys:
            new_keys.append(key)
    return InboxScan(new_keys, new_cursor, rejected)
