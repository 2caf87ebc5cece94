"""`python -m collection_pipeline.emulator`: serve both APIs standalone (any credentials)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from collection_pipeline.emulator.app import create_app
from collection_pipeline.emulator.config import PROFILES, EmulatorConfig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m collection_pipeline.emulator",
        description="Beatport v4 + Spotify Web API emulator with a deterministic catalogue.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--profile", choices=PROFILES, default="default")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tracks-per-day", type=int, default=20,
                        help="tracks per genre per publish day")  # fmt: skip
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None,
                        help="Spotify requests allowed per rolling 30 s")  # fmt: skip
    parser.add_argument("--catalogue-revision", type=int, default=0)
    parser.add_argument("--spotify-token-lifetime", type=float, default=3600.0)
    parser.add_argument("--beatport-token-lifetime", type=float, default=36000.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    config = EmulatorConfig(
        profile=args.profile,
        seed=args.seed,
        tracks_per_day=args.tracks_per_day,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        catalogue_revision=args.catalogue_revision,
        spotify_token_lifetime_s=args.spotify_token_lifetime,
        beatport_token_lifetime_s=args.beatport_token_lifetime,
    )
    uvicorn.run(
        create_app(config), host=args.host, port=args.port, log_level="warning",
        access_log=False, lifespan="off",
    )  # fmt: skip


if __name__ == "__main__":
    main()
