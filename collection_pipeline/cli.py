"""`collection-pipeline`: run the pipeline, open the UI and migrate, on one persistent instance.

Dagster keeps run history in $DAGSTER_HOME. Left unset, `dagster` commands use a throw-away
directory, so a run started here would never show in `dagster dev`. Every subcommand therefore
resolves one DAGSTER_HOME first (the variable if set, else `.collection/dagster_home` in the
project folder), creates it and writes the packaged instance defaults into it (see
instance_defaults.py), so the CLI run, the UI and the catalogue's default SQLite file all live in
the same place with no setup step.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from collection_pipeline import settings
from collection_pipeline.instance_defaults import seed_instance_home

ASSET_KEYS = ("raw_beatport_tracks", "processed_tracks", "spotify_enrichments")


project_root = settings.project_root


def ensure_dagster_home() -> Path:
    """Resolve, create and export DAGSTER_HOME; seed it with the packaged instance defaults once."""
    root = project_root()
    home = settings.dagster_home(root)
    home.mkdir(parents=True, exist_ok=True)
    seed_instance_home(home)
    settings.export_dagster_home(home)
    return home


def _preflight(home: Path, apis: Sequence[str]) -> bool:
    """Print every problem that would stop a run, one line each; True when there is none."""
    from collection_pipeline import preflight

    problems = preflight.check_all(home, apis)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return not problems


def _home_or_none() -> Path | None:
    """The DAGSTER_HOME, created and exported; None (reported) when it cannot be created."""
    from collection_pipeline import preflight

    home = settings.dagster_home(project_root())
    problem = preflight.dagster_home_problem(home)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return None
    return ensure_dagster_home()


def _display_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _apis(assets: Sequence[str]) -> list[str]:
    """The APIs a run of `assets` calls, whose live credentials it needs."""
    needs = {"raw_beatport_tracks": "beatport", "spotify_enrichments": "spotify"}
    return [needs[key] for key in assets if key in needs]


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def _check_range(start: date, end: date) -> str | None:
    """Why the inclusive range [start, end] is not a range of existing partitions, if it isn't."""
    first, last = settings.start_date(), _yesterday()
    if end < start:
        return f"--end {end} is before --start {start}"
    if start < first:
        return f"--start {start} is before {settings.START_DATE.name}={first}"
    if end > last:
        return f"--end {end} is not a complete day yet (the last partition is {last})"
    return None


def _value(metadata: dict[str, Any], key: str) -> Any:
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def summarize(metadata_by_asset: dict[str, dict[str, Any]]) -> list[str]:
    """A few lines saying what was collected, processed and matched (day figures summed)."""
    from collection_pipeline.domain import OutcomeCounts

    lines = []
    raw = metadata_by_asset.get("raw_beatport_tracks")
    if raw is not None:
        lines.append(
            f"Collected  {_value(raw, 'received')} Beatport tracks "
            f"(API count {_value(raw, 'api_count')}; new {_value(raw, 'new')}, changed "
            f"{_value(raw, 'changed')}, unchanged {_value(raw, 'unchanged')})"
        )
    processed = metadata_by_asset.get("processed_tracks")
    if processed is not None:
        lines.append(
            f"Processed  {_value(processed, 'processed')} raw records into the catalogue "
            f"({_value(processed, 'quarantined')} quarantined); "
            f"{_value(processed, 'dagster/row_count')} tracks in the range"
        )
    enriched = metadata_by_asset.get("spotify_enrichments")
    if enriched is not None:
        outcomes = OutcomeCounts(
            tracks_with_isrc=0,
            found=_value(enriched, "found") or 0,
            not_found=_value(enriched, "not_found") or 0,
            error=_value(enriched, "error") or 0,
            pending=_value(enriched, "pending") or 0,
        )
        rate = "n/a" if outcomes.match_rate is None else f"{outcomes.match_rate:.0%}"
        lines.append(
            f"Matched    {outcomes.found} tracks on Spotify, {outcomes.not_found} not found, "
            f"{outcomes.error} errors (match rate {rate})"
        )
    return lines


def _sum_days(events: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Each asset's integer day figures added up over the days of the run."""
    totals: dict[str, dict[str, Any]] = {}
    for event in events:
        materialization = event.step_materialization_data.materialization
        asset = totals.setdefault(materialization.asset_key.to_user_string(), {})
        for key, entry in materialization.metadata.items():
            value = getattr(entry, "value", entry)
            if isinstance(value, int) and not isinstance(value, bool):
                asset[key] = asset.get(key, 0) + value
    return totals


def run(start: date, end: date, assets: Sequence[str]) -> int:
    """Materialize `assets` for the inclusive day range in one run on the persistent instance."""
    home = _home_or_none()
    if home is None or not _preflight(home, _apis(assets)):
        return 2
    problem = _check_range(start, end)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    import dagster as dg

    from collection_pipeline.definitions import defs
    from collection_pipeline.defs.automation import JOB_NAME
    from collection_pipeline.defs.partitions import range_tags

    job = defs.resolve_job_def(JOB_NAME)
    print(f"DAGSTER_HOME {home}")
    print(f"Catalogue    {_display_url(settings.database_url())}")
    print(f"Source       {settings.source_mode()}; publish days {start}..{end}")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(key) for key in assets],
            tags=range_tags(start, end),
            raise_on_error=False,
        )
    metadata = _sum_days(result.get_asset_materialization_events())
    failed_checks = [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    print()
    print("\n".join(summarize(metadata)))
    if failed_checks:
        print(f"Checks     failed: {', '.join(failed_checks)}")
    print(f"Run        {result.run_id} {'succeeded' if result.success else 'FAILED'}")
    print("Browse it  collection-pipeline dev   (then open http://127.0.0.1:3000)")
    return 0 if result.success else 1


def dev(extra: Sequence[str]) -> int:
    """Replace this process with `dagster dev` on the same DAGSTER_HOME."""
    home = _home_or_none()
    if home is None:
        return 2
    # `dagster dev` warns that `dg dev` supersedes it; `dg` is not in the core install, and for
    # a module target both run the same dev server, so the warning is only noise here.
    quiet = "ignore:Function `dev_command` is superseded:FutureWarning"
    command = [sys.executable, "-W", quiet, "-m", "dagster", "dev"]
    command += ["-m", "collection_pipeline.definitions", *extra]
    executable = sys.executable
    print(f"DAGSTER_HOME {home}", flush=True)
    os.chdir(home)  # dagster dev expects the instance's dagster.yaml in its working directory
    os.execv(executable, command)
    return 0  # pragma: no cover - execv does not return


def migrate() -> int:
    """Bring the catalogue schema to the latest migration."""
    home = _home_or_none()
    if home is None or not _preflight(home, apis=()):
        return 2
    from collection_pipeline.storage import Database

    url = settings.database_url()
    database = Database(url)
    try:
        database.upgrade()
    finally:
        database.dispose()
    print(f"Catalogue schema is at head: {_display_url(url)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collection-pipeline",
        description="Collect Beatport tracks and match them on Spotify (a Dagster pipeline).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run", help="collect, process and match a range of publish days in one run"
    )
    run_parser.add_argument(
        "--start", type=date.fromisoformat, help="first publish day (default: yesterday, UTC)"
    )
    run_parser.add_argument(
        "--end", type=date.fromisoformat, help="last publish day, inclusive (default: --start)"
    )
    run_parser.add_argument(
        "--asset",
        dest="assets",
        action="append",
        choices=ASSET_KEYS,
        help="materialize only these assets (repeatable; default: all three)",
    )
    commands.add_parser(
        "dev",
        add_help=False,  # every further option (-h HOST, -p PORT, ...) goes to `dagster dev`
        help="start the Dagster UI and daemon on the same instance (options go to dagster dev)",
    )
    commands.add_parser("migrate", help="bring the catalogue schema to the latest migration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if args.command == "dev":
        return dev(extra)
    if extra:
        _parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "migrate":
        return migrate()
    start = args.start or _yesterday()
    return run(start, args.end or start, args.assets or ASSET_KEYS)


if __name__ == "__main__":
    sys.exit(main())
