"""The documented PostgreSQL instance (dagster_home/dagster.postgres.yaml) against a real server.

Run by `make test-postgres` (scripts/postgres.sh starts a throw-away server and sets
DAGSTER_PG_*); skipped when DAGSTER_PG_HOST is not set.
"""

import os
import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[1]
PG_ENV = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_DB")

if not os.environ.get("DAGSTER_PG_HOST"):
    pytest.skip(
        "DAGSTER_PG_HOST is not set (make test-postgres starts a server)", allow_module_level=True
    )
pytest.importorskip("dagster_postgres")


@pytest.fixture
def pg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    missing = [k for k in PG_ENV if not os.environ.get(k)]
    assert not missing, f"set {missing} as well as DAGSTER_PG_HOST"
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", os.environ.get("DAGSTER_PG_PASSWORD", ""))
    shutil.copyfile(REPO / "dagster_home" / "dagster.postgres.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def test_materialization_is_recorded_in_postgres_and_read_back(pg_home: Path):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    # Unique names: the database may outlive the test (a developer's server).
    name = f"pg_probe_{uuid.uuid4().hex[:8]}"
    key = f"v-{uuid.uuid4().hex[:8]}"
    partitions = dg.DynamicPartitionsDefinition(name=f"{name}_versions")

    @dg.asset(name=name, partitions_def=partitions, code_version="probe-v1")
    def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata={"rows": 120, "partition": context.partition_key},
            data_version=dg.DataVersion("abc123"),
        )

    writer = _instance(pg_home)
    try:
        assert isinstance(writer.event_log_storage, PostgresEventLogStorage)
        assert isinstance(writer.run_storage, PostgresRunStorage)
        writer.add_dynamic_partitions(partitions.name or "", [key])
        result = dg.materialize([probe], partition_key=key, instance=writer)
        assert result.success
        run_id = result.run_id
    finally:
        writer.dispose()

    # A fresh instance (as the webserver or the daemon would open it) sees the same history.
    reader = _instance(pg_home)
    try:
        asset_key = dg.AssetKey(name)
        event = reader.get_latest_materialization_event(asset_key)
        assert event is not None and event.run_id == run_id
        mat = event.asset_materialization
        assert mat is not None and mat.partition == key
        assert mat.metadata["rows"].value == 120
        assert mat.tags is not None and mat.tags.get("dagster/code_version") == "probe-v1"
        assert mat.tags.get("dagster/data_version") == "abc123"
        assert list(reader.get_dynamic_partitions(partitions.name or "")) == [key]
        run = reader.get_run_by_id(run_id)
        assert run is not None and run.is_success
        reader.wipe_assets([asset_key])
        reader.delete_dynamic_partition(partitions.name or "", key)
    finally:
        reader.dispose()


def test_gpu_pool_limit_in_postgres(pg_home: Path):
    instance = _instance(pg_home)
    try:
        storage = instance.event_log_storage
        pool = f"gpu_probe_{uuid.uuid4().hex[:8]}"
        storage.initialize_concurrency_limit_to_default(pool)
        assert storage.get_concurrency_info(pool).slot_count == 1
        assert storage.claim_concurrency_slot(pool, "run-a", "lora_adapter").is_claimed
        assert not storage.claim_concurrency_slot(pool, "run-b", "lora_adapter").is_claimed
        storage.free_concurrency_slots_for_run("run-a")
        assert storage.claim_concurrency_slot(pool, "run-b", "lora_adapter").is_claimed
        storage.free_concurrency_slots_for_run("run-b")
        storage.delete_concurrency_limit(pool)
    finally:
        instance.dispose()
