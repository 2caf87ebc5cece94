"""Live mode against a standalone emulator, once: as a `collection-pipeline` subprocess's
environment and as the resource fields the Dagster-layer tests bind."""

from __future__ import annotations

import os
from pathlib import Path

from collection_pipeline import settings
from collection_pipeline.settings import Variable


def live_mode(base_url: str) -> list[tuple[Variable, str, str, str]]:
    """(variable, resource key, field, value) of live mode on the emulator at `base_url`: each
    variable is a field of the one resource that uses it.

    The emulator accepts any credentials, so dummy ones exercise the path real ones take.
    """
    return [
        (settings.SOURCE, "source", "mode", "live"),
        (settings.BEATPORT_API_URL, "beatport", "api_url", f"{base_url}/v4"),
        (settings.BEATPORT_ACCESS_TOKEN, "beatport", "access_token", "token"),
        (settings.SPOTIFY_API_URL, "spotify", "api_url", f"{base_url}/v1"),
        (settings.SPOTIFY_TOKEN_URL, "spotify", "token_url", f"{base_url}/api/token"),
        (settings.SPOTIFY_CLIENT_ID, "spotify", "client_id", "id"),
        (settings.SPOTIFY_CLIENT_SECRET, "spotify", "client_secret", "secret"),
    ]


def live_cli_environment(base_url: str, home: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without the product's variables, live mode on `base_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_", "BEATPORT_"))}
    env.update(DAGSTER_HOME=str(home), COLLECTION_GENRE_IDS="5")
    env.update({variable.name: value for variable, _, _, value in live_mode(base_url)})
    env.update(overrides)
    return env
