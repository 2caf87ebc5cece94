"""Environment variables of the product (DESIGN section 3) and their defaults, in one place.

Everything is read lazily through functions, so tests and the CLI can change the environment
before definitions are loaded and a run worker re-reads it in its own process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

SourceMode = Literal["emulator", "live"]


@dataclass(frozen=True)
class Variable:
    """One environment variable the product reads, documented for the README and the CLI."""

    name: str
    default: str | None
    description: str
    secret: bool = False

    def get(self) -> str | None:
        """The value, or the default; an empty string counts as unset."""
        return os.environ.get(self.name) or self.default


SOURCE = Variable("COLLECTION_SOURCE", "emulator", "`emulator` (bundled, in-process) or `live`")
START_DATE = Variable("COLLECTION_START_DATE", "2024-01-01", "first daily partition (UTC)")
DATABASE_URL = Variable(
    "COLLECTION_DATABASE_URL",
    None,
    "catalogue database (SQLAlchemy URL); default SQLite under $DAGSTER_HOME or ./.collection/",
)
GENRE_IDS = Variable("COLLECTION_GENRE_IDS", "5,11,12,90,6,1", "Beatport genre ids to collect")
NOT_FOUND_TTL_DAYS = Variable(
    "COLLECTION_NOT_FOUND_TTL_DAYS", "30", "days before a Spotify not-found is searched again"
)
MATCH_RATE_FLOOR = Variable(
    "COLLECTION_MATCH_RATE_FLOOR", "0.5", "match-rate check warns below this share (0..1)"
)
DATABASE_OUTAGE_DEADLINE_S = Variable(
    "COLLECTION_DATABASE_OUTAGE_DEADLINE_S",
    "120",
    "seconds a step rides out an unreachable catalogue database before it fails",
)
SPOTIFY_START_RATE = Variable(
    "COLLECTION_SPOTIFY_START_RATE",
    "5",
    "Spotify requests/s the pacer starts from when it remembers no allowed rate",
)
SPOTIFY_RATE_HORIZON_HOURS = Variable(
    "COLLECTION_SPOTIFY_RATE_HORIZON_HOURS",
    "168",
    "a remembered Spotify rate older than this is re-verified from half its value",
)
EMULATOR_SEED = Variable(
    "COLLECTION_EMULATOR_SEED", "42", "catalogue seed of the embedded emulator"
)
EMULATOR_TRACKS_PER_DAY = Variable(
    "COLLECTION_EMULATOR_TRACKS_PER_DAY", "20", "embedded emulator: tracks per genre per day"
)
EMULATOR_PROFILE = Variable("COLLECTION_EMULATOR_PROFILE", "default", "embedded emulator profile")

BEATPORT_API_URL = Variable(
    "BEATPORT_API_URL", "https://api.beatport.com/v4", "Beatport API v4 base URL (live)"
)
BEATPORT_ACCESS_TOKEN = Variable(
    "BEATPORT_ACCESS_TOKEN", None, "Beatport bearer token (live, required)", secret=True
)
BEATPORT_REFRESH_TOKEN = Variable(
    "BEATPORT_REFRESH_TOKEN", None, "refreshes the token on expiry (live, optional)", secret=True
)
BEATPORT_CLIENT_ID = Variable(
    "BEATPORT_CLIENT_ID", None, "client id for the refresh (live, optional)", secret=True
)
SPOTIFY_API_URL = Variable(
    "SPOTIFY_API_URL", "https://api.spotify.com/v1", "Spotify Web API base URL (live)"
)
SPOTIFY_TOKEN_URL = Variable(
    "SPOTIFY_TOKEN_URL",
    "https://accounts.spotify.com/api/token",
    "Spotify client-credentials token URL (live)",
)
SPOTIFY_CLIENT_ID = Variable(
    "SPOTIFY_CLIENT_ID", None, "Spotify app client id (live, required)", secret=True
)
SPOTIFY_CLIENT_SECRET = Variable(
    "SPOTIFY_CLIENT_SECRET", None, "Spotify app client secret (live, required)", secret=True
)

VARIABLES: tuple[Variable, ...] = (
    SOURCE,
    START_DATE,
    DATABASE_URL,
    GENRE_IDS,
    NOT_FOUND_TTL_DAYS,
    MATCH_RATE_FLOOR,
    DATABASE_OUTAGE_DEADLINE_S,
    SPOTIFY_START_RATE,
    SPOTIFY_RATE_HORIZON_HOURS,
    EMULATOR_SEED,
    EMULATOR_TRACKS_PER_DAY,
    EMULATOR_PROFILE,
    BEATPORT_API_URL,
    BEATPORT_ACCESS_TOKEN,
    BEATPORT_REFRESH_TOKEN,
    BEATPORT_CLIENT_ID,
    SPOTIFY_API_URL,
    SPOTIFY_TOKEN_URL,
    SPOTIFY_CLIENT_ID,
    SPOTIFY_CLIENT_SECRET,
)


class SettingsError(ValueError):
    """A variable holds a value the product cannot use; the message names the variable."""


def source_mode() -> SourceMode:
    value = (SOURCE.get() or "emulator").strip().lower()
    if value not in ("emulator", "live"):
        raise SettingsError(f"{SOURCE.name} must be 'emulator' or 'live', not {value!r}")
    return value  # type: ignore[return-value]


def start_date() -> date:
    raw = START_DATE.get() or "2024-01-01"
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise SettingsError(f"{START_DATE.name} must be a YYYY-MM-DD date, not {raw!r}") from exc


def genre_ids() -> list[int]:
    raw = GENRE_IDS.get() or ""
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise SettingsError(f"{GENRE_IDS.name} must be comma-separated integers: {raw!r}") from exc
    if not ids:
        raise SettingsError(f"{GENRE_IDS.name} names no genre")
    return ids


def _int(variable: Variable) -> int:
    raw = variable.get() or "0"
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{variable.name} must be an integer, not {raw!r}") from exc


def not_found_ttl_days() -> int:
    return _int(NOT_FOUND_TTL_DAYS)


def emulator_seed() -> int:
    return _int(EMULATOR_SEED)


def emulator_tracks_per_day() -> int:
    return _int(EMULATOR_TRACKS_PER_DAY)


def match_rate_floor() -> float:
    raw = MATCH_RATE_FLOOR.get() or "0"
    try:
        floor = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{MATCH_RATE_FLOOR.name} must be a number, not {raw!r}") from exc
    if not 0.0 <= floor <= 1.0:
        raise SettingsError(f"{MATCH_RATE_FLOOR.name} must lie between 0 and 1, not {floor}")
    return floor


def _positive_float(variable: Variable) -> float:
    raw = variable.get() or ""
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{variable.name} must be a number, not {raw!r}") from exc
    if not value > 0:
        raise SettingsError(f"{variable.name} must be greater than 0, not {value:g}")
    return value


def database_outage_deadline_s() -> float:
    return _positive_float(DATABASE_OUTAGE_DEADLINE_S)


def spotify_start_rate() -> float:
    return _positive_float(SPOTIFY_START_RATE)


def spotify_rate_horizon_hours() -> float:
    return _positive_float(SPOTIFY_RATE_HORIZON_HOURS)


def data_directory() -> Path:
    """Where local state lives by default: $DAGSTER_HOME when set, else ./.collection/."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) if home else Path.cwd() / ".collection"


def database_url() -> str:
    """The catalogue URL: COLLECTION_DATABASE_URL, else a SQLite file in the data directory."""
    explicit = DATABASE_URL.get()
    if explicit:
        return explicit
    return f"sqlite:///{(data_directory() / 'catalogue.db').resolve()}"
