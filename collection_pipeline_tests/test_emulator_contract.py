"""Contract test: emulator responses have every key and value type of the real captures."""

from __future__ import annotations

import httpx
import pytest

from collection_pipeline_tests.support.emulator_http import beatport_client, spotify_headers
from collection_pipeline_tests.support.reference import load, shape_errors


@pytest.fixture
def client(emulator_url) -> httpx.Client:
    return beatport_client(emulator_url(), timeout=10)


def test_beatport_listing_matches_the_capture(client: httpx.Client) -> None:
    reference = load("beatport/list_tracks.json")
    page = client.get(
        "/v4/catalog/tracks/",
        params={"publish_date": "2024-03-01:2024-03-31", "genre_id": "5,90", "per_page": 100},
    ).json()
    assert list(page) == list(reference)
    errors = shape_errors(reference, page)
    for track in page["results"]:
        for item in reference["results"]:
            errors.extend(shape_errors(item, track, f"$.results[{track['id']}]"))
    assert errors == []
    # fields the capture shows as null must also be non-null somewhere (remixers, sub-genres)
    assert any(t["remixers"] for t in page["results"])
    assert any(t["sub_genre"] is not None for t in page["results"])
    assert any(
        t["slug"] == "---" or any(a["slug"] == "---" for a in t["artists"]) for t in page["results"]
    )


def test_beatport_single_track_matches_the_capture(client: httpx.Client) -> None:
    item = load("beatport/list_tracks.json")["results"][1]
    listed = client.get("/v4/catalog/tracks/", params={"publish_date": "2024-03-01"}).json()
    track = client.get(f"/v4/catalog/tracks/{listed['results'][0]['id']}/").json()
    assert track == listed["results"][0]
    assert shape_errors(item, track) == []


def test_spotify_search_matches_the_capture(client: httpx.Client) -> None:
    reference = load("spotify/search_isrc_multiple.json")
    headers = spotify_headers(client)
    rows = client.get(
        "/_emulator/truth", params={"publish_date": "2024-03-01:2024-03-02", "genre_id": "5"}
    ).json()["tracks"]
    checked = 0
    for row in rows:
        if not row["isrc"]:
            continue
        body = client.get(
            "/v1/search", params={"q": f"isrc:{row['isrc']}", "type": "track"}, headers=headers
        ).json()
        assert list(body["tracks"]) == list(reference["tracks"])
        errors = shape_errors(reference, body)
        for item in body["tracks"]["items"]:
            if item is not None:
                assert list(item) == list(reference["tracks"]["items"][0])
                checked += 1
        assert errors == []
    assert checked > 10
