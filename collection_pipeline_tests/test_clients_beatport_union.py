"""A genre-day part that no filter brings under the cap: both directions of release_id.

The emulator's over-cap day clusters on its own release date (and some of its tracks have no
tempo, so no bpm range reaches them); that cluster holds more tracks than the count cap, so the
client reads it ascending and descending and keeps it complete only if the two reads provably
meet. The first test is the suite's one crawl past the real 10,000 cap; the others cross a tenth
of it (support/scaled_cap.py).
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from collection_pipeline.clients import BeatportAPIClient
from collection_pipeline.clients.beatport import COUNT_CAP
from collection_pipeline_tests.support import scaled_cap

DAY = date(2024, 3, 1)
CLUSTER = "genre 6 2024-03-01:2024-03-01 released 2024-03-01"


def crawl_busy_day(
    base: str, **scale: int
) -> tuple[set[int], dict[str, tuple[int | None, int, str | None]]]:
    with BeatportAPIClient(f"{base}/v4", "token", max_concurrency=8, **scale) as client:
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
    assert COUNT_CAP < received == count < 2 * COUNT_CAP  # more than one direction can reach


@pytest.mark.slow
def test_both_directions_that_do_not_meet_leave_the_part_incomplete_but_kept(
    emulator_url,
) -> None:
    base = emulator_url(profile="overcap", overcap_tracks=2_700, **scaled_cap.EMULATOR)
    ids, outcomes = crawl_busy_day(base, **scaled_cap.CLIENT)
    expected = truth(base)
    assert ids < expected
    count, received, reason = outcomes[CLUSTER]
    assert (count, received) == (scaled_cap.CAP, 2 * scaled_cap.CAP)
    assert reason is not None
    assert CLUSTER in reason
    assert "did not meet" in reason
    incomplete = [label for label, (_, _, why) in outcomes.items() if why]
    assert incomplete == [CLUSTER]  # every other part of the day is complete
