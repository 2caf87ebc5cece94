"""The environment of a `collection-pipeline` subprocess in live mode against an emulator."""

from __future__ import annotations

import os
from pathlib import Path


def live_cli_environment(base_url: str, home: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without the product's variables, live mode on `base_url`.

    The emulator accepts any credentials, so dummy ones exercise the path real ones take.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_", "BEATPORT_"))}
    env.update(
        DAGSTER_HOME=str(home),
        COLLECTION_SOURCE="live",
        COLLECTION_GENRE_IDS="5",
        BEATPORT_API_URL=f"{base_url}/v4",
        BEATPORT_ACCESS_TOKEN="token",
        SPOTIFY_API_URL=f"{base_url}/v1",
        SPOTIFY_TOKEN_URL=f"{base_url}/api/token",
        SPOTIFY_CLIENT_ID="id",
        SPOTIFY_CLIENT_SECRET="secret",
    )
    env.update(overrides)
    return env
