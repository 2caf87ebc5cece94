"""`dagster dev` on loopback and the GraphQL the UI itself sends, for tests, bench and screenshots.

`DagsterDev` starts the webserver and daemon on a DAGSTER_HOME of the caller's, waits until the
UI answers, and stops the whole process group on exit. The query helpers read what the UI
shows: partition statuses of assets and checks, and each partition's materialization metadata.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT_S = 180

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
    ... on PartitionBackfill {
      status
      runs(limit: 10) { runId jobName status startTime endTime tags { key value } }
    }
  }
}"""
ASSET_PARTITIONS = """
query AssetPartitions($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetPartitionStatuses {
        ... on TimePartitionStatuses { ranges { status startKey endKey } }
      }
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            partitionStatuses {
              ... on AssetCheckTimePartitionStatuses { ranges { status startKey endKey } }
            }
          }
        }
      }
    }
  }
}"""
MATERIALIZATIONS = """
query Materializations($path: [String!]!, $partitions: [String!]) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset {
      assetMaterializations(partitions: $partitions) {
        partition
        runId
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on MarkdownMetadataEntry { mdStr }
        }
      }
    }
  }
}"""
STEP_FAILURES = """
query Failures($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { failureMetadata { description } }
      }
    }
  }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def day_keys(start: date, end: date) -> list[str]:
    """Partition keys of the inclusive day range."""
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


@dataclass
class DagsterDev:
    """A running `dagster dev`: its base URL and the GraphQL the UI uses."""

    url: str
    log: Path

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        if "errors" in body:
            raise AssertionError(body["errors"])
        return body["data"]

    def backfill(self, assets: list[str], partitions: list[str], timeout_s: float) -> dict:
        """Launch a backfill as the UI's Materialize dialog does; wait until it finishes."""
        launched = self.graphql(
            LAUNCH_BACKFILL,
            params={
                "partitionNames": partitions,
                "assetSelection": [{"path": [key]} for key in assets],
                "fromFailure": False,
            },
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        deadline = time.monotonic() + timeout_s
        while True:
            backfill = self.graphql(BACKFILL_STATUS, id=launched["backfillId"])
            state = backfill["partitionBackfillOrError"]
            if state["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"backfill still {state['status']}\n{self.tail()}")
            time.sleep(0.5)

    def partition_statuses(self, asset: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """Per day: the asset's partition status, and each check's status, as the UI shows."""
        node = self.graphql(ASSET_PARTITIONS, path=[asset])["assetNodeOrError"]
        checks = {
            check["name"]: _expand(check["partitionStatuses"]["ranges"])
            for check in node["assetChecksOrError"]["checks"]
            if check["partitionStatuses"]
        }
        return _expand(node["assetPartitionStatuses"]["ranges"]), checks

    def latest_metadata(self, asset: str, partitions: list[str]) -> dict[str, dict[str, Any]]:
        """The newest materialization's metadata of each partition, label -> value."""
        asset_data = self.graphql(MATERIALIZATIONS, path=[asset], partitions=partitions)
        latest: dict[str, dict[str, Any]] = {}
        for event in asset_data["assetOrError"]["assetMaterializations"]:  # newest first
            values = {
                entry["label"]: entry.get("intValue", entry.get("floatValue", entry.get("mdStr")))
                for entry in event["metadataEntries"]
            }
            latest.setdefault(event["partition"], values)
        return latest

    def step_failures(self, run_id: str) -> list[str]:
        events = self.graphql(STEP_FAILURES, runId=run_id)["logsForRun"]["events"]
        return [
            event["failureMetadata"]["description"]
            for event in events
            if event["__typename"] == "ExecutionStepFailureEvent" and event["failureMetadata"]
        ]

    def tail(self, characters: int = 4000) -> str:
        return self.log.read_text()[-characters:]


def _expand(ranges: list[dict[str, str]]) -> dict[str, str]:
    statuses = {}
    for span in ranges:
        start, end = date.fromisoformat(span["startKey"]), date.fromisoformat(span["endKey"])
        for key in day_keys(start, end):
            statuses[key] = span["status"]
    return statuses


@contextmanager
def dagster_dev(home: Path, env: Mapping[str, str]) -> Iterator[DagsterDev]:
    """`dagster dev` for the code location, on `home` (holding its dagster.yaml)."""
    port = free_port()
    log_path = home / "dagster-dev.log"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BEATPORT_", "SPOTIFY_"))},
        **env,
        "DAGSTER_HOME": str(home),
    }
    command = [sys.executable, "-m", "dagster", "dev", "-m", "collection_pipeline.definitions"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            cwd=home,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        dev = DagsterDev(f"http://127.0.0.1:{port}", log_path)
        try:
            _wait_until_up(dev, process)
            yield dev
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_up(dev: DagsterDev, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, dev.tail()
        try:
            if httpx.get(f"{dev.url}/server_info", timeout=2).is_success:
                # The webserver answers before the code location has loaded.
                dev.partition_statuses("raw_beatport_tracks")
                return
        except (httpx.TransportError, AssertionError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    raise AssertionError("dagster dev did not come up\n" + dev.tail())
