"""Scoring a catalogue against the emulator's truth: completeness, quarantine and matching.

The truth says, per Beatport track, the Spotify track a correct matcher chooses and, on the
`messy` profile, why the record must be quarantined (`malformed`) or what harmless oddity it
carries (`quirk`). `score_against_truth` reads the stable user-facing tables and checks both
halves: every malformed record quarantined with the reason the pipeline documents for its
kind, every other record processed and matched as the truth says, and no identity stored
twice. On the other profiles nothing is malformed, so the same score serves them.
`score_items0` applies the seed's matcher (the first search item, blindly) to the same catalogue,
as the baseline the benchmark reports beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from collection_pipeline.domain import DateWindow
from collection_pipeline.storage import Database
from collection_pipeline.testing.harness import DEFAULT_GENRES, fetch_truth

REASON_BY_KIND = {
    "missing_id": "missing_field:id",
    "not_an_object": "null_object:record",
    "bad_publish_date": "invalid_date:publish_date",
    "null_artists": "missing_field:artists",
    "missing_name": "missing_field:name",
}
"""The quarantine reason the pipeline gives each kind of malformed record the emulator serves."""
UNKEYED_KINDS = ("missing_id", "not_an_object")
"""Kinds stored under a content key: scored by count, since no Beatport id names them."""


@dataclass
class TruthScore:
    """How a catalogue compares with the truth; `problems` lists every disagreement."""

    good: int = 0
    processed: int = 0
    raw_missing: int = 0
    """Tracks of the truth with no raw record (records without an id are scored by count)."""
    truth_tracks: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    quirks: Counter[str] = field(default_factory=Counter)
    found: int = 0
    correct: int = 0
    expected_matches: int = 0
    duplicate_rows: int = 0
    """Rows that repeat a provider identity in any table (a correct catalogue has none)."""
    problems: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected_matches if self.expected_matches else 1.0

    @property
    def completeness(self) -> float:
        return 1 - self.raw_missing / self.truth_tracks if self.truth_tracks else 1.0

    @property
    def quarantine_share(self) -> float:
        """Malformed records quarantined with their kind's reason, over all malformed ones."""
        total = sum(self.malformed.values())
        return sum(self.quarantined.values()) / total if total else 1.0

    def summary(self) -> str:
        return (
            f"{self.good} good tracks ({self.processed} processed, quirks {dict(self.quirks)}), "
            f"malformed {dict(self.malformed)} -> quarantined {dict(self.quarantined)}; "
            f"matches {self.found} found, {self.correct} correct of {self.expected_matches} "
            f"expected -> precision {self.precision:.4f}, recall {self.recall:.4f}; "
            f"{self.duplicate_rows} duplicate rows; {len(self.problems)} problems"
        )


def score_against_truth(
    db: Database, base_url: str, window: DateWindow, genre_ids: Sequence[int] = DEFAULT_GENRES
) -> TruthScore:
    truth = fetch_truth(base_url, window, genre_ids)
    with db.engine.connect() as conn:
        raw = {
            external_id: (error, bool(escaped))
            for external_id, error, escaped in conn.execute(
                sa.text(
                    "SELECT external_id, processing_error, payload_escaped FROM external_data "
                    "WHERE provider = 'beatport'"
                )
            )
        }
        tracks = dict(conn.execute(sa.text("SELECT beatport_id, name FROM tracks")).all())
        matches = dict(
            conn.execute(
                sa.text(
                    "SELECT t.beatport_id, m.spotify_track_id FROM spotify_track_matches m "
                    "JOIN tracks t ON t.id = m.track_id WHERE m.status = 'found'"
                )
            ).all()
        )
    score = TruthScore(truth_tracks=len(truth), duplicate_rows=count_duplicate_rows(db))
    for row in truth:
        beatport_id, kind = row["beatport_id"], row["malformed"]
        if kind not in UNKEYED_KINDS and str(beatport_id) not in raw:
            score.raw_missing += 1
        if kind is not None:
            score.malformed[kind] += 1
            if kind not in UNKEYED_KINDS:
                _score_keyed(score, raw.get(str(beatport_id)), beatport_id, kind)
            continue
        score.good += 1
        if row["quirk"]:
            score.quirks[row["quirk"]] += 1
        _score_good(score, row, tracks, raw, matches)
    _score_unkeyed(score, raw)
    return score


def count_duplicate_rows(db: Database) -> int:
    """Rows that repeat a provider identity in any table (a correct catalogue has none)."""
    with db.engine.connect() as conn:
        return sum(
            conn.execute(
                sa.text(f"SELECT COUNT(*) - COUNT(DISTINCT {key}) FROM {table}")
            ).scalar_one()
            for table, key in (
                ("tracks", "beatport_id"),
                ("artists", "beatport_id"),
                ("releases", "beatport_id"),
                ("labels", "beatport_id"),
                ("genres", "beatport_id"),
                ("spotify_track_matches", "track_id"),
                ("external_data", "provider || ':' || entity_type || ':' || external_id"),
            )
        )


def _score_keyed(
    score: TruthScore, stored: tuple[str | None, bool] | None, beatport_id: int, kind: str
) -> None:
    reason = stored[0] if stored else None
    if reason == REASON_BY_KIND[kind]:
        score.quarantined[kind] += 1
    else:
        score.problems.append(f"{beatport_id} ({kind}): stored with reason {reason!r}")


def _score_unkeyed(score: TruthScore, raw: dict[str, tuple[str | None, bool]]) -> None:
    """Records without an id, counted by reason: distinct contents, so one row each, except
    that every `null` entry is the same content (one row however many were served)."""
    reasons = Counter(error for key, (error, _) in raw.items() if key.startswith("unkeyed:"))
    for kind in UNKEYED_KINDS:
        served = score.malformed[kind]
        expected = min(served, 1) if kind == "not_an_object" else served
        stored = reasons[REASON_BY_KIND[kind]]
        if stored == expected:
            score.quarantined[kind] += served
        else:
            score.raw_missing += max(0, expected - stored)
            score.problems.append(f"{kind}: {served} served, {stored} unkeyed rows quarantined")


def _score_good(
    score: TruthScore,
    row: dict[str, Any],
    tracks: dict[int, str],
    raw: dict[str, tuple[str | None, bool]],
    matches: dict[int, str],
) -> None:
    beatport_id, expected = row["beatport_id"], row["spotify_track_id"]
    if beatport_id not in tracks:
        stored = raw.get(str(beatport_id))
        score.problems.append(f"{beatport_id} ({row['quirk']}): not processed, raw {stored}")
        return
    score.processed += 1
    if "\x00" in tracks[beatport_id]:
        score.problems.append(f"{beatport_id}: U+0000 in the normalized name")
    if row["quirk"] == "nul_in_string" and not raw[str(beatport_id)][1]:
        score.problems.append(f"{beatport_id}: raw record not marked as escaped")
    score.expected_matches += expected is not None
    chosen = matches.get(beatport_id)
    if chosen is not None:
        score.found += 1
        score.correct += chosen == expected
        if chosen != expected:
            score.problems.append(f"{beatport_id}: matched {chosen}, truth {expected}")
    elif expected is not None:
        score.problems.append(f"{beatport_id}: not matched, truth {expected}")


def score_items0(db: Database, base_url: str, truth: Iterable[dict[str, Any]]) -> TruthScore:
    """The seed's matcher on the same catalogue: the first item of the first page, blindly.

    Only tracks the pipeline processed are scored, so both rows cover the same tracks; a
    `null` first item, which crashed the seed, counts as no match.
    """
    with db.engine.connect() as conn:
        processed = dict(conn.execute(sa.text("SELECT beatport_id, isrc FROM tracks")).all())
    first = _first_items(base_url, sorted({isrc for isrc in processed.values() if isrc}))
    score = TruthScore()
    for row in truth:
        if row["malformed"] is not None or row["beatport_id"] not in processed:
            continue
        isrc = processed[row["beatport_id"]]
        expected = row["spotify_track_id"]
        chosen = first.get(isrc) if isrc else None
        score.good += 1
        score.expected_matches += expected is not None
        if chosen is not None:
            score.found += 1
            score.correct += chosen == expected
    return score


def _first_items(base_url: str, isrcs: list[str]) -> dict[str, str | None]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post(
            "/api/token", data={"grant_type": "client_credentials"}, auth=("seed", "seed")
        ).json()["access_token"]
        chosen: dict[str, str | None] = {}
        for isrc in isrcs:
            for _ in range(3):  # a bad envelope is transient; the seed would have crashed
                body = http.get(
                    "/v1/search",
                    params={"q": f"isrc:{isrc}", "type": "track", "limit": 10},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()
                if "tracks" in body:
                    break
            items = body.get("tracks", {}).get("items") or [None]
            chosen[isrc] = items[0]["id"] if isinstance(items[0], dict) else None
        return chosen
