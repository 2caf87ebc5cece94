"""Two standalone emulator processes with the same seed answer byte for byte the same."""

from __future__ import annotations

import httpx

from collection_pipeline.testing.standalone import standalone_emulator

HOST_HEADER = {"Host": "api.emulator.test"}  # links echo the Host header, as Beatport's do


def conversation(base: str) -> list[bytes]:
    """The same sequence of requests a crawl and an enrichment make; every response body."""
    client = httpx.Client(base_url=base, headers=HOST_HEADER, timeout=10)
    bodies = []
    token = client.post(
        "/v4/auth/o/token/", data={"grant_type": "client_credentials", "client_id": "c"}
    )
    bodies.append(token.content)
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    params = {"genre_id": "5,90", "publish_date": "2024-07-01:2024-07-03", "per_page": 50}
    for page in (1, 2, 3):
        bodies.append(client.get("/v4/catalog/tracks/", params={**params, "page": page}).content)
    first = client.get("/v4/catalog/tracks/", params=params).json()["results"]
    bodies.append(client.get(f"/v4/catalog/tracks/{first[0]['id']}/").content)
    bodies.append(client.get("/v4/catalog/genres/", params={"per_page": 100}).content)
    spotify = client.post("/api/token", data={"grant_type": "client_credentials"}, auth=("a", "b"))
    bodies.append(spotify.content)
    headers = {"Authorization": f"Bearer {spotify.json()['access_token']}"}
    for track in first[:20]:
        if track["isrc"]:
            search = client.get(
                "/v1/search",
                params={"q": f"isrc:{track['isrc']}", "type": "track"},
                headers=headers,
            )
            bodies.append(search.content)
            for item in search.json()["tracks"]["items"][:1]:
                if item:
                    bodies.append(client.get(f"/v1/tracks/{item['id']}", headers=headers).content)
    bodies.append(client.get("/_emulator/truth", params=params).content)
    return bodies


def test_same_seed_gives_byte_identical_responses_across_processes() -> None:
    with standalone_emulator("--seed", "7") as one, standalone_emulator("--seed", "7") as two:
        first, second = conversation(one), conversation(two)
    assert len(first) > 20
    assert first == second


def test_another_seed_gives_another_catalogue() -> None:
    with standalone_emulator("--seed", "7") as one, standalone_emulator("--seed", "8") as two:
        first, second = conversation(one), conversation(two)
    assert first[1] != second[1]
