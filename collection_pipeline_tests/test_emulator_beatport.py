"""Beatport v4 endpoints of the emulator over real loopback HTTP."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.testclient import TestClient

from collection_pipeline.emulator import EmulatorConfig
from collection_pipeline.emulator.app import create_app

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


def test_filters_isrc_sub_genre_new_release_and_order(beatport: httpx.Client) -> None:
    window = {"genre_id": "5,11,12,90,6,1", "publish_date": "2024-03-01:2024-03-10"}
    everything = []
    for page in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12):
        everything += beatport.get(
            "/v4/catalog/tracks/", params={**window, "per_page": 100, "page": page}
        ).json()["results"]
    assert len(everything) == 1200
    with_sub = [t for t in everything if t["sub_genre"]]
    sub_id = with_sub[0]["sub_genre"]["id"]
    by_sub = beatport.get(
        "/v4/catalog/tracks/", params={**window, "sub_genre_id": sub_id, "per_page": 100}
    ).json()
    assert by_sub["count"] == sum(1 for t in with_sub if t["sub_genre"]["id"] == sub_id)
    old = beatport.get(
        "/v4/catalog/tracks/",
        params={**window, "new_release_date": ":2024-02-01", "per_page": 100},
    ).json()
    expected_old = [t for t in everything if t["new_release_date"] <= "2024-02-01"]
    assert old["count"] == len(expected_old) > 0
    isrcs = [t["isrc"] for t in everything if t["isrc"]]
    by_isrc = beatport.get("/v4/catalog/tracks/", params={"isrc": isrcs[0]}).json()
    assert by_isrc["count"] >= isrcs.count(isrcs[0])
    assert all(t["isrc"] == isrcs[0] for t in by_isrc["results"])
    newest = beatport.get(
        "/v4/catalog/tracks/", params={**window, "order_by": "-publish_date", "per_page": 5}
    ).json()["results"]
    assert newest[0]["publish_date"] == "2024-03-10"
    assert [t["id"] for t in newest] == sorted((t["id"] for t in newest), reverse=True)


def test_compilations_reuse_an_original_isrc_and_artists(beatport: httpx.Client) -> None:
    window = {"genre_id": "5", "publish_date": "2024-01-01:2024-06-30", "per_page": 100}
    seen: dict[str, dict] = {}
    for page in range(1, 38):
        for track in beatport.get("/v4/catalog/tracks/", params={**window, "page": page}).json()[
            "results"
        ]:
            if track["isrc"] in seen:
                original = seen[track["isrc"]]
                assert original["artists"] == track["artists"]
                assert original["publish_date"] < track["publish_date"]
                assert original["id"] != track["id"]
                return
            if track["isrc"]:
                seen[track["isrc"]] = track
    pytest.fail("no compilation reuse found in half a year of House")


def test_invalid_filters_are_400(beatport: httpx.Client) -> None:
    bad_date = beatport.get("/v4/catalog/tracks/", params={"publish_date": "2024-13-01:"})
    assert bad_date.status_code == 400
    assert bad_date.json() == {"publish_date": ["Enter a valid date."]}
    bad_genre = beatport.get("/v4/catalog/tracks/", params={"genre_id": "4242"})
    assert bad_genre.status_code == 400
    assert "genre_id" in bad_genre.json()


def test_per_page_defaults_to_10_and_is_clamped_at_100(beatport: httpx.Client) -> None:
    assert beatport.get("/v4/catalog/tracks/", params=WINDOW).json()["per_page"] == 10
    big = beatport.get("/v4/catalog/tracks/", params={**WINDOW, "per_page": 500}).json()
    assert big["per_page"] == 100
    assert big["page"] == "1/1"
    assert big["next"] is None


def test_single_track_and_not_found(beatport: httpx.Client) -> None:
    listed = beatport.get("/v4/catalog/tracks/", params=WINDOW).json()["results"][0]
    assert beatport.get(f"/v4/catalog/tracks/{listed['id']}/").json() == listed
    missing = beatport.get("/v4/catalog/tracks/1/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}


def test_genres_use_real_beatport_ids(beatport: httpx.Client) -> None:
    genres = beatport.get("/v4/catalog/genres/", params={"per_page": 100}).json()["results"]
    names = {g["id"]: g["name"] for g in genres}
    assert names[1] == "Drum & Bass"
    assert names[5] == "House"
    assert names[6] == "Techno (Peak Time / Driving)"
    assert names[11] == "Tech House"
    assert names[12] == "Deep House"
    assert names[90] == "Melodic House & Techno"


def test_artists_recur_with_shared_ids_and_namesakes_exist(beatport: httpx.Client) -> None:
    window = {"genre_id": "5,11,12,90,6,1", "publish_date": "2024-03-01:2024-03-10"}
    names_by_id: dict[int, str] = {}
    appearances = 0
    for page in range(1, 13):
        for track in beatport.get(
            "/v4/catalog/tracks/", params={**window, "per_page": 100, "page": page}
        ).json()["results"]:
            for artist in track["artists"]:
                assert names_by_id.setdefault(artist["id"], artist["name"]) == artist["name"]
                appearances += 1
    assert appearances > len(names_by_id) * 1.5
    assert len(set(names_by_id.values())) < len(names_by_id), "no namesakes"


def test_token_errors_and_configured_credentials(emulator_url) -> None:
    base = emulator_url(credentials={"beatport_refresh_token": "good", "beatport_client_id": "c"})
    unsupported = httpx.post(f"{base}/v4/auth/o/token/", data={"grant_type": "magic"})
    assert unsupported.status_code == 400
    assert unsupported.json() == {"error": "unsupported_grant_type"}
    wrong = httpx.post(
        f"{base}/v4/auth/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": "bad", "client_id": "c"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    good = httpx.post(
        f"{base}/v4/auth/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": "good", "client_id": "c"},
    )
    assert good.status_code == 200


def test_expired_beatport_token_is_refused() -> None:
    now = [0.0]  # the emulator's clock, moved by the test instead of sleeping past a lifetime
    app = create_app(EmulatorConfig(beatport_token_lifetime_s=600), clock=lambda: now[0])
    with TestClient(app, base_url="http://emulator") as client:
        token = client.post(
            "/v4/auth/o/token/", data={"grant_type": "client_credentials", "client_id": "c"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        now[0] = 599.0
        assert client.get("/v4/catalog/tracks/", headers=headers).status_code == 200
        now[0] = 600.5
        expired = client.get("/v4/catalog/tracks/", headers=headers)
    assert expired.status_code == 401
    assert set(expired.json()) == {"detail"}
