"""`python -m collection_pipeline.emulator` in its own process, on a socket this process holds.

The parent binds and listens (`ports.listening_socket`) and hands the socket to the child as
`--fd`, so the port is never free between choosing it and serving on it. A separate process
keeps the emulator off the caller's interpreter (benchmarks measure the client, not a shared
GIL; the determinism test compares two processes).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from collection_pipeline.testing.ports import listening_socket

STARTUP_TIMEOUT_S = 30.0


@contextmanager
def standalone_emulator(*args: str) -> Iterator[str]:
    """Run the emulator CLI with `args` for the block; yield its base URL."""
    with listening_socket() as sock:
        fd = sock.fileno()
        host, port = sock.getsockname()[:2]
        process = subprocess.Popen(
            [sys.executable, "-m", "collection_pipeline.emulator", "--fd", str(fd), *args],
            pass_fds=(fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base_url = f"http://{host}:{port}"
        try:
            _wait_until_serving(base_url, process)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_serving(base_url: str, process: subprocess.Popen[bytes]) -> None:
    """Bounded polling: the socket accepts at once, the app answers once it has loaded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"emulator exited with {process.returncode}: {stderr}")
        try:
            httpx.get(f"{base_url}/_emulator/stats", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"emulator at {base_url} did not start within {STARTUP_TIMEOUT_S:.0f} s")
