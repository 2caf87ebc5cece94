"""Running the app: a uvicorn server in a background thread, for as long as a block runs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from collection_pipeline.emulator.app import create_app
from collection_pipeline.emulator.config import EmulatorConfig

STARTUP_TIMEOUT_S = 15.0


class _ThreadedServer:
    """uvicorn on an already bound loopback socket, so the port is known before it starts."""

    def __init__(self, config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = self.socket.getsockname()[:2]
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                log_level="warning",
                access_log=False,
                lifespan="off",
                loop="auto",
                http="auto",
                timeout_keep_alive=30,
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
            name=f"emulator-{self.port}",
        )  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator failed to start on {self.base_url}")
            time.sleep(0.01)
        return self.base_url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@contextmanager
def serve_in_thread(config: EmulatorConfig | None = None) -> Iterator[str]:
    """Serve an emulator on a free loopback port for the duration of the block; yield its URL."""
    server = _ThreadedServer(config or EmulatorConfig())
    try:
        yield server.start()
    finally:
        server.stop()
