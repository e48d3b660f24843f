"""A version's artifacts written by hand (no training): enough for promotion and its audit."""

from __future__ import annotations

import json
from pathlib import Path

from distill_assets.core.common.lineage import ASSET_CHAIN, write_manifest


def fake_version(home: Path, version: str, *, passed: bool = True, tuned: float = 0.8) -> Path:
    """<home>/artifacts/<version>/... with manifests chained like a real run's."""
    root = Path(home) / "artifacts" / version
    extras = {
        "raw_addresses": {
            "source": {"kind": "file", "sha256": f"{version}-sha", "original_path": "/in.jsonl"}
        },
        "teacher_labels": {"teacher_model": "qwen3-235b-a22b", "prompt_hash": "abc123def456"},
        "training_dataset": {"counts": {"train": 90, "val": 5, "test": 25}},
        "lora_adapter": {"base_model": "Qwen/Qwen3-0.6B"},
        "merged_model": {},
        "eval_report": {
            "promotion": {
                "passed": passed,
                "reason": "tuned exact match beats base" if passed else "tuned below threshold",
            }
        },
    }
    upstream: dict[str, str] = {}
    versions: dict[str, str] = {}
    for asset in ASSET_CHAIN:
        folder = root / asset
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data.txt").write_text(f"{asset} of {version}", encoding="utf-8")
        if asset == "merged_model":
            (folder / "config.json").write_text('{"model_type": "qwen3"}', encoding="utf-8")
        if asset == "eval_report":
            metrics = {
                "tuned": {"exact_match": tuned},
                "base": {"exact_match": 0.1},
                "params": {"json_constrained": True, "grounded": True, "canonicalize": True},
            }
            (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
            upstream = {
                "merged_model": versions["merged_model"],
                "training_dataset": versions["training_dataset"],
            }
        manifest = write_manifest(
            folder,
            asset=asset,
            version=version,
            code_version="v1",
            upstream=upstream,
            extra=extras[asset],
        )
        versions[asset] = manifest["data_version"]
        upstream = {asset: manifest["data_version"]}
    return root
