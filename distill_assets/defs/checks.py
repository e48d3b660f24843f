"""Asset checks on the edges of the graph: specs and results made from core/evaluation/gates.py.

Which check exists, on which asset, whether it blocks and what decides it are all in gates.py;
this module only speaks Dagster.
"""

from __future__ import annotations

import json
import warnings

import dagster as dg

from distill_assets.core.evaluation.gates import CHECKS, Verdict
from distill_assets.defs.partitions import dataset_version


def check_spec(name: str) -> dg.AssetCheckSpec:
    info = CHECKS[name]
    # Partitioned checks are a Dagster preview: results are kept per dataset_version.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name=name,
            asset=info.asset,
            description=info.description,
            blocking=info.blocking,
            partitions_def=dataset_version,
        )


def specs_for(asset: str) -> list[dg.AssetCheckSpec]:
    return [check_spec(name) for name, info in CHECKS.items() if info.asset == asset]


def check_result(verdict: Verdict) -> dg.AssetCheckResult:
    info = CHECKS[verdict.check]
    error = info.blocking or info.error
    severity = dg.AssetCheckSeverity.ERROR if error else dg.AssetCheckSeverity.WARN
    metadata: dict = {"detail": verdict.detail}
    for key, value in verdict.metrics.items():
        if isinstance(value, bool | int | float | str):
            metadata[key] = value
        else:
            metadata[key] = dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))
    return dg.AssetCheckResult(
        check_name=verdict.check, passed=verdict.passed, severity=severity, metadata=metadata
    )


def is_blocking_failure(verdict: Verdict) -> bool:
    return CHECKS[verdict.check].blocking and not verdict.passed
