"""Spotify Web API endpoints of the emulator over real loopback HTTP."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient

from collection_pipeline.emulator import EmulatorConfig
from collection_pipeline.emulator.app import create_app

ISRC_WINDOW = {"publish_date": "2024-03-01:2024-03-03", "genre_id": "5"}


def spotify_client(base: str, client_id: str = "id", secret: str = "secret") -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    token = client.post(
        "/api/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def known_isrc(client: httpx.Client) -> tuple[str, str]:
    """An ISRC that has a correct Spotify match, and that match's id."""
    rows = client.get("/_emulator/truth", params=ISRC_WINDOW).json()["tracks"]
    row = next(r for r in rows if r["spotify_track_id"])
    return row["isrc"], row["spotify_track_id"]


def test_token_shape(emulator_url) -> None:
    response = httpx.post(
        f"{emulator_url()}/api/token", data={"grant_type": "client_credentials"}, auth=("a", "b")
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


@pytest.mark.parametrize(
    ("data", "auth", "error"),
    [
        ({}, ("a", "b"), "unsupported_grant_type"),
        ({"grant_type": "password"}, ("a", "b"), "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, None, "invalid_client"),
    ],
)
def test_token_errors(emulator_url, data, auth, error) -> None:
    response = httpx.post(f"{emulator_url()}/api/token", data=data, auth=auth)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_configured_credentials_reject_wrong_ones(emulator_url) -> None:
    base = emulator_url(credentials={"spotify_client_id": "me", "spotify_client_secret": "s3"})
    wrong = httpx.post(
        f"{base}/api/token", data={"grant_type": "client_credentials"}, auth=("me", "nope")
    )
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_client", "error_description": "Invalid client"}
    client = spotify_client(base, "me", "s3")
    isrc, _ = known_isrc(client)
    assert client.get("/v1/search", params={"q": f"isrc:{isrc}", "type": "track"}).is_success
    foreign = client.get(
        "/v1/search",
        params={"q": f"isrc:{isrc}", "type": "track"},
        headers={"Authorization": "Bearer not-issued-here"},
    )
    assert foreign.status_code == 401


def test_search_returns_the_correct_candidate_among_others(emulator_url) -> None:
    client = spotify_client(emulator_url())
    isrc, expected = known_isrc(client)
    body = client.get("/v1/search", params={"q": f"isrc:{isrc}", "type": "track"}).json()
    tracks = body["tracks"]
    assert tracks["href"].startswith("https://api.spotify.com/v1/search?query=isrc%3A")
    assert tracks["limit"] == 20
    assert tracks["offset"] == 0
    ids = [item["id"] for item in tracks["items"] if item is not None]
    assert expected in ids
    assert tracks["total"] == len(tracks["items"])


def test_limit_and_offset_page_the_items(emulator_url) -> None:
    client = spotify_client(emulator_url())
    rows = client.get("/_emulator/truth", params=ISRC_WINDOW).json()["tracks"]
    for row in rows:
        if not row["isrc"]:
            continue
        full = client.get("/v1/search", params={"q": f"isrc:{row['isrc']}", "type": "track"})
        items = full.json()["tracks"]["items"]
        if len(items) >= 3:
            break
    else:
        pytest.fail("no ISRC with three candidates in the window")
    params = {"q": f"isrc:{row['isrc']}", "type": "track", "limit": 1, "offset": 1}
    page = client.get("/v1/search", params=params).json()["tracks"]
    assert page["items"] == items[1:2]
    assert page["next"] is not None
    assert page["previous"] is not None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": "track"}, "No search query"),
        ({"q": "isrc:GBAAA2400001"}, "Missing parameter type"),
        ({"q": "isrc:GBAAA2400001", "type": "track", "limit": "51"}, "Invalid limit"),
        ({"q": "isrc:GBAAA2400001", "type": "track", "limit": "0"}, "Invalid limit"),
        ({"q": "isrc:GBAAA2400001", "type": "track", "offset": "x"}, "Invalid offset"),
    ],
)
def test_search_validation(emulator_url, params, message) -> None:
    client = spotify_client(emulator_url())
    response = client.get("/v1/search", params=params)
    assert response.status_code == 400
    assert response.json() == {"error": {"status": 400, "message": message}}


def test_unknown_isrc_is_an_empty_result(emulator_url) -> None:
    client = spotify_client(emulator_url())
    body = client.get("/v1/search", params={"q": "isrc:USXYZ9912345", "type": "track"}).json()
    assert body["tracks"]["items"] == []
    assert body["tracks"]["total"] == 0


def test_track_by_id(emulator_url) -> None:
    client = spotify_client(emulator_url())
    isrc, expected = known_isrc(client)
    track = client.get(f"/v1/tracks/{expected}").json()
    assert track["id"] == expected
    assert track["external_ids"]["isrc"] == isrc
    assert client.get("/v1/tracks/0000000000000000000000").status_code == 404
    assert client.get("/v1/tracks/short").status_code == 400


def test_missing_and_malformed_tokens_are_401(emulator_url) -> None:
    base = emulator_url()
    params = {"q": "isrc:GBAAA2400001", "type": "track"}
    missing = httpx.get(f"{base}/v1/search", params=params)
    assert missing.status_code == 401
    assert missing.json()["error"]["status"] == 401
    malformed = httpx.get(f"{base}/v1/search", params=params, headers={"Authorization": "Basic x"})
    assert malformed.status_code == 401


def test_expired_token_gives_the_real_401() -> None:
    now = [0.0]  # the emulator's clock, moved by the test instead of sleeping past a lifetime
    app = create_app(EmulatorConfig(spotify_token_lifetime_s=600), clock=lambda: now[0])
    with TestClient(app, base_url="http://emulator") as client:
        token = client.post(
            "/api/token", data={"grant_type": "client_credentials"}, auth=("id", "secret")
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        isrc, _ = known_isrc(client)
        params = {"q": f"isrc:{isrc}", "type": "track"}
        now[0] = 599.0
        assert client.get("/v1/search", params=params).status_code == 200
        now[0] = 600.5
        expired = client.get("/v1/search", params=params)
    assert expired.status_code == 401
    assert expired.json() == {"error": {"status": 401, "message": "The access token expired"}}
