"""Storage on PostgreSQL: raw bulk-upsert throughput, and query plans at 1M raw rows.

    python -m bench.bench_storage [--rows 20000] [--page-size 100] [--repetitions 5]
                                  [--explain-rows 1000000] [--skip-explain]

1. Throughput: the raw upsert (`RawRecordRepository.upsert_records`, one unit of work per page,
   as the collect step runs it) against a plain multi-row INSERT of the same JSONB rows into a
   bare table (no keys, no indexes), same page size, same transactions, same run; median of
   several repetitions. Re-collecting unchanged pages is reported too.
2. Plans: synthetic data generated server-side (INSERT ... SELECT generate_series) up to
   `--explain-rows` raw records with as many tracks, artists, links and Spotify outcomes; every
   statement the repositories run for the service's hot paths is captured and EXPLAINed, and
   none may Seq Scan a big table.

Helpers for the lead's normalize+write benchmark: `scratch_postgres()`, `emptied_database()`,
`synthetic_beatport_tracks()`, `plain_insert_rate()`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bench.common import Figure, median_of, print_table, write_results
from collection_pipeline.domain import (
    ArtistCredit,
    ArtistRole,
    DateWindow,
    MatchOutcome,
    MatchStatus,
    NamedEntity,
    NormalizedTrack,
    Release,
)
from collection_pipeline.storage import Database, RawRecordIn

ADMIN_URL = os.environ.get(
    "COLLECTION_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REFERENCE = Path(__file__).resolve().parents[2] / "shared/reference/beatport/list_tracks.json"
UPSERT_THRESHOLD = 0.60
BIG_TABLES = {
    "external_data",
    "tracks",
    "track_artists",
    "artists",
    "releases",
    "labels",
    "spotify_track_matches",
}
FIRST_DAY = date(2016, 1, 1)
DAYS = 3000


# ------------------------------------------------------------------ reusable helpers


@contextmanager
def scratch_postgres(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """A throw-away PostgreSQL database for one benchmark run; yields its URL."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"bench_storage_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def emptied_database(url: str) -> Iterator[Database]:
    """The catalogue schema at head on `url` emptied first (downgraded to base, so a reused
    benchmark database starts without the previous run's rows); `testing.harness.migrated_database`
    keeps what is there."""
    db = Database(url)
    db.downgrade("base")
    db.upgrade()
    try:
        yield db
    finally:
        db.dispose()


def _reference_track() -> dict[str, Any]:
    if REFERENCE.exists():
        return json.loads(REFERENCE.read_text())["results"][0]
    return {"id": 0, "name": "Track", "isrc": None, "publish_date": "2024-01-01", "artists": []}


def synthetic_beatport_tracks(count: int, first_id: int = 1, day: date = FIRST_DAY) -> list[dict]:
    """Realistic raw Beatport tracks (the reference capture's shape and size), distinct ids."""
    template = _reference_track()
    tracks = []
    for number in range(first_id, first_id + count):
        track = copy.deepcopy(template)
        track["id"] = number
        track["name"] = f"Track {number}"
        track["isrc"] = f"GBAAA{number % 100:02d}{number:05d}"[:12]
        track["publish_date"] = (day + timedelta(days=number % 7)).isoformat()
        for position, artist in enumerate(track.get("artists", [])):
            artist["id"] = 1_000_000 + (number * 3 + position) % 50_000
            artist["name"] = f"Artist {artist['id']}"
        tracks.append(track)
    return tracks


def raw_records(tracks: list[dict]) -> list[RawRecordIn]:
    return [RawRecordIn(str(t["id"]), t, date.fromisoformat(t["publish_date"])) for t in tracks]


def pages(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def plain_insert_rate(url: str, tracks: list[dict], page_size: int) -> float:
    """Rows/s of a plain multi-row INSERT of the same JSONB rows into a bare table."""
    bare = sa.Table(
        "bench_plain_insert",
        sa.MetaData(),
        sa.Column("provider", sa.String(32)),
        sa.Column("entity_type", sa.String(32)),
        sa.Column("external_id", sa.String(64)),
        sa.Column("payload", postgresql.JSONB),
        sa.Column("partition_date", sa.Date),
        sa.Column("run_id", sa.String(64)),
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        bare.drop(conn, checkfirst=True)
        bare.create(conn)
    rows = [
        {
            "provider": "beatport",
            "entity_type": "track",
            "external_id": str(t["id"]),
            "payload": t,
            "partition_date": date.fromisoformat(t["publish_date"]),
            "run_id": "bench",
        }
        for t in tracks
    ]
    started = time.perf_counter()
    with engine.connect() as conn:
        for page in pages(rows, page_size):
            conn.execute(sa.insert(bare), page)
            conn.commit()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(rows) / elapsed


def upsert_rate(db: Database, tracks: list[dict], page_size: int, run_id: str) -> float:
    """Rows/s of `upsert_records`, one unit of work per page as the collect step runs it."""
    records = raw_records(tracks)
    started = time.perf_counter()
    for page in pages(records, page_size):
        with db.unit_of_work() as uow:
            uow.raw.upsert_records("beatport", "track", page, run_id, now=_now())
            uow.commit()
    return len(records) / (time.perf_counter() - started)


# ------------------------------------------------------------------ 1. throughput


def measure_throughput(url: str, rows: int, page_size: int, repetitions: int) -> list[Figure]:
    tracks = synthetic_beatport_tracks(rows)
    plain, fresh, again = [], [], []

    def one_round() -> float:
        with emptied_database(url) as db:
            plain.append(plain_insert_rate(url, tracks, page_size))
            fresh.append(upsert_rate(db, tracks, page_size, "bench-1"))
            again.append(upsert_rate(db, tracks, page_size, "bench-2"))
        return fresh[-1]

    median_of(repetitions, one_round)
    plain_rate, fresh_rate, again_rate = (sorted(x)[len(x) // 2] for x in (plain, fresh, again))
    detail = f"{rows} rows, pages of {page_size}, median of {repetitions}"
    return [
        Figure(
            "storage",
            "raw bulk upsert (new rows)",
            fresh_rate,
            "rows/s",
            reference=plain_rate,
            reference_name="plain multi-row INSERT into a bare JSONB table",
            threshold=UPSERT_THRESHOLD,
            detail=detail,
        ),
        Figure(
            "storage",
            "raw re-upsert (unchanged rows)",
            again_rate,
            "rows/s",
            reference=plain_rate,
            reference_name="plain multi-row INSERT into a bare JSONB table",
            detail=detail,
        ),
    ]


# ------------------------------------------------------------------ 2. plans at scale


SYNTHETIC_SQL = [
    # raw: ~1% still unprocessed, a few quarantined
    """INSERT INTO external_data (provider, entity_type, external_id, payload, content_hash,
        partition_date, first_seen_at, last_seen_at, run_id, processed_at, processing_error)
     SELECT 'beatport', 'track', g::text,
        jsonb_build_object('id', g, 'name', 'Track ' || g, 'isrc', 'GBAAA' || lpad(g::text, 7, '0'),
                           'bpm', 120 + g % 20, 'mix_name', 'Original Mix'),
        md5(g::text), DATE '{first_day}' + (g % {days}), now(), now(), 'synthetic',
        CASE WHEN g % 100 = 0 THEN NULL ELSE now() END,
        CASE WHEN g % 1000 = 1 THEN 'malformed:bpm' END
     FROM generate_series(1, {rows}) g""",
    """INSERT INTO external_data (provider, entity_type, external_id, payload, content_hash,
        partition_date, first_seen_at, last_seen_at, run_id, processed_at)
     SELECT 'spotify', 'track', 'sp' || g, jsonb_build_object('id', 'sp' || g), md5('sp' || g),
        NULL, now(), now(), 'synthetic', now()
     FROM generate_series(1, {rows} / 2) g""",
    """INSERT INTO genres (beatport_id, name, slug, source_record_id, run_id, updated_at)
     SELECT g, 'Genre ' || g, 'genre-' || g, 1, 'synthetic', now() FROM generate_series(1, 40) g""",
    """INSERT INTO labels (beatport_id, name, slug, source_record_id, run_id, updated_at)
     SELECT g, 'Label ' || g, NULL, 1, 'synthetic', now() FROM generate_series(1, {rows} / 50) g""",
    """INSERT INTO releases (beatport_id, name, slug, label_id, source_record_id, run_id,
        updated_at)
     SELECT g, 'Release ' || g, NULL, 1 + g % ({rows} / 50), 1, 'synthetic', now()
     FROM generate_series(1, {rows} / 5) g""",
    """INSERT INTO artists (beatport_id, name, slug, source_record_id, run_id, updated_at)
     SELECT g, 'Artist ' || g, NULL, 1, 'synthetic', now()
     FROM generate_series(1, {rows} / 10) g""",
    """INSERT INTO tracks (beatport_id, name, mix_name, isrc, bpm, publish_date, genre_id,
        release_id, source_record_id, run_id, updated_at)
     SELECT g, 'Track ' || g, 'Original Mix',
        CASE WHEN g % 9 = 0 THEN NULL ELSE 'GBAAA' || lpad((g - g % 2)::text, 7, '0') END,
        120 + g % 20, DATE '{first_day}' + (g % {days}), 1 + g % 40, 1 + g % ({rows} / 5), g,
        'synthetic', now()
     FROM generate_series(1, {rows}) g""",
    """INSERT INTO track_artists (track_id, artist_id, role, position, source_record_id, run_id)
     SELECT g, 1 + g % ({rows} / 10), 'artist', 1, g, 'synthetic' FROM generate_series(1, {rows}) g
     UNION ALL
     SELECT g, 1 + (g * 7) % ({rows} / 10), 'remixer', 1, g, 'synthetic'
     FROM generate_series(1, {rows}, 2) g""",
    """INSERT INTO spotify_track_matches (track_id, status, spotify_track_id, isrc, match_rule,
        match_score, candidate_count, attempts, searched_at, run_id)
     SELECT t.id, CASE WHEN t.id % 10 = 0 THEN 'not_found' WHEN t.id % 97 = 0 THEN 'error'
                       ELSE 'found' END,
        CASE WHEN t.id % 10 <> 0 AND t.id % 97 <> 0 THEN 'sp' || t.id END, t.isrc,
        'earliest_release', 0.95, 2, 1, now() - (t.id % 60) * interval '1 day', 'synthetic'
     FROM tracks t WHERE t.isrc IS NOT NULL AND t.id % 5 <> 0""",
]


def generate_synthetic(db: Database, rows: int) -> float:
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for statement in SYNTHETIC_SQL:
            conn.execute(
                sa.text(statement.format(rows=rows, days=DAYS, first_day=FIRST_DAY.isoformat()))
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return time.perf_counter() - started


class PlanRecorder:
    """EXPLAINs every statement a block of repository calls sends, labelled by call."""

    def __init__(self, engine: sa.Engine) -> None:
        self.label = ""
        self.plans: list[dict[str, Any]] = []
        sa.event.listen(engine, "before_cursor_execute", self._explain)

    def _explain(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if many or verb not in {"SELECT", "UPDATE", "DELETE", "INSERT", "WITH"}:
            return
        with conn.connection.dbapi_connection.cursor() as explain:
            explain.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = explain.fetchone()[0][0]["Plan"]
        nodes = list(_nodes(plan))
        seq = sorted({rel for node, rel in nodes if node == "Seq Scan" and rel in BIG_TABLES})
        self.plans.append(
            {
                "call": self.label,
                "statement": " ".join(statement.split())[:160],
                "scans": sorted({f"{node} on {rel}" for node, rel in nodes if rel}),
                "seq_scans_on_big_tables": seq,
            }
        )


def _nodes(plan: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    yield plan["Node Type"], plan.get("Relation Name")
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def hot_calls(db: Database, rows: int) -> list[tuple[str, Callable[[Any], Any]]]:
    """Every repository call of the service's collect/process/enrich/report paths."""
    day = FIRST_DAY + timedelta(days=100)
    window, week = DateWindow.single_day(day), DateWindow(day, day + timedelta(days=7))
    ttl, now = timedelta(days=30), _now()
    new_tracks = synthetic_beatport_tracks(100, first_id=rows + 1, day=day)
    known = synthetic_beatport_tracks(100, first_id=1000, day=day)
    return [
        (
            "raw.upsert_records (new page)",
            lambda u: u.raw.upsert_records(
                "beatport", "track", raw_records(new_tracks), "bench", now=_now()
            ),
        ),
        (
            "raw.upsert_records (known page)",
            lambda u: u.raw.upsert_records(
                "beatport", "track", raw_records(known), "bench", now=_now()
            ),
        ),
        (
            "raw.fetch_unprocessed (day)",
            lambda u: u.raw.fetch_unprocessed("beatport", "track", window, 0, 1000),
        ),
        (
            "raw.fetch_unprocessed (week)",
            lambda u: u.raw.fetch_unprocessed("beatport", "track", week, 0, 1000),
        ),
        (
            "raw.mark_processed",
            lambda u: u.raw.mark_processed(list(range(5000, 6000)), "bench", now=_now()),
        ),
        (
            "raw.mark_quarantined",
            lambda u: u.raw.mark_quarantined({7001: "x", 7002: "y"}, "b", now=_now()),
        ),
        ("raw.state_counts", lambda u: u.raw.state_counts("beatport", "track", week)),
        ("raw.quarantine_reasons", lambda u: u.raw.quarantine_reasons("beatport", "track", week)),
        ("raw.count_in_window", lambda u: u.raw.count_in_window("beatport", "track", week)),
        (
            "raw.rejected_isrcs_by_day",
            lambda u: u.raw.rejected_isrcs_by_day("beatport", "track", week),
        ),
        ("raw.fingerprint", lambda u: u.raw.fingerprint("beatport", "track", week)),
        (
            "catalog.save_tracks",
            lambda u: u.catalog.save_tracks(_normalized(u, rows), "bench", now=_now()),
        ),
        ("catalog.track_count", lambda u: u.catalog.track_count(week)),
        ("catalog.sample_tracks", lambda u: u.catalog.sample_tracks(week, 5)),
        ("catalog.fingerprint", lambda u: u.catalog.fingerprint(week)),
        ("spotify.pending_tracks", lambda u: u.spotify.pending_tracks(week, ttl, now, None, 500)),
        (
            "spotify.pending_tracks (next)",
            lambda u: u.spotify.pending_tracks(week, ttl, now, "GBAAA0000000", 500),
        ),
        ("spotify.pending_count", lambda u: u.spotify.pending_count(week, ttl, now)),
        (
            "raw.upsert_records (Spotify JSON)",
            lambda u: u.raw.upsert_records(
                "spotify",
                "track",
                [RawRecordIn(f"sp{n}", {"id": f"sp{n}", "v": 2}, None) for n in range(1, 200)],
                "bench",
                now=_now(),
                processed=True,
            ),
        ),
        (
            "raw.record_ids (Spotify JSON)",
            lambda u: u.raw.record_ids("spotify", "track", [f"sp{n}" for n in range(1, 200)]),
        ),
        (
            "spotify.save_outcomes",
            lambda u: u.spotify.save_outcomes(_outcomes(u, week), "bench", spotify_record_ids={}),
        ),
        ("spotify.outcome_counts", lambda u: u.spotify.outcome_counts(week, ttl, now)),
        (
            "spotify.partitions_needing_recheck",
            lambda u: u.spotify.partitions_needing_recheck(ttl, now),
        ),
        ("spotify.fingerprint", lambda u: u.spotify.fingerprint(week)),
    ]


def _now() -> datetime:
    return datetime.now(UTC)


def _normalized(uow: Any, rows: int) -> list[tuple[int, NormalizedTrack]]:
    """A batch of 200 tracks, half existing and half new, sharing genres, labels and artists."""
    day = FIRST_DAY + timedelta(days=100)
    return [
        (
            n,
            NormalizedTrack(
                beatport_id=n,
                name=f"Track {n}",
                mix_name="Original Mix",
                isrc=f"GBAAA{n:07d}",
                bpm=125,
                key_name=None,
                camelot=None,
                length_ms=300_000,
                publish_date=day,
                new_release_date=day,
                catalog_number=None,
                genre=NamedEntity(1 + n % 40, f"Genre {1 + n % 40}"),
                sub_genre=None,
                release=Release(n % 999 + 1, "Release", None, NamedEntity(n % 20 + 1, "Label")),
                credits=(ArtistCredit(NamedEntity(n % 500 + 1, "A"), ArtistRole.ARTIST, 1),),
            ),
        )
        for n in range(rows - 100, rows + 100)
    ]


def _outcomes(uow: Any, window: DateWindow) -> list[MatchOutcome]:
    pending = uow.spotify.pending_tracks(window, timedelta(days=30), _now(), None, 200)
    return [
        MatchOutcome(t.track_id, MatchStatus.FOUND, _now(), f"sp{t.track_id}", "rule", 1.0, 1)
        for t in pending
    ]


def measure_plans(url: str, rows: int) -> tuple[list[Figure], list[dict[str, Any]]]:
    with emptied_database(url) as db:
        seconds = generate_synthetic(db, rows)
        print(f"generated {rows} synthetic raw rows (+ catalogue) in {seconds:.0f} s", flush=True)
        recorder = PlanRecorder(db.engine)
        for label, call in hot_calls(db, rows):
            with db.unit_of_work() as uow:
                recorder.label = label
                call(uow)
            # rolled back: every call sees the same synthetic state
    bad = [plan for plan in recorder.plans if plan["seq_scans_on_big_tables"]]
    calls = {plan["call"] for plan in recorder.plans}
    figure = Figure(
        "storage",
        f"hot statements without Seq Scan at {rows:,} raw rows",
        float(len(recorder.plans) - len(bad)),
        "statements",
        reference=float(len(recorder.plans)),
        reference_name=f"statements EXPLAINed ({len(calls)} repository calls)",
        threshold=1.0,
        detail="; ".join(f"{p['call']}: {p['seq_scans_on_big_tables']}" for p in bad),
    )
    return [figure], recorder.plans


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per throughput round")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--explain-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-explain", action="store_true")
    args = parser.parse_args()

    figures: list[Figure] = []
    plans: list[dict[str, Any]] = []
    with scratch_postgres() as url:
        figures += measure_throughput(url, args.rows, args.page_size, args.repetitions)
        if not args.skip_explain:
            plan_figures, plans = measure_plans(url, args.explain_rows)
            figures += plan_figures
    print_table(figures)
    for plan in plans:
        flag = "SEQ SCAN " if plan["seq_scans_on_big_tables"] else ""
        print(f"  {flag}{plan['call']}: {', '.join(plan['scans']) or 'no table scan'}")
    path = write_results("storage", figures, {**vars(args), "plans": plans})
    print(f"wrote {path}")
    return 0 if all(figure.passed is not False for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
