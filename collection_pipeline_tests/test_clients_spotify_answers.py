"""Malformed Spotify answers and paged ISRC results, against a fake API built from real captures."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from collection_pipeline.clients import HttpPolicy, SpotifyAPIClient
from collection_pipeline.clients.errors import MalformedResponseError
from collection_pipeline.clients.spotify import MAX_SEARCH_PAGES
from collection_pipeline.matching import Matcher
from collection_pipeline.testing.defaults import SPOTIFY_CONCURRENCY

REFERENCE = Path(__file__).parent / "reference" / "spotify"
NO_WAIT = HttpPolicy(max_attempts=2, backoff_base=0.0, backoff_max=0.0)
ISRC = "JPB609520101"


def capture(name: str) -> dict[str, Any]:
    return json.loads((REFERENCE / name).read_text())


def crazy_items() -> list[dict[str, Any]]:
    """The five real items of `isrc:JPB609520101` (artist TRF)."""
    return capture("credits_spot_mock_crazy_spotify.json")["tracks"]["items"]


Answer = Callable[[httpx.QueryParams], Any]


def client_for(answer: Answer, requests: list[httpx.QueryParams]) -> SpotifyAPIClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/token":
            return httpx.Response(200, json={"access_token": "T", "expires_in": 3600})
        requests.append(request.url.params)
        return httpx.Response(200, json=answer(request.url.params))

    return SpotifyAPIClient(
        "https://api.test/v1",
        "https://accounts.test/api/token",
        "id",
        "secret",
        policy=NO_WAIT,
        transport=httpx.MockTransport(handler),
        max_concurrency=SPOTIFY_CONCURRENCY,
    )


def paged(items: list[Any], total: int | None = None) -> Answer:
    """Spotify's paging over `items` by offset and limit, `next` naming Spotify's own host."""

    def answer(params: httpx.QueryParams) -> dict[str, Any]:
        offset, limit = int(params.get("offset", 0)), int(params["limit"])
        count = len(items) if total is None else total
        after = offset + limit
        return {
            "tracks": {
                "href": f"https://api.spotify.com/v1/search?offset={offset}&limit={limit}",
                "items": items[offset:after],
                "limit": limit,
                "next": f"https://api.spotify.com/v1/search?offset={after}&limit={limit}"
                if after < count
                else None,
                "offset": offset,
                "previous": None,
                "total": count,
            }
        }

    return answer


def broken(item: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of `item` with `path` (dotted) set to `value`, or deleted when value is ...."""
    item = copy.deepcopy(item)
    *parents, last = path.split(".")
    target = item
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return item


def test_malformed_items_are_skipped_with_a_counted_reason() -> None:
    good = crazy_items()
    template = good[0]
    items: list[Any] = [
        None,
        "spotify:track:x",
        broken(template, "album", "Crazy Gonna Crazy"),
        broken(template, "album.release_date", 1995),
        broken(template, "album.release_date", "1995-13-01"),
        broken(template, "album.release_date", "0000"),
        broken(template, "external_ids", ...),
        broken(template, "artists", ...),
        broken(template, "artists", None),
        broken(template, "id", None),
        *good,
    ]
    requests: list[httpx.QueryParams] = []
    with client_for(paged(items), requests) as client:
        batch = client.search_many([ISRC])
    assert not batch.errors
    assert [c.id for c in batch.results[ISRC]] == [item["id"] for item in good]
    assert batch.skipped == {
        "null_item": 1,
        "not_an_object": 1,
        "bad_album": 1,
        "bad_release_date": 3,
        "missing_external_ids": 1,
        "missing_artists": 2,
        "bad_id": 1,
    }
    assert batch.pages == len(requests) == 2  # 15 items at limit 10


@pytest.mark.parametrize(
    "body",
    [
        capture("credits_spot_mock_spotify_Butter_Sugar_Cream.json"),  # no `tracks` wrapper
        {"tracks": {"items": {"0": None}, "total": 1}},
        {"tracks": {"items": [], "total": "0"}},
        {"tracks": None},
        [],
        {"error": "oops"},
    ],
)
def test_an_envelope_that_is_not_a_search_result_is_an_error_never_empty(body: object) -> None:
    requests: list[httpx.QueryParams] = []
    with client_for(lambda _: body, requests) as client:
        with pytest.raises(MalformedResponseError):
            client.search_isrc(ISRC)
        batch = client.search_many([ISRC])
    assert ISRC not in batch.results
    assert isinstance(batch.errors[ISRC], MalformedResponseError)


def test_an_empty_answer_is_one_request_and_no_candidates() -> None:
    requests: list[httpx.QueryParams] = []
    empty = capture("credits_spot_mock_soon_19_spotify.json")
    with client_for(lambda _: empty, requests) as client:
        answer = client.search_isrc(ISRC)
    assert (answer.candidates, answer.total, answer.pages, len(requests)) == ([], 0, 1, 1)


def test_later_pages_are_read_and_the_earliest_release_there_is_chosen() -> None:
    good = crazy_items()
    later = [broken(good[1], "album.release_date", f"20{n:02d}-01-01") for n in range(10, 32)]
    for n, item in enumerate(later):
        item["id"] = f"later{n:02d}"
    earliest = broken(good[0], "album.release_date", "1994")
    earliest["id"] = "earliest"
    items = [*later, earliest]  # 23 items: the earliest release is alone on page 3
    requests: list[httpx.QueryParams] = []
    with client_for(paged(items), requests) as client:
        answer = client.search_isrc(ISRC)
    assert [params.get("offset") for params in requests] == [None, "10", "20"]
    assert {params["limit"] for params in requests} == {"10"}
    assert (answer.total, answer.pages, len(answer.candidates)) == (23, 3, 23)
    decision = Matcher().choose(ISRC, ["TRF"], answer.candidates)
    assert decision.spotify_track_id == "earliest"


def test_paging_is_bounded_and_stops_at_an_empty_page() -> None:
    item = crazy_items()[0]
    endless: Answer = lambda params: {  # noqa: E731 - a server that always claims more
        "tracks": {"items": [item] * 10, "total": 5000, "limit": 10, "offset": 0}
    }
    requests: list[httpx.QueryParams] = []
    with client_for(endless, requests) as client:
        assert client.search_isrc(ISRC).pages == MAX_SEARCH_PAGES
    assert len(requests) == MAX_SEARCH_PAGES

    requests.clear()
    with client_for(paged(crazy_items(), total=40), requests) as client:
        answer = client.search_isrc(ISRC)
    assert (answer.pages, len(answer.candidates)) == (2, 5)  # page 2 came back empty
