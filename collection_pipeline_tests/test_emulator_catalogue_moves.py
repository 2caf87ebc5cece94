"""Emulator profiles `drift` and `overcap`, and a query that always fails, over loopback HTTP.

The `overcap` day is served at a tenth of the count cap (support/scaled_cap.py): its shape is
set in caps, so the same filters fall on the same side of the cap as at the real one.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from collection_pipeline_tests.support import scaled_cap
from collection_pipeline_tests.support.emulator_http import beatport_client

TRACKS = "/v4/catalog/tracks/"
BUSY_DAY = {"genre_id": "6", "publish_date": "2024-03-01", "per_page": 100}
WINDOW = {"genre_id": "5,6", "publish_date": "2024-03-01:2024-03-04", "per_page": 50}


def count(client: httpx.Client, **params: object) -> int:
    response = client.get(TRACKS, params={**BUSY_DAY, "per_page": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


def truth_ids(client: httpx.Client, params: dict[str, object]) -> list[int]:
    window = {"genre_id": params["genre_id"], "publish_date": params["publish_date"]}
    rows = client.get("/_emulator/truth", params=window).json()["tracks"]
    return [row["beatport_id"] for row in rows]


@pytest.fixture(scope="module")
def overcap() -> httpx.Client:
    from collection_pipeline.emulator import EmulatorConfig, serve_in_thread

    with serve_in_thread(EmulatorConfig(profile="overcap", **scaled_cap.EMULATOR)) as base:
        yield beatport_client(base)


def test_overcap_day_is_capped_and_no_single_filter_splits_it(overcap: httpx.Client) -> None:
    cap, busy = scaled_cap.CAP, scaled_cap.OVERCAP_TRACKS
    ids = truth_ids(overcap, BUSY_DAY)
    assert len(ids) == len(set(ids)) == busy
    assert count(overcap) == cap
    assert count(overcap, bpm="0:999") == cap
    assert count(overcap, new_release_date="2024-03-01") == cap
    both = count(overcap, bpm="128", new_release_date="2024-03-01")
    rest = count(overcap, bpm=":127") + count(overcap, bpm="129:")
    older = count(overcap, bpm="128", new_release_date=":2024-02-29")
    assert both < cap
    no_tempo = busy - (both + older + rest)  # in no bpm range at all
    assert busy // 25 < no_tempo < busy * 3 // 25
    by_bpm = {**BUSY_DAY, "order_by": "bpm", "per_page": scaled_cap.CLIENT["page_size"]}
    untimed = overcap.get(TRACKS, params=by_bpm).json()["results"]
    assert all(t["bpm"] is None for t in untimed)  # they sort first, and are really there
    by_release = count(overcap, new_release_date=":2024-02-29")
    assert busy - by_release > cap  # released on the day: still over the cap
    by_sub_genre = count(overcap, sub_genre_id="6,7")
    assert 0 < by_sub_genre < busy // 2  # most carry no sub-genre, which no filter selects
    assert count(overcap, genre_id="5") == 20  # the other genres of that day are ordinary


def test_results_past_the_cap_are_unreachable(overcap: httpx.Client) -> None:
    pages = scaled_cap.CAP // 100
    last = overcap.get(TRACKS, params={**BUSY_DAY, "page": pages}).json()
    assert (last["page"], last["next"], len(last["results"])) == (f"{pages}/{pages}", None, 100)
    assert overcap.get(TRACKS, params={**BUSY_DAY, "page": pages + 1}).status_code == 404


def test_filters_and_both_directions_agree_with_the_tracks(overcap: httpx.Client) -> None:
    params = {**BUSY_DAY, "bpm": "120:127", "order_by": "release_id"}
    ascending = overcap.get(TRACKS, params=params).json()["results"]
    descending = overcap.get(TRACKS, params={**params, "order_by": "-release_id"}).json()
    assert all(120 <= t["bpm"] <= 127 for t in ascending)
    keys = [(t["release"]["id"], t["id"]) for t in ascending]
    assert keys == sorted(keys)
    down = [(t["release"]["id"], t["id"]) for t in descending["results"]]
    assert down == sorted(down, reverse=True)
    newer = overcap.get(TRACKS, params={**BUSY_DAY, "new_release_date": "2024-03-01:"}).json()
    assert {t["new_release_date"] for t in newer["results"]} == {"2024-03-01"}
    one = newer["results"][0]
    assert overcap.get(f"{TRACKS}{one['id']}/").json() == one


def test_drift_publishes_late_tracks_while_a_window_is_paged(emulator_url) -> None:
    client = beatport_client(emulator_url(profile="drift", drift_per_request=3))
    first = client.get(TRACKS, params={**WINDOW, "page": 1}).json()
    assert first["count"] == 160 == len(truth_ids(client, WINDOW))  # page 1 publishes nothing
    second = client.get(TRACKS, params={**WINDOW, "page": 2}).json()
    assert second["count"] == 163
    late = sorted(set(truth_ids(client, WINDOW)) - {t["id"] for t in first["results"]})
    assert len(truth_ids(client, WINDOW)) == 163
    newest = late[-3:]
    assert min(newest) > max(t["id"] for t in first["results"])  # the newest ids of all
    detail = client.get(f"{TRACKS}{newest[-1]}/").json()
    assert detail["id"] == newest[-1]
    assert detail["publish_date"] in {"2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"}


def test_late_tracks_sort_where_their_ids_and_dates_put_them(emulator_url) -> None:
    client = beatport_client(emulator_url(profile="drift", drift_per_request=40))
    client.get(TRACKS, params={**WINDOW, "page": 2})  # publishes 16 late tracks (2 per block)
    day = {**WINDOW, "publish_date": "2024-03-02", "per_page": 100}
    ascending = client.get(TRACKS, params={**day, "order_by": "publish_date"}).json()["results"]
    descending = client.get(TRACKS, params={**day, "order_by": "-publish_date"}).json()["results"]
    assert len(ascending) == 44  # 2 genres x (20 + 2 late)
    late = [t["id"] for t in ascending if t["id"] >= 1_900_000_000]
    assert [t["id"] for t in ascending[-4:]] == sorted(late)  # ascending: appended at the end
    assert {t["id"] for t in descending[:4]} == set(late)  # descending: in front, shifting pages
    whole = {**WINDOW, "per_page": 100, "order_by": "publish_date"}
    dates = [t["publish_date"] for t in client.get(TRACKS, params=whole).json()["results"]]
    assert dates == sorted(dates)


def test_drift_stops_when_every_block_got_its_late_tracks(emulator_url) -> None:
    client = beatport_client(emulator_url(profile="drift", drift_per_request=100))
    client.get(TRACKS, params={**WINDOW, "page": 2})
    settled = len(truth_ids(client, WINDOW))
    client.get(TRACKS, params={**WINDOW, "page": 3})
    assert settled == len(truth_ids(client, WINDOW)) == 160 + 16


def test_one_failing_genre_day_fails_only_the_queries_covering_it(emulator_url) -> None:
    client = beatport_client(emulator_url(failing_genre_day=(6, date(2024, 3, 2))))
    assert client.get(TRACKS, params=WINDOW).status_code == 503
    assert client.get(TRACKS, params={**WINDOW, "genre_id": "5"}).status_code == 200
    assert client.get(TRACKS, params={**WINDOW, "publish_date": "2024-03-03"}).status_code == 200
    one_day = {**WINDOW, "genre_id": "6", "publish_date": "2024-03-02"}
    assert [client.get(TRACKS, params=one_day).status_code for _ in range(3)] == [503] * 3
