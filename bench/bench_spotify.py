"""Spotify lookups: paced concurrent ISRC search vs the seed's loop, and vs the allowed rate.

    python -m bench.bench_spotify [--latency-ms 100] [--repetitions 3]
                                  [--unlimited-lookups 2000] [--baseline-lookups 100]
                                  [--rate-limit 600] [--limited-seconds 65] [--warmup-seconds 30]

Two standalone emulators (separate processes), both with 100 ms latency:

1. no rate limit: `search_many` over N distinct ISRCs vs the seed's one-request-at-a-time loop
   (plain httpx, one search after another), measured in the same run; target >= 15x. The
   whole enrichment step is measured the same way: `CollectionService.enrich_tracks_with_
   spotify_data` over `--enrich-days` of processed tracks in a SQLite catalogue (matching and
   writes included), in tracks per second against the same loop (one request per track).
2. `ratelimited` profile with `--rate-limit` requests per rolling 30 s: `search_many` over enough
   ISRCs to keep it busy for `--limited-seconds`. The pacer does not know the limit. Steady-state
   throughput counts the lookups that completed after the first `--warmup-seconds` (one full
   window, in which the pacer discovers the limit) divided by the time from then to the last
   completion; it is compared with the allowed rate `rate_limit / 30` (target >= 90%). The 429
   share is the share of HTTP requests answered 429 in that same steady-state interval (target
   <= 3%); the share over the whole run, discovery included, is reported beside it.

The emulator is reset between repetitions, and each repetition uses a fresh client (a fresh
pacer), so every repetition discovers the limit from scratch.

3. the remembered rate: after each such first run the budget its pacer learned is saved in a
   scratch catalogue (`pacer_rates`, as enrichment does) and a second run (emulator reset, as
   between two daily runs) starts from it. Its whole-run rate (every lookup, from the first
   request to the last completion) is compared with the allowed rate (target >= 0.97) and its
   whole-run 429 share with 1% (target <= 0.01), the first run's figures beside them.

Writes bench/results/spotify.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta

import httpx

from bench.common import Figure, print_table, standalone_emulator, write_results
from collection_pipeline.clients import SpotifyAPIClient
from collection_pipeline.clients.spotify import SearchAnswer
from collection_pipeline.domain import DateWindow
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import Database
from collection_pipeline.testing.defaults import NOT_FOUND_TTL, SPOTIFY_CONCURRENCY
from collection_pipeline.testing.harness import migrated_database, real_service

GENRES = "5,11,12,90,6,1"


def distinct_isrcs(base_url: str, needed: int) -> list[str]:
    """Real ISRCs of the emulator's catalogue, as many as needed (widening the window)."""
    isrcs: set[str] = set()
    start = date(2024, 1, 1)
    while len(isrcs) < needed:
        end = start + timedelta(days=29)
        params = {"publish_date": f"{start}:{end}", "genre_id": GENRES}
        tracks = httpx.get(f"{base_url}/_emulator/truth", params=params, timeout=60).json()
        isrcs.update(t["isrc"] for t in tracks["tracks"] if t["isrc"])
        start = end + timedelta(days=1)
    return sorted(isrcs)[:needed]


def make_client(base_url: str) -> SpotifyAPIClient:
    return SpotifyAPIClient(
        f"{base_url}/v1",
        f"{base_url}/api/token",
        "bench-id",
        "bench-secret",
        max_concurrency=SPOTIFY_CONCURRENCY,
    )


def seed_loop_rate(base_url: str, isrcs: list[str]) -> float:
    """The seed's enrichment: token once, then one search after another."""
    with httpx.Client(timeout=30) as http:
        token = http.post(
            f"{base_url}/api/token",
            data={"grant_type": "client_credentials"},
            auth=("bench-id", "bench-secret"),
        ).json()["access_token"]
        started = time.monotonic()
        for isrc in isrcs:
            response = http.get(
                f"{base_url}/v1/search",
                params={"q": f"isrc:{isrc}", "type": "track", "limit": 10},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
        return len(isrcs) / (time.monotonic() - started)


def client_rate(base_url: str, isrcs: list[str]) -> float:
    with make_client(base_url) as client:
        client.search_tracks_by_isrc(isrcs[0])  # token fetched outside the timing, as above
        started = time.monotonic()
        batch = client.search_many(isrcs)
        seconds = time.monotonic() - started
    if batch.fatal or batch.errors or len(batch.results) != len(isrcs):
        raise SystemExit(f"unlimited run failed: {len(batch.errors)} errors, fatal={batch.fatal}")
    return len(isrcs) / seconds


def enrichment_rate(fast_url: str, slow_url: str, window: DateWindow) -> float:
    """Tracks/s of the service's enrichment step against the latency emulator.

    The catalogue is collected and processed from an emulator without latency (same seed, so
    the same tracks), so only the Spotify step meets the latency.
    """
    with tempfile.TemporaryDirectory() as tmp, migrated_database(f"sqlite:///{tmp}/c.db") as db:
        with real_service(db, fast_url, "bench-prepare") as service:
            service.collect_beatport_tracks_raw(window, [int(g) for g in GENRES.split(",")])
            service.process_unprocessed_beatport_tracks(window)
        with make_client(slow_url) as client:
            service = CollectionService(
                db.unit_of_work, run_id="bench-enrich", spotify=client, not_found_ttl=NOT_FOUND_TTL
            )
            started = time.monotonic()
            result = service.enrich_tracks_with_spotify_data(window)
            seconds = time.monotonic() - started
    if result.errors or result.processed != result.total:
        raise SystemExit(f"enrichment incomplete: {result}")
    return result.processed / seconds


def paging_cost(window: DateWindow) -> dict[str, float]:
    """Search requests per distinct ISRC when answers are paged (`messy` profile, no latency).

    The catalogue is collected and processed first; the emulator's statistics are reset, then
    one enrichment runs with a fresh client, and its search requests (every page, failed
    answers included) are divided by the distinct ISRCs it looked up.
    """
    with (
        standalone_emulator("--profile", "messy") as base_url,
        tempfile.TemporaryDirectory() as tmp,
        migrated_database(f"sqlite:///{tmp}/c.db") as db,
    ):
        with real_service(db, base_url, "bench-prepare") as service:
            service.collect_beatport_tracks_raw(window, [int(g) for g in GENRES.split(",")])
            service.process_unprocessed_beatport_tracks(window)
        httpx.post(f"{base_url}/_emulator/reset")
        with make_client(base_url) as client:
            service = CollectionService(
                db.unit_of_work, run_id="bench-paging", spotify=client, not_found_ttl=NOT_FOUND_TTL
            )
            result = service.enrich_tracks_with_spotify_data(window)
        stats = httpx.get(f"{base_url}/_emulator/stats").json()["requests"]
    searches = sum(stats.get("spotify.search", {}).values())
    return {
        "requests_per_isrc": searches / result.isrcs_searched,
        "isrcs": result.isrcs_searched,
        "searches": searches,
        "extra_pages": result.search_pages - (result.isrcs_searched - result.errors),
        "errors": result.errors,
    }


def limited_run(
    base_url: str, isrcs: list[str], warmup_s: float, catalogue: Database
) -> dict[str, float]:
    """One paced run against the rolling-window limit; steady state measured after warm-up.

    The pacer starts from the rate `catalogue` remembers for this client (if any) and leaves
    behind what it learned, as the enrichment step does.
    """
    httpx.post(f"{base_url}/_emulator/reset")
    completions: list[float] = []
    lock = threading.Lock()
    with make_client(base_url) as client:
        remembered = catalogue.unit_of_work(read_only=True).run(
            lambda uow: uow.pacer_rates.get(client.rate_key)
        )
        if remembered is not None:
            client.pacer.resume(remembered, datetime.now(UTC))
        original = client.search_isrc  # what search_many calls per ISRC

        def timed(isrc: str) -> SearchAnswer:
            found = original(isrc)
            with lock:
                completions.append(time.monotonic())
            return found

        client.search_isrc = timed  # type: ignore[method-assign]
        started = time.monotonic()
        at_warmup: list = []
        timer = threading.Timer(warmup_s, lambda: at_warmup.append(client.stats.snapshot()))
        timer.start()
        batch = client.search_many(isrcs)
        timer.cancel()
        final = client.stats.snapshot()
        budget = client.pacer.budget
        learned = client.pacer.learned(datetime.now(UTC))
        if learned is not None:
            catalogue.unit_of_work().run(
                lambda uow: uow.pacer_rates.save(client.rate_key, learned, now=datetime.now(UTC))
            )
    if batch.fatal or batch.errors:
        raise SystemExit(f"limited run failed: {len(batch.errors)} errors, fatal={batch.fatal}")
    if not at_warmup:
        raise SystemExit("the limited run ended before the warm-up: raise --limited-seconds")
    steady = sorted(t for t in completions if t >= started + warmup_s)
    steady_rate = len(steady) / (steady[-1] - (started + warmup_s))
    warm = at_warmup[0]
    steady_requests = final.requests - warm.requests
    return {
        "steady_rate": steady_rate,
        "steady_429_share": (final.rate_limited - warm.rate_limited) / steady_requests,
        "overall_429_share": final.rate_limited / final.requests,
        "overall_rate": len(completions) / (max(completions) - started),
        "budget_estimate": budget or 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--unlimited-lookups", type=int, default=2000)
    parser.add_argument("--baseline-lookups", type=int, default=100)
    parser.add_argument("--enrich-days", type=int, default=15)
    parser.add_argument("--rate-limit", type=int, default=600)
    parser.add_argument("--limited-seconds", type=float, default=65.0)
    parser.add_argument("--warmup-seconds", type=float, default=30.0)
    args = parser.parse_args()
    latency = ("--latency-ms", str(args.latency_ms))
    allowed = args.rate_limit / 30.0
    limited_lookups = int(allowed * args.limited_seconds)

    window = DateWindow(date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=args.enrich_days))
    with standalone_emulator(*latency) as base_url, standalone_emulator() as fast_url:
        isrcs = distinct_isrcs(base_url, max(args.unlimited_lookups, limited_lookups))
        baselines, rates, enrich_rates = [], [], []
        for _ in range(args.repetitions):
            baselines.append(seed_loop_rate(base_url, isrcs[: args.baseline_lookups]))
            rates.append(client_rate(base_url, isrcs[: args.unlimited_lookups]))
            enrich_rates.append(enrichment_rate(fast_url, base_url, window))
            print(
                f"unlimited: seed loop {baselines[-1]:.1f}/s, client {rates[-1]:.1f}/s, "
                f"enrichment {enrich_rates[-1]:.1f} tracks/s"
            )

    paging = paging_cost(window)
    print("paging:", paging)

    limited_args = ("--profile", "ratelimited", "--rate-limit", str(args.rate_limit))
    limited = isrcs[:limited_lookups]
    with (
        standalone_emulator(*latency, *limited_args) as base_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        runs, second_runs = [], []
        for repetition in range(args.repetitions):
            with migrated_database(f"sqlite:///{tmp}/rates-{repetition}.db") as catalogue:
                runs.append(limited_run(base_url, limited, args.warmup_seconds, catalogue))
                print("ratelimited, first run:", {k: round(v, 4) for k, v in runs[-1].items()})
                second = limited_run(base_url, limited, args.warmup_seconds, catalogue)
                second_runs.append(second)
                print("ratelimited, second run:", {k: round(v, 4) for k, v in second.items()})

    def median(key: str, of: list[dict[str, float]] = runs) -> float:
        return statistics.median(run[key] for run in of)

    reps = f"median of {args.repetitions}"
    figures = [
        Figure(
            benchmark="spotify",
            figure=f"lookups/s, no rate limit, {args.latency_ms:.0f} ms latency",
            value=statistics.median(rates),
            unit="lookups/s",
            reference=statistics.median(baselines),
            reference_name="seed one-at-a-time loop",
            threshold=15.0,
            detail=f"{args.unlimited_lookups} distinct ISRCs, 1 request each; {reps}",
        ),
        Figure(
            benchmark="spotify",
            figure=f"enrichment tracks/s (service, SQLite), {args.latency_ms:.0f} ms latency",
            value=statistics.median(enrich_rates),
            unit="tracks/s",
            reference=statistics.median(baselines),
            reference_name="seed loop, one request per track",
            threshold=15.0,
            detail=f"{args.enrich_days} days x 6 genres, matching and writes included; {reps}",
        ),
        Figure(
            benchmark="spotify",
            figure="search requests per distinct ISRC, messy profile (paged answers)",
            value=paging["requests_per_isrc"],
            unit="requests/ISRC",
            threshold=1.05,
            higher_is_better=False,
            detail=(
                f"{paging['searches']:.0f} searches for {paging['isrcs']:.0f} ISRCs: "
                f"{paging['extra_pages']:.0f} later pages, {paging['errors']:.0f} malformed "
                f"answers (error outcomes, retried later); {args.enrich_days} days x 6 genres"
            ),
        ),
        Figure(
            benchmark="spotify",
            figure=f"steady lookups/s, ratelimited {args.rate_limit}/30 s",
            value=median("steady_rate"),
            unit="lookups/s",
            reference=allowed,
            reference_name="emulator allowed rate",
            threshold=0.9,
            detail=(
                f"after the first {args.warmup_seconds:.0f} s window, {limited_lookups} lookups; "
                f"whole-run rate {median('overall_rate'):.2f}/s; "
                f"pacer budget estimate {median('budget_estimate'):.0f}/30 s; {reps}"
            ),
        ),
        Figure(
            benchmark="spotify",
            figure="share of requests answered 429 (steady state)",
            value=median("steady_429_share"),
            unit="share",
            threshold=0.03,
            higher_is_better=False,
            detail=f"whole run incl. discovery: {median('overall_429_share'):.4f}; {reps}",
        ),
        Figure(
            benchmark="spotify",
            figure="share of requests answered 429 (whole run, incl. discovery)",
            value=median("overall_429_share"),
            unit="share",
            higher_is_better=False,
            detail=f"informational: the discovery overshoot of the first window; {reps}",
        ),
    ]
    first_share = median("overall_rate") / allowed
    first_429 = median("overall_429_share")
    figures += [
        Figure(
            benchmark="spotify",
            figure=f"whole-run lookups/s, ratelimited {args.rate_limit}/30 s, second run "
            "(remembered rate)",
            value=median("overall_rate", second_runs),
            unit="lookups/s",
            reference=allowed,
            reference_name="emulator allowed rate",
            threshold=0.97,
            detail=(
                f"first run (discovering the rate): {median('overall_rate'):.2f}/s = "
                f"{first_share:.3f} of the allowed rate; {limited_lookups} lookups; {reps}"
            ),
        ),
        Figure(
            benchmark="spotify",
            figure="share of requests answered 429 (whole run), second run (remembered rate)",
            value=median("overall_429_share", second_runs),
            unit="share",
            threshold=0.01,
            higher_is_better=False,
            detail=f"first run (discovering the rate): {first_429:.4f}; {reps}",
        ),
    ]
    print_table(figures)
    write_results("spotify", figures, vars(args))


if __name__ == "__main__":
    main()
