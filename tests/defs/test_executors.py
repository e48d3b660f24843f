"""GPU steps one at a time: in a run (executor tag limit), across runs (the `gpu` pool of
dagster_home/dagster.yaml), and on Kubernetes (the pod asks for nvidia.com/gpu)."""

import importlib
import json
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob

from distill_assets.defs.executors import (
    GPU_POOL,
    K8S_GPU_RESOURCE,
    build_executor,
    gpu_op_tags,
    local_executor,
)

REPO = Path(__file__).resolve().parents[2]
GPU_ASSETS = ("lora_adapter", "merged_model", "eval_report")


class StepConfig(dg.Config):
    out_dir: str
    peer: str  # the other step of the pair
    wait_s: float  # how long to wait for the peer to start


def _record(config: StepConfig, name: str) -> None:
    """Write start, wait (bounded) for the peer to start, then write end.

    Two steps allowed to overlap always do; two that are serialised wait out `wait_s` and
    never overlap.
    """
    out = Path(config.out_dir)
    start = time.time()
    (out / f"{name}.start").write_text(str(start))
    peer = out / f"{config.peer}.start"
    deadline = start + config.wait_s
    while not peer.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    (out / f"{name}.json").write_text(json.dumps({"start": start, "end": time.time()}))


@dg.op(tags={"gpu": "true"}, out=dg.Out(dg.Nothing))
def gpu_a(config: StepConfig) -> None:
    _record(config, "gpu_a")


@dg.op(tags={"gpu": "true"}, out=dg.Out(dg.Nothing))
def gpu_b(config: StepConfig) -> None:
    _record(config, "gpu_b")


@dg.op(ins={"after": dg.In(dg.Nothing)})
def cpu_a(config: StepConfig) -> None:
    _record(config, "cpu_a")


@dg.op(ins={"after": dg.In(dg.Nothing)})
def cpu_b(config: StepConfig) -> None:
    _record(config, "cpu_b")


@dg.job(executor_def=local_executor())
def gpu_then_cpu_pairs() -> None:
    """Two independent gpu steps, then two untagged steps; one run keeps the test fast."""
    done = [gpu_a(), gpu_b()]
    cpu_a(after=done)
    cpu_b(after=done)


PAIRS = {"gpu_a": "gpu_b", "gpu_b": "gpu_a", "cpu_a": "cpu_b", "cpu_b": "cpu_a"}


@pytest.fixture(scope="module")
def step_times(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Start/end times of each step of one run with the project's executor definition."""
    out = tmp_path_factory.mktemp("steps")
    # gpu steps wait briefly for their peer (serialised, they wait it out); cpu steps long
    # (they must meet, or the test fails on the missing overlap, not on a timeout).
    ops = {
        name: {
            "config": {
                "out_dir": str(out),
                "peer": peer,
                "wait_s": 1.5 if name.startswith("gpu") else 30.0,
            }
        }
        for name, peer in PAIRS.items()
    }
    # By file, not module: tests/ is not a package, so step processes load this file by path.
    job = ReconstructableJob.for_file(__file__, "gpu_then_cpu_pairs")
    with (
        dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster"))) as instance,
        dg.execute_job(job, instance=instance, run_config={"ops": ops}) as result,
    ):
        assert result.success
    return {name: json.loads((out / f"{name}.json").read_text()) for name in PAIRS}


def _overlap(x: dict, y: dict) -> bool:
    return x["start"] < y["end"] and y["start"] < x["end"]


def test_gpu_steps_never_overlap_within_a_run(step_times):
    assert not _overlap(step_times["gpu_a"], step_times["gpu_b"]), step_times


def test_untagged_steps_run_side_by_side(step_times):
    assert _overlap(step_times["cpu_a"], step_times["cpu_b"]), step_times


def test_executor_choice():
    assert build_executor("multiprocess").name == "gpu_aware_multiprocess"
    with pytest.raises(ValueError, match="DISTILL_EXECUTOR"):
        build_executor("slurm")


# --- across runs: the instance's gpu pool --------------------------------------------------


@pytest.fixture
def project_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An instance loaded from the project's dagster_home/dagster.yaml, in a temp home."""
    shutil.copyfile(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    yield instance
    instance.dispose()


def test_project_instance_limits_the_gpu_pool_to_one(project_instance):
    storage = project_instance.event_log_storage
    assert storage.supports_global_concurrency_limits
    # A pool's limit is set to the default the first time a step of it asks for a slot.
    storage.initialize_concurrency_limit_to_default(GPU_POOL)
    info = storage.get_concurrency_info(GPU_POOL)
    assert info.slot_count == 1

    first = storage.claim_concurrency_slot(GPU_POOL, "run-a", "lora_adapter")
    second = storage.claim_concurrency_slot(GPU_POOL, "run-b", "lora_adapter")
    assert first.is_claimed and not second.is_claimed
    # What run monitoring does once a crashed run has been over for a while:
    storage.free_concurrency_slots_for_run("run-a")
    assert storage.claim_concurrency_slot(GPU_POOL, "run-b", "lora_adapter").is_claimed


def test_crashed_runs_give_their_slots_back(project_instance):
    assert project_instance.run_monitoring_enabled
    seconds = project_instance.run_monitoring_settings.get("free_slots_after_run_end_seconds")
    assert seconds is not None and seconds > 0


def test_gpu_assets_take_the_gpu_pool():
    from distill_assets.definitions import defs

    job = defs.resolve_job_def("distill_graph")
    pools = {node.name: getattr(node.definition, "pool", None) for node in job.graph.nodes}
    for name in GPU_ASSETS:
        assert pools[name] == GPU_POOL, name


# --- Kubernetes ----------------------------------------------------------------------------


def _step_pod_spec(op_tags: dict):
    """The pod spec of the step Job dagster-k8s builds for an op with these tags."""
    k8s_job = pytest.importorskip("dagster_k8s.job")
    user_config = k8s_job.get_user_defined_k8s_config(op_tags)
    job_config = k8s_job.DagsterK8sJobConfig(job_image="distill:test", dagster_home="/opt/home")
    v1_job = k8s_job.construct_dagster_k8s_job(
        job_config,
        args=["dagster", "api", "execute_step"],
        job_name="dagster-step-test",
        user_defined_k8s_config=user_config,
        pod_name="dagster-step-test",
    )
    return v1_job.spec.template.spec


def _pod_gpu_limit(op_tags: dict) -> str | None:
    """The GPU limit of the step pod dagster-k8s builds for an op with these tags."""
    (container,) = _step_pod_spec(op_tags).containers
    limits = container.resources.limits if container.resources else None
    return (limits or {}).get(K8S_GPU_RESOURCE)


@pytest.fixture
def k8s_defs(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("dagster_k8s")
    import distill_assets.definitions as definitions

    monkeypatch.setenv("DISTILL_EXECUTOR", "k8s")
    yield importlib.reload(definitions).defs
    monkeypatch.delenv("DISTILL_EXECUTOR")
    importlib.reload(definitions)


def test_k8s_definitions_load_and_gpu_pods_ask_for_a_gpu(k8s_defs):
    job = k8s_defs.resolve_job_def("distill_graph")
    assert job.executor_def.name == "gpu_aware_k8s"
    dg.Definitions.validate_loadable(k8s_defs)
    for node in job.graph.nodes:
        limit = _pod_gpu_limit(dict(node.definition.tags))
        if node.name in GPU_ASSETS:
            assert limit == "1", node.name
        else:
            assert limit is None, node.name


def test_gpu_op_tags_render_to_a_gpu_pod():
    pytest.importorskip("dagster_k8s")

    @dg.op(tags=gpu_op_tags(2))
    def train() -> None: ...

    assert _pod_gpu_limit(dict(train.tags)) == "2"

    @dg.op
    def plain() -> None: ...

    assert _pod_gpu_limit(dict(plain.tags)) is None


def _tolerations(pod_spec) -> list[dict]:
    return [
        {k: v for k, v in t.to_dict().items() if v is not None} for t in pod_spec.tolerations or []
    ]


def test_k8s_gpu_pods_go_to_the_gpu_node_pool(k8s_defs):
    """Each gpu step's pod selects the GPU nodes and tolerates their taint, beside its limit;
    the other steps' pods neither select nor tolerate them."""
    job = k8s_defs.resolve_job_def("distill_graph")
    for node in job.graph.nodes:
        spec = _step_pod_spec(dict(node.definition.tags))
        if node.name in GPU_ASSETS:
            assert spec.node_selector == {"nvidia.com/gpu.present": "true"}, node.name
            assert _tolerations(spec) == [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ], node.name
            assert _pod_gpu_limit(dict(node.definition.tags)) == "1", node.name
        else:
            assert not spec.node_selector and not spec.tolerations, node.name


def test_gpu_node_pool_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("dagster_k8s")
    monkeypatch.setenv("DISTILL_GPU_NODE_SELECTOR", "pool=gpu-h100, cloud.example/accel=h100")
    monkeypatch.setenv("DISTILL_GPU_TOLERATION", "dedicated=gpu:NoExecute")

    @dg.op(tags=gpu_op_tags())
    def train() -> None: ...

    spec = _step_pod_spec(dict(train.tags))
    assert spec.node_selector == {"pool": "gpu-h100", "cloud.example/accel": "h100"}
    assert _tolerations(spec) == [
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoExecute"}
    ]
    monkeypatch.setenv("DISTILL_GPU_TOLERATION", "dedicated=gpu")
    with pytest.raises(ValueError, match="DISTILL_GPU_TOLERATION"):
        gpu_op_tags()
