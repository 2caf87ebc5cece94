"""Beatport v4 endpoints of the emulator over real loopback HTTP."""

from __future__ import annotations

import re

import httpx
import pytest

WINDOW = {"genre_id": "5,11", "publish_date": "2024-03-01:2024-03-02"}


@pytest.fixture
def beatport(emulator_url) -> httpx.Client:
    base = emulator_url()
    client = httpx.Client(base_url=base, timeout=10)
    token = client.post(
        "/v4/auth/o/token/",
        data={"grant_type": "client_credentials", "client_id": "id", "client_secret": "s"},
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_token_response_has_the_real_fields(emulator_url) -> None:
    base = emulator_url()
    body = httpx.post(
        f"{base}/v4/auth/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": "r", "client_id": "c"},
    ).json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert body["expires_in"] == 36000
    assert body["token_type"] == "Bearer"


def test_listing_envelope_and_paging(beatport: httpx.Client) -> None:
    page = beatport.get("/v4/catalog/tracks/", params={**WINDOW, "per_page": 3, "page": 2}).json()
    assert list(page) == ["results", "next", "previous", "count", "page", "per_page"]
    assert page["count"] == 2 * 2 * 20
    assert page["page"] == "2/27"
    assert len(page["results"]) == 3
    assert not page["next"].startswith("http")
    assert "genre_id=5,11" in page["next"]
    assert "publish_date=2024-03-01:2024-03-02" in page["next"]
    assert page["next"].endswith("page=3")
    assert {t["genre"]["id"] for t in page["results"]} <= {5, 11}


def test_walking_next_links_returns_every_track_once(beatport: httpx.Client) -> None:
    ids: list[int] = []
    url: str | None = "/v4/catalog/tracks/?" + "&".join(f"{k}={v}" for k, v in WINDOW.items())
    while url:
        page = beatport.get(url).json()
        ids.extend(t["id"] for t in page["results"])
        url = "/" + page["next"].split("/", 1)[1] if page["next"] else None
    assert len(ids) == len(set(ids)) == 80


def test_count_is_capped_at_ten_thousand(beatport: httpx.Client) -> None:
    page = beatport.get("/v4/catalog/tracks/", params={"per_page": 2}).json()
    assert page["count"] == 10000
    assert page["page"] == "1/5000"
    past = beatport.get("/v4/catalog/tracks/", params={"per_page": 2, "page": 5001})
    assert past.status_code == 404
    assert past.json() == {"detail": "Invalid page."}


def test_missing_slash_redirects_permanently(beatport: httpx.Client) -> None:
    response = beatport.get("/v4/catalog/tracks", params={"genre_id": "5"})
    assert response.status_code == 301
    assert response.headers["location"] == "/v4/catalog/tracks/?genre_id=5"


def test_isrcs_are_valid_or_null(beatport: httpx.Client) -> None:
    page = beatport.get("/v4/catalog/tracks/", params={**WINDOW, "per_page": 100}).json()
    for track in page["results"]:
        assert track["isrc"] is None or re.fullmatch(
            r"[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}", track["isrc"]
        )


def test_missing_authorization_is_401(emulator_url) -> None:
    response = httpx.get(f"{emulator_url()}/v4/catalog/tracks/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
