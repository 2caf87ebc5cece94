"""Emulator request ceiling: Spotify ISRC searches per second over loopback, no latency.

    python bench/bench_emulator.py [--seconds 5] [--clients 3] [--connections 8]

The emulator runs standalone in its own process (as benchmarks use it); the load comes from
several client processes speaking raw keep-alive HTTP/1.1, far cheaper per request than any HTTP
client library, so the figure is the emulator's ceiling and not the generator's. Every request
searches a distinct ISRC taken from the catalogue (cold path: the emulator has never answered that
query before), which is what a pipeline run does.
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


def measure(base_url: str, seconds: float, clients: int, connections: int) -> dict[str, object]:
    token = httpx.post(
        f"{base_url}/api/token", data={"grant_type": "client_credentials"}, auth=("bench", "bench")
    ).json()["access_token"]
    isrcs = _isrcs(base_url, needed=int(seconds * 6000))
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
        "distinct_isrcs": len(isrcs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8, help="per client process")
    args = parser.parse_args()
    with standalone_emulator("--profile", "default") as base_url:
        result = measure(base_url, args.seconds, args.clients, args.connections)
    rps = float(result["requests_per_second"])  # type: ignore[arg-type]
    figure = Figure(
        benchmark="emulator",
        figure="Spotify ISRC searches per second (distinct ISRCs, loopback, no latency)",
        value=rps,
        unit="req/s",
        threshold=THRESHOLD,
        detail=f"{args.clients} client processes x {args.connections} keep-alive connections; "
        f"statuses {result['statuses']}",
    )
    path = write_results("emulator", [figure], {**vars(args), **result})
    print_table([figure])
    print(f"{rps:,.0f} requests/s (statuses {result['statuses']}); results in {path}")
    if rps < THRESHOLD:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
