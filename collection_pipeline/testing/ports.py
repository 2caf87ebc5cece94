"""Loopback ports that stay ours: a socket is bound, and kept open, before anyone uses its port.

Binding port 0, closing the socket and handing the number on races: between the close and the
server's own bind another process may take the port. So a server that can take a socket is
given one already bound and listening (`listening_socket`: uvicorn's `fd=` in a subprocess,
`Server.run(sockets=[...])` in process); a port that must refuse connections stays bound without
listening (`refusing_port`); and only a subprocess that takes nothing but a port number
(`dagster dev`, `dagster api grpc`) gets a number that was free a moment ago, and a fresh one
when it reports the port taken (`retry_if_port_taken`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

LOOPBACK = "127.0.0.1"
PORT_TAKEN_ATTEMPTS = 5

T = TypeVar("T")


def listening_socket(host: str = LOOPBACK) -> socket.socket:
    """A TCP socket listening on a free port of `host`; the caller keeps it open, then closes it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def refusing_port(host: str = LOOPBACK) -> Iterator[int]:
    """A port bound but not listening for the block: a connection to it is refused, like a
    server that is down, and no other process can start listening on it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield sock.getsockname()[1]


class PortTakenError(RuntimeError):
    """A subprocess could not bind the port it was given: someone took it first."""


def retry_if_port_taken(start: Callable[[int], T], attempts: int = PORT_TAKEN_ATTEMPTS) -> T:
    """`start(port)` on a port that was free a moment ago, again on a fresh one each time it
    raises PortTakenError (at most `attempts` times).

    Only for subprocesses that take a port number and no socket: the number is free when
    chosen but not held, so `start` must detect the lost race and say so.
    """
    for _ in range(attempts - 1):
        try:
            return start(_port_free_now())
        except PortTakenError:
            continue
    return start(_port_free_now())


def _port_free_now() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]
