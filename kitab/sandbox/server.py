"""Running a sandbox WSGI app on 127.0.0.1, in a thread (tests) or in the foreground (CLI).

The sandboxes use werkzeug's threaded server rather than waitress because fault injection needs
the client socket (``werkzeug.socket``) to drop connections the way a failing proxy does; the
sandboxes are test doubles, not production services.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from kitab.sandbox.faults import FaultInjector, WSGIApp


class QuietRequestHandler(WSGIRequestHandler):
    """No access log: Omeka S carries API keys in every URL, and logs must never hold them."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class RunningServer:
    """A sandbox serving in a background thread; ``stop()`` shuts it down and joins the thread."""

    server: BaseWSGIServer
    injector: FaultInjector
    thread: threading.Thread = field(repr=False)

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def root(self) -> str:
        return f"http://{self.server.host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_in_thread(app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` (wrapped in a FaultInjector) on host:port; port 0 picks a free one."""
    injector = app if isinstance(app, FaultInjector) else FaultInjector(app)
    server = make_server(host, port, injector, threaded=True, request_handler=QuietRequestHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05), name=f"sandbox:{port}", daemon=True
    )
    thread.start()
    return RunningServer(server=server, injector=injector, thread=thread)


def serve_forever(app: WSGIApp, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve in the foreground until interrupted (``kitab sandbox …``)."""
    injector = app if isinstance(app, FaultInjector) else FaultInjector(app)
    server = make_server(host, port, injector, threaded=True, request_handler=QuietRequestHandler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
