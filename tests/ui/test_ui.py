"""The Dagster UI in a real browser (headless Debian Chromium driven by Playwright).

Run by `make test-ui` (scripts/ui_test.sh): it materialises a small version into a temp
DAGSTER_HOME, starts dagster-webserver and dagster-daemon on it, and sets DISTILL_UI_*.
Skipped when DISTILL_UI_URL is not set.
"""

import os
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from distill_assets.core.common.lineage import ASSET_CHAIN

pytestmark = pytest.mark.ui

URL = os.environ.get("DISTILL_UI_URL", "").rstrip("/")
if not URL:
    pytest.skip("DISTILL_UI_URL is not set (make test-ui starts a server)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

ASSETS = list(ASSET_CHAIN)
VERSION = os.environ.get("DISTILL_UI_VERSION", "")
CHROMIUM = os.environ.get("DISTILL_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("DISTILL_UI_SHOTS", "ui-screenshots"))
# Without these, Chromium keeps calling Google's hosts, which this sandbox refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 2400, "height": 1300})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        yield page
        context.close()
        browser.close()


def _goto(page, path: str) -> None:
    page.goto(f"{URL}{path}", wait_until="domcontentloaded")


def _shot(page, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def test_asset_graph_shows_the_six_assets(page):
    _goto(page, "/asset-groups")
    page.get_by_text("3 assets").first.wait_for(state="visible")  # the data group, collapsed
    # Expand every group node (the UI remembers it), hide both side panels, and reload so the
    # graph is laid out and fitted again with all six asset nodes.
    for _ in range(6):
        icons = page.locator('[aria-label="unfold_more"]')
        if icons.count() == 0:
            break
        icons.first.click()
        page.wait_for_timeout(300)
    for _ in range(2):
        page.locator('[aria-label="panel_show_right"]').first.click()
    page.reload(wait_until="domcontentloaded")
    for name in ASSETS:
        page.get_by_text(name, exact=True).first.wait_for(state="visible")
    # Each node's partition status line, once statuses are fetched: the version is built.
    page.get_by_text("1 partition", exact=True).first.wait_for(state="visible")
    _shot(page, "asset-graph")
    assert page.get_by_text("1 partition", exact=True).count() == len(ASSETS)


def test_partitions_tab_lists_the_dataset_version(page):
    assert VERSION, "DISTILL_UI_VERSION is not set"
    _goto(page, "/assets/raw_addresses?view=partitions")
    page.get_by_text(VERSION, exact=True).first.wait_for(state="visible")
    page.get_by_text("Materialized (1)").first.wait_for(state="visible")
    _shot(page, "raw-addresses-partitions")


def test_materialization_with_its_metadata(page):
    _goto(page, "/assets/teacher_labels?view=events")
    # Metadata entries that the asset writes: the teacher, the prompt hash and the row count.
    for key in ("teacher_model", "prompt_hash", "status_counts"):
        page.get_by_text(key, exact=True).first.wait_for(state="visible")
    page.get_by_text(re.compile(r"gazetteer")).first.wait_for(state="visible")
    _shot(page, "teacher-labels-events")


def test_launch_a_materialization_through_graphql(page):
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    assert VERSION, "DISTILL_UI_VERSION is not set"
    url = urlparse(URL)
    client = DagsterGraphQLClient(url.hostname or "127.0.0.1", port_number=url.port)
    run_id = client.submit_job_execution(
        "distill_graph",
        tags={"dagster/partition": VERSION, "trigger": "ui-test"},
        asset_selection=["raw_addresses", "teacher_labels"],
    )
    deadline = time.time() + float(os.environ.get("DISTILL_UI_RUN_TIMEOUT_S", "300"))
    status = client.get_run_status(run_id)
    terminal = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    while status not in terminal and time.time() < deadline:
        time.sleep(1.0)
        status = client.get_run_status(run_id)
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {status}"

    _goto(page, f"/runs/{run_id}")
    page.get_by_text("Success", exact=False).first.wait_for(state="visible")
    _shot(page, "launched-run")
