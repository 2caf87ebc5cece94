"""Token caches without HTTP: what a token endpoint's answers and refusals do to them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from collection_pipeline.clients.auth import BeatportCredentials, SpotifyCredentials
from collection_pipeline.clients.errors import AuthenticationError, TransientError


class TokenEndpoint:
    """Answers each token request with the next of `answers` (an exception is raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.forms: list[Mapping[str, str]] = []

    def __call__(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> Any:
        self.forms.append(form)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_malformed_token_answer_is_a_refusal_remembered_without_asking_again() -> None:
    endpoint = TokenEndpoint(["not", "a", "token"])
    credentials = SpotifyCredentials("http://t", "id", "secret", endpoint)
    for _ in range(2):
        with pytest.raises(AuthenticationError) as caught:
            credentials.token()
        assert str(caught.value) == (
            "Spotify token request failed (unexpected token response: TypeError); "
            "check the Spotify client id and the Spotify client secret"
        )
    assert len(endpoint.forms) == 1


def test_a_retryable_failure_is_not_remembered() -> None:
    endpoint = TokenEndpoint(TransientError("503", status=503), {"access_token": "T"})
    credentials = SpotifyCredentials("http://t", "id", "secret", endpoint)
    with pytest.raises(TransientError):
        credentials.token()
    assert credentials.token() == "T"


def test_a_beatport_refresh_keeps_the_rotated_refresh_token() -> None:
    endpoint = TokenEndpoint(
        {"access_token": "A2", "refresh_token": "R2", "expires_in": 600},
        {"access_token": "A3"},
    )
    credentials = BeatportCredentials("http://t", "A1", "R1", "C", endpoint)
    credentials.refresh("A1")
    credentials.refresh("A2")
    assert credentials.token() == "A3"
    assert [form["refresh_token"] for form in endpoint.forms] == ["R1", "R2"]
    assert set(credentials.secrets()) == {"A3", "R2", "C"}
