"""Every time a run stamps on a row is a reading of the service's one clock (issue #16).

The repositories take the instant from their caller instead of reading a wall clock of their own,
so a service given a fixed clock stamps exactly that instant on every stamped column. The
columns are found from the schema (every `UTCDateTime` column but `learned_at`, which is when the
pacer learned its rate, not when the row was written), so a stamped column added later is
covered too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from collection_pipeline.clients import AdaptivePacer
from collection_pipeline.domain import DateWindow
from collection_pipeline.storage.schema import metadata
from collection_pipeline.storage.types import UTCDateTime
from collection_pipeline.testing.harness import migrated_database, real_service

WINDOW = DateWindow(date(2024, 3, 1), date(2024, 3, 2))
GENRES = (5, 11)
FIXED = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
"""Years away from the wall clock, so a row stamped by any other clock cannot equal it."""
NOT_WRITE_STAMPS = {("pacer_rates", "learned_at")}


def taught_pacer() -> AdaptivePacer:
    """A pacer that has met a 429, so the run has a learned rate to save."""
    pacer = AdaptivePacer(window_s=1.0, initial_rate=1000)
    for _ in range(200):
        pacer.on_response(pacer.acquire(), 200, None)
    pacer.on_response(pacer.acquire(), 429, retry_after=None)
    return pacer


def stamped_columns() -> list[sa.Column]:
    return [
        column
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, UTCDateTime)
        and (table.name, column.name) not in NOT_WRITE_STAMPS
    ]


def test_every_stamp_of_a_run_is_the_services_clock(database_url: str, emulator_url) -> None:
    base_url = emulator_url()
    with migrated_database(database_url) as db:
        pacer = taught_pacer()
        with real_service(db, base_url, clock=lambda: FIXED, spotify_pacer=pacer) as service:
            assert service.collect_beatport_tracks_raw(WINDOW, GENRES).records > 0
            assert service.process_unprocessed_beatport_tracks(WINDOW).processed > 0
            assert service.enrich_tracks_with_spotify_data(WINDOW).found > 0

        stamps: dict[str, set[datetime]] = {}
        with db.engine.connect() as conn:
            for column in stamped_columns():
                query = sa.select(column).distinct().where(column.is_not(None))
                stamps[f"{column.table.name}.{column.name}"] = set(conn.scalars(query))

    assert stamps  # the schema has stamped columns, and each was written by the run:
    assert {name: values for name, values in stamps.items() if values != {FIXED}} == {}
