"""Serving the provider with waitress, a production WSGI server (not a development server).

``start`` runs it in a background thread (tests, the benchmark, ``kitab serve`` itself) and
gives back a handle whose ``stop`` ends the event loop from inside its own thread, so no socket
is closed under a running poll. The index is refreshed after the socket is bound, because the
links to scans carry the server's public URL, which depends on the port actually bound.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from waitress.server import create_server

from kitab.config import Config
from kitab.harvest.app import ProviderApp
from kitab.harvest.index import RefreshReport
from kitab.sync.state import StateStore


@dataclass
class RunningProvider:
    app: ProviderApp
    server: object = field(repr=False)
    thread: threading.Thread = field(repr=False)
    stopping: threading.Event = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def url(self) -> str:
        """The OAI-PMH base URL."""
        return self.app.protocol.base_url

    def wait(self) -> None:
        """Block until stopped (Ctrl-C stops it)."""
        try:
            while self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)


def start(
    config: Config,
    store: StateStore,
    *,
    host: str | None = None,
    port: int | None = None,
    threads: int = 4,
    on_refresh: Callable[[RefreshReport], None] = lambda report: None,
) -> RunningProvider:
    """Bind, build or refresh the index, then serve in a thread. Port 0 picks a free port.

    OSError when the address cannot be bound.
    """
    host = host or config.oai.host
    port = config.oai.port if port is None else port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    public = (config.oai.base_url or f"http://{host}:{bound}").removesuffix("/oai")
    app = ProviderApp(config, store, public, on_refresh=on_refresh)
    app.refresh(force=True)
    server: Any = create_server(app, sockets=[sock], threads=threads)
    stopping = threading.Event()

    def loop() -> None:
        try:
            while not stopping.is_set():
                server.asyncore.loop(
                    timeout=0.2, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1
                )
        finally:
            for channel in list(server._map.values()):
                channel.close()
            server.task_dispatcher.shutdown()

    thread = threading.Thread(target=loop, name=f"oai:{bound}", daemon=True)
    thread.start()
    return RunningProvider(app, server, thread, stopping, host, bound)
