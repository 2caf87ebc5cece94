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

from collection_pipeline import cli

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
    assert "Collected  8 Beatport tracks" in completed.stdout
    assert "Matched" in completed.stdout

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
