"""Beatport collection: the bounded concurrent crawl vs a sequential `next`-following crawl,
and what completeness costs in requests when the catalogue moves or a day is over the cap.

    python -m bench.bench_beatport [--days 30] [--genres 5,11,12,90,6,1] [--latency-ms 100]
                                   [--repetitions 3] [--concurrency 16]

Both crawls run in this process against one standalone emulator (its own process, 100 ms page
latency with jitter) over the same window, page size 100, in the same run. The baseline is the
seed's loop: one request at a time, following `next` until it is null. Each crawl must return
every track of the window (checked against `/_emulator/truth` after the crawl), so speed is never
bought by losing pages.

Requests per track (every Beatport request, count re-reads, per-day confirmation and splits
included, over distinct tracks) are measured on `default` and `drift` (late tracks and tracks
moving between days mid-crawl) over the same window, and on the `overcap` day
(12,500 tracks in one genre) against an ordinary day of 6,000 tracks (1,000 per genre, the
emulator's maximum). Writes bench/results/beatport.json.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import httpx

from bench.common import Figure, median_of, print_table, standalone_emulator, write_results
from collection_pipeline.clients import BeatportAPIClient

START = date(2024, 3, 1)
TOKEN = "bench-token"


def sequential_crawl(base_url: str, genres: list[int], start: date, end: date) -> tuple[int, int]:
    """The seed's crawl: (pages, tracks) following `next` one page at a time."""
    params = {
        "genre_id": ",".join(map(str, genres)),
        "publish_date": f"{start}:{end}",
        "per_page": 100,
        "order_by": "id",
    }
    pages = tracks = 0
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        url: str | None = f"{base_url}/v4/catalog/tracks/"
        while url:
            response = client.get(url, params=params if pages == 0 else None)
            response.raise_for_status()
            body = response.json()
            pages += 1
            tracks += len(body["results"])
            url = f"http://{body['next']}" if body["next"] else None
    return pages, tracks


def client_crawl(
    base_url: str, genres: list[int], start: date, end: date, concurrency: int
) -> tuple[int, dict[int, str], int]:
    """The client's crawl: (pages, publish day per track id, requests); exits unless it reports
    complete. A track passed on again (it moved to another day) is filed where it was last read,
    as storage files it.

    Each page is filed and let go as it arrives, as the service stores and drops it (and as
    the sequential crawl keeps nothing but counts): holding every decoded page to the end
    would time the garbage collector walking them, not the crawl."""
    pages = 0
    filed: dict[int, str] = {}
    with BeatportAPIClient(f"{base_url}/v4", TOKEN, max_concurrency=concurrency) as client:
        crawl = client.crawl(genres, start, end)
        for page in crawl:
            pages += 1
            filed.update((track["id"], track["publish_date"]) for track in page.tracks)
        requests = client.stats.snapshot().requests
    if not crawl.complete:
        raise SystemExit(f"client crawl incomplete: {crawl.outcomes}")
    return pages, filed, requests


def check_against_truth(
    base_url: str, genres: list[int], start: date, end: date, filed: dict[int, str]
) -> None:
    """Exit unless `filed` is exactly the window's tracks, each on its day, as the emulator
    knows them now."""
    params = {"publish_date": f"{start}:{end}", "genre_id": ",".join(map(str, genres))}
    rows = httpx.get(f"{base_url}/_emulator/truth", params=params, timeout=300).json()["tracks"]
    truth = {row["beatport_id"]: row["publish_date"] for row in rows}
    if filed != truth:
        wrong = sum(1 for i, day in filed.items() if truth.get(i) != day)
        raise SystemExit(f"crawl vs truth: {len(filed)} of {len(truth)} tracks, {wrong} misfiled")


def requests_per_track(
    emulator_args: tuple[str, ...], genres: list[int], start: date, end: date, concurrency: int
) -> tuple[float, int]:
    """(requests per distinct track, tracks) of one complete crawl on a fresh emulator."""
    with standalone_emulator(*emulator_args) as base_url:
        _, filed, requests = client_crawl(base_url, genres, start, end, concurrency)
        check_against_truth(base_url, genres, start, end, filed)
    return requests / len(filed), len(filed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--genres", default="5,11,12,90,6,1")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    genres = [int(g) for g in args.genres.split(",")]
    end = START + timedelta(days=args.days - 1)

    with standalone_emulator("--latency-ms", str(args.latency_ms)) as base_url:
        checked: dict[str, int] = {}

        def sequential() -> float:
            started = time.monotonic()
            pages, tracks = sequential_crawl(base_url, genres, START, end)
            seconds = time.monotonic() - started
            checked["sequential_tracks"] = tracks
            return pages / seconds

        def concurrent() -> float:
            started = time.monotonic()
            pages, filed, requests = client_crawl(base_url, genres, START, end, args.concurrency)
            seconds = time.monotonic() - started
            check_against_truth(base_url, genres, START, end, filed)
            checked["client_tracks"] = len(filed)
            checked["client_requests"] = requests
            return pages / seconds

        baseline = median_of(args.repetitions, sequential)
        measured = median_of(args.repetitions, concurrent)
    if checked["client_tracks"] != checked["sequential_tracks"]:
        raise SystemExit(f"crawls disagree: {checked}")
    window = (genres, START, end, args.concurrency)
    default_cost = checked["client_requests"] / checked["client_tracks"]
    drift_cost, drift_tracks = requests_per_track(("--profile", "drift"), *window)
    day = (genres, START, START, args.concurrency)
    ordinary_cost, ordinary_tracks = requests_per_track(("--tracks-per-day", "1000"), *day)
    overcap_cost, overcap_tracks = requests_per_track(("--profile", "overcap"), *day)

    figures = [
        Figure(
            benchmark="beatport",
            figure=f"crawl {args.days} days x {len(genres)} genres, {args.latency_ms:.0f} ms pages",
            value=measured,
            unit="pages/s",
            reference=baseline,
            reference_name="sequential crawl",
            threshold=5.0,
            detail=(
                f"{checked['client_tracks']} tracks, complete vs API count; "
                f"max_concurrency={args.concurrency}; median of {args.repetitions}"
            ),
        ),
        Figure(
            benchmark="beatport",
            figure=f"requests per track, default, {args.days} days x {len(genres)} genres",
            value=default_cost,
            unit="requests/track",
            threshold=0.02,
            higher_is_better=False,
            detail=(
                f"{checked['client_tracks']} tracks; pages, count re-reads and the per-day "
                "confirmation that every track is still on its day"
            ),
        ),
        Figure(
            benchmark="beatport",
            figure=f"requests per track, drift, {args.days} days x {len(genres)} genres",
            value=drift_cost,
            unit="requests/track",
            reference=default_cost,
            reference_name="default profile, same window",
            detail=(
                f"{drift_tracks} tracks incl. those published and moved between days mid-crawl; "
                "complete and each on its final day vs truth"
            ),
        ),
        Figure(
            benchmark="beatport",
            figure=f"requests per track, overcap day ({len(genres)} genres, one > 10,000)",
            value=overcap_cost,
            unit="requests/track",
            reference=ordinary_cost,
            reference_name=f"ordinary day of {ordinary_tracks} tracks",
            threshold=1.5,
            higher_is_better=False,
            detail=f"{overcap_tracks} tracks, split by genre, bpm and release date; complete",
        ),
    ]
    print_table(figures)
    write_results("beatport", figures, vars(args))


if __name__ == "__main__":
    main()
