"""Preflight: every row of README's error table is run, and prints exactly its line, exit 2.

README is the source of the cases, so the table cannot drift from what users see: a row
whose setting no longer fails, or fails with other words, fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from collection_pipeline import cli, settings

README = Path(__file__).resolve().parent.parent / "README.md"


def _section(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"README has no {name} section"
    return match.group(1)


def error_rows() -> list[tuple[str, str]]:
    """(environment assignments, exact stderr line) for every row of README's error table."""
    rows = []
    for line in _section("errors").splitlines():
        cells = re.findall(r"`([^`]*)`", line)
        if line.startswith("| `") and len(cells) >= 2:
            rows.append((cells[0], cells[-1]))
    return rows


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No product variable set, DAGSTER_HOME in a temporary folder."""
    for variable in settings.VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return monkeypatch


def test_readme_lists_the_error_cases():
    assigned = {shlex.split(env)[0].split("=")[0] for env, _ in error_rows()}
    assert {"COLLECTION_DATABASE_URL", "DAGSTER_HOME", "COLLECTION_GENRE_IDS"} <= assigned
    assert len(error_rows()) >= 8


@pytest.mark.parametrize(("assignments", "expected"), error_rows())
def test_each_error_case_prints_its_one_line_and_exits_2(assignments, expected, clean_env, capsys):
    for assignment in shlex.split(assignments):
        name, _, value = assignment.partition("=")
        clean_env.setenv(name, value)
    status = cli.main(["run", "--start", "2024-01-01", "--end", "2024-01-02"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.splitlines() == [expected]
    assert captured.out == "", "nothing is launched"


def test_every_setting_problem_is_reported_at_once(clean_env, capsys):
    clean_env.setenv("COLLECTION_GENRE_IDS", "abc")
    clean_env.setenv("COLLECTION_MATCH_RATE_FLOOR", "2")
    assert cli.main(["run", "--start", "2024-01-01"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "error: COLLECTION_GENRE_IDS",
        "error: COLLECTION_MATCH_RATE_FLOOR",
    ]


def test_live_mode_asks_only_for_the_credentials_of_the_selected_assets(clean_env, capsys):
    clean_env.setenv("COLLECTION_SOURCE", "live")
    assert cli.main(["run", "--start", "2024-01-01", "--asset", "raw_beatport_tracks"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "BEATPORT_ACCESS_TOKEN not set" in line
    assert "SPOTIFY" not in line


def test_secret_values_never_appear_in_errors(clean_env):
    clean_env.setenv("COLLECTION_DATABASE_URL", "postgres://user:hunter2@db/catalogue")
    (problem,) = settings.problems()
    assert "hunter2" not in str(problem)
    assert "postgresql+psycopg2://" in str(problem)


def _readme_line(assignment: str) -> str:
    (line,) = (line for env, line in error_rows() if env == assignment)
    return line.removeprefix("error: ")


OUR_FRAME = re.compile(r'File "[^"]*/collection_pipeline/([^"]*)", line \d+, in (\w+)')


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("COLLECTION_GENRE_IDS", "abc", _readme_line("COLLECTION_GENRE_IDS=abc")),
        (
            "COLLECTION_DATABASE_URL",
            "not a url",
            _readme_line("COLLECTION_DATABASE_URL='not a url'"),
        ),
        ("COLLECTION_SOURCE", "live", settings.live_missing_message(["BEATPORT_ACCESS_TOKEN"])),
    ],
)
def test_dagster_materialize_fails_once_with_the_same_line(variable, value, expected, tmp_path):
    """Dagster's own CLI gets the preflight's line from the resources: one failed attempt,
    one error without a chain (it was four attempts and the line nine times, wrapped), raised
    by the step's body (one frame of ours under Dagster's, it was four).

    What Dagster adds and cannot be removed: its event lines; under the error, the stack from
    its step executor down to the step's `raise` (seven frames of Dagster's); and the same
    error again on the run's failure event, which Dagster copies from the first failed step.
    The step's own event is printed by the step process through Dagster's log mirror, which can
    be cut short when the process ends, so the line shows once or twice. The event log, which
    the UI reads, holds the error as one line with no cause and no context, and the line itself
    as the failure's description.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_", "BEATPORT_"))}
    env.update({"DAGSTER_HOME": str(tmp_path), variable: value})
    env = {k: v for k, v in env.items() if not k.startswith("SPOTIFY_")}
    command = [sys.executable, "-m", "dagster", "asset", "materialize"]
    command += ["-m", "collection_pipeline.definitions", "--select", "raw_beatport_tracks"]
    completed = subprocess.run(
        [*command, "--partition", "2024-01-01"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert 1 <= output.count(expected) <= 2, output[-4000:]
    assert "RUN_FAILURE" in output
    assert "STEP_UP_FOR_RETRY" not in output, "a configuration error is never retried"
    assert "DagsterResourceFunctionError" not in output
    assert "The above exception" not in output, "one error, no chain"
    frames = set(OUR_FRAME.findall(output))
    assert frames == {("defs/assets.py", "catalogue_days")}, output[-4000:]

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        (run,) = instance.get_runs()
        records = instance.get_records_for_run(run.run_id).records
    events = [record.event_log_entry.dagster_event for record in records]
    failures = {e.event_type: e for e in events if e is not None and e.is_failure}
    assert set(failures) == {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    step_failure = failures[dg.DagsterEventType.STEP_FAILURE].step_failure_data
    assert step_failure.user_failure_data is not None
    assert step_failure.user_failure_data.description == expected
    for event in failures.values():
        error = event.event_specific_data.error
        assert error.message.strip().endswith(f": {expected}")
        assert len(error.message.strip().splitlines()) == 1, "the error is one line"
        assert error.cause is None, "nothing chained to it"
        assert error.context is None
        assert sum("/collection_pipeline/" in frame for frame in error.stack) == 1


def test_readme_configuration_table_is_generated_from_settings():
    section = _section("configuration")
    assert settings.markdown_table() in section, (
        "README's configuration table differs from collection_pipeline/settings.py; "
        "regenerate it with `python -m collection_pipeline.settings`"
    )


def test_every_declared_default_parses():
    for variable in settings.VARIABLES:
        if variable.default is not None:
            variable.check(variable.default)
