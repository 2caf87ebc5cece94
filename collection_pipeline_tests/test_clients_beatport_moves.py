"""Tracks that move to another publish day while a window is crawled, against a fake API.

The two cases counts alone cannot settle: a track moved from a day not yet read into one already
read (its old day's pages shift past it), and two tracks that swap days after every page was
read (every count still agrees). Each must end passed on once more, on its final day.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from collection_pipeline.clients import BeatportAPIClient, HttpPolicy
from collection_pipeline_tests.support.beatport_listing import listed as listed_tracks

DAY = date(2024, 5, 1)
FAST = HttpPolicy(backoff_base=0.001, backoff_max=0.002, max_attempts=2)


class MovingBeatport:
    """One genre, `per_day` tracks a day, listed by (publish_date, id); honours the `id` filter.

    `edit(pages_served, tracks)` runs before every request and may change publish dates.
    """

    def __init__(self, per_day: int, days: int, edit: Callable[[int, dict[int, str]], None]):
        self.days = {
            n * 1000 + k: (DAY + timedelta(n)).isoformat()
            for n in range(days)
            for k in range(per_day)
        }
        self.edit = edit
        self.pages_served = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        with self.lock:
            self.edit(self.pages_served, self.days)
            listed = listed_tracks(self.days, params)
            page, per_page = int(params["page"]), int(params["per_page"])
            if per_page > 1:
                self.pages_served += 1
        rows = listed[(page - 1) * per_page : page * per_page]
        return httpx.Response(
            200,
            json={
                "results": [
                    {"id": i, "genre": {"id": 5}, "publish_date": d, "bpm": 124} for d, i in rows
                ],
                "next": None,
                "previous": None,
                "count": len(listed),
                "page": f"{page}/{max(1, math.ceil(len(listed) / per_page))}",
                "per_page": per_page,
            },
        )


def crawl_all(fake: MovingBeatport, days: int) -> tuple[Any, dict[int, str], Counter[str]]:
    client = BeatportAPIClient(
        "https://api.test/v4",
        "token",
        policy=FAST,
        transport=httpx.MockTransport(fake),
        max_concurrency=4,
    )
    with client:
        crawl = client.crawl([5], DAY, DAY + timedelta(days - 1))
        filed: dict[int, str] = {}
        passed: Counter[str] = Counter()
        for page in crawl:
            for track in page.tracks:
                filed[track["id"]] = track["publish_date"]  # the last time wins, as in storage
                passed[track["publish_date"]] += 1
    return crawl, filed, passed


def assert_converged(crawl: Any, filed: dict[int, str], fake: MovingBeatport) -> None:
    assert filed == fake.days  # every track, on its final day
    assert crawl.complete
    by_day: Counter[date] = Counter()
    for outcome in crawl.outcomes:
        by_day.update(outcome.received_by_day)
    assert {d.isoformat(): n for d, n in by_day.items() if n} == Counter(fake.days.values())


def test_a_track_moved_into_a_day_already_read_is_found() -> None:
    moved = 2 * 1000 + 7  # on the last day, which the first page does not reach

    def edit(served: int, days: dict[int, str]) -> None:
        if served == 1:
            days[moved] = DAY.isoformat()

    fake = MovingBeatport(per_day=150, days=3, edit=edit)
    crawl, filed, _ = crawl_all(fake, 3)
    assert fake.days[moved] == DAY.isoformat()
    assert_converged(crawl, filed, fake)


def test_two_tracks_that_swap_days_after_every_page_was_read_are_refiled() -> None:
    first, last = 0 * 1000 + 3, 2 * 1000 + 3

    def edit(served: int, days: dict[int, str]) -> None:
        if served == 5 and days[first] == DAY.isoformat():  # all 5 pages of 450 tracks read
            days[first], days[last] = days[last], days[first]

    fake = MovingBeatport(per_day=150, days=3, edit=edit)
    crawl, filed, passed = crawl_all(fake, 3)
    assert fake.days[first] == (DAY + timedelta(2)).isoformat()  # the swap happened
    assert sum(passed.values()) > len(fake.days)  # so the swapped days were read again
    assert_converged(crawl, filed, fake)


DRIFT_START = date(2024, 3, 1)
DRIFT_GENRES = [5, 11, 12, 90, 6, 1]


@pytest.mark.parametrize("seed", [0, 4])
def test_drift_crawl_converges_when_the_catalogue_settles_late(seed: int) -> None:
    """The bench's drift crawl (30 days x 6 genres, late tracks and moves while paged) on seeds
    that ended one day short before: the emulator moves tracks on every later-page request until
    each block has moved once, which happened in the last of the 30 rounds the crawl then allowed
    in all, so the day being repaired was given up. Rounds that see no change no longer count
    against the budget. One request at a time through the app in process: deterministic."""
    from starlette.testclient import TestClient

    from collection_pipeline.emulator import EmulatorConfig, create_app
    from collection_pipeline_tests.support.emulator_http import InProcessTransport

    end = DRIFT_START + timedelta(days=29)
    app = create_app(EmulatorConfig(profile="drift", seed=seed))
    with TestClient(app, base_url="http://emulator") as emulator:
        client = BeatportAPIClient(
            "http://emulator/v4", "token", max_concurrency=1,
            transport=InProcessTransport(emulator),
        )  # fmt: skip
        with client:
            crawl = client.crawl(DRIFT_GENRES, DRIFT_START, end)
            filed = {track["id"]: track["publish_date"] for page in crawl for track in page.tracks}
        window = {"publish_date": f"{DRIFT_START}:{end}", "genre_id": "5,11,12,90,6,1"}
        rows = emulator.get("/_emulator/truth", params=window).json()["tracks"]
    assert [o.reason for o in crawl.outcomes if not o.complete] == []
    assert filed == {row["beatport_id"]: row["publish_date"] for row in rows}
    changing, quiet = crawl.rounds
    assert changing > 0  # the catalogue was seen moving ...
    assert changing + quiet > 30  # ... for longer than the 30 rounds it used to get in all
