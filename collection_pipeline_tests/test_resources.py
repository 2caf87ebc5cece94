"""Resources: live mode fails before any request naming every missing variable; emulator mode
needs nothing; definitions load without credentials."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from collection_pipeline.defs.resources import (
    ApiSourceResource,
    DatabaseResource,
    LiveConfigurationError,
)
from collection_pipeline_tests.support.dagster_runs import bound_resources, run_range

CREDENTIALS = (
    "BEATPORT_ACCESS_TOKEN",
    "BEATPORT_REFRESH_TOKEN",
    "BEATPORT_CLIENT_ID",
    "SPOTIFY_CLIENT_ID",
    "SPOTIFY_CLIENT_SECRET",
)


def _requests_served(base_url: str) -> int:
    stats = httpx.get(f"{base_url}/_emulator/stats").json()["requests"]
    return sum(
        count
        for route, by_status in stats.items()
        if not route.startswith("/_emulator")
        for count in by_status.values()
    )


def test_live_mode_without_credentials_fails_before_any_request(
    tmp_path, emulator_url, monkeypatch
):
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    base_url = emulator_url()
    monkeypatch.setenv("COLLECTION_SOURCE", "live")
    monkeypatch.setenv("BEATPORT_API_URL", f"{base_url}/v4")
    monkeypatch.setenv("SPOTIFY_API_URL", f"{base_url}/v1")
    monkeypatch.setenv("SPOTIFY_TOKEN_URL", f"{base_url}/api/token")
    source = ApiSourceResource.from_env()
    resources = bound_resources(source, f"sqlite:///{tmp_path}/c.db")

    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, date(2024, 1, 1), date(2024, 1, 2))

    assert not result.success
    failures = [e for e in result.all_events if e.is_failure]
    messages = " ".join(
        e.event_specific_data.error.to_string() for e in failures if e.event_specific_data.error
    )
    for name in ("BEATPORT_ACCESS_TOKEN", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        assert name in messages
    assert "BEATPORT_REFRESH_TOKEN" not in messages, "optional variables are not demanded"
    assert _requests_served(base_url) == 0
    assert not result.get_asset_materialization_events()


def test_missing_variables_are_limited_to_the_apis_a_run_calls():
    source = ApiSourceResource(mode="live", beatport_access_token="token")
    assert source.missing_variables({"beatport"}) == []
    assert source.missing_variables({"beatport", "spotify"}) == [
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
    ]
    with pytest.raises(LiveConfigurationError, match="SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET"):
        source.spotify()


def test_secrets_are_env_vars_not_values(monkeypatch):
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "s3cret")
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    source = ApiSourceResource.from_env()
    assert source.spotify_client_secret == dg.EnvVar("SPOTIFY_CLIENT_SECRET")
    assert source.spotify_client_id is None


@pytest.mark.parametrize("source", ["emulator", "live"])
def test_definitions_validate_without_credentials(source, tmp_path):
    env = {
        key: value
        for key, value in __import__("os").environ.items()
        if key not in CREDENTIALS and key != "DAGSTER_HOME"
    }
    env["COLLECTION_SOURCE"] = source
    dagster = Path(sys.executable).parent / "dagster"
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "collection_pipeline.definitions"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Validation successful" in completed.stderr + completed.stdout


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """The root cause of every failure event (Dagster wraps resource errors once)."""
    messages = []
    for event in result.all_events:
        error = event.event_specific_data.error if event.is_failure else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            messages.append(error.message.strip())
    return messages


def test_a_bad_setting_fails_the_run_with_the_preflight_line_and_no_retry(tmp_path):
    line = "COLLECTION_GENRE_IDS='abc': not a comma-separated list of positive integers; ..."
    resources = bound_resources(ApiSourceResource(), f"sqlite:///{tmp_path}/c.db")
    resources["database"] = DatabaseResource(
        url=f"sqlite:///{tmp_path}/c.db", configuration_problems=[line]
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, date(2024, 1, 1), date(2024, 1, 1))
    assert not result.success
    assert any(message.endswith(line) for message in _failure_messages(result))
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert not (tmp_path / "c.db").exists(), "a misconfigured run touches no database"


def test_a_bad_database_url_given_to_the_resource_gets_the_same_line(tmp_path):
    resources = bound_resources(ApiSourceResource(), "postgres://user@db-host/catalogue")
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(
            resources, instance, date(2024, 1, 1), date(2024, 1, 1), ["processed_tracks"]
        )
    assert not result.success
    expected = (
        "COLLECTION_DATABASE_URL='postgres://user@db-host/catalogue': postgres:// names no "
        "installed driver; write postgresql+psycopg2:// instead of postgres://"
    )
    assert any(message.endswith(expected) for message in _failure_messages(result))


def test_a_sensor_tick_never_migrates(tmp_path):
    from collection_pipeline.defs.automation import spotify_recheck_sensor

    url = f"sqlite:///{tmp_path}/fresh.db"
    resources = {"database": DatabaseResource(url=url)}
    with dg.build_sensor_context(resources=resources) as context:
        result = spotify_recheck_sensor(context)
    assert result.run_requests == []
    assert result.skip_reason.skip_message.startswith(
        "no run started: the catalogue schema is behind (revision none, latest "
    )
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).get_table_names() == [], "the tick created no table"
    finally:
        engine.dispose()
