"""Beatport collection: the bounded concurrent crawl vs a sequential `next`-following crawl.

    python -m bench.bench_beatport [--days 30] [--genres 5,11,12,90,6,1] [--latency-ms 100]
                                   [--repetitions 3] [--concurrency 16]

Both crawls run in this process against one standalone emulator (its own process, 100 ms page
latency with jitter) over the same window, page size 100, in the same run. The baseline is the
seed's loop: one request at a time, following `next` until it is null. Each crawl must return
every track of the window (checked against the API `count`), so speed is never bought by losing
pages. Writes bench/results/beatport.json.
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
) -> tuple[int, int, int]:
    """The client's crawl: (pages, distinct tracks, sum of API counts)."""
    with BeatportAPIClient(f"{base_url}/v4", TOKEN, max_concurrency=concurrency) as client:
        pages = list(client.get_tracks(genres, start, end))
    counts = {page.query.label: page.count for page in pages}
    return len(pages), sum(len(page.tracks) for page in pages), sum(counts.values())


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
            pages, tracks, expected = client_crawl(base_url, genres, START, end, args.concurrency)
            seconds = time.monotonic() - started
            if tracks != expected:
                raise SystemExit(f"client crawl incomplete: {tracks} of {expected} tracks")
            checked["client_tracks"] = tracks
            return pages / seconds

        baseline = median_of(args.repetitions, sequential)
        measured = median_of(args.repetitions, concurrent)
    if checked["client_tracks"] != checked["sequential_tracks"]:
        raise SystemExit(f"crawls disagree: {checked}")

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
        )
    ]
    print_table(figures)
    write_results("beatport", figures, vars(args))


if __name__ == "__main__":
    main()
