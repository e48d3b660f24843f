"""Dataset versions: an immutable spec per `dataset_version` partition key.

A version is registered once (synthetic batch, or a copy of an input file) and never changes, so
re-materialising a partition reproduces the same raw data. Specs live in
`<home>/versions/<key>.json`; input files are copied to `<home>/versions/files/`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from distill_assets.core.common.artifacts import atomic_write_json, sha256_file
from distill_assets.core.data.inputs import InputError, input_suffix, read_text_table

_KEY_RE = re.compile(r"[^A-Za-z0-9_.-]+")


class VersionError(ValueError):
    pass


class InvalidInputFile(VersionError):
    """The file cannot be read as a text table (the reader's message names file and row): it is
    bad as it stands, not half-written, so it is never registered."""


@dataclass(frozen=True)
class VersionSpec:
    key: str
    kind: str  # "synthetic" | "file"
    rows: int = 0  # synthetic only
    seed: int = 0  # synthetic only
    path: str = ""  # file only: the registered copy
    original_path: str = ""
    sha256: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def slug(name: str) -> str:
    s = _KEY_RE.sub("-", name).strip("-.").lower()
    return s[:48] or "version"


def versions_dir(home: Path) -> Path:
    return Path(home) / "versions"


def spec_path(home: Path, key: str) -> Path:
    return versions_dir(home) / f"{key}.json"


def load_spec(home: Path, key: str) -> VersionSpec:
    path = spec_path(home, key)
    if not path.exists():
        raise VersionError(
            f"dataset version {key!r} is not registered (no {path}); "
            "add it with `distill add-version` or the inbox sensor"
        )
    return VersionSpec(**json.loads(path.read_text("utf-8")))


def list_specs(home: Path) -> list[VersionSpec]:
    root = versions_dir(home)
    if not root.exists():
        return []
    return [load_spec(home, p.stem) for p in sorted(root.glob("*.json"))]


def _store(home: Path, spec: VersionSpec) -> VersionSpec:
    path = spec_path(home, spec.key)
    if path.exists():
        existing = load_spec(home, spec.key)
        if existing.to_json() != spec.to_json():
            raise VersionError(
                f"dataset version {spec.key!r} already exists with other content; "
                "versions are immutable, choose another name"
            )
        return existing
    atomic_write_json(path, spec.to_json())
    return spec


def register_synthetic(home: Path, rows: int, seed: int = 0, name: str = "") -> VersionSpec:
    if rows <= 0:
        raise VersionError(f"a synthetic version needs rows > 0, got {rows}")
    key = slug(name) if name else f"syn-{rows}-s{seed}"
    return _store(home, VersionSpec(key=key, kind="synthetic", rows=rows, seed=seed))


def validate_file(src: Path) -> str:
    """Read `src` with the reader `raw_addresses` uses; its sha256 as read.

    InvalidInputFile when the content is bad; a plain VersionError when the file changed while
    it was read (a writer still at work: try again later).
    """
    before = _signature(src)
    try:
        frame = read_text_table(src)
    except InputError as exc:
        if _signature(src) != before:
            raise VersionError(f"{src} changed while it was read; try again when complete") from exc
        raise InvalidInputFile(f"{exc}; nothing registered") from exc
    return str(frame.attrs["input"]["sha256"])


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns)


def register_file(home: Path, src: Path, name: str = "", validate: bool = True) -> VersionSpec:
    """Copy `src` under the versions folder; the key ends with its content hash.

    The file is read first with the reader of `raw_addresses` (`validate`), so a bad file is an
    error here, naming file and row, instead of a partition that fails later. The same content
    registered twice (under the same name) is one version.
    """
    src = Path(src)
    if not src.is_file():
        raise VersionError(f"input file not found: {src}")
    digest = validate_file(src) if validate else sha256_file(src)
    key = f"{slug(name or src.stem)}-{digest[:10]}"
    existing = spec_path(home, key)
    if existing.exists():
        return load_spec(home, key)
    files = versions_dir(home) / "files"
    files.mkdir(parents=True, exist_ok=True)
    dest = files / f"{key}{input_suffix(src) or src.suffix.lower()}"  # keeps .csv.gz whole
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    if sha256_file(tmp) != digest:
        tmp.unlink(missing_ok=True)
        raise VersionError(f"{src} changed while it was copied; try again when it is complete")
    tmp.replace(dest)
    spec = VersionSpec(
        key=key, kind="file", path=str(dest), original_path=str(src.resolve()), sha256=digest
    )
    return _store(home, spec)
