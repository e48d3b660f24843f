"""Lineage manifests: what each artifact is, what it was built from, and its content hashes.

Every asset writes `<artifacts>/<version>/<asset>/lineage.json` last, after its files, so a
manifest never points at a half-written artifact. `audit()` walks the chain and re-hashes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import (
    atomic_write_json,
    package_versions,
    sha256_file,
    sha256_text,
)

ASSET_CHAIN: tuple[str, ...] = (
    "raw_addresses",
    "teacher_labels",
    "training_dataset",
    "lora_adapter",
    "merged_model",
    "eval_report",
)
MANIFEST = "lineage.json"
# Resumable state kept beside an artifact but not part of it (training checkpoints).
SCRATCH_DIRS = frozenset({"checkpoints"})
INHERITED_KEYS = ("teacher_model", "prompt_hash", "base_model")


class LineageError(RuntimeError):
    pass


def asset_dir(root: Path, version: str, asset: str) -> Path:
    return Path(root) / version / asset


def hash_artifacts(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` by relative path; manifest, scratch, temp excluded."""
    out: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(folder).as_posix()
        parts = p.relative_to(folder).parts
        if rel == MANIFEST or parts[0] in SCRATCH_DIRS or any(x.startswith(".") for x in parts):
            continue
        out[rel] = sha256_file(p)
    return out


def data_version_of(files: dict[str, str]) -> str:
    """One hash for a set of files: stable across machines, changes with any byte."""
    return sha256_text("\n".join(f"{k}\t{v}" for k, v in sorted(files.items())))[:24]


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise LineageError(f"missing manifest: {path}")
    return json.loads(path.read_text("utf-8"))


def write_manifest(
    folder: Path,
    *,
    asset: str,
    version: str,
    code_version: str,
    upstream: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Hash the folder's files and write its manifest; returns the manifest (with data_version)."""
    files = hash_artifacts(folder)
    if not files:
        raise LineageError(f"{folder} holds no artifact to record")
    # The teacher, prompt and base model travel down the chain, so every artifact names them.
    inherited: dict[str, Any] = {}
    for up in upstream or {}:
        up_manifest = read_manifest(Path(folder).parent / up)
        for key in INHERITED_KEYS:
            if up_manifest.get(key) and key not in inherited:
                inherited[key] = up_manifest[key]
    manifest = {
        "asset": asset,
        "version": version,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "data_version": data_version_of(files),
        "code_version": code_version,
        "upstream": dict(upstream or {}),
        "params": params or {},
        "packages": package_versions(),
        "files": files,
        **inherited,
        **(extra or {}),
    }
    atomic_write_json(Path(folder) / MANIFEST, manifest)
    return manifest


def upstream_versions(root: Path, version: str, assets: tuple[str, ...]) -> dict[str, str]:
    """The data versions of the upstream artifacts a step is about to consume."""
    return {a: read_manifest(asset_dir(root, version, a))["data_version"] for a in assets}


@dataclass
class AuditResult:
    version: str
    ok: bool = True
    steps: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _check_files(folder: Path, manifest: dict[str, Any], label: str, problems: list[str]) -> int:
    """Re-hash the files a manifest lists; the number that match, a problem for each other."""
    ok = 0
    for rel, expected in manifest.get("files", {}).items():
        path = folder / rel
        if not path.exists():
            problems.append(f"{label}: missing file {path}")
        elif sha256_file(path) != expected:
            problems.append(f"{label}: altered file {path} (hash differs from manifest)")
        else:
            ok += 1
    return ok


def _audit_included(root: Path, asset: str, manifest: dict[str, Any], problems: list[str]) -> list:
    """The other versions an artifact was built from (`included_versions`): each artifact it
    read must still be on disk, unaltered, at the data version it consumed."""
    followed: list[dict[str, Any]] = []
    for entry in manifest.get("included_versions", []):
        other = str(entry["version"])
        for up in ASSET_CHAIN:
            consumed = entry.get(up)
            if not consumed:
                continue
            folder = asset_dir(root, other, up)
            label = f"{asset}: included {other}/{up}"
            try:
                up_manifest = read_manifest(folder)
            except LineageError as exc:
                problems.append(f"{label}: {exc}")
                continue
            files_ok = _check_files(folder, up_manifest, label, problems)
            if up_manifest["data_version"] != consumed:
                problems.append(
                    f"{label}: built from {consumed}, but it is {up_manifest['data_version']} "
                    "on disk"
                )
            followed.append(
                {
                    "version": other,
                    "asset": up,
                    "data_version": up_manifest["data_version"],
                    "files_ok": files_ok,
                    "files": len(up_manifest.get("files", {})),
                }
            )
    return followed


def audit(root: Path, version: str) -> AuditResult:
    """Re-hash every artifact of `version` and check each step consumed its upstream's version;
    artifacts of other versions a step included (a dataset over earlier versions) likewise."""
    result = AuditResult(version=version)
    seen: dict[str, str] = {}
    for asset in ASSET_CHAIN:
        folder = asset_dir(root, version, asset)
        try:
            manifest = read_manifest(folder)
        except LineageError as exc:
            result.problems.append(f"{asset}: {exc}")
            continue
        step: dict[str, Any] = {"asset": asset, "manifest": manifest}
        step["files_ok"] = _check_files(folder, manifest, asset, result.problems)
        step["included"] = _audit_included(root, asset, manifest, result.problems)
        for up, consumed in manifest.get("upstream", {}).items():
            if up in seen and seen[up] != consumed:
                result.problems.append(
                    f"{asset}: built from {up} {consumed}, but {up} on disk is {seen[up]}"
                )
        seen[asset] = manifest["data_version"]
        result.steps.append(step)
    result.ok = not result.problems
    return result
