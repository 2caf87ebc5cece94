"""A genre-day part that no filter brings under the cap: both directions of release_id.

The emulator's over-cap day clusters on its own release date (and some of its tracks have no
tempo, so no bpm range reaches them); that cluster holds more than 10,000 tracks, so the client
reads it ascending and descending and keeps it complete only if the two reads provably meet.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from collection_pipeline.clients import BeatportAPIClient

DAY = date(2024, 3, 1)
CLUSTER = "genre 6 2024-03-01:2024-03-01 released 2024-03-01"


def crawl_busy_day(base: str) -> tuple[set[int], dict[str, tuple[int | None, int, str | None]]]:
    with BeatportAPIClient(f"{base}/v4", "token", max_concurrency=8) as client:
        crawl = client.crawl([6], DAY, DAY)
        ids = {track["id"] for page in crawl for track in page.tracks}
    outcomes = {o.query.label: (o.count, o.received, o.reason) for o in crawl.outcomes}
    return ids, outcomes


def truth(base: str) -> set[int]:
    params = {"publish_date": f"{DAY}:{DAY}", "genre_id": "6"}
    rows = httpx.get(f"{base}/_emulator/truth", params=params, timeout=60).json()["tracks"]
    return {row["beatport_id"] for row in rows}


@pytest.mark.slow
def test_both_directions_that_meet_make_an_unsplittable_part_complete(emulator_url) -> None:
    base = emulator_url(profile="overcap", overcap_tracks=14_000)
    ids, outcomes = crawl_busy_day(base)
    assert ids == truth(base)
    count, received, reason = outcomes[CLUSTER]
    assert reason is None
    assert 10_000 < received == count < 20_000  # more than one direction alone can reach


@pytest.mark.slow
def test_both_directions_that_do_not_meet_leave_the_part_incomplete_but_kept(
    emulator_url,
) -> None:
    base = emulator_url(profile="overcap", overcap_tracks=27_000)
    ids, outcomes = crawl_busy_day(base)
    expected = truth(base)
    assert ids < expected
    count, received, reason = outcomes[CLUSTER]
    assert (count, received) == (10_000, 20_000)
    assert reason is not None
    assert CLUSTER in reason
    assert "did not meet" in reason
    incomplete = [label for label, (_, _, why) in outcomes.items() if why]
    assert incomplete == [CLUSTER]  # every other part of the day is complete
