"""`python -m collection_pipeline.emulator`: serve both APIs standalone (any credentials)."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Sequence
from datetime import date

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
    parser.add_argument("--fd", type=int, default=None,
                        help="serve on this inherited, already listening socket instead of "
                        "--host/--port (a parent that holds the port passes it)")  # fmt: skip
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
    parser.add_argument("--failing-genre-day", type=_genre_day, default=None,
                        metavar="GENRE:YYYY-MM-DD",
                        help="listings that could include this genre-day answer 503")  # fmt: skip
    parser.add_argument("--drift-per-block", type=int, default=None,
                        help="late tracks published per (day, genre) while paged "
                        "(default: 2 in drift, else 0)")  # fmt: skip
    parser.add_argument("--drift-per-request", type=int, default=8,
                        help="late tracks one page request (page >= 2) publishes")  # fmt: skip
    parser.add_argument("--moves-per-block", type=int, default=None,
                        help="tracks per (day, genre) moved to another day while paged "
                        "(default: 1 in drift, else 0)")  # fmt: skip
    parser.add_argument("--moves-per-request", type=int, default=2,
                        help="tracks one page request (page >= 2) moves")  # fmt: skip
    parser.add_argument("--overcap-tracks", type=int, default=None,
                        help="tracks of the over-cap genre-day (default: 12500 in overcap, "
                        "else none)")  # fmt: skip
    parser.add_argument("--overcap-genre-id", type=int, default=None)
    parser.add_argument("--overcap-day", type=date.fromisoformat, default=None,
                        metavar="YYYY-MM-DD")  # fmt: skip
    return parser.parse_args(argv)


def _genre_day(value: str) -> tuple[int, date]:
    genre, _, day = value.partition(":")
    try:
        return int(genre), date.fromisoformat(day)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected GENRE:YYYY-MM-DD, got {value!r}") from exc


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The configuration the flags describe; a flag left out keeps the profile's preset."""
    optional = {
        "overcap_genre_id": args.overcap_genre_id,
        "overcap_day": args.overcap_day,
    }
    return EmulatorConfig(
        profile=args.profile,
        seed=args.seed,
        tracks_per_day=args.tracks_per_day,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        catalogue_revision=args.catalogue_revision,
        spotify_token_lifetime_s=args.spotify_token_lifetime,
        beatport_token_lifetime_s=args.beatport_token_lifetime,
        failing_genre_day=args.failing_genre_day,
        drift_per_block=args.drift_per_block,
        drift_per_request=args.drift_per_request,
        moves_per_block=args.moves_per_block,
        moves_per_request=args.moves_per_request,
        overcap_tracks=args.overcap_tracks,
        **{key: value for key, value in optional.items() if value is not None},
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"python -m collection_pipeline.emulator: {exc}") from None
    app = create_app(config)
    if args.fd is None:
        uvicorn.run(
            app, host=args.host, port=args.port, log_level="warning", access_log=False,
            lifespan="off",
        )  # fmt: skip
        return
    # Not uvicorn.run(fd=): uvicorn wraps a descriptor as AF_UNIX whatever it is, so asyncio
    # leaves Nagle on for the TCP connections it accepts (it sets TCP_NODELAY on INET sockets
    # only), and every response small enough to follow its headers in one segment waited ~40 ms
    # for the client's delayed ACK. socket(fileno=) reads the real family and protocol.
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    server.run(sockets=[socket.socket(fileno=args.fd)])


if __name__ == "__main__":
    main()
