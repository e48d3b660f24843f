"""Executors: GPU-tagged steps run one at a time in a run; on Kubernetes they ask for a GPU."""

from __future__ import annotations

import os

import dagster as dg

GPU_TAG_LIMIT = [{"key": "gpu", "value": "true", "limit": 1}]


def local_executor() -> dg.ExecutorDefinition:
    return dg.multiprocess_executor.configured(
        {"max_concurrent": 2, "tag_concurrency_limits": GPU_TAG_LIMIT},
        name="gpu_aware_multiprocess",
    )


def k8s_executor() -> dg.ExecutorDefinition:
    """Each step in its own pod; `gpu` steps carry `dagster-k8s/config` asking nvidia.com/gpu."""
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(
        {"max_concurrent": 4, "tag_concurrency_limits": GPU_TAG_LIMIT},
        name="gpu_aware_k8s",
    )


def build_executor(kind: str | None = None) -> dg.ExecutorDefinition:
    """`DISTILL_EXECUTOR=k8s` selects the Kubernetes executor (needs the `k8s` extra)."""
    kind = kind or os.environ.get("DISTILL_EXECUTOR", "multiprocess")
    if kind == "k8s":
        return k8s_executor()
    if kind != "multiprocess":
        raise ValueError(f"DISTILL_EXECUTOR must be multiprocess or k8s, got {kind!r}")
    return local_executor()
