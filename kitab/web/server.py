"""Serving the web application with waitress, the same production server as the OAI-PMH
provider, in a background thread whose ``stop`` ends the loop from inside it."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from waitress.server import create_server

from kitab.config import Config
from kitab.sync.state import StateStore
from kitab.web.app import create_app


@dataclass
class RunningWeb:
    app: Flask
    host: str
    port: int
    server: Any = field(repr=False)
    thread: threading.Thread = field(repr=False)
    stopping: threading.Event = field(repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

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
) -> RunningWeb:
    """Bind (port 0 picks a free port) and serve in a thread; OSError when it cannot bind."""
    host = host or config.web.host
    port = config.web.port if port is None else port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    app = create_app(config, store)
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

    bound = sock.getsockname()[1]
    thread = threading.Thread(target=loop, name=f"web:{bound}", daemon=True)
    thread.start()
    return RunningWeb(app, host, bound, server, thread, stopping)
