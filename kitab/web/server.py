"""Serving the web application with waitress, the same production server as the OAI-PMH
provider (:mod:`kitab.serving`)."""

from __future__ import annotations

from kitab.config import Config
from kitab.serving import Served, bind, serve_in_thread
from kitab.sync.state import StateStore
from kitab.web.app import create_app

#: the running web page: ``.url``, ``.app`` (the Flask app), ``.wait()``, ``.stop()``
RunningWeb = Served


def start(
    config: Config,
    store: StateStore,
    *,
    host: str | None = None,
    port: int | None = None,
    threads: int = 4,
) -> RunningWeb:
    """Bind (port 0 picks a free port) and serve in a thread; OSError when it cannot bind."""
    sock = bind(host or config.web.host, config.web.port if port is None else port)
    return serve_in_thread(create_app(config, store), sock, threads=threads, name="web")
