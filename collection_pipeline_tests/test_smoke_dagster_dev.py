"""End to end as a user clicks it: `dagster dev` (webserver + daemon) on loopback, a 3-partition
backfill of all three assets launched through GraphQL like the UI's "Materialize" dialog, the
daemon running it as one run, and the materializations read back through GraphQL.

Once with the shipped local dagster.yaml (SQLite instance) and once with
deploy/postgres/dagster.yaml pointed at a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from collection_pipeline_tests.conftest import POSTGRES_REQUIRED, _admin_engine

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ("raw_beatport_tracks", "processed_tracks", "spotify_enrichments")
PARTITIONS = ["2024-01-01", "2024-01-02", "2024-01-03"]
TIMEOUT_S = 300

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
  }
}"""
BACKFILL_STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
  }
}"""
MATERIALIZATIONS = """
query Materializations($path: [String!]!, $partitions: [String!]) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset {
      assetMaterializations(partitions: $partitions) {
        partition
        metadataEntries { label }
      }
    }
  }
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(url, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def postgres_instance_env() -> Iterator[dict[str, str]]:
    """DAGSTER_PG_* variables for deploy/postgres/dagster.yaml, on a database of its own."""
    admin = _admin_engine()
    name = f"dagster_smoke_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL unreachable: {exc.orig}")
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    url = admin.url
    yield {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_DB": name,
        "DAGSTER_PG_USERNAME": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
    }
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _run_backfill_through_dagster_dev(home: Path, extra_env: dict[str, str]) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BEATPORT_", "SPOTIFY_"))},
        **extra_env,
        "DAGSTER_HOME": str(home),
        "COLLECTION_SOURCE": "emulator",
        "COLLECTION_DATABASE_URL": f"sqlite:///{home / 'catalogue.db'}",
        "COLLECTION_GENRE_IDS": "5,11",
        "COLLECTION_EMULATOR_TRACKS_PER_DAY": "3",
    }
    dagster = str(Path(sys.executable).parent / "dagster")
    log = (home / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [
            dagster,
            "dev",
            "-m",
            "collection_pipeline.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while True:
            assert process.poll() is None, (home / "dagster-dev.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "dagster dev did not come up"
            time.sleep(1)

        launched = _graphql(
            url,
            LAUNCH_BACKFILL,
            params={
                "partitionNames": PARTITIONS,
                "assetSelection": [{"path": [key]} for key in ASSETS],
                "fromFailure": False,
            },
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]

        status = None
        while time.monotonic() < deadline:
            status = _graphql(url, BACKFILL_STATUS, id=backfill_id)["partitionBackfillOrError"][
                "status"
            ]
            if status not in ("REQUESTED", "CANCELING", "FAILING"):
                break
            time.sleep(2)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (
            f"backfill {status}\n" + (home / "dagster-dev.log").read_text()[-4000:]
        )

        for key in ASSETS:
            asset = _graphql(url, MATERIALIZATIONS, path=[key], partitions=PARTITIONS)[
                "assetOrError"
            ]
            materializations = asset["assetMaterializations"]
            assert {m["partition"] for m in materializations} == set(PARTITIONS), key
            labels = {e["label"] for e in materializations[0]["metadataEntries"]}
            assert "dagster/row_count" in labels
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()

    catalogue = sa.create_engine(env["COLLECTION_DATABASE_URL"])
    with catalogue.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tracks")).scalar_one() == 3 * 3 * 2
    catalogue.dispose()


@pytest.mark.slow
def test_backfill_through_dagster_dev_on_local_instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    _run_backfill_through_dagster_dev(home, {})


@pytest.mark.slow
@pytest.mark.postgres
def test_backfill_through_dagster_dev_on_postgres_instance(tmp_path, postgres_instance_env):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "deploy/postgres/dagster.yaml", home / "dagster.yaml")
    _run_backfill_through_dagster_dev(home, postgres_instance_env)
