"""Resources: live mode fails before any request naming every missing variable; emulator mode
needs nothing; definitions load without credentials; a catalogue database that is down when a
run sets up is waited for, up to the outage deadline, and one past it fails the run at once."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from collection_pipeline import settings
from collection_pipeline.clients import auth
from collection_pipeline.clients.errors import TransientError
from collection_pipeline.defs.assets import non_retryable_errors_fail_fast
from collection_pipeline.defs.resources import (
    ApiSourceResource,
    BeatportResource,
    DatabaseResource,
    LiveConfigurationError,
    SpotifyResource,
    configuration_error,
    resources_from_env,
)
from collection_pipeline.domain import DatabaseUnavailableError
from collection_pipeline.service import ServiceError
from collection_pipeline.storage import Database
from collection_pipeline.testing.outage import Outage, WallClockOutage
from collection_pipeline_tests.support.dagster_runs import (
    EMULATOR_SOURCE,
    bound_resources,
    live_source,
    run_range,
)
from collection_pipeline_tests.support.postgres import POSTGRES_ADMIN_URL, reset_postgres_schema

SETUP_OUTAGE_S = 3.0
SHORT_DEADLINE_S = 2.0
DAY = date(2024, 1, 1)

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
    resources = {
        **resources_from_env(),
        "database": DatabaseResource(url=f"sqlite:///{tmp_path}/c.db"),
    }

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
    database = DatabaseResource(url="sqlite://")
    live = ApiSourceResource(mode="live")
    beatport, spotify = BeatportResource(access_token="token"), SpotifyResource()
    assert beatport.missing_variables() == []
    assert configuration_error(database, live, [beatport]) is None
    error = configuration_error(database, live, [beatport, spotify])
    assert isinstance(error, LiveConfigurationError)
    assert error.missing == ["SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"]
    with pytest.raises(LiveConfigurationError, match="SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET"):
        spotify.endpoint(None)


def test_the_resources_require_what_the_cli_preflight_requires():
    """The CLI checks `settings.LIVE_REQUIRED` before it starts a run, the resources check their
    own fields when a step starts: with nothing set, both must name the same variables."""
    empty = {
        "beatport": BeatportResource(api_url=""),
        "spotify": SpotifyResource(api_url="", token_url=""),
    }
    for api, resource in empty.items():
        required = [variable.name for variable in settings.LIVE_REQUIRED[api]]
        assert resource.missing_variables() == required, api


def test_one_error_names_the_missing_variables_of_every_api_called():
    database, live = DatabaseResource(url="sqlite://"), ApiSourceResource(mode="live")
    error = configuration_error(database, live, [BeatportResource(), SpotifyResource()])
    assert isinstance(error, LiveConfigurationError)
    assert error.missing == ["BEATPORT_ACCESS_TOKEN", "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"]
    emulator = ApiSourceResource()
    assert configuration_error(database, emulator, [BeatportResource(), SpotifyResource()]) is None


def test_secrets_are_env_vars_not_values(monkeypatch):
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "s3cret")
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    spotify = resources_from_env()["spotify"]
    assert spotify.client_secret == dg.EnvVar("SPOTIFY_CLIENT_SECRET")
    assert spotify.client_id is None


def test_each_secret_is_a_field_of_its_own_api_resource_only(monkeypatch):
    """No resource holds another API's credential, and the source holds none."""
    for name in CREDENTIALS:
        monkeypatch.setenv(name, "set")
    holders: dict[str, list[str]] = {name: [] for name in CREDENTIALS}
    for key, resource in resources_from_env().items():
        for field in type(resource).model_fields:
            value = getattr(resource, field)
            if isinstance(value, dg.EnvVar) and value.env_var_name in holders:
                holders[value.env_var_name].append(key)
    assert holders == {name: [name.split("_")[0].lower()] for name in CREDENTIALS}


def test_the_retry_settings_reach_both_clients_policies(monkeypatch):
    """The backoff and the Retry-After cap are read once, by settings, and carried by the
    resources to the policy each client sends with."""
    monkeypatch.setenv("COLLECTION_RETRY_BACKOFF_S", "0.02")
    monkeypatch.setenv("COLLECTION_RETRY_AFTER_CAP_S", "7")
    from_env = resources_from_env()
    live = live_source("http://unused")
    for name, resource_type in (("beatport", BeatportResource), ("spotify", SpotifyResource)):
        resource = from_env[name]
        assert (resource.retry_backoff_s, resource.retry_after_cap_s) == (0.02, 7.0)
        wired = resource_type(**live[name], retry_backoff_s=0.02, retry_after_cap_s=7.0)
        with wired.client(None) as client:
            assert (client.policy.backoff_base, client.policy.retry_after_cap) == (0.02, 7.0)
    monkeypatch.delenv("COLLECTION_RETRY_BACKOFF_S")
    assert resources_from_env()["spotify"].retry_backoff_s == 0.5


def test_the_embedded_emulator_lives_exactly_as_long_as_its_resource():
    """Emulator mode serves a run from one server, which its source resource starts at setup
    and stops at teardown: no thread or port outlives the run that needed it. One, though both
    API resources use it: nested in each of them, Dagster would set it up once per parent."""
    resources = {
        "source": ApiSourceResource(emulator_tracks_per_day=3),
        "beatport": BeatportResource(),
        "spotify": SpotifyResource(),
    }
    with dg.build_resources(resources) as built:
        emulator_url = built.source.emulator_url
        assert emulator_url is not None
        port = emulator_url.rsplit(":", 1)[1]
        running = [t.name for t in threading.enumerate() if t.name.startswith("emulator-")]
        assert running == [f"emulator-{port}"]
        endpoint = built.beatport.endpoint(emulator_url)
        assert built.spotify.endpoint(emulator_url).api_url.startswith(emulator_url)
        tracks, params = f"{endpoint.api_url}/catalog/tracks/", {"genre_id": 5}
        headers = {"Authorization": f"Bearer {endpoint.access_token}"}
        answer = httpx.get(tracks, params=params, headers=headers)
        assert answer.status_code == 200
        assert answer.json()["count"] > 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(tracks, params=params, headers=headers, timeout=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("emulator-")]


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
    resources = bound_resources(EMULATOR_SOURCE, f"sqlite:///{tmp_path}/c.db")
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
    resources = bound_resources(EMULATOR_SOURCE, "postgres://user@db-host/catalogue")
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


@pytest.fixture
def outage_database(postgres_database_url: str) -> Iterator[tuple[str, Outage]]:
    """An empty PostgreSQL catalogue (no schema yet) and the means to take it down."""
    reset_postgres_schema(postgres_database_url)
    outage = Outage(POSTGRES_ADMIN_URL, postgres_database_url)
    try:
        yield postgres_database_url, outage
    finally:
        outage.close()


def _retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)


def _unreachable_line(messages: list[str], name: str) -> str:
    """The one failure line naming the database and how long it was unreachable."""
    pattern = re.compile(
        rf"catalogue database postgresql\+psycopg2://postgres@127\.0\.0\.1:5432/{name} "
        rf"unreachable for (\d+) s \(retry deadline {SHORT_DEADLINE_S:.0f} s\): .*"
        "not currently accepting connections"
    )
    lines = [m for m in messages if pattern.search(m) and "\n" not in m]
    assert lines, messages
    return lines[0]


@pytest.mark.postgres
def test_a_run_whose_database_is_down_at_setup_waits_and_succeeds_once_it_is_back(
    outage_database,
):
    url, outage = outage_database
    resources = bound_resources(live_source("http://unused"), url)
    resources["database"] = DatabaseResource(url=url, outage_deadline_s=60)
    outage.begin()
    back = threading.Timer(SETUP_OUTAGE_S, outage.end)
    started = time.monotonic()
    back.start()
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            result = run_range(resources, instance, DAY, DAY, ["processed_tracks"])
    finally:
        back.cancel()
    assert result.success, _failure_messages(result)
    assert time.monotonic() - started >= SETUP_OUTAGE_S
    database = Database(url)
    try:
        assert database.current_revision() == Database.head_revision(), "set up, then migrated"
    finally:
        database.dispose()


@pytest.mark.postgres
def test_a_database_down_past_the_deadline_at_setup_fails_the_run_in_one_line(outage_database):
    url, outage = outage_database
    resources = bound_resources(live_source("http://unused"), url)
    resources["database"] = DatabaseResource(url=url, outage_deadline_s=SHORT_DEADLINE_S)
    outage.begin()
    started = time.monotonic()
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, DAY, DAY, ["processed_tracks"])
    seconds = time.monotonic() - started
    assert not result.success
    line = _unreachable_line(_failure_messages(result), outage.name)
    assert int(re.search(r"unreachable for (\d+) s", line).group(1)) >= SHORT_DEADLINE_S
    assert _retries(result) == 0
    assert seconds < SHORT_DEADLINE_S + 30, "waited once, not again on a retry"


@pytest.mark.postgres
def test_a_database_down_past_the_deadline_in_the_step_fails_it_at_once_without_a_retry(
    outage_database, emulator_url
):
    url, outage = outage_database
    resources = bound_resources(live_source(emulator_url(tracks_per_day=5)), url)
    resources["database"] = DatabaseResource(url=url, outage_deadline_s=SHORT_DEADLINE_S)
    with (
        WallClockOutage(outage, "collect", 600, at_write=1) as down,
        dg.DagsterInstance.ephemeral() as instance,
    ):
        result = run_range(resources, instance, DAY, DAY)
    assert down.fired_at is not None, "the outage never started"
    assert not result.success
    _unreachable_line(_failure_messages(result), outage.name)
    assert _retries(result) == 0


@pytest.mark.parametrize(
    ("error", "retries"),
    [
        (ServiceError("Spotify answered 503", TransientError("503", status=503)), 1),
        (DatabaseUnavailableError("catalogue database x unreachable for 120 s"), 0),
    ],
    ids=["api error: retried", "database past its deadline: not retried"],
)
def test_the_step_retry_policy_retries_api_errors_but_not_a_database_past_its_deadline(
    error, retries
):
    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
    def step() -> None:
        with non_retryable_errors_fail_fast():
            raise error

    result = dg.materialize([step], raise_on_error=False)
    assert not result.success
    assert _retries(result) == retries


def test_every_credential_the_clients_name_has_its_variable() -> None:
    assert set(settings.CREDENTIAL_NAMES) == set(auth.CREDENTIALS)


def test_wrong_credentials_fail_the_step_once_naming_the_variables_to_fix(tmp_path, emulator_url):
    """Through the real asset: the clients name the credential, the resources built them with
    the settings' names, and a failure no retry can fix is not retried."""
    base_url = emulator_url(tracks_per_day=2, credentials={"spotify_client_secret": "right"})
    resources = bound_resources(live_source(base_url), f"sqlite:///{tmp_path / 'catalogue.db'}")
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(resources, instance, DAY, DAY)
    assert not result.success
    assert _retries(result) == 0
    (message,) = set(_failure_messages(result))
    assert "Spotify token request failed (status 400)" in message
    assert message.endswith("check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET")
