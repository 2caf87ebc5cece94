"""Plain HTTP clients of a running emulator, already holding a token: for the tests that
check the emulator's own answers (the pipeline's clients are tested through the clients)."""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient


def beatport_client(base_url: str, timeout: float = 30) -> httpx.Client:
    """An `httpx.Client` on the emulator with a Beatport bearer token in its headers."""
    client = httpx.Client(base_url=base_url, timeout=timeout)
    token = client.post(
        "/v4/auth/o/token/", data={"grant_type": "client_credentials", "client_id": "c"}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def spotify_headers(client: httpx.Client) -> dict[str, str]:
    """Headers with a Spotify bearer token from the emulator `client` points at."""
    token = client.post(
        "/api/token", data={"grant_type": "client_credentials"}, auth=("a", "b")
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


class InProcessTransport(httpx.BaseTransport):
    """Hands every request to an emulator app in this process through Starlette's TestClient.

    The pipeline's clients then run on the clock the app was created with (`create_app(config,
    clock=)`): a test expires a token by moving that clock, never by sleeping past a lifetime.
    """

    def __init__(self, app_client: TestClient) -> None:
        self._app = app_client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._app.request(
            request.method,
            str(request.url),
            headers=request.headers,
            content=request.read(),
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)
