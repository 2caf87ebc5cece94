"""Bearer tokens for both services: cached, renewed before expiry, refreshed once after a 401.

Secrets live only in these objects and in request headers; reprs mask them, and every message
names the credential to fix instead of echoing a value. The clients know credentials, not where
they come from: a message says "the Spotify client secret" unless the caller names them
(`credential_names`, which the settings layer fills with the environment variables).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from collection_pipeline.clients.errors import ApiError, AuthenticationError

CREDENTIALS: Mapping[str, str] = {
    "beatport_access_token": "the Beatport access token",
    "beatport_refresh_token": "the Beatport refresh token",
    "beatport_client_id": "the Beatport client id",
    "spotify_client_id": "the Spotify client id",
    "spotify_client_secret": "the Spotify client secret",
}
"""Every credential a client holds, and what its messages call it when not told otherwise."""

PostForm = Callable[[str, Mapping[str, str], Mapping[str, str]], Any]
"""(url, form fields, headers) -> decoded JSON; the client's policy sender, unauthenticated."""


def mask(secret: str | None) -> str:
    return "None" if secret is None else "'***'"


def credential_namer(names: Mapping[str, str] | None) -> Callable[[str], str]:
    """What messages call each credential: `names` (credential -> e.g. a variable name) over
    the plain descriptions of CREDENTIALS."""
    known = {**CREDENTIALS, **(names or {})}
    return known.__getitem__


class _CachedToken:
    """A token renewed `renew_margin_s` before expiry (at most a quarter of its lifetime early)."""

    _rejected: str
    """What `rejected_message` says; each service's subclass words it."""

    def __init__(
        self,
        clock: Callable[[], float],
        renew_margin_s: float,
        credential_names: Mapping[str, str] | None,
    ) -> None:
        self._name = credential_namer(credential_names)
        self._lock = threading.Lock()
        self._clock = clock
        self._renew_margin_s = renew_margin_s
        self._token: str | None = None
        self._renew_at = float("inf")
        self._failure: AuthenticationError | None = None

    def _store(self, token: str, expires_in: float | None) -> None:
        self._token = token
        if expires_in:
            margin = min(self._renew_margin_s, expires_in / 4)
            self._renew_at = self._clock() + expires_in - margin
        else:
            self._renew_at = float("inf")

    def rejected_message(self) -> str:
        """Why a token the endpoint has just issued was refused (401), and what to check."""
        return self._rejected

    def secrets(self) -> tuple[str, ...]:
        """Every secret held, the current token included, to mask in echoed error bodies."""
        return tuple(s for s in (*self._credentials(), self._token) if s)

    def _credentials(self) -> tuple[str | None, ...]:
        raise NotImplementedError

    def _needs_renewal(self) -> bool:
        return self._token is None or self._clock() >= self._renew_at

    def _renew(
        self, request: Callable[[], Any], *, default_lifetime_s: float, failed: str, hint: str
    ) -> Mapping[str, Any]:
        """Store the token the endpoint answers `request()` with; that answer.

        A refusal is remembered and raised again without asking (wrong credentials stay wrong:
        do not hammer the token endpoint), as an AuthenticationError saying what `failed`, why,
        and the `hint`; a retryable error passes through, not remembered.
        """
        if self._failure is not None:
            raise self._failure
        try:
            body = request()
            token = str(body["access_token"])
            self._store(token, float(body.get("expires_in") or default_lifetime_s))
        except (ApiError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ApiError) and exc.retryable:
                raise
            self._failure = AuthenticationError(f"{failed} ({_reason(exc)}); {hint}")
            raise self._failure from None
        return body


class SpotifyCredentials(_CachedToken):
    """Client-credentials flow (HTTP Basic) for the Spotify Web API."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        post_form: PostForm,
        *,
        clock: Callable[[], float] = time.monotonic,
        renew_margin_s: float = 60.0,
        credential_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(clock, renew_margin_s, credential_names)
        if not client_id or not client_secret:
            missing = [
                self._name(credential)
                for credential, value in (
                    ("spotify_client_id", client_id),
                    ("spotify_client_secret", client_secret),
                )
                if not value
            ]
            raise AuthenticationError(f"Spotify credentials missing: set {', '.join(missing)}")
        self._hint = (
            f"check {self._name('spotify_client_id')} and {self._name('spotify_client_secret')}"
        )
        self._rejected = f"Spotify rejected a freshly issued access token (401); {self._hint}"
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._post_form = post_form

    def __repr__(self) -> str:
        return (
            f"SpotifyCredentials(token_url={self._token_url!r}, client_id={mask(self._client_id)}, "
            f"client_secret={mask(self._client_secret)})"
        )

    def token(self) -> str:
        with self._lock:
            if self._needs_renewal():
                self._fetch()
            assert self._token is not None
            return self._token

    def refresh(self, stale: str) -> None:
        with self._lock:
            if self._token == stale:
                self._fetch()

    def _credentials(self) -> tuple[str | None, ...]:
        return self._client_id, self._client_secret

    def _fetch(self) -> None:
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        self._renew(
            lambda: self._post_form(
                self._token_url,
                {"grant_type": "client_credentials"},
                {"Authorization": f"Basic {basic}"},
            ),
            default_lifetime_s=3600,
            failed="Spotify token request failed",
            hint=self._hint,
        )


class BeatportCredentials(_CachedToken):
    """A Beatport access token, refreshed through refresh token + client id when configured."""

    def __init__(
        self,
        token_url: str,
        access_token: str | None,
        refresh_token: str | None,
        client_id: str | None,
        post_form: PostForm,
        *,
        clock: Callable[[], float] = time.monotonic,
        renew_margin_s: float = 60.0,
        credential_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(clock, renew_margin_s, credential_names)
        access, refresh, client = (
            self._name(f"beatport_{credential}")
            for credential in ("access_token", "refresh_token", "client_id")
        )
        self._without_refresh = f"renew {access}, or set {refresh} and {client}"
        self._check_refresh = f"check {refresh} and {client}"
        self._rejected = (
            f"Beatport rejected a freshly refreshed access token (401); {self._check_refresh}"
        )
        self._access_name = access
        self._token_url = token_url
        self._token = access_token or None
        self._refresh_token = refresh_token or None
        self._client_id = client_id or None
        self._post_form = post_form
        if self._token is None and not self.can_refresh:
            raise AuthenticationError(
                f"Beatport credentials missing: set {access}, or {refresh} and {client}"
            )

    def __repr__(self) -> str:
        return (
            f"BeatportCredentials(token_url={self._token_url!r}, access_token={mask(self._token)},"
            f" refresh_token={mask(self._refresh_token)}, client_id={mask(self._client_id)})"
        )

    @property
    def can_refresh(self) -> bool:
        return self._refresh_token is not None and self._client_id is not None

    def token(self) -> str:
        with self._lock:
            if self._needs_renewal() and (self._token is None or self.can_refresh):
                self._refresh()
            assert self._token is not None
            return self._token

    def refresh(self, stale: str) -> None:
        with self._lock:
            if self._token != stale:
                return  # another worker refreshed already
            if not self.can_refresh:
                raise AuthenticationError(
                    f"Beatport rejected {self._access_name} (401) and no refresh is configured: "
                    f"{self._without_refresh}"
                )
            self._refresh()

    def _credentials(self) -> tuple[str | None, ...]:
        return self._refresh_token, self._client_id

    def _refresh(self) -> None:
        assert self._refresh_token is not None
        assert self._client_id is not None
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self._client_id,
        }
        body = self._renew(
            lambda: self._post_form(self._token_url, form, {}),
            default_lifetime_s=36000,
            failed="Beatport token refresh failed",
            hint=self._check_refresh,
        )
        self._refresh_token = str(body.get("refresh_token") or self._refresh_token)


def _reason(exc: Exception) -> str:
    """A short, secret-free reason: the status for API errors, the type otherwise."""
    status = getattr(exc, "status", None)
    if status is not None:
        return f"status {status}"
    if isinstance(exc, AuthenticationError):
        return "401 Unauthorized"
    return f"unexpected token response: {type(exc).__name__}"
