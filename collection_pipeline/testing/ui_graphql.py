"""What the Dagster UI shows, read through the GraphQL it sends, over any transport.

`UiGraphQL` holds the UI's own queries and reads them the way its pages do: partition statuses
of assets and checks, each partition's materialization metadata (the entries the Partitions-axis
plots draw), the check summary of an asset graph card, and a backfill launched as the
Materialize dialog launches it. `DagsterDev` sends them to a running webserver over HTTP;
`in_process_ui` answers them from an in-process code location on a test's instance, which
costs no webserver, no daemon and no subprocess.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg

HIDDEN_JOB_PREFIX = "__ASSET_JOB"
"""Dagster's implicit asset job: the UI launches a selection as it unless a page names a job."""

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
    ... on PythonError { message stack }
    ... on PartitionBackfill {
      status
      timestamp
      endTimestamp
      runs(limit: 10) {
        runId jobName status creationTime startTime endTime tags { key value }
      }
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
          __typename
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on MarkdownMetadataEntry { mdStr }
        }
      }
    }
  }
}"""
GRAPH_CARDS = """
query AssetGraphCards($keys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $keys, loadMaterializations: true) {
    assetKey { path }
    jobNames
    assetChecksOrError {
      ... on AssetChecks {
        checks {
          name
          executionForLatestMaterialization {
            status partition evaluation { severity description }
          }
          partitionStatuses {
            ... on AssetCheckTimePartitionStatuses { ranges { status } }
          }
        }
      }
    }
  }
}"""
"""The check part of the asset graph's live query (`AssetNodeLiveFragment`)."""
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
REPOSITORIES = """
query Repositories {
  repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } }
}"""
PLOTTED = ("IntMetadataEntry", "FloatMetadataEntry")
"""The metadata entry types the asset plots draw (any other entry is not plotted)."""


def day_keys(start: date, end: date) -> list[str]:
    """Partition keys of the inclusive day range."""
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


@dataclass(frozen=True)
class MetadataEntry:
    kind: str
    """The GraphQL type, e.g. `IntMetadataEntry`: the plots draw only Int and Float entries."""
    value: Any


def card_status(check: dict[str, Any]) -> str:
    """A check's status as the asset graph card counts it: the UI's `getAggregateCheckIconType`
    (ui-core/src/assets/asset-checks/util.tsx, Dagster 1.13).

    A partitioned check is judged over every partition range it has a result for: any range
    FAILED or EXECUTION_FAILED makes it failed, then IN_PROGRESS, then SKIPPED; it is SUCCEEDED
    only when every range succeeded. A failed check is `WARN` or `ERROR` by the severity of
    `executionForLatestMaterialization`, the check's latest execution (whichever partition),
    not by the failing partition's. An unpartitioned check shows that latest execution.
    """
    latest = check.get("executionForLatestMaterialization")
    severity = ((latest or {}).get("evaluation") or {}).get("severity")
    failed = "WARN" if severity == "WARN" else "ERROR"
    ranges = (check.get("partitionStatuses") or {}).get("ranges") or []
    statuses = {span["status"] for span in ranges}
    if statuses:
        if statuses & {"FAILED", "EXECUTION_FAILED"}:
            return failed
        for status in ("IN_PROGRESS", "SKIPPED"):
            if status in statuses:
                return status
        return "SUCCEEDED"
    if latest is None:
        return "NOT_EVALUATED"
    if latest["status"] == "FAILED":
        return failed
    return "ERROR" if latest["status"] == "EXECUTION_FAILED" else latest["status"]


def card_summary(statuses: dict[str, str]) -> tuple[str, str]:
    """The check line of an asset graph card (`AssetChecksStatusSummary`, rendering `dag2025`)
    from its checks' `card_status`: the icon (red cross for any ERROR, yellow warning for any
    WARN, grey dot for any SKIPPED, else a green tick) and `<SUCCEEDED> / <all> Passed`."""
    values = set(statuses.values())
    icon = next((kind for kind in ("ERROR", "WARN", "SKIPPED") if kind in values), "SUCCEEDED")
    passed = sum(status == "SUCCEEDED" for status in statuses.values())
    return icon, f"{passed} / {len(statuses)} Passed"


class UiGraphQL:
    """The UI's queries, answered by `graphql` (over HTTP or in process)."""

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        raise NotImplementedError

    def launch_backfill(
        self, assets: Sequence[str], partitions: Sequence[str], job: str | None = None
    ) -> str:
        """Launch a backfill as the UI's Materialize dialog does: from the asset graph (a pure
        asset backfill) or, with `job`, from that job's page (a backfill of the job's partition
        set). The backfill daemon submits its runs. Returns the backfill id."""
        params: dict[str, Any] = {
            "partitionNames": list(partitions),
            "assetSelection": [{"path": [key]} for key in assets],
            "fromFailure": False,
        }
        if job is not None:
            params["selector"] = {
                "partitionSetName": f"{job}_partition_set",
                "repositorySelector": self.repository_selector(),
            }
        launched = self.graphql(LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        return launched["backfillId"]

    def repository_selector(self) -> dict[str, str]:
        """The code location's one repository, as the job page names it."""
        [repository] = self.graphql(REPOSITORIES)["repositoriesOrError"]["nodes"]
        return {
            "repositoryLocationName": repository["location"]["name"],
            "repositoryName": repository["name"],
        }

    def backfill_state(self, backfill_id: str) -> dict[str, Any]:
        """The backfill's status and its runs (job name, status, times, tags)."""
        state = self.graphql(BACKFILL_STATUS, id=backfill_id)["partitionBackfillOrError"]
        assert state["__typename"] == "PartitionBackfill", state
        return state

    def wait_for_backfill(self, backfill_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.backfill_state(backfill_id)
            if state["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"backfill still {state['status']}")
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

    def latest_entries(
        self, asset: str, partitions: list[str]
    ) -> dict[str, dict[str, MetadataEntry]]:
        """The newest materialization's metadata of each partition, label -> typed entry."""
        asset_data = self.graphql(MATERIALIZATIONS, path=[asset], partitions=partitions)
        latest: dict[str, dict[str, MetadataEntry]] = {}
        for event in asset_data["assetOrError"]["assetMaterializations"]:  # newest first
            entries = {
                entry["label"]: MetadataEntry(
                    entry["__typename"],
                    entry.get("intValue", entry.get("floatValue", entry.get("mdStr"))),
                )
                for entry in event["metadataEntries"]
            }
            latest.setdefault(event["partition"], entries)
        return latest

    def latest_metadata(self, asset: str, partitions: list[str]) -> dict[str, dict[str, Any]]:
        """The newest materialization's metadata of each partition, label -> value."""
        return {
            partition: {label: entry.value for label, entry in entries.items()}
            for partition, entries in self.latest_entries(asset, partitions).items()
        }

    def graph_cards(self, assets: Sequence[str]) -> dict[str, dict[str, str]]:
        """Per asset, each check's status as its asset graph card counts it (`card_status`);
        the card reads `<SUCCEEDED> / <all> Passed`."""
        nodes = self.graphql(GRAPH_CARDS, keys=[{"path": [key]} for key in assets])["assetNodes"]
        return {
            "/".join(node["assetKey"]["path"]): {
                check["name"]: card_status(check) for check in node["assetChecksOrError"]["checks"]
            }
            for node in nodes
        }

    def card_lines(self, assets: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Per asset, the check line its asset graph card shows (`card_summary`)."""
        return {asset: card_summary(checks) for asset, checks in self.graph_cards(assets).items()}

    def latest_executions(self, asset: str) -> dict[str, dict[str, Any] | None]:
        """Per check of `asset`, its `executionForLatestMaterialization` (status, partition,
        evaluation severity and description), or None."""
        [node] = self.graphql(GRAPH_CARDS, keys=[{"path": [asset]}])["assetNodes"]
        return {
            check["name"]: check["executionForLatestMaterialization"]
            for check in node["assetChecksOrError"]["checks"]
        }

    def job_names(self, asset: str) -> list[str]:
        """The jobs an asset belongs to, in the order the UI picks the first shared one."""
        [node] = self.graphql(GRAPH_CARDS, keys=[{"path": [asset]}])["assetNodes"]
        return node["jobNames"]

    def step_failures(self, run_id: str) -> list[str]:
        events = self.graphql(STEP_FAILURES, runId=run_id)["logsForRun"]["events"]
        return [
            event["failureMetadata"]["description"]
            for event in events
            if event["__typename"] == "ExecutionStepFailureEvent" and event["failureMetadata"]
        ]


def _expand(ranges: list[dict[str, str]]) -> dict[str, str]:
    statuses = {}
    for span in ranges:
        start, end = date.fromisoformat(span["startKey"]), date.fromisoformat(span["endKey"])
        for key in day_keys(start, end):
            statuses[key] = span["status"]
    return statuses


class InProcessUi(UiGraphQL):
    """The UI's GraphQL answered in this process, and the backfill daemon's work done on call."""

    def __init__(self, workspace: Any) -> None:
        self._workspace = workspace

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        from dagster_graphql.test.utils import execute_dagster_graphql

        context = self._workspace.create_request_context()
        result = execute_dagster_graphql(context, query, variables=variables)
        if result.errors:
            raise AssertionError(result.errors)
        return result.data

    def run_backfill(self, backfill_id: str, max_ticks: int = 5) -> dict[str, Any]:
        """Tick the backfill daemon until the backfill is done, as `dagster dev`'s daemon would
        (without its 30 s interval): each tick submits runs and records what they did."""
        from dagster._daemon.backfill import execute_backfill_iteration

        for _ in range(max_ticks):
            state = self.backfill_state(backfill_id)
            if state["status"] != "REQUESTED":
                return state
            for error in execute_backfill_iteration(self._workspace, logging.getLogger(__name__)):
                assert error is None, error
        raise AssertionError(f"backfill still {state['status']} after {max_ticks} ticks")


@contextmanager
def in_process_ui(
    instance: dg.DagsterInstance,
    python_file: str,
    attribute: str = "defs",
    working_directory: str | None = None,
) -> Iterator[InProcessUi]:
    """The UI's GraphQL over the definitions `attribute` of `python_file`, on `instance` (a
    persistent one, e.g. `dg.instance_for_test()`: the workspace serializes it). Runs a job
    backfill submits execute with the instance's run launcher, in process with
    `SyncInMemoryRunLauncher`, from the same file. Step subprocesses (the asset job's
    multiprocess executor) load the file again with `working_directory` on their path: what the
    file imports from outside the installed package must be found from there."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            python_file=python_file, attribute=attribute, working_directory=working_directory
        )
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace:
        yield InProcessUi(workspace)
