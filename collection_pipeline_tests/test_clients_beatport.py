"""Beatport crawl planning against a fake API (MockTransport): the count cap and shortfalls."""

from __future__ import annotations

import math
from datetime import date, timedelta

import httpx
import pytest

from collection_pipeline.clients import BeatportAPIClient, IncompleteCrawlError
from collection_pipeline.clients.beatport import COUNT_CAP, BeatportQuery

DAY = date(2024, 5, 1)


class FakeBeatport:
    """Tracks per (genre, day); `count` capped like the real API; optional permanent hole."""

    def __init__(self, per_genre_day: int, days: int, genres: list[int], hole: int | None = None):
        self.tracks = [
            {
                "id": genre * 1_000_000 + offset * 10_000 + n,
                "genre": genre,
                "day": DAY + timedelta(offset),
            }
            for genre in genres
            for offset in range(days)
            for n in range(per_genre_day)
        ]
        self.hole = hole
        self.queries: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        genres = {int(g) for g in params["genre_id"].split(",")}
        start, end = (date.fromisoformat(d) for d in params["publish_date"].split(":"))
        page, per_page = int(params["page"]), int(params["per_page"])
        matching = [
            t
            for t in self.tracks
            if t["genre"] in genres and start <= t["day"] <= end and t["id"] != self.hole
        ]
        count = len(matching) + (1 if self.hole is not None else 0)
        pages = max(1, math.ceil(len(matching) / per_page))
        self.queries.append(f"{params['genre_id']} {params['publish_date']} {page}")
        query = "&".join(f"{k}={v}" for k, v in params.multi_items() if k != "page")
        results = [
            {"id": t["id"], "publish_date": t["day"].isoformat()}
            for t in matching[(page - 1) * per_page : page * per_page]
        ]
        return httpx.Response(
            200,
            json={
                "results": results,
                "next": f"api.test/v4/catalog/tracks/?{query}&page={page + 1}"
                if page < pages
                else None,
                "previous": None,
                "count": min(count, COUNT_CAP),
                "page": f"{page}/{pages}",
                "per_page": per_page,
            },
        )


def client_for(fake: FakeBeatport) -> BeatportAPIClient:
    return BeatportAPIClient(
        "https://api.test/v4", "token", max_concurrency=4, transport=httpx.MockTransport(fake)
    )


def test_a_query_at_the_count_cap_is_split_by_genre_and_its_pages_never_used() -> None:
    fake = FakeBeatport(per_genre_day=300, days=10, genres=[5, 6, 11, 12])  # 12000 tracks
    with client_for(fake) as client:
        pages = list(client.get_tracks([5, 6, 11, 12], DAY, DAY + timedelta(9)))
    ids = [t["id"] for page in pages for t in page.tracks]
    assert len(ids) == len(set(ids)) == 12000
    labels = {page.query.label: page.count for page in pages}
    assert sorted(labels.values()) == [3000, 3000, 3000, 3000]
    capped = [q for q in fake.queries if q.startswith("5,6,11,12")]
    assert capped == ["5,6,11,12 2024-05-01:2024-05-10 1"]  # only its first page, to read `count`


def test_a_single_genre_at_the_cap_is_split_by_day() -> None:
    fake = FakeBeatport(per_genre_day=1100, days=10, genres=[5])  # 11000 tracks, one genre
    with client_for(fake) as client:
        pages = list(client.get_tracks([5], DAY, DAY + timedelta(9)))
    assert len({t["id"] for page in pages for t in page.tracks}) == 11000
    assert len({page.query.label for page in pages}) == 10


def test_a_query_that_stays_short_raises_with_both_numbers() -> None:
    fake = FakeBeatport(per_genre_day=30, days=3, genres=[5, 6], hole=6_010_007)
    with client_for(fake) as client, pytest.raises(IncompleteCrawlError) as caught:
        list(client.get_tracks([5, 6], DAY, DAY + timedelta(2)))
    assert (caught.value.expected, caught.value.received) == (180, 179)
    assert caught.value.retryable
    assert "180" in str(caught.value)
    assert "179" in str(caught.value)


def test_split_goes_by_genre_then_by_day() -> None:
    query = BeatportQuery((5, 6), DAY, DAY + timedelta(1))
    by_genre = query.split()
    assert by_genre == [
        BeatportQuery((5,), DAY, DAY + timedelta(1)),
        BeatportQuery((6,), DAY, DAY + timedelta(1)),
    ]
    assert by_genre[0].split() == [
        BeatportQuery((5,), DAY, DAY),
        BeatportQuery((5,), DAY + timedelta(1), DAY + timedelta(1)),
    ]
    assert BeatportQuery((5,), DAY, DAY).split() == []
