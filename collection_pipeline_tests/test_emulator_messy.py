"""The `messy` profile: malformed records and answers as the truth says, real shapes otherwise."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import httpx
import pytest

from collection_pipeline.emulator.malformed import (
    BAD_ENVELOPE_RATE,
    PROCESSED,
    QUARANTINED,
    EnvelopeFaults,
)
from collection_pipeline_tests.support.emulator_http import beatport_client, spotify_headers
from collection_pipeline_tests.support.reference import load, shape_errors

WINDOW = {"publish_date": "2024-03-01:2024-03-10", "genre_id": "5,11,12,90,6,1"}


def listing(client: httpx.Client) -> list[Any]:
    entries: list[Any] = []
    page = 1
    while True:
        body = client.get("/v4/catalog/tracks/", params={**WINDOW, "per_page": 100, "page": page})
        entries += body.json()["results"]
        if body.json()["next"] is None:
            return entries
        page += 1


def served_kind(entry: Any) -> str | None:
    """What is wrong with a served entry, judged from the JSON alone."""
    if entry is None:
        return "not_an_object"
    if "id" not in entry:
        return "missing_id"
    if "name" not in entry:
        return "missing_name"
    if entry["artists"] is None:
        return "null_artists"
    if entry["publish_date"][:4].isdigit() is False or len(entry["publish_date"]) != 10:
        return "bad_publish_date"
    if "-13-" in entry["publish_date"] or entry["publish_date"].endswith("-02-30"):
        return "bad_publish_date"
    if "\x00" in entry["name"]:
        return "nul_in_string"
    if entry["new_release_date"] == "":
        return "blank_optional"
    return None


def test_every_messy_record_is_served_as_the_truth_says(emulator_url) -> None:
    client = beatport_client(emulator_url(profile="messy", messy_record_rate=0.03))
    truth = client.get("/_emulator/truth", params=WINDOW).json()["tracks"]
    entries = listing(client)
    assert len(entries) == len(truth)  # served in the listing's (id) order, one per slot
    kinds: Counter[str] = Counter()
    reference = load("beatport/list_tracks.json")["results"][1]
    for row, entry in zip(truth, entries, strict=True):
        kind = row["malformed"] or row["quirk"]
        assert served_kind(entry) == kind
        kinds[kind] += 1
        if row["malformed"]:
            assert row["spotify_track_id"] is None
        elif kind is None:
            assert entry["id"] == row["beatport_id"]
            assert shape_errors(reference, entry) == []
    assert set(kinds) == {None, *QUARANTINED, *PROCESSED}
    assert not {row["malformed"] for row in truth} & set(PROCESSED)


def test_the_default_rate_is_low_and_other_profiles_are_clean(emulator_url) -> None:
    messy = beatport_client(emulator_url(profile="messy")).get("/_emulator/truth", params=WINDOW)
    rows = messy.json()["tracks"]
    bad = sum(1 for row in rows if row["malformed"])
    assert 0 < bad < len(rows) * 0.02
    clean = beatport_client(emulator_url()).get("/_emulator/truth", params=WINDOW).json()["tracks"]
    assert {(row["malformed"], row["quirk"]) for row in clean} == {(None, None)}


def test_some_answers_need_paging_and_carry_malformed_items(emulator_url) -> None:
    client = beatport_client(emulator_url(profile="messy"))
    headers = spotify_headers(client)
    reference = load("spotify/search_isrc_multiple.json")
    truth = client.get("/_emulator/truth", params=WINDOW).json()["tracks"]
    isrcs = sorted({row["isrc"] for row in truth if row["isrc"]})
    paged = malformed = 0
    for isrc in isrcs:
        params = {"q": f"isrc:{isrc}", "type": "track", "limit": 10}
        body = client.get("/v1/search", params=params, headers=headers).json()
        if "tracks" not in body:  # a bad envelope: the next attempt passes
            body = client.get("/v1/search", params=params, headers=headers).json()
        tracks = body["tracks"]
        items = list(tracks["items"])
        if tracks["total"] > 10:
            paged += 1
            assert tracks["next"] is not None
            later = client.get(
                "/v1/search", params={**params, "offset": 10}, headers=headers
            ).json()["tracks"]
            assert later["offset"] == 10
            items += later["items"]
        for item in items:
            if item is None:
                continue
            if shape_errors(reference["tracks"]["items"][0], item):
                malformed += 1
    assert paged >= len(isrcs) * 0.01
    assert malformed >= len(isrcs) * 0.01


def test_a_bad_envelope_is_the_real_bare_paging_object_and_passes_on_retry(emulator_url) -> None:
    client = beatport_client(emulator_url(profile="messy"))
    headers = spotify_headers(client)
    reference = load("spotify/credits_spot_mock_spotify_Butter_Sugar_Cream.json")
    truth = client.get("/_emulator/truth", params=WINDOW).json()["tracks"]
    bad = 0
    for isrc in sorted({row["isrc"] for row in truth if row["isrc"]}):
        params = {"q": f"isrc:{isrc}", "type": "track", "limit": 10}
        body = client.get("/v1/search", params=params, headers=headers).json()
        if "tracks" in body:
            continue
        bad += 1
        assert list(body) == list(reference)
        assert shape_errors(reference, body) == []
        assert "tracks" in client.get("/v1/search", params=params, headers=headers).json()
    assert bad > 0


@pytest.mark.parametrize("rate", [0.0, BAD_ENVELOPE_RATE])
def test_envelope_faults_never_strike_twice_in_a_row(rate: float) -> None:
    faults = EnvelopeFaults(seed=1, rate=rate * 100)
    strikes = [faults.strike("q=isrc:X") for _ in range(2000)]
    assert not any(a and b for a, b in itertools.pairwise(strikes))
    assert any(strikes) == (rate > 0)
