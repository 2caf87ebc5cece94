"""`collection-pipeline run` on a machine with no DAGSTER_HOME: it creates the instance home with
the project's dagster.yaml, fills the catalogue and leaves the run where `dagster dev` finds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from dagster._core.instance.ref import InstanceRef

from collection_pipeline import cli, settings
from collection_pipeline_tests.support.environment import live_cli_environment

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import sys
from pathlib import Path
import collection_pipeline.cli as cli
cli.project_root = lambda: Path(sys.argv[1])  # a fresh 'project folder' instead of this checkout
sys.exit(cli.main(sys.argv[2:]))
"""


def test_run_without_dagster_home_uses_a_persistent_home_in_the_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAGSTER_HOME", "COLLECTION_DATABASE_URL", "COLLECTION_SOURCE")
    }
    env.update(COLLECTION_GENRE_IDS="5", COLLECTION_EMULATOR_TRACKS_PER_DAY="4")
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(project),
            "run",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (
        "Raw        8 Beatport records for 2024-01-01..2024-01-02: 8 processed" in completed.stdout
    )
    assert "succeeded" in completed.stdout

    home = project / ".collection" / "dagster_home"
    assert (home / "dagster.yaml").read_text() == (ROOT / "dagster.yaml").read_text()
    engine = sa.create_engine(f"sqlite:///{home / 'catalogue.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tracks")).scalar_one() == 8
    engine.dispose()
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        for key in ("raw_beatport_tracks", "processed_tracks", "spotify_enrichments"):
            assert instance.get_materialized_partitions(dg.AssetKey(key)) == {
                "2024-01-01",
                "2024-01-02",
            }


def test_range_outside_the_partitions_is_refused_before_running(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["run", "--start", "2023-12-31"]) == 2
    assert "before COLLECTION_START_DATE=2024-01-01" in capsys.readouterr().err
    assert cli.main(["run", "--start", "2024-01-05", "--end", "2024-01-01"]) == 2


def test_existing_dagster_home_keeps_its_own_dagster_yaml(monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert cli.ensure_dagster_home() == home.resolve()
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collection_pipeline.cli", "run", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_quiet_run_shows_a_line_per_step_and_a_summary_that_adds_up(tmp_path, emulator_url):
    env = live_cli_environment(emulator_url(), tmp_path / "home")
    completed = _cli(env, "--start", "2024-01-01", "--end", "2024-01-03")
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "DEBUG" not in out + completed.stderr
    assert "RUN_START" not in out + completed.stderr
    step_lines = [line for line in out.splitlines() if " done " in line]
    assert [line.split()[0] for line in step_lines] == [
        "raw_beatport_tracks",
        "processed_tracks",
        "spotify_enrichments",
    ]
    (tracks_line,) = [line for line in out.splitlines() if line.startswith("Tracks ")]
    # "Tracks     60 = 47 found on Spotify + 8 not found + 0 errors + 0 not looked up yet + 5 ..."
    numbers = [int(word) for word in tracks_line.replace("=", " ").split() if word.isdigit()]
    total, parts = numbers[0], numbers[1:]
    assert total == 60
    assert sum(parts) == total
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'home' / 'catalogue.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tracks")).scalar_one() == total
    engine.dispose()
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "home"))) as instance:
        (run,) = instance.get_runs()
        assert run.job_name == "daily_collection"
        assert run.tags["collection/days"] == "2024-01-01..2024-01-03"


def test_verbose_run_shows_dagster_events(tmp_path, emulator_url):
    env = live_cli_environment(emulator_url(), tmp_path / "home")
    completed = _cli(env, "--start", "2024-01-01", "--asset", "raw_beatport_tracks", "--verbose")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "STEP_START" in completed.stderr
    assert "Raw        20 Beatport records" in completed.stdout


def test_a_failed_run_names_the_step_and_the_root_cause_last(tmp_path, emulator_url):
    base_url = emulator_url(credentials={"spotify_client_secret": "the-right-one"})
    env = live_cli_environment(base_url, tmp_path / "home", SPOTIFY_CLIENT_SECRET="a-wrong-one")
    completed = _cli(env, "--start", "2024-01-01")
    assert completed.returncode == 1
    last = completed.stdout.strip().splitlines()[-3:]
    assert last[0].startswith("Run ")
    assert last[0].split()[2] == "FAILED"
    assert last[1].startswith("Failed       spotify_enrichments: ")
    assert "SPOTIFY_CLIENT_SECRET" in last[1] or "credentials" in last[1].lower()
    assert last[2].startswith(
        "More         collection-pipeline dev, then http://127.0.0.1:3000/runs/"
    )
    assert "a-wrong-one" not in completed.stdout + completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr


def test_cli_and_settings_resolve_the_same_dagster_home(monkeypatch, tmp_path):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr(cli, "project_root", lambda: tmp_path)
    expected = tmp_path / ".collection" / "dagster_home"
    assert settings.dagster_home(tmp_path) == expected
    assert cli.ensure_dagster_home() == expected
    assert settings.dagster_home() == expected, "exported for every later reader"
    assert settings.database_url() == f"sqlite:///{expected / 'catalogue.db'}"


def test_storage_upgrade_uses_the_pipelines_default_catalogue(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLECTION_")}
    env["DAGSTER_HOME"] = str(tmp_path / "home")
    completed = subprocess.run(
        [sys.executable, "-m", "collection_pipeline.storage", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "home" / "catalogue.db").is_file()
