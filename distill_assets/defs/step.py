"""The skeleton every asset shares, written once: partition, upstream versions, a staging
folder, the core call, the lineage manifest, the checks, then the swap into place.

A blocking check that fails leaves the last good artifact of the partition untouched: the new
one is moved to `<version>/.rejected/` for inspection and the step fails, so nothing downstream
runs on it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from distill_assets.core.common.artifacts import new_sibling_dir, replace_dir
from distill_assets.core.common.lineage import (
    ASSET_CHAIN,
    INHERITED_KEYS,
    asset_dir,
    upstream_versions,
    write_manifest,
)
from distill_assets.core.common.profiles import Profile
from distill_assets.core.evaluation.gates import Verdict
from distill_assets.defs.checks import check_result, is_blocking_failure
from distill_assets.defs.metadata import to_metadata
from distill_assets.defs.resources import DistillSettings

# What a core step raises for bad input or a failed run: it becomes a dg.Failure naming the step.
CORE_ERRORS: tuple[type[BaseException], ...] = (ValueError, RuntimeError, KeyError, OSError)


@dataclass
class Built:
    """What the core call produced, as the skeleton records it."""

    params: dict[str, Any]  # parameters of the step, for the manifest
    metadata: dict[str, Any]  # shown in the UI first (plain values; see defs/metadata.py)
    extra: dict[str, Any] = field(default_factory=dict)  # more manifest keys (lineage)
    verdicts: list[Verdict] = field(default_factory=list)  # the asset's checks


@dataclass
class Step:
    """One asset of one partition; its name, upstream assets and code version are the asset
    definition's own."""

    context: dg.AssetExecutionContext
    settings: DistillSettings

    @property
    def asset(self) -> str:
        return self.context.asset_key.path[-1]

    @property
    def upstream(self) -> tuple[str, ...]:
        deps = {k.path[-1] for k in self.context.assets_def.asset_deps[self.context.asset_key]}
        return tuple(a for a in ASSET_CHAIN if a in deps)

    @property
    def code_version(self) -> str:
        return str(self.context.assets_def.code_versions_by_key.get(self.context.asset_key) or "")

    @property
    def key(self) -> str:
        return self.context.partition_key

    @property
    def profile(self) -> Profile:
        return self.settings.get_profile()

    def log(self, msg: str) -> None:
        self.context.log.info(msg)

    def dir(self, asset: str | None = None) -> Path:
        return asset_dir(self.settings.artifacts, self.key, asset or self.asset)

    def scratch(self) -> Path:
        """State kept across attempts of this step (training checkpoints), not part of it."""
        path = self.settings.artifacts / self.key / ".scratch" / self.asset
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fail(self, exc: BaseException | str) -> dg.Failure:
        return dg.Failure(description=f"{self.asset} failed: {exc}", metadata={"error": str(exc)})

    def run(self, build: Callable[[Path], Built]) -> dg.MaterializeResult:
        """build(staging folder) -> Built; manifest, checks, swap; the MaterializeResult."""
        final = self.dir()
        try:
            upstream = upstream_versions(self.settings.artifacts, self.key, self.upstream)
        except CORE_ERRORS as exc:
            raise self.fail(exc) from exc
        staging = new_sibling_dir(final, "staging")
        try:
            built = build(staging)
            manifest = write_manifest(
                staging,
                version=self.key,
                asset=self.asset,
                code_version=self.code_version,
                upstream=upstream,
                params=built.params,
                extra=built.extra,
            )
        except CORE_ERRORS as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise self.fail(exc) from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        blocked = [v for v in built.verdicts if is_blocking_failure(v)]
        path = self._reject(staging) if blocked else self._swap(staging, final)
        return dg.MaterializeResult(
            metadata={
                **to_metadata(built.metadata),
                **self._lineage_metadata(manifest, path, rejected=bool(blocked)),
            },
            data_version=dg.DataVersion(manifest["data_version"]),
            check_results=[check_result(v) for v in built.verdicts],
        )

    def _swap(self, staging: Path, final: Path) -> Path:
        replace_dir(staging, final)
        return final

    def _reject(self, staging: Path) -> Path:
        # The staging folder's random part keeps two rejections within a second apart.
        stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{staging.name.split('.')[-2]}"
        dest = self.settings.artifacts / self.key / ".rejected" / f"{self.asset}-{stamp}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(dest)
        self.context.log.error(
            f"{self.asset}: a blocking check failed; the previous artifact stays in place and "
            f"this one was moved to {dest}"
        )
        return dest

    @staticmethod
    def _lineage_metadata(manifest: dict[str, Any], path: Path, rejected: bool) -> dict[str, Any]:
        """Hashes and versions, after the figures a person reads first."""
        return {
            "path": dg.MetadataValue.path(str(path)),
            "rejected": rejected,
            "data_version": manifest["data_version"],
            "code_version": manifest["code_version"],
            **{k: str(manifest[k]) for k in INHERITED_KEYS if manifest.get(k)},
            "upstream": dg.MetadataValue.json(manifest["upstream"]),
            "files_sha256": dg.MetadataValue.json(manifest["files"]),
            "packages": dg.MetadataValue.json(manifest["packages"]),
        }
