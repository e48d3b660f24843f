"""Executors: GPU-tagged steps run one at a time in a run; on Kubernetes they ask for a GPU.

Three layers keep one GPU from being shared by two trainings:
- inside a run, the executor's `tag_concurrency_limits` lets one `gpu=true` step run at a time;
- across runs, the steps' `pool="gpu"` takes a slot of the instance's `gpu` pool (limit 1 in
  dagster_home/dagster.yaml; `dagster instance concurrency set gpu N` on a bigger box);
- on Kubernetes each step is its own pod and the `dagster-k8s/config` op tag asks for
  `nvidia.com/gpu`, selects the GPU node pool (`nodeSelector`) and tolerates its taint, so the
  cluster scheduler places it on a GPU node and nothing else lands there.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

EXECUTOR_ENV = "DISTILL_EXECUTOR"
GPU_TAG = "gpu"
GPU_POOL = "gpu"
K8S_GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAG_LIMIT = [{"key": GPU_TAG, "value": "true", "limit": 1}]
# The GPU node pool: a node label to select it and the taint its nodes carry. The defaults are
# what the NVIDIA GPU operator labels (`nvidia.com/gpu.present`) and the taint GKE/AKS/EKS GPU
# pools are usually given; set DISTILL_GPU_NODE_SELECTOR ("key=value,key2=value2") and
# DISTILL_GPU_TOLERATION ("key[=value]:Effect") to a cluster's own.
GPU_NODE_SELECTOR_ENV = "DISTILL_GPU_NODE_SELECTOR"
GPU_TOLERATION_ENV = "DISTILL_GPU_TOLERATION"
DEFAULT_GPU_NODE_SELECTOR = "nvidia.com/gpu.present=true"
DEFAULT_GPU_TOLERATION = "nvidia.com/gpu:NoSchedule"


def gpu_node_selector(spec: str | None = None) -> dict[str, str]:
    """`key=value,...` (default: DISTILL_GPU_NODE_SELECTOR, else the GPU operator's label)."""
    spec = spec if spec is not None else os.environ.get(GPU_NODE_SELECTOR_ENV)
    out: dict[str, str] = {}
    for part in (spec or DEFAULT_GPU_NODE_SELECTOR).split(","):
        key, sep, value = part.strip().partition("=")
        if not key or not sep:
            raise ValueError(f"{GPU_NODE_SELECTOR_ENV}: expected key=value,..., got {spec!r}")
        out[key] = value
    return out


def gpu_toleration(spec: str | None = None) -> dict[str, str]:
    """`key[=value]:Effect` as a pod toleration (Exists without a value, Equal with one)."""
    spec = spec if spec is not None else os.environ.get(GPU_TOLERATION_ENV)
    spec = spec or DEFAULT_GPU_TOLERATION
    key_value, _, effect = spec.rpartition(":")
    key, sep, value = key_value.partition("=")
    if not key or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise ValueError(f"{GPU_TOLERATION_ENV}: expected key[=value]:Effect, got {spec!r}")
    tol = {"key": key, "operator": "Equal" if sep else "Exists", "effect": effect}
    return tol | ({"value": value} if sep else {})


def gpu_op_tags(gpus: int = 1) -> dict[str, Any]:
    """Op tags of a GPU step: the executor limit key, and on Kubernetes the pod's GPU limit,
    the GPU node pool's selector and a toleration of its taint."""
    return {
        GPU_TAG: "true",
        "dagster-k8s/config": {
            "container_config": {"resources": {"limits": {K8S_GPU_RESOURCE: str(gpus)}}},
            "pod_spec_config": {
                "node_selector": gpu_node_selector(),
                "tolerations": [gpu_toleration()],
            },
        },
    }


def local_executor() -> dg.ExecutorDefinition:
    """Two steps at a time (the CPU box has 2 cores), at most one of them on the GPU."""
    return dg.multiprocess_executor.configured(
        {"max_concurrent": 2, "tag_concurrency_limits": GPU_TAG_LIMIT},
        name="gpu_aware_multiprocess",
    )


def k8s_executor() -> dg.ExecutorDefinition:
    """Each step in its own pod; `gpu` steps carry `dagster-k8s/config` asking nvidia.com/gpu.

    Image, namespace and service account come from the K8sRunLauncher of the instance (the
    Dagster Helm chart), so the same code location runs unchanged in any cluster.
    """
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(
        {"max_concurrent": 4, "tag_concurrency_limits": GPU_TAG_LIMIT},
        name="gpu_aware_k8s",
    )


def build_executor(kind: str | None = None) -> dg.ExecutorDefinition:
    """`DISTILL_EXECUTOR=k8s` selects the Kubernetes executor (needs the `k8s` extra)."""
    kind = kind or os.environ.get(EXECUTOR_ENV, "multiprocess")
    if kind == "k8s":
        try:
            return k8s_executor()
        except ImportError as exc:
            raise ImportError(
                f"{EXECUTOR_ENV}=k8s needs dagster-k8s: pip install -e '.[k8s]'"
            ) from exc
    if kind != "multiprocess":
        raise ValueError(f"{EXECUTOR_ENV} must be multiprocess or k8s, got {kind!r}")
    return local_executor()
