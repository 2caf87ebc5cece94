"""`dagster dev` on loopback, read through the GraphQL the UI itself sends (tests, bench, pictures).

`dagster_dev` starts the webserver and daemon on a DAGSTER_HOME of the caller's, waits until the
UI answers, and stops the whole process group on exit; `dagster_webserver` and `dagster_daemon`
start them apart, as a deployment runs them; `DagsterDev` sends the UI's queries of
`ui_graphql` to the webserver over HTTP.

`dagster dev` takes a port number, not a socket, so the port cannot be held for it: it gets one
that was free a moment ago, and when its webserver then finds the port taken (uvicorn logs
"address already in use" and `dagster dev` keeps running without a UI) it is stopped and
started again on a fresh port (`ports.retry_if_port_taken`). The UI that answers must be on our
DAGSTER_HOME, so the winner of the race (another test's `dagster dev`) is never taken for ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from collection_pipeline.testing.ports import PortTakenError, retry_if_port_taken
from collection_pipeline.testing.ui_graphql import UiGraphQL, day_keys

__all__ = ["DagsterDev", "dagster_daemon", "dagster_dev", "dagster_webserver", "day_keys"]

STARTUP_TIMEOUT_S = 180
PORT_TAKEN = "address already in use"
INSTANCE_INFO = "{ instance { info } }"
LOCATION = "collection_pipeline.definitions"


@dataclass
class DagsterDev(UiGraphQL):
    """A running `dagster dev`: its base URL, and the UI's GraphQL sent to it over HTTP."""

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
        """Launch a backfill from the asset graph, as the UI does; wait until it finishes."""
        backfill_id = self.launch_backfill(assets, partitions)
        try:
            return self.wait_for_backfill(backfill_id, timeout_s)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.tail()}") from exc

    def tail(self, characters: int = 4000) -> str:
        return self.log.read_text()[-characters:]


def _environment(home: Path, env: Mapping[str, str]) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BEATPORT_", "SPOTIFY_"))},
        **env,
        "DAGSTER_HOME": str(home),
    }


@contextmanager
def _serving(
    home: Path, env: Mapping[str, str], command: list[str], log_name: str
) -> Iterator[DagsterDev]:
    """Start `command` (a UI server, given its port) on `home` when the block is entered, wait
    until our UI answers, and stop its process group when the block ends."""
    log_path = home / log_name
    full_env = _environment(home, env)

    def start(port: int) -> tuple[DagsterDev, subprocess.Popen[bytes]]:
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
            _wait_until_up(dev, process, home)
        except BaseException:
            _stop(process)
            raise
        return dev, process

    dev, process = retry_if_port_taken(start)
    try:
        yield dev
    finally:
        _stop(process)


def dagster_dev(home: Path, env: Mapping[str, str]) -> AbstractContextManager[DagsterDev]:
    """`dagster dev` for the code location, on `home` (holding its dagster.yaml): a context
    manager yielding the `DagsterDev`."""
    command = [sys.executable, "-m", "dagster", "dev", "-m", LOCATION]
    return _serving(home, env, command, "dagster-dev.log")


def dagster_webserver(home: Path, env: Mapping[str, str]) -> AbstractContextManager[DagsterDev]:
    """The webserver alone, as a deployment runs it beside a separate daemon: a context manager
    yielding the `DagsterDev` (its GraphQL)."""
    command = [sys.executable, "-m", "dagster_webserver", "-m", LOCATION]
    return _serving(home, env, command, "dagster-webserver.log")


@contextmanager
def dagster_daemon(home: Path, env: Mapping[str, str]) -> Iterator[Path]:
    """`dagster-daemon run` on `home` until the block ends; yields its log's path."""
    log_path = home / "dagster-daemon.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster._daemon", "run", "-m", LOCATION],
            cwd=home,
            env=_environment(home, env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log_path
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_up(dev: DagsterDev, process: subprocess.Popen[bytes], home: Path) -> None:
    """Bounded polling until our UI answers with the code location loaded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if PORT_TAKEN in dev.log.read_text().lower():
            raise PortTakenError(f"{dev.url} was taken before the webserver bound it")
        assert process.poll() is None, dev.tail()
        try:
            if httpx.get(f"{dev.url}/server_info", timeout=2).is_success:
                if str(home) not in dev.graphql(INSTANCE_INFO)["instance"]["info"]:
                    raise PortTakenError(f"{dev.url} serves another DAGSTER_HOME")
                # The webserver answers before the code location has loaded.
                dev.partition_statuses("raw_beatport_tracks")
                return
        except (httpx.TransportError, AssertionError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    raise AssertionError("dagster dev did not come up\n" + dev.tail())
