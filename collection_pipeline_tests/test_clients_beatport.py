"""Beatport crawl planning against a fake API (MockTransport): the cap, shortfalls, bad pages."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from collection_pipeline.clients import BeatportAPIClient, HttpPolicy, IncompleteCrawlError
from collection_pipeline.clients.beatport import COUNT_CAP, BeatportQuery
from collection_pipeline.clients.beatport_query import TrackKey

DAY = date(2024, 5, 1)
FAST = HttpPolicy(backoff_base=0.001, backoff_max=0.002, max_attempts=2)
DOCUMENTED_ORDERS = {"publish_date", "release_id", "-release_id"}


class FakeBeatport:
    """Tracks per (genre, day); `count` capped like the real API; optional permanent hole.

    The hole is counted but never listed, by every query that would hold it. `tamper(page
    number, body)` may rewrite a response body.
    """

    def __init__(
        self,
        per_genre_day: int,
        days: int,
        genres: list[int],
        hole: int | None = None,
        tamper: Callable[[int, dict[str, Any]], Any] | None = None,
    ):
        self.tracks = [
            {
                "id": genre * 1_000_000 + offset * 10_000 + n,
                "genre": {"id": genre},
                "publish_date": (DAY + timedelta(offset)).isoformat(),
            }
            for genre in genres
            for offset in range(days)
            for n in range(per_genre_day)
        ]
        self.hole = hole
        self.tamper = tamper
        self.queries: list[str] = []
        self.orders: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        genres = {int(g) for g in params["genre_id"].split(",")}
        start, end = params["publish_date"].split(":")
        page, per_page = int(params["page"]), int(params["per_page"])
        self.orders.add(params["order_by"])
        matching = [
            t
            for t in self.tracks
            if t["genre"]["id"] in genres and start <= t["publish_date"] <= end
        ]
        listed = [t for t in matching if t["id"] != self.hole]
        pages = max(1, math.ceil(len(listed) / per_page))
        self.queries.append(f"{params['genre_id']} {params['publish_date']} {page} {per_page}")
        body: dict[str, Any] = {
            "results": listed[(page - 1) * per_page : page * per_page],
            "next": None,
            "previous": None,
            "count": min(len(matching), COUNT_CAP),
            "page": f"{page}/{pages}",
            "per_page": per_page,
        }
        if self.tamper is not None and per_page > 1:
            body = self.tamper(page, body)
        return httpx.Response(200, json=body)


def client_for(fake: FakeBeatport) -> BeatportAPIClient:
    return BeatportAPIClient(
        "https://api.test/v4",
        "token",
        max_concurrency=4,
        policy=FAST,
        transport=httpx.MockTransport(fake),
    )


def test_a_query_at_the_count_cap_is_split_and_its_first_page_only_read() -> None:
    fake = FakeBeatport(per_genre_day=300, days=10, genres=[5, 6, 11, 12])  # 12000 tracks
    with client_for(fake) as client:
        crawl = client.crawl([5, 6, 11, 12], DAY, DAY + timedelta(9))
        pages = list(crawl)
    ids = [t["id"] for page in pages for t in page.tracks]
    assert len(ids) == len(set(ids)) == 12000
    assert crawl.complete
    assert sorted((o.query.label, o.count) for o in crawl.outcomes) == [
        ("genre 5,6,11,12 2024-05-01:2024-05-05", 6000),
        ("genre 5,6,11,12 2024-05-06:2024-05-10", 6000),
    ]
    capped = [q for q in fake.queries if q.startswith("5,6,11,12 2024-05-01:2024-05-10")]
    # only read for its `count`: pages 2..8, submitted with page 1 (10 days, at most two pools
    # of 4), dropped: cancelled unsent, or their answers ignored. The fake logs from the pool's
    # threads, so page 1 need not be logged first (asserting that failed 2 runs in 10 on main)
    assert "5,6,11,12 2024-05-01:2024-05-10 1 100" in capped
    assert {int(q.split()[2]) for q in capped} <= set(range(1, 9))
    assert fake.orders <= DOCUMENTED_ORDERS  # one documented key, never a multi-key order_by


def test_a_permanent_hole_is_reported_for_its_own_query_only() -> None:
    fake = FakeBeatport(per_genre_day=30, days=3, genres=[5, 6], hole=6_010_007)
    with client_for(fake) as client:
        crawl = client.crawl([5, 6], DAY, DAY + timedelta(2))
        ids = {t["id"] for page in crawl for t in page.tracks}
    assert len(ids) == 179
    incomplete = [o for o in crawl.outcomes if not o.complete]
    assert [(o.query.label, o.count, o.received) for o in incomplete] == [
        ("genre 6 2024-05-02:2024-05-02", 30, 29)
    ]
    reason = incomplete[0].reason or ""
    assert "genre 6 2024-05-02:2024-05-02" in reason
    assert "API count 30" in reason
    assert "29 distinct tracks arrived" in reason
    assert sum(o.count or 0 for o in crawl.outcomes) == 180


def test_get_tracks_raises_the_incomplete_query_after_every_page() -> None:
    fake = FakeBeatport(per_genre_day=30, days=3, genres=[5, 6], hole=6_010_007)
    with client_for(fake) as client, pytest.raises(IncompleteCrawlError) as caught:
        list(client.get_tracks([5, 6], DAY, DAY + timedelta(2)))
    assert (caught.value.expected, caught.value.received) == (30, 29)
    assert caught.value.retryable


def test_null_and_non_object_entries_are_passed_on_not_fatal() -> None:
    def with_junk(page: int, body: dict[str, Any]) -> dict[str, Any]:
        if page == 1:
            body["results"] = [None, "junk", *body["results"]]
        return body

    fake = FakeBeatport(per_genre_day=50, days=1, genres=[5], tamper=with_junk)
    with client_for(fake) as client:
        crawl = client.crawl([5], DAY, DAY)
        records = [t for page in crawl for t in page.tracks]
    assert records[:2] == [None, "junk"]
    assert len({t["id"] for t in records[2:]}) == 50
    assert crawl.complete


def test_a_page_that_is_not_a_page_is_fetched_again() -> None:
    bad = {"left": 1}

    def once_bad(page: int, body: dict[str, Any]) -> Any:
        if page == 2 and bad["left"]:
            bad["left"] -= 1
            return {**body, "results": {"not": "a list"}}
        return body

    fake = FakeBeatport(per_genre_day=250, days=1, genres=[5], tamper=once_bad)
    with client_for(fake) as client:
        crawl = client.crawl([5], DAY, DAY)
        ids = {t["id"] for page in crawl for t in page.tracks}
    assert len(ids) == 250
    assert crawl.complete


def test_a_page_that_stays_malformed_fails_only_its_query() -> None:
    def day_two_broken(page: int, body: dict[str, Any]) -> Any:
        days = {t["publish_date"] for t in body["results"]}
        if (DAY + timedelta(1)).isoformat() in days:
            return {**body, "results": None}
        return body

    fake = FakeBeatport(per_genre_day=40, days=3, genres=[5], tamper=day_two_broken)
    with client_for(fake) as client:
        crawl = client.crawl([5], DAY, DAY + timedelta(2))
        ids = {t["id"] for page in crawl for t in page.tracks}
    incomplete = [o for o in crawl.outcomes if not o.complete]
    assert [o.query.label for o in incomplete] == ["genre 5 2024-05-02:2024-05-02"]
    assert "MalformedResponseError" in (incomplete[0].reason or "")
    assert len(ids) == 80  # both other days arrived whole


def test_halves_go_by_day_then_by_genre() -> None:
    query = BeatportQuery((5, 6), DAY, DAY + timedelta(2))
    by_day = query.halves()
    assert by_day == [
        BeatportQuery((5, 6), DAY, DAY),
        BeatportQuery((5, 6), DAY + timedelta(1), DAY + timedelta(2)),
    ]
    assert by_day[0].halves() == [BeatportQuery((5,), DAY, DAY), BeatportQuery((6,), DAY, DAY)]
    assert BeatportQuery((5,), DAY, DAY).halves() == []


def test_a_capped_genre_day_is_cut_around_its_common_release_date_only() -> None:
    """bpm and sub-genre ranges miss the tracks without one, so only release dates split."""

    def key(released: date | None) -> TrackKey:
        return TrackKey(5, DAY, released, 1)

    day = BeatportQuery((5,), DAY, DAY)
    keys = [key(DAY)] * 8 + [key(DAY - timedelta(40))] * 2
    by_release = day.split_for_cap(keys)
    assert [q.label for q in by_release] == [
        "genre 5 2024-05-01:2024-05-01 released :2024-04-30",
        "genre 5 2024-05-01:2024-05-01 released 2024-05-01",
        "genre 5 2024-05-01:2024-05-01 released 2024-05-02:",
    ]
    assert by_release[1].params(100)["new_release_date"] == "2024-05-01"
    assert by_release[1].split_for_cap(keys) == []  # only the both-directions union is left
    assert all(by_release[1].holds(k) for k in keys[:8])
    assert not any(by_release[1].holds(k) for k in keys[8:])
    assert day.split_for_cap([*keys, key(None)]) == []  # a track without one: no partition


class EndingBeatport(FakeBeatport):
    """Answers a page past the last one as DRF does: 404 {"detail": "Invalid page."}."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        number, total = (int(part) for part in response.json()["page"].split("/"))
        if number > total:
            return httpx.Response(404, json={"detail": "Invalid page."})
        return response


def test_pages_requested_with_the_first_and_past_the_last_are_dropped() -> None:
    """Pages 2..days of the root (at most two pools' worth) are submitted with page 1 (the pool
    would wait idle for its count); on a window thinner than a page a day, those past the end
    are cancelled unsent or answer 404 and cost nothing else: the crawl is complete, and each
    wanted page is passed on once."""
    fake = EndingBeatport(per_genre_day=30, days=5, genres=[5])  # 150 tracks: 2 pages of 100
    with client_for(fake) as client:
        crawl = client.crawl([5], DAY, DAY + timedelta(4))
        pages = list(crawl)
        requests = client.stats.snapshot().requests
    assert crawl.complete
    assert sorted(page.number for page in pages) == [1, 2]
    assert sorted(t["id"] for page in pages for t in page.tracks) == sorted(
        t["id"] for t in fake.tracks
    )
    listed = [q for q in fake.queries if q.endswith(" 100")]
    # pages 2..5 went with page 1 (5 days, a pool of 4): 3 to 5 answer 404, or are cancelled
    # before they are sent
    numbers = sorted(int(q.split()[2]) for q in listed)
    assert numbers[:2] == [1, 2]
    assert set(numbers) <= {1, 2, 3, 4, 5}
    assert requests == len(numbers) + 5  # those pages, and one confirming count per day


def test_a_one_day_crawl_requests_nothing_ahead() -> None:
    fake = EndingBeatport(per_genre_day=30, days=1, genres=[5])
    with client_for(fake) as client:
        pages = list(client.crawl([5], DAY, DAY))
    assert [page.number for page in pages] == [1]
    assert [q for q in fake.queries if q.endswith(" 100")] == ["5 2024-05-01:2024-05-01 1 100"]
