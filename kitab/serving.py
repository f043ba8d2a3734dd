"""Serving a WSGI app with waitress, the production server, in a background thread.

The OAI-PMH provider and the web page both run this way (``kitab serve``, ``kitab web``, the
tests and benchmarks). ``stop`` ends waitress's event loop from inside its own thread, so no
socket is closed under a running poll; the socket is bound before the app is built because the
provider's links carry the port actually bound.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any, TypeVar

from waitress.server import create_server


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (port 0 picks a free one); OSError if taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class Served:
    """A WSGI app being served; ``wait`` blocks until ``stop`` (or Ctrl-C)."""

    app: Any
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
        try:
            while self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)


S = TypeVar("S", bound=Served)


def serve_in_thread(
    app: Any, sock: socket.socket, *, threads: int, name: str, handle: type[S] = Served
) -> S:
    """Serve ``app`` on the bound ``sock`` with waitress until the handle's ``stop``."""
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

    host, port = sock.getsockname()[:2]
    thread = threading.Thread(target=loop, name=f"{name}:{port}", daemon=True)
    thread.start()
    return handle(app, host, port, server, thread, stopping)
