"""testing/ports: ports are held by a socket from the moment they are chosen."""

from __future__ import annotations

import socket

import httpx
import pytest

from collection_pipeline.testing.ports import (
    PortTakenError,
    listening_socket,
    refusing_port,
    retry_if_port_taken,
)
from collection_pipeline.testing.standalone import standalone_emulator


def test_a_listening_socket_holds_its_port_against_another_bind() -> None:
    with listening_socket() as held, socket.socket() as other:
        port = held.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))


def test_a_refusing_port_refuses_connections_and_stays_held() -> None:
    with refusing_port() as port, socket.socket() as client, socket.socket() as other:
        with pytest.raises(ConnectionRefusedError):
            client.connect(("127.0.0.1", port))
        with pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))


def test_a_port_lost_to_another_process_is_retried_on_a_fresh_one() -> None:
    tried: list[int] = []

    def start(port: int) -> int:
        tried.append(port)
        if len(tried) < 3:
            raise PortTakenError(str(port))
        return port

    assert retry_if_port_taken(start) == tried[-1]
    assert len(tried) == 3


def test_retries_end_with_the_last_loss() -> None:
    def start(port: int) -> int:
        raise PortTakenError(str(port))

    with pytest.raises(PortTakenError):
        retry_if_port_taken(start, attempts=2)


def test_the_standalone_emulator_serves_on_the_socket_this_process_holds() -> None:
    with standalone_emulator("--seed", "3") as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        assert httpx.get(f"{base_url}/_emulator/stats", timeout=10).is_success
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))
