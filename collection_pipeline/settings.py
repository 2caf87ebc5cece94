"""Every environment variable of the product, with its type, default and meaning, in one place.

This is the only module that reads the environment. Each `Variable` knows how to parse and
check its value; a bad value raises a `SettingsError` whose message is one line naming the
variable, what is wrong with the value and how to fix it, so the CLI's preflight, the
resources and the README's configuration table (`python -m collection_pipeline.settings`)
all say the same thing.

Values are read lazily, so tests and the CLI can change the environment before definitions
are loaded and a run worker re-reads it in its own process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

SourceMode = Literal["emulator", "live"]


class SettingsError(ValueError):
    """A variable holds a value the product cannot use: one line, variable, problem and fix."""

    def __init__(self, name: str, shown: str, problem: str, fix: str) -> None:
        self.name = name
        super().__init__(f"{name}={shown}: {problem}; {fix}")


class InvalidValueError(ValueError):
    """Raised by a parser: `problem` says what is wrong, `fix` (optional) what to write."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, type, default, meaning and whether it is secret."""

    name: str
    default: str | None
    description: str
    secret: bool = False
    kind: str = "text"
    """The type as the README shows it (text, integer, number, date, URL, ...)."""
    parse: Callable[[str], Any] = str
    """Turns the raw text into the typed value; raises `InvalidValueError` when it cannot."""
    display: Callable[[str], str] | None = None
    """How a secret value may appear in an error (default: not at all, `***`)."""

    def get(self) -> str | None:
        """The raw value, or the default; an empty string counts as unset."""
        return os.environ.get(self.name) or self.default

    def is_set(self) -> bool:
        return bool(os.environ.get(self.name))

    def value(self) -> Any:
        """The typed value (None when unset without a default), or a one-line SettingsError."""
        raw = self.get()
        return None if raw is None else self.check(raw)

    def check(self, raw: str) -> Any:
        """`raw` parsed as this variable's type, or the one-line SettingsError for it."""
        try:
            return self.parse(raw.strip())
        except InvalidValueError as exc:
            shown = repr(raw)
            if self.secret:
                shown = repr(self.display(raw)) if self.display else "***"
            default = f"unset it for the default {self.default}" if self.default else None
            fix = exc.fix or f"set it to {self.kind_phrase()}"
            raise SettingsError(
                self.name, shown, exc.problem, f"{fix}, or {default}" if default else fix
            ) from None

    def value_or_default(self) -> Any:
        """The typed value, or the typed default when the value is bad.

        For code that must not fail while loading (the definitions): the bad value is
        reported by `problems()` when a run or the CLI checks the settings.
        """
        try:
            return self.value()
        except SettingsError:
            return self.default_value()

    def default_value(self) -> Any:
        """The typed default (None without one): the single source of every default that
        resources, the CLI and the test harnesses start from, so none writes it again."""
        return None if self.default is None else self.parse(self.default)

    def kind_phrase(self) -> str:
        return _KIND_PHRASES.get(self.kind, self.kind)


_KIND_PHRASES = {
    "integer": "a whole number",
    "number": "a number",
    "date": "a date such as 2024-01-01",
    "URL": "an http(s):// URL",
}


# ---------------------------------------------------------------- parsers


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in options:
            raise InvalidValueError(
                f"not one of {', '.join(options)}", f"set it to {' or '.join(options)}"
            )
        return value

    return parse


def _integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidValueError("not a whole number") from None
        _check_range(value, low, high)
        return value

    return parse


def _number(
    low: float | None = None, high: float | None = None, *, above: float | None = None
) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise InvalidValueError("not a number") from None
        if value != value:  # NaN
            raise InvalidValueError("not a number")
        if above is not None and not value > above:
            raise InvalidValueError(
                f"must be greater than {above:g}", f"set it to a number above {above:g}"
            )
        _check_range(value, low, high)
        return value

    return parse


def _check_range(value: float, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and not low <= value <= high:
        raise InvalidValueError(
            f"must lie between {low:g} and {high:g}",
            f"set it to a value from {low:g} to {high:g}",
        )
    if low is not None and value < low:
        raise InvalidValueError(f"must be at least {low:g}", f"set it to {low:g} or more")
    if high is not None and value > high:
        raise InvalidValueError(f"must be at most {high:g}", f"set it to {high:g} or less")


def _iso_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidValueError("not a YYYY-MM-DD date") from None


def _genre_ids(raw: str) -> list[int]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    fix = "set it to comma-separated Beatport genre ids such as 5,11,12"
    if not parts:
        raise InvalidValueError("names no genre", fix)
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise InvalidValueError("not a comma-separated list of positive integers", fix)
    return [int(part) for part in parts]


def _redacted_url(raw: str) -> str:
    """A database URL with its password replaced by ***, or the text as is if it is no URL."""
    import sqlalchemy as sa

    try:
        return sa.make_url(raw).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return raw if "@" not in raw else "***"


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidValueError("not an http(s):// URL")
    return raw.rstrip("/")


def _database_url(raw: str) -> str:
    """A SQLAlchemy URL of a supported engine and driver, with the driver named for PostgreSQL.

    SQLAlchemy 2.1 maps `postgresql://` to psycopg 3, which is not installed, and refuses
    `postgres://` outright; both are rejected here with the spelling that works.
    """
    import sqlalchemy as sa

    fix = (
        "write it as postgresql+psycopg2://USER:PASSWORD@HOST:5432/DATABASE "
        "or sqlite:////absolute/path/catalogue.db"
    )
    try:
        url = sa.make_url(raw)
    except sa.exc.ArgumentError:
        raise InvalidValueError("not a database URL", fix) from None
    scheme = raw.split("://", 1)[0]
    if scheme in ("postgres", "postgresql"):
        raise InvalidValueError(
            f"{scheme}:// names no installed driver",
            f"write postgresql+psycopg2:// instead of {scheme}://",
        )
    if url.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg2"):
        raise InvalidValueError(f"the driver {url.drivername} is not supported", fix)
    if url.get_backend_name() == "postgresql" and not url.host:
        raise InvalidValueError("names no host", fix)
    return raw


# ---------------------------------------------------------------- the variables

SOURCE = Variable(
    "COLLECTION_SOURCE",
    "emulator",
    "`emulator` serves both APIs from the bundled emulator inside the run; `live` uses the "
    "URLs and credentials below and fails before any request, naming every missing variable",
    kind="emulator or live",
    parse=_choice("emulator", "live"),
)
START_DATE = Variable(
    "COLLECTION_START_DATE",
    "2024-01-01",
    "first daily partition (UTC)",
    kind="date",
    parse=_iso_date,
)
DATABASE_URL = Variable(
    "COLLECTION_DATABASE_URL",
    None,
    "the catalogue database (SQLAlchemy URL), e.g. "
    "`postgresql+psycopg2://user:pass@host:5432/catalogue`; default: SQLite file "
    "`catalogue.db` in `DAGSTER_HOME`",
    secret=True,
    kind="database URL",
    parse=_database_url,
    display=_redacted_url,
)
GENRE_IDS = Variable(
    "COLLECTION_GENRE_IDS",
    "5,11,12,90,6,1",
    "Beatport genre ids to collect (House, Tech House, Deep House, Melodic House & Techno, "
    "Techno (Peak Time / Driving), Drum & Bass)",
    kind="integer list",
    parse=_genre_ids,
)
NOT_FOUND_TTL_DAYS = Variable(
    "COLLECTION_NOT_FOUND_TTL_DAYS",
    "30",
    "days before a Spotify not-found is searched again",
    kind="integer",
    parse=_integer(low=0),
)
MATCH_RATE_FLOOR = Variable(
    "COLLECTION_MATCH_RATE_FLOOR",
    "0.5",
    "the match-rate check warns below this share of found tracks",
    kind="number",
    parse=_number(0.0, 1.0),
)
FRESHNESS_DEADLINE_HOUR = Variable(
    "COLLECTION_FRESHNESS_DEADLINE_HOUR",
    "6",
    "hour of the day (UTC) by which yesterday's partition must be materialized (freshness check)",
    kind="integer",
    parse=_integer(0, 23),
)
MATCH_THRESHOLD = Variable(
    "COLLECTION_MATCH_THRESHOLD",
    "90",
    "artist-name similarity (fuzzy ratio, 1 to 100) a Spotify candidate needs to match",
    kind="number",
    parse=_number(1.0, 100.0),
)
BEATPORT_CONCURRENCY = Variable(
    "COLLECTION_BEATPORT_CONCURRENCY",
    "16",
    "concurrent Beatport page requests after a query's first page",
    kind="integer",
    parse=_integer(1, 64),
)
SPOTIFY_CONCURRENCY = Variable(
    "COLLECTION_SPOTIFY_CONCURRENCY",
    "32",
    "most Spotify searches in flight at once (the pacer sets the rate below it)",
    kind="integer",
    parse=_integer(1, 256),
)
RETRY_AFTER_CAP_S = Variable(
    "COLLECTION_RETRY_AFTER_CAP_S",
    "120",
    "longest `Retry-After` the clients wait; a longer one fails the step as retryable",
    kind="number",
    parse=_number(above=0.0),
)
RETRY_BACKOFF_S = Variable(
    "COLLECTION_RETRY_BACKOFF_S",
    "0.5",
    "longest wait before the first retry of a 5xx, timeout or malformed answer (jittered); it "
    "doubles per retry, up to 30 s",
    kind="number",
    parse=_number(above=0.0),
)
DATABASE_OUTAGE_DEADLINE_S = Variable(
    "COLLECTION_DATABASE_OUTAGE_DEADLINE_S",
    "120",
    "seconds a step rides out an unreachable catalogue database before it fails",
    kind="number",
    parse=_number(above=0.0),
)
SPOTIFY_START_RATE = Variable(
    "COLLECTION_SPOTIFY_START_RATE",
    "5",
    "Spotify requests/s the pacer starts from when it remembers no allowed rate",
    kind="number",
    parse=_number(above=0.0),
)
SPOTIFY_RATE_HORIZON_HOURS = Variable(
    "COLLECTION_SPOTIFY_RATE_HORIZON_HOURS",
    "168",
    "a remembered Spotify rate older than this is re-verified from half its value",
    kind="number",
    parse=_number(above=0.0),
)
EMULATOR_SEED = Variable(
    "COLLECTION_EMULATOR_SEED",
    "42",
    "catalogue seed of the embedded emulator",
    kind="integer",
    parse=_integer(),
)
EMULATOR_TRACKS_PER_DAY = Variable(
    "COLLECTION_EMULATOR_TRACKS_PER_DAY",
    "20",
    "embedded emulator: tracks per genre per day",
    kind="integer",
    parse=_integer(1, 1000),
)
EMULATOR_PROFILE = Variable(
    "COLLECTION_EMULATOR_PROFILE",
    "default",
    "embedded emulator profile (see the emulator command)",
)
BEATPORT_API_URL = Variable(
    "BEATPORT_API_URL",
    "https://api.beatport.com/v4",
    "Beatport API v4 base URL",
    kind="URL",
    parse=_http_url,
)
BEATPORT_ACCESS_TOKEN = Variable(
    "BEATPORT_ACCESS_TOKEN", None, "Beatport bearer token (live mode, required)", secret=True
)
BEATPORT_REFRESH_TOKEN = Variable(
    "BEATPORT_REFRESH_TOKEN",
    None,
    "refreshes the access token when it expires or is refused (live, optional)",
    secret=True,
)
BEATPORT_CLIENT_ID = Variable(
    "BEATPORT_CLIENT_ID", None, "client id for that refresh (live, optional)", secret=True
)
SPOTIFY_API_URL = Variable(
    "SPOTIFY_API_URL",
    "https://api.spotify.com/v1",
    "Spotify Web API base URL",
    kind="URL",
    parse=_http_url,
)
SPOTIFY_TOKEN_URL = Variable(
    "SPOTIFY_TOKEN_URL",
    "https://accounts.spotify.com/api/token",
    "Spotify client-credentials token URL",
    kind="URL",
    parse=_http_url,
)
SPOTIFY_CLIENT_ID = Variable(
    "SPOTIFY_CLIENT_ID", None, "Spotify app client id (live mode, required)", secret=True
)
SPOTIFY_CLIENT_SECRET = Variable(
    "SPOTIFY_CLIENT_SECRET", None, "Spotify app client secret (live mode, required)", secret=True
)
DAGSTER_HOME = Variable(
    "DAGSTER_HOME",
    None,
    "the Dagster instance folder shared by the CLI, `dagster dev` and the default catalogue; "
    "default: `.collection/dagster_home` in the project folder (or the working directory)",
    kind="path",
)

VARIABLES: tuple[Variable, ...] = (
    SOURCE,
    DATABASE_URL,
    START_DATE,
    GENRE_IDS,
    NOT_FOUND_TTL_DAYS,
    MATCH_RATE_FLOOR,
    FRESHNESS_DEADLINE_HOUR,
    MATCH_THRESHOLD,
    BEATPORT_CONCURRENCY,
    SPOTIFY_CONCURRENCY,
    RETRY_AFTER_CAP_S,
    RETRY_BACKOFF_S,
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
    DAGSTER_HOME,
)

LIVE_REQUIRED = {
    "beatport": (BEATPORT_API_URL, BEATPORT_ACCESS_TOKEN),
    "spotify": (SPOTIFY_API_URL, SPOTIFY_TOKEN_URL, SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET),
}
"""What live mode needs per API; the refresh token and its client id are optional."""

CREDENTIAL_NAMES: Mapping[str, str] = {
    "beatport_access_token": BEATPORT_ACCESS_TOKEN.name,
    "beatport_refresh_token": BEATPORT_REFRESH_TOKEN.name,
    "beatport_client_id": BEATPORT_CLIENT_ID.name,
    "spotify_client_id": SPOTIFY_CLIENT_ID.name,
    "spotify_client_secret": SPOTIFY_CLIENT_SECRET.name,
}
"""The variable that sets each credential of `clients.auth.CREDENTIALS`: the clients name the
credential, and the layer that builds them from settings passes these so that an
authentication error names the variable to fix."""


def problems(variables: Iterable[Variable] = VARIABLES) -> list[SettingsError]:
    """Every variable whose value does not parse, in declaration order."""
    found = []
    for variable in variables:
        try:
            variable.value()
        except SettingsError as exc:
            found.append(exc)
    return found


def missing_live_variables(apis: Iterable[str] = ("beatport", "spotify")) -> list[str]:
    """Required live-mode variables without a value, for the given APIs."""
    return [v.name for api in apis for v in LIVE_REQUIRED[api] if not v.get()]


def live_missing_message(missing: list[str]) -> str:
    """The one line both the CLI and the resources print when live mode lacks variables."""
    return (
        f"COLLECTION_SOURCE=live: {', '.join(missing)} not set; set them (README 'Going live') "
        "or unset COLLECTION_SOURCE to use the bundled emulator"
    )


# ---------------------------------------------------------------- typed accessors


def source_mode() -> SourceMode:
    return SOURCE.value()  # type: ignore[no-any-return]


def start_date() -> date:
    return START_DATE.value()  # type: ignore[no-any-return]


def genre_ids() -> list[int]:
    return GENRE_IDS.value()  # type: ignore[no-any-return]


def not_found_ttl_days() -> int:
    return NOT_FOUND_TTL_DAYS.value()  # type: ignore[no-any-return]


def match_rate_floor() -> float:
    return MATCH_RATE_FLOOR.value()  # type: ignore[no-any-return]


def freshness_deadline_hour() -> int:
    return FRESHNESS_DEADLINE_HOUR.value()  # type: ignore[no-any-return]


def match_threshold() -> float:
    return MATCH_THRESHOLD.value()  # type: ignore[no-any-return]


def retry_after_cap_s() -> float:
    return RETRY_AFTER_CAP_S.value()  # type: ignore[no-any-return]


def emulator_seed() -> int:
    return EMULATOR_SEED.value()  # type: ignore[no-any-return]


def emulator_tracks_per_day() -> int:
    return EMULATOR_TRACKS_PER_DAY.value()  # type: ignore[no-any-return]


def project_root() -> Path | None:
    """The checkout holding dagster.yaml: the package's parent (editable install) or cwd upward."""
    candidates = [Path(__file__).resolve().parent.parent, Path.cwd(), *Path.cwd().parents]
    for folder in candidates:
        if (folder / "dagster.yaml").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return None


def dagster_home(root: Path | None = None) -> Path:
    """DAGSTER_HOME when set, else `.collection/dagster_home` in the project folder (or cwd).

    The CLI exports this value before it starts Dagster, and the default catalogue lives in
    it, so the CLI, `dagster dev` and `dagster asset materialize` agree without any setup.
    """
    configured = DAGSTER_HOME.get()
    if configured:
        return Path(configured).expanduser().resolve()
    base = root or project_root() or Path.cwd()
    return (base / ".collection" / "dagster_home").resolve()


def export_dagster_home(home: Path) -> None:
    """Make `home` the DAGSTER_HOME of this process and of the Dagster processes it starts."""
    os.environ[DAGSTER_HOME.name] = str(home)


def database_url() -> str:
    """The catalogue URL: COLLECTION_DATABASE_URL, else a SQLite file in DAGSTER_HOME."""
    explicit = DATABASE_URL.get()
    if explicit:
        return explicit
    return f"sqlite:///{dagster_home() / 'catalogue.db'}"


# ---------------------------------------------------------------- README table


def markdown_table() -> str:
    """The README's configuration table, generated from `VARIABLES`."""
    lines = [
        "| variable | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for variable in VARIABLES:
        default = f"`{variable.default}`" if variable.default else "-"
        kind = variable.kind + (", secret" if variable.secret else "")
        lines.append(f"| `{variable.name}` | {kind} | {default} | {variable.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
