"""Emulator request ceiling: Spotify ISRC searches per second over loopback, no latency.

    python bench/bench_emulator.py [--seconds 5] [--clients 3] [--connections 8]

The emulator runs standalone in its own process (as benchmarks use it); the load comes from
several client processes speaking raw keep-alive HTTP/1.1, far cheaper per request than any HTTP
client library, so the figure is the emulator's ceiling and not the generator's.

Two figures: every request searching a distinct ISRC (cold: the emulator generates the answer,
which is what a pipeline run does; this one must reach 1,000 req/s), and the same few hundred
ISRCs repeated (warm: cached response bytes, the pure per-request overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import Figure, print_table, standalone_emulator, write_results

THRESHOLD = 1000.0


def _isrcs(base_url: str, needed: int) -> list[str]:
    """Distinct ISRCs of the catalogue, enough for every request of the run."""
    isrcs: list[str] = []
    seen: set[str] = set()
    month = 1
    while len(isrcs) < needed and month <= 12:
        window = f"2024-{month:02d}-01:2024-{month:02d}-28"
        rows = httpx.get(
            f"{base_url}/_emulator/truth", params={"publish_date": window}, timeout=60
        ).json()["tracks"]
        for row in rows:
            if row["isrc"] and row["isrc"] not in seen:
                seen.add(row["isrc"])
                isrcs.append(row["isrc"])
        month += 1
    return isrcs


async def _connection(
    host: str, port: int, token: str, isrcs: list[str], deadline: float, counts: dict[str, int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    position = 0
    try:
        while time.monotonic() < deadline and position < len(isrcs):
            request = (
                f"GET /v1/search?q=isrc:{isrcs[position]}&type=track&limit=10 HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            position += 1
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12].decode()
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts[status] = counts.get(status, 0) + 1
    finally:
        writer.close()


def _client(args: tuple[str, int, str, list[str], float, int]) -> dict[str, int]:
    """One load-generator process: `connections` keep-alive connections until the deadline."""
    host, port, token, isrcs, deadline, connections = args
    counts: dict[str, int] = {}

    async def run() -> None:
        share = [isrcs[i::connections] for i in range(connections)]
        await asyncio.gather(
            *(_connection(host, port, token, part, deadline, counts) for part in share)
        )

    asyncio.run(run())
    return counts


def measure(
    base_url: str, seconds: float, clients: int, connections: int, *, distinct: bool
) -> dict[str, object]:
    token = httpx.post(
        f"{base_url}/api/token", data={"grant_type": "client_credentials"}, auth=("bench", "bench")
    ).json()["access_token"]
    needed = int(seconds * 6000)
    isrcs = _isrcs(base_url, needed=needed if distinct else 300)
    if not distinct:
        isrcs = (isrcs[:300] * (needed // 300 + 1))[:needed]
    host, port = base_url.removeprefix("http://").split(":")
    httpx.post(f"{base_url}/_emulator/reset")
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        start_at = time.monotonic() + 1.0  # let every process import before the clock starts
        deadline = start_at + seconds
        jobs = [
            (host, int(port), token, isrcs[i::clients], deadline, connections)
            for i in range(clients)
        ]
        while time.monotonic() < start_at:
            time.sleep(0.01)
        results = pool.map(_client, jobs)
    elapsed = time.monotonic() - start_at
    totals: dict[str, int] = {}
    for counts in results:
        for status, count in counts.items():
            totals[status] = totals.get(status, 0) + count
    server_side = httpx.get(f"{base_url}/_emulator/stats").json()["requests"]
    return {
        "requests_per_second": totals.get("200", 0) / elapsed,
        "statuses": totals,
        "elapsed_s": elapsed,
        "server_counts": server_side.get("spotify.search", {}),
        "distinct_isrcs": len(set(isrcs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8, help="per client process")
    args = parser.parse_args()
    results = {}
    for label, distinct in (("cold", True), ("warm", False)):
        with standalone_emulator("--profile", "default") as base_url:
            results[label] = measure(
                base_url, args.seconds, args.clients, args.connections, distinct=distinct
            )
    shape = f"{args.clients} client processes x {args.connections} keep-alive connections"
    figures = [
        Figure(
            benchmark="emulator",
            figure="Spotify ISRC searches/s, distinct ISRCs (loopback, no latency)",
            value=float(results["cold"]["requests_per_second"]),  # type: ignore[arg-type]
            unit="req/s",
            threshold=THRESHOLD,
            detail=f"{shape}; statuses {results['cold']['statuses']}",
        ),
        Figure(
            benchmark="emulator",
            figure="Spotify ISRC searches/s, 300 ISRCs repeated (cached bytes)",
            value=float(results["warm"]["requests_per_second"]),  # type: ignore[arg-type]
            unit="req/s",
            detail=f"{shape}; statuses {results['warm']['statuses']}",
        ),
    ]
    path = write_results("emulator", figures, {**vars(args), **results})
    print_table(figures)
    for label, result in results.items():
        print(f"{label}: {result['requests_per_second']:,.0f} requests/s "
              f"(statuses {result['statuses']})")  # fmt: skip
    print(f"results in {path}")
    if figures[0].value < THRESHOLD:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
