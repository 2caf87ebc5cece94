"""Profiles and injected faults: devmode, ratelimited, penalty, flaky, latency."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from collection_pipeline.emulator import FaultRates
from collection_pipeline.emulator.state import RollingWindow

WINDOW = {"genre_id": "5", "publish_date": "2024-03-01:2024-03-02"}


def client_for(base: str) -> httpx.Client:
    """A client holding both services' tokens (Spotify's as default header)."""
    client = httpx.Client(base_url=base, timeout=10)
    spotify = client.post(
        "/api/token", data={"grant_type": "client_credentials"}, auth=("a", "b")
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {spotify}"
    return client


def beatport_token(client: httpx.Client) -> str:
    for _ in range(10):
        response = client.post(
            "/v4/auth/o/token/", data={"grant_type": "refresh_token", "refresh_token": "r"}
        )
        if response.status_code == 200:
            try:
                return response.json()["access_token"]
            except json.JSONDecodeError:
                continue
    raise AssertionError("no Beatport token after 10 attempts")


def isrcs(client: httpx.Client) -> list[str]:
    rows = client.get("/_emulator/truth", params=WINDOW).json()["tracks"]
    return [r["isrc"] for r in rows if r["isrc"]]


def test_devmode_hides_popularity_and_rejects_large_limits(emulator_url) -> None:
    client = client_for(emulator_url(profile="devmode"))
    codes = isrcs(client)
    too_big = client.get("/v1/search", params={"q": f"isrc:{codes[0]}", "type": "track"})
    assert too_big.status_code == 400
    assert too_big.json() == {"error": {"status": 400, "message": "Invalid limit"}}
    seen = 0
    for code in codes[:10]:
        body = client.get("/v1/search", params={"q": f"isrc:{code}", "type": "track", "limit": 10})
        for item in body.json()["tracks"]["items"]:
            if item is not None:
                seen += 1
                assert "popularity" not in item
                assert "available_markets" not in item
                assert "available_markets" not in item["album"]
    assert seen > 0


def test_ratelimited_profile_answers_429_with_retry_after(emulator_url) -> None:
    client = client_for(emulator_url(profile="ratelimited", rate_limit=5))
    code = isrcs(client)[0]
    statuses = [
        client.get("/v1/search", params={"q": f"isrc:{code}", "type": "track"}) for _ in range(7)
    ]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2
    retry_after = int(statuses[-1].headers["Retry-After"])
    assert 1 <= retry_after <= 30
    assert statuses[-1].json()["error"]["status"] == 429
    client.post("/_emulator/reset")
    assert client.get("/v1/search", params={"q": f"isrc:{code}", "type": "track"}).is_success


def test_requests_during_a_penalty_lengthen_it() -> None:
    now = [0.0]
    window = RollingWindow(limit=2, clock=lambda: now[0])
    assert window.admit() is None
    assert window.admit() is None
    now[0] = 10.0
    first = window.admit()
    assert first == 20
    now[0] = 15.0
    second = window.admit()
    assert second is not None
    assert second > first - 5  # without the refused request it would be 15
    now[0] = 15.0 + second
    assert window.admit() is None


def test_penalty_profile_gives_a_huge_retry_after(emulator_url) -> None:
    client = client_for(emulator_url(profile="penalty"))
    response = client.get("/v1/search", params={"q": "isrc:GBAAA2400001", "type": "track"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3600"


def test_latency_is_applied_with_jitter(emulator_url) -> None:
    client = client_for(emulator_url(latency_ms=80))
    started = time.perf_counter()
    client.get("/v1/search", params={"q": "isrc:GBAAA2400001", "type": "track"})
    assert time.perf_counter() - started >= 0.04


def _only(**rates: object) -> FaultRates:
    return FaultRates(**rates)  # type: ignore[arg-type]


def test_server_errors_never_hide_data(emulator_url) -> None:
    client = client_for(emulator_url(faults=_only(server_error=1.0, max_consecutive=3)))
    params = {"q": "isrc:GBAAA2400001", "type": "track"}
    statuses = [client.get("/v1/search", params=params).status_code for _ in range(4)]
    assert all(status >= 500 for status in statuses[:3])
    assert statuses[3] == 200


def test_truncated_bodies_then_a_whole_one(emulator_url) -> None:
    client = client_for(emulator_url(faults=_only(truncated=1.0, max_consecutive=2)))
    code = isrcs(client)[0]
    params = {"q": f"isrc:{code}", "type": "track"}
    first = client.get("/v1/search", params=params)
    assert first.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        first.json()
    client.get("/v1/search", params=params)
    assert client.get("/v1/search", params=params).json()["tracks"]["items"]


def test_slow_responses_exceed_a_short_timeout(emulator_url) -> None:
    client = client_for(emulator_url(faults=_only(slow=1.0, slow_delay_s=0.6, max_consecutive=1)))
    params = {"q": "isrc:GBAAA2400001", "type": "track"}
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v1/search", params=params, timeout=0.2)
    assert client.get("/v1/search", params=params, timeout=0.2).status_code == 200


def test_429_bursts_are_short(emulator_url) -> None:
    faults = _only(burst_429=1.0, burst_length=3, burst_retry_after_s=1)
    client = client_for(emulator_url(faults=faults))
    params = {"q": "isrc:GBAAA2400001", "type": "track"}
    responses = [client.get("/v1/search", params=params) for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers["Retry-After"] == "1"


def test_shifted_page_repeats_a_track_and_a_refetch_is_right(emulator_url) -> None:
    base = emulator_url(faults=_only(page_shift=1.0, max_consecutive=1))
    client = httpx.Client(base_url=base, timeout=10)
    client.headers["Authorization"] = f"Bearer {beatport_token(client)}"
    params = {**WINDOW, "per_page": 5}
    first = client.get("/v4/catalog/tracks/", params=params).json()["results"]
    shifted = client.get("/v4/catalog/tracks/", params={**params, "page": 2}).json()["results"]
    right = client.get("/v4/catalog/tracks/", params={**params, "page": 2}).json()["results"]
    assert shifted[0]["id"] == first[-1]["id"]
    assert [t["id"] for t in shifted[1:]] == [t["id"] for t in right[:-1]]
    assert right[-1]["id"] not in {t["id"] for t in shifted}


def test_beatport_401_mid_crawl_is_fixed_by_a_refresh(emulator_url) -> None:
    base = emulator_url(faults=_only(beatport_401_after=2))
    client = httpx.Client(base_url=base, timeout=10)
    client.headers["Authorization"] = f"Bearer {beatport_token(client)}"
    statuses = [
        client.get("/v4/catalog/tracks/", params={**WINDOW, "page": page}).status_code
        for page in (1, 2, 3, 3)
    ]
    assert statuses == [200, 200, 401, 401]
    client.headers["Authorization"] = f"Bearer {beatport_token(client)}"
    assert client.get("/v4/catalog/tracks/", params={**WINDOW, "page": 3}).status_code == 200


def test_flaky_crawl_with_retries_gets_every_track(emulator_url) -> None:
    """A careful client (retry, refresh on 401, re-fetch pages with repeats) sees everything."""
    faults = FaultRates(server_error=0.1, truncated=0.05, page_shift=0.2, beatport_401_after=3)
    base = emulator_url(profile="flaky", faults=faults)
    client = httpx.Client(base_url=base, timeout=10)
    client.headers["Authorization"] = f"Bearer {beatport_token(client)}"
    params = {"genre_id": "5,11", "publish_date": "2024-03-01:2024-03-05", "per_page": 10}
    seen: dict[int, int] = {}
    page, pages = 1, 1
    while page <= pages:
        response = client.get("/v4/catalog/tracks/", params={**params, "page": page})
        if response.status_code == 401:
            client.headers["Authorization"] = f"Bearer {beatport_token(client)}"
            continue
        if response.status_code != 200:
            continue
        try:
            body = response.json()
        except json.JSONDecodeError:
            continue
        ids = [t["id"] for t in body["results"]]
        if any(seen.get(i, page) != page for i in ids):
            continue  # a repeat from another page: this response is shifted, fetch again
        seen.update(dict.fromkeys(ids, page))
        pages = int(body["page"].split("/")[1])
        page += 1
    truth = client.get("/_emulator/truth", params=params).json()["tracks"]
    assert sorted(seen) == sorted(row["beatport_id"] for row in truth)
    stats = client.get("/_emulator/stats").json()["requests"]["beatport.tracks"]
    assert set(stats) - {"200"}, "the flaky profile injected no fault at all"
