"""Serving the desk app with uvicorn: in the foreground (``exchange desk --web``) or in a
background thread (tests and the benchmark), always bound where the caller says.

The desk CLI calls ``serve(service, settings, host, port)``; bind to ``127.0.0.1`` unless an
authenticating proxy in front needs another address (see :mod:`consumers.desk.web.actors`).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import httpx
import uvicorn

from consumers.desk.service import DeskService
from consumers.desk.web.app import create_app
from exchange.settings import Settings


def serve(service: DeskService, settings: Settings, host: str = "127.0.0.1",
          port: int = 8080, **app_options: object) -> None:
    """Run the desk web app until interrupted (blocks)."""
    app = create_app(service, settings, **app_options)  # type: ignore[arg-type]
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class BackgroundServer:
    """A uvicorn server in a daemon thread; :meth:`stop` shuts it down and joins."""

    server: uvicorn.Server
    thread: threading.Thread
    base_url: str

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)


def start_in_thread(service: DeskService, settings: Settings, *, host: str = "127.0.0.1",
                    port: int | None = None, ready_timeout: float = 15.0,
                    **app_options: object) -> BackgroundServer:
    """Start the app on ``host``:``port`` (a free port if none) and wait until ``/healthz``
    answers, polling with a deadline; raises ``TimeoutError`` if it never does."""
    port = port or free_port(host)
    app = create_app(service, settings, **app_options)  # type: ignore[arg-type]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"desk-web-{port}", daemon=True)
    thread.start()
    base = f"http://{host}:{port}"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"desk web server on {base} exited during start-up")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return BackgroundServer(server, thread, base)
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # poll interval, bounded by the deadline above
    server.should_exit = True
    raise TimeoutError(f"desk web server on {base} not ready within {ready_timeout} s")
