"""The `production` alias: which merged model is in production, from which version and why.

`<home>/production/current.json` is the pointer (written atomically, last); the model it names
is a snapshot of the version's merged model in `<home>/production/models/<version>-<data
version>/` (hard links where the filesystem allows, else a copy), so a later rebuild of that
partition never changes what is served. `<home>/production/model` is a symlink to the same
folder for tools that want a fixed path. The records before the current one are kept, newest
first, for `rollback`; `history.jsonl` logs every promotion and rollback.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_write_json, sha256_file
from distill_assets.core.common.home import artifacts_dir
from distill_assets.core.common.lineage import LineageError, asset_dir, audit, read_manifest
from distill_assets.core.student.predict import decoding_of, write_model_decoding

CURRENT = "current.json"
HISTORY = "history.jsonl"
MODEL_LINK = "model"
KEEP_PREVIOUS = 5  # records kept for rollback


class PromotionError(RuntimeError):
    """The version cannot be promoted (gate failed, artifacts missing or altered)."""


def production_dir(home: Path) -> Path:
    return Path(home) / "production"


def read_current(home: Path) -> dict[str, Any] | None:
    """The record in production (with its `previous` list), or None before any promotion."""
    path = production_dir(home) / CURRENT
    if not path.exists():
        return None
    return json.loads(path.read_text("utf-8"))


def candidate(home: Path, version: str) -> dict[str, Any]:
    """What promoting `version` would record; PromotionError when its eval did not pass the
    promotion gate or its artifacts do not match their manifests."""
    root = artifacts_dir(home)
    result = audit(root, version)
    if not result.ok:
        raise PromotionError(f"version {version}: lineage audit failed: {result.problems[0]}")
    evaluation = read_manifest(asset_dir(root, version, "eval_report"))
    merged = read_manifest(asset_dir(root, version, "merged_model"))
    promotion = evaluation.get("promotion") or {}
    if not promotion.get("passed"):
        why = promotion.get("reason") or "no promotion verdict in its eval_report"
        raise PromotionError(f"version {version} did not pass the promotion gate: {why}")
    if evaluation["upstream"].get("merged_model") != merged["data_version"]:
        raise PromotionError(
            f"version {version}: eval_report was built from merged_model "
            f"{evaluation['upstream'].get('merged_model')}, but merged_model is "
            f"{merged['data_version']}; re-run eval_report first"
        )
    metrics = json.loads((asset_dir(root, version, "eval_report") / "metrics.json").read_text())
    return {
        "version": version,
        "merged_data_version": merged["data_version"],
        "eval_data_version": evaluation["data_version"],
        "gate": promotion.get("reason", ""),
        "tuned_exact_match": metrics["tuned"]["exact_match"],
        "base_exact_match": metrics["base"]["exact_match"],
        # how the eval decoded: `distill predict` on the snapshot decodes the same by default
        "decoding": decoding_of(metrics.get("params", {})),
        "model_files": merged["files"],  # the snapshot is re-verified against these
    }


def _snapshot(src: Path, dest: Path) -> Path:
    """A frozen copy of the merged model (hard links: instant and no extra space)."""
    if dest.exists():
        return dest
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)

    def link_or_copy(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, tmp, copy_function=link_or_copy)
    os.replace(tmp, dest)
    return dest


def _point(home: Path, record: dict[str, Any], previous: list[dict[str, Any]]) -> dict[str, Any]:
    """Swap the alias: the symlink, then the pointer file (each an atomic rename)."""
    folder = production_dir(home)
    link = folder / MODEL_LINK
    tmp_link = folder / f".{MODEL_LINK}.tmp-{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(Path(record["model_path"]), target_is_directory=True)
    os.replace(tmp_link, link)
    current = {**record, "previous": previous[:KEEP_PREVIOUS]}
    atomic_write_json(folder / CURRENT, current)
    with open(folder / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return current


def promote(home: Path, version: str, reason: str, by: str = "cli") -> dict[str, Any]:
    """Point `production` at `version`'s merged model; the record now in production."""
    record = candidate(home, version)
    src = asset_dir(artifacts_dir(home), version, "merged_model")
    models = production_dir(home) / "models"
    models.mkdir(parents=True, exist_ok=True)
    snap = _snapshot(src, models / f"{version}-{record['merged_data_version']}")
    for rel, digest in record["model_files"].items():
        if sha256_file(snap / rel) != digest:
            raise PromotionError(f"snapshot {snap / rel} differs from merged_model's manifest")
    write_model_decoding(snap, record["decoding"])
    record.update(
        action="promote",
        reason=reason,
        by=by,
        at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        model_path=str(snap),
    )
    old = read_current(home)
    previous: list[dict[str, Any]] = []
    if old is not None:
        previous = [{k: v for k, v in old.items() if k != "previous"}, *old.get("previous", [])]
    return _point(home, record, previous)


def rollback(home: Path, reason: str = "rollback", by: str = "cli") -> dict[str, Any]:
    """Put the previous record back in production; the current one is dropped from the list."""
    old = read_current(home)
    if old is None or not old.get("previous"):
        raise PromotionError("nothing to roll back to: no previous production model")
    back, *rest = old["previous"]
    if not Path(back["model_path"]).is_dir():
        raise PromotionError(f"the previous model folder is gone: {back['model_path']}")
    record = {
        **back,
        "action": "rollback",
        "reason": reason,
        "by": by,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rolled_back_from": old["version"],
    }
    return _point(home, record, rest)


@dataclass
class Chain:
    """The lineage of the model in production, first to last, and what did not check out."""

    record: dict[str, Any]
    links: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def production_chain(home: Path) -> Chain:
    """raw file hash -> teacher model and prompt hash -> dataset -> adapter -> merged -> eval,
    for the model in production, with every hash re-verified (also the snapshot's)."""
    record = read_current(home)
    if record is None:
        raise PromotionError(f"no model in production ({production_dir(home) / CURRENT})")
    root = artifacts_dir(home)
    version = record["version"]
    chain = Chain(record=record)
    result = audit(root, version)
    chain.problems.extend(result.problems)
    manifests = {step["manifest"]["asset"]: step["manifest"] for step in result.steps}

    def get(asset: str) -> dict[str, Any]:
        return manifests.get(asset, {})

    raw, labels, data = get("raw_addresses"), get("teacher_labels"), get("training_dataset")
    adapter, merged, evaluation = get("lora_adapter"), get("merged_model"), get("eval_report")
    source = raw.get("source") or {}
    chain.links = [
        (
            "raw_addresses",
            {
                "data_version": raw.get("data_version"),
                "kind": source.get("kind"),
                "file_sha256": source.get("sha256") or None,
                "file": source.get("original_path") or None,
                "synthetic_rows": source.get("rows") or None,
            },
        ),
        (
            "teacher_labels",
            {
                "data_version": labels.get("data_version"),
                "teacher_model": labels.get("teacher_model"),
                "prompt_hash": labels.get("prompt_hash"),
            },
        ),
        ("training_dataset", {"data_version": data.get("data_version"), **data.get("counts", {})}),
        (
            "lora_adapter",
            {"data_version": adapter.get("data_version"), "base_model": adapter.get("base_model")},
        ),
        (
            "merged_model",
            {"data_version": merged.get("data_version"), "path": record["model_path"]},
        ),
        (
            "eval_report",
            {
                "data_version": evaluation.get("data_version"),
                "tuned_exact_match": record.get("tuned_exact_match"),
                "base_exact_match": record.get("base_exact_match"),
                "gate": record.get("gate"),
                "decoding": record.get("decoding"),
            },
        ),
    ]
    if merged and merged.get("data_version") != record.get("merged_data_version"):
        chain.problems.append(
            f"merged_model of {version} is now {merged.get('data_version')}; production holds "
            f"the snapshot of {record.get('merged_data_version')} (re-promote to serve the new one)"
        )
    snap = Path(record["model_path"])
    for rel, digest in record.get("model_files", {}).items():
        if not (snap / rel).exists():
            chain.problems.append(f"production snapshot: missing file {snap / rel}")
        elif sha256_file(snap / rel) != digest:
            chain.problems.append(f"production snapshot: altered file {snap / rel}")
    return chain


__all__ = [
    "Chain",
    "LineageError",
    "PromotionError",
    "candidate",
    "production_chain",
    "production_dir",
    "promote",
    "read_current",
    "rollback",
]
