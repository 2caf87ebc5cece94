"""Dagster resources: where the APIs are served from, one resource per API, and the catalogue.

`source` says whether the APIs are the embedded emulator (which it starts and stops) or the
real ones; `beatport` and `spotify` each carry their own URL and `EnvVar` secrets. In live
mode the step asks `configuration_error` about the API resources its selected assets call, so
that one error names every missing variable before any request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from collection_pipeline import settings
from collection_pipeline.settings import Variable

if TYPE_CHECKING:
    from collection_pipeline.clients import BeatportAPIClient, SpotifyAPIClient
    from collection_pipeline.service import CollectionService
    from collection_pipeline.storage import Database

EMULATOR_CREDENTIAL = "emulator"


class LiveConfigurationError(dg.Failure):
    """Live mode lacks variables: raised once, naming all of them, before any request."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(description=settings.live_missing_message(missing), allow_retries=False)


class ConfigurationError(dg.Failure):
    """Settings or the database are unusable: one line per problem, never retried."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(description="\n".join(problems), allow_retries=False)


def _default(variable: Variable) -> Any:
    """A field default taken from the variable's declared default, so it is written once."""
    return variable.parse(variable.default or "")


def env_secret(variable: Variable) -> dg.EnvVar | None:
    """An `EnvVar` when the variable is set in this process, else None.

    Dagster fails config resolution on an unset `EnvVar`, which would make definitions that
    merely mention a credential unusable without it; a None is instead reported by the
    run-start validation together with every other missing variable.
    """
    return dg.EnvVar(variable.name) if variable.get() else None


@dataclass(frozen=True)
class BeatportEndpoint:
    api_url: str
    access_token: str
    refresh_token: str | None
    client_id: str | None


@dataclass(frozen=True)
class SpotifyEndpoint:
    api_url: str
    token_url: str
    client_id: str
    client_secret: str


class ApiSourceResource(dg.ConfigurableResource):
    """Whether the APIs are the embedded emulator or the real ones, and the emulator's config.

    It holds no API URL or secret: those belong to each API's resource. In emulator mode its
    setup starts the emulator (the only place the pipeline imports it) and its teardown stops
    it; the step hands `emulator_url` to the API resources. It is a top-level resource, not a
    field of the API resources, because Dagster initialises a nested resource once per parent:
    nested in both it would start two emulators per run.
    """

    mode: Literal["emulator", "live"] = "emulator"
    emulator_profile: str = settings.EMULATOR_PROFILE.default or "default"
    emulator_seed: int = _default(settings.EMULATOR_SEED)
    emulator_tracks_per_day: int = _default(settings.EMULATOR_TRACKS_PER_DAY)

    _emulator_url: str | None = PrivateAttr(default=None)
    _emulator: ExitStack = PrivateAttr(default_factory=ExitStack)

    @classmethod
    def from_env(cls) -> ApiSourceResource:
        """The source mode and emulator config the environment describes."""
        return cls(
            mode=settings.SOURCE.value_or_default(),
            emulator_profile=settings.EMULATOR_PROFILE.value_or_default(),
            emulator_seed=settings.EMULATOR_SEED.value_or_default(),
            emulator_tracks_per_day=settings.EMULATOR_TRACKS_PER_DAY.value_or_default(),
        )

    @property
    def emulator_url(self) -> str | None:
        """The running emulator's base URL; None in live mode (the API resources' own URLs)."""
        return self._emulator_url

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.mode == "live":
            return
        from collection_pipeline.emulator import EmulatorConfig, serve_in_thread

        config = EmulatorConfig(
            profile=self.emulator_profile,
            seed=self.emulator_seed,
            tracks_per_day=self.emulator_tracks_per_day,
        )
        self._emulator_url = self._emulator.enter_context(serve_in_thread(config))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Stop the embedded emulator: a run's server lives exactly as long as its resource."""
        self._emulator.close()
        self._emulator_url = None


def _unset(required: list[tuple[Variable, str | None]]) -> list[str]:
    """The names of the variables whose value is empty, in the given order."""
    return [variable.name for variable, value in required if not value]


class BeatportResource(dg.ConfigurableResource):
    """Beatport API v4: where it is, its credentials, which genres to collect, how hard to crawl."""

    api_url: str = settings.BEATPORT_API_URL.default or ""
    access_token: str | None = None
    refresh_token: str | None = None
    """Optional: with `client_id`, lets the client renew an expired access token."""
    client_id: str | None = None
    genre_ids: list[int] = Field(
        default_factory=lambda: settings.GENRE_IDS.parse(settings.GENRE_IDS.default or "")
    )
    max_concurrency: int = _default(settings.BEATPORT_CONCURRENCY)
    """Concurrent page fetches after a query's first page (bench_beatport: 16 keeps a
    100 ms-latency crawl above 5x the sequential rate; 8 barely reaches it)."""
    page_size: int = 100
    retry_after_cap_s: float = _default(settings.RETRY_AFTER_CAP_S)
    retry_backoff_s: float = _default(settings.RETRY_BACKOFF_S)

    def missing_variables(self) -> list[str]:
        """The variables live mode needs for Beatport and lacks; the refresh pair is optional."""
        return _unset(
            [
                (settings.BEATPORT_API_URL, self.api_url),
                (settings.BEATPORT_ACCESS_TOKEN, self.access_token),
            ]
        )

    def endpoint(self, emulator_url: str | None) -> BeatportEndpoint:
        """The emulator's Beatport when one runs at `emulator_url`, else this resource's own."""
        if emulator_url is not None:
            return BeatportEndpoint(
                f"{emulator_url}/v4", EMULATOR_CREDENTIAL, None, EMULATOR_CREDENTIAL
            )
        missing = self.missing_variables()
        if missing:
            raise LiveConfigurationError(missing)
        return BeatportEndpoint(
            self.api_url, self.access_token or "", self.refresh_token, self.client_id
        )

    def client(self, emulator_url: str | None) -> BeatportAPIClient:
        from collection_pipeline.clients import BeatportAPIClient, HttpPolicy

        endpoint = self.endpoint(emulator_url)
        return BeatportAPIClient(
            endpoint.api_url,
            endpoint.access_token,
            refresh_token=endpoint.refresh_token,
            client_id=endpoint.client_id,
            max_concurrency=self.max_concurrency,
            page_size=self.page_size,
            policy=HttpPolicy(
                retry_after_cap=self.retry_after_cap_s, backoff_base=self.retry_backoff_s
            ),
            credential_names=settings.CREDENTIAL_NAMES,
        )


class SpotifyResource(dg.ConfigurableResource):
    """Spotify Web API: ISRC search with client-credentials authentication."""

    api_url: str = settings.SPOTIFY_API_URL.default or ""
    token_url: str = settings.SPOTIFY_TOKEN_URL.default or ""
    client_id: str | None = None
    client_secret: str | None = None
    max_concurrency: int = _default(settings.SPOTIFY_CONCURRENCY)
    search_limit: int = 10
    retry_after_cap_s: float = _default(settings.RETRY_AFTER_CAP_S)
    retry_backoff_s: float = _default(settings.RETRY_BACKOFF_S)
    match_threshold: float = _default(settings.MATCH_THRESHOLD)
    """Artist-name similarity a candidate needs (fuzzy ratio, 1 to 100)."""
    pacer_start_rate: float = _default(settings.SPOTIFY_START_RATE)
    """Requests/s the pacer starts from when the catalogue remembers no allowed rate."""
    pacer_horizon_hours: float = _default(settings.SPOTIFY_RATE_HORIZON_HOURS)
    """A remembered rate older than this is re-verified instead of enforced."""

    def missing_variables(self) -> list[str]:
        """The variables live mode needs for Spotify and lacks (all four are required)."""
        return _unset(
            [
                (settings.SPOTIFY_API_URL, self.api_url),
                (settings.SPOTIFY_TOKEN_URL, self.token_url),
                (settings.SPOTIFY_CLIENT_ID, self.client_id),
                (settings.SPOTIFY_CLIENT_SECRET, self.client_secret),
            ]
        )

    def endpoint(self, emulator_url: str | None) -> SpotifyEndpoint:
        """The emulator's Spotify when one runs at `emulator_url`, else this resource's own."""
        if emulator_url is not None:
            return SpotifyEndpoint(
                f"{emulator_url}/v1",
                f"{emulator_url}/api/token",
                EMULATOR_CREDENTIAL,
                EMULATOR_CREDENTIAL,
            )
        missing = self.missing_variables()
        if missing:
            raise LiveConfigurationError(missing)
        return SpotifyEndpoint(
            self.api_url, self.token_url, self.client_id or "", self.client_secret or ""
        )

    def client(self, emulator_url: str | None) -> SpotifyAPIClient:
        from collection_pipeline.clients import AdaptivePacer, HttpPolicy, SpotifyAPIClient

        endpoint = self.endpoint(emulator_url)
        pacer = AdaptivePacer(
            max_in_flight=self.max_concurrency,
            initial_rate=self.pacer_start_rate,
            horizon_s=self.pacer_horizon_hours * 3600,
        )
        return SpotifyAPIClient(
            endpoint.api_url,
            endpoint.token_url,
            endpoint.client_id,
            endpoint.client_secret,
            pacer=pacer,
            max_concurrency=self.max_concurrency,
            search_limit=self.search_limit,
            policy=HttpPolicy(
                retry_after_cap=self.retry_after_cap_s, backoff_base=self.retry_backoff_s
            ),
            credential_names=settings.CREDENTIAL_NAMES,
        )


class DatabaseResource(dg.ConfigurableResource):
    """The catalogue database; also where a run learns that its configuration is unusable.

    Every step and sensor tick uses this resource, so its setup is where the settings are
    checked (`configuration_problems`, found when the definitions were loaded) and where the
    URL is connected to: each problem becomes one line of one `ConfigurationError`, the same
    line the CLI's preflight prints. A run brings the schema to head (a read-only revision
    check when it is there already); a tick never migrates, it gets the resource and decides
    from `schema_behind_reason`. A database that is merely unreachable (an outage) is no
    configuration problem: a run waits it out up to `outage_deadline_s` (in its setup as in
    its step), and a tick gets the resource anyway and skips, naming the outage
    (`unreachable_reason`).
    """

    url: str
    not_found_ttl_days: int = _default(settings.NOT_FOUND_TTL_DAYS)
    outage_deadline_s: float = _default(settings.DATABASE_OUTAGE_DEADLINE_S)
    """How long a step rides out an unreachable database (retrying its unit of work)."""
    configuration_problems: list[str] = Field(default_factory=list)
    """Settings that did not parse when the definitions were loaded, one line each."""

    _database: Database | None = PrivateAttr(default=None)
    _problems: list[str] = PrivateAttr(default_factory=list)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from collection_pipeline import preflight
        from collection_pipeline.storage import Database, OutagePolicy

        problems = list(self.configuration_problems)
        if not problems:
            try:
                settings.DATABASE_URL.check(self.url)
            except settings.SettingsError as exc:
                problems = [str(exc)]
        if not problems:
            unreachable = preflight.database_problem(self.url)
            if unreachable and not _in_an_outage(self.url):
                problems.append(unreachable)
        if problems:
            self._problems = problems  # raised where the resource is used: see `database`
            return
        database = Database(self.url, outage=OutagePolicy(self.outage_deadline_s))
        if context.run is not None:
            database.upgrade()
        self._database = database

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._database is not None:
            self._database.dispose()
            self._database = None

    def configuration_error(self) -> ConfigurationError | None:
        """The problems setup found in the settings and the database URL, as one error."""
        return ConfigurationError(self._problems) if self._problems else None

    @property
    def database(self) -> Database:
        """The catalogue; raises the `ConfigurationError` that setup found, if it found one.

        Raised here, inside the step, rather than from setup: Dagster retries a step whose
        resources fail to initialize by its retry policy whatever the error (three retries over
        minutes for a typo) and prints the error again with each attempt and wrapped in its
        own exceptions, while a `Failure` raised by the step with `allow_retries=False` fails it
        once, as one error. The step asks `configuration_error` first; sensors and checks,
        which use the catalogue directly, meet the error here.
        """
        problem = self.configuration_error()
        if problem is not None:
            raise problem
        if self._database is None:
            raise dg.DagsterInvariantViolationError("DatabaseResource used before setup")
        return self._database

    @property
    def not_found_ttl(self) -> timedelta:
        return timedelta(days=self.not_found_ttl_days)

    def unreachable_reason(self) -> str | None:
        """One line when the catalogue database is unreachable right now, else None."""
        return self.database.unreachable_reason()

    def schema_behind_reason(self) -> str | None:
        """One line when the catalogue schema is behind this code's migrations, else None.

        Only a tick can meet it (a run migrates while it sets up), and a tick never migrates:
        a sensor that reads the catalogue skips, a schedule still requests its run, which
        brings the schema up. Ask only once `unreachable_reason` is None.
        """
        current, head = self.database.current_revision(), self.database.head_revision()
        if current == head:
            return None
        return (
            f"the catalogue schema is behind (revision {current or 'none'}, latest {head}); "
            "the next run or `collection-pipeline migrate` brings it up"
        )


def _in_an_outage(url: str) -> bool:
    """Is the database at `url` failing only because it is unreachable (waiting may fix it)?"""
    import sqlalchemy as sa

    from collection_pipeline.storage import Database

    try:
        database = Database(url)
    except OSError:
        return False
    try:
        return database.unreachable_reason() is not None
    except sa.exc.DBAPIError:
        return False
    finally:
        database.dispose()


def configuration_error(
    database: DatabaseResource,
    source: ApiSourceResource,
    apis: Iterable[BeatportResource | SpotifyResource],
) -> dg.Failure | None:
    """What makes a step calling `apis` unusable as configured, as the one error it fails with.

    `apis` are the resources of the APIs the step will call (the assets layer knows which its
    selection needs); in live mode every variable they lack is named in one error. Returned
    for the step to raise from its own body, before it opens anything. Dagster prints and
    records a step's error with its traceback, from Dagster's step executor down to the
    `raise` (seven frames of Dagster's, on the console and in the UI, twice: the run's failure
    repeats its first step's); raised inside these helpers, or inside a `with`, it would carry
    three or four frames of ours besides, where raised by the step it carries one line.
    """
    problem = database.configuration_error()
    if problem is not None:
        return problem
    missing = [name for api in apis for name in api.missing_variables()]
    return LiveConfigurationError(missing) if source.mode == "live" and missing else None


@contextmanager
def collection_service(
    database: DatabaseResource,
    source: ApiSourceResource,
    run_id: str,
    *,
    beatport: BeatportResource | None = None,
    spotify: SpotifyResource | None = None,
) -> Iterator[CollectionService]:
    """A `CollectionService` over the resources, closing the clients it opened on exit."""
    from collection_pipeline.matching import Matcher
    from collection_pipeline.service import CollectionService

    with ExitStack() as stack:
        yield CollectionService(
            database.database.unit_of_work,
            run_id=run_id,
            beatport=(
                stack.enter_context(beatport.client(source.emulator_url)) if beatport else None
            ),
            spotify=stack.enter_context(spotify.client(source.emulator_url)) if spotify else None,
            matcher=Matcher(spotify.match_threshold) if spotify else None,
            not_found_ttl=database.not_found_ttl,
        )


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    """The four resources as the environment describes them; secrets stay `EnvVar`s.

    Loading never fails on a bad value: a bad variable falls back to its default here and is
    reported, one line each, when a run or a sensor sets up `database`.
    """
    return {
        "source": ApiSourceResource.from_env(),
        "beatport": BeatportResource(
            api_url=settings.BEATPORT_API_URL.get() or "",
            access_token=env_secret(settings.BEATPORT_ACCESS_TOKEN),
            refresh_token=env_secret(settings.BEATPORT_REFRESH_TOKEN),
            client_id=env_secret(settings.BEATPORT_CLIENT_ID),
            genre_ids=settings.GENRE_IDS.value_or_default(),
            max_concurrency=settings.BEATPORT_CONCURRENCY.value_or_default(),
            retry_after_cap_s=settings.RETRY_AFTER_CAP_S.value_or_default(),
            retry_backoff_s=settings.RETRY_BACKOFF_S.value_or_default(),
        ),
        "spotify": SpotifyResource(
            api_url=settings.SPOTIFY_API_URL.get() or "",
            token_url=settings.SPOTIFY_TOKEN_URL.get() or "",
            client_id=env_secret(settings.SPOTIFY_CLIENT_ID),
            client_secret=env_secret(settings.SPOTIFY_CLIENT_SECRET),
            max_concurrency=settings.SPOTIFY_CONCURRENCY.value_or_default(),
            retry_after_cap_s=settings.RETRY_AFTER_CAP_S.value_or_default(),
            retry_backoff_s=settings.RETRY_BACKOFF_S.value_or_default(),
            match_threshold=settings.MATCH_THRESHOLD.value_or_default(),
            pacer_start_rate=settings.SPOTIFY_START_RATE.value_or_default(),
            pacer_horizon_hours=settings.SPOTIFY_RATE_HORIZON_HOURS.value_or_default(),
        ),
        "database": DatabaseResource(
            url=env_secret(settings.DATABASE_URL) or settings.database_url(),
            not_found_ttl_days=settings.NOT_FOUND_TTL_DAYS.value_or_default(),
            outage_deadline_s=settings.DATABASE_OUTAGE_DEADLINE_S.value_or_default(),
            configuration_problems=[str(problem) for problem in settings.problems()],
        ),
    }
