"""Serving the provider with waitress, a production WSGI server (:mod:`kitab.serving`).

The index is refreshed after the socket is bound, because the links to scans carry the server's
public URL, which depends on the port actually bound.
"""

from __future__ import annotations

from collections.abc import Callable

from kitab.config import Config
from kitab.harvest.app import ProviderApp
from kitab.harvest.index import RefreshReport
from kitab.serving import Served, bind, serve_in_thread
from kitab.sync.state import StateStore


class RunningProvider(Served):
    """The provider being served; its URL is the OAI-PMH base URL (``…/oai``)."""

    @property
    def url(self) -> str:
        return self.app.protocol.base_url


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
    sock = bind(host, config.oai.port if port is None else port)
    bound = sock.getsockname()[1]
    public = (config.oai.base_url or f"http://{host}:{bound}").removesuffix("/oai")
    app = ProviderApp(config, store, public, on_refresh=on_refresh)
    app.refresh(force=True)
    return serve_in_thread(app, sock, threads=threads, name="oai", handle=RunningProvider)
