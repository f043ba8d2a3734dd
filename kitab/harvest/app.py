"""The provider as a WSGI application: ``/oai`` for OAI-PMH (GET and POST), ``/scans/…`` for
the scan files the records link to.

Read-only by construction: nothing here writes to the catalogue or the links; the only writes
are to the provider's own index, when the catalogue (or anything else that shapes the served
records) has changed since it was built. That check is a few ``stat`` calls, made at most every
``check_interval`` seconds, and the refresh runs in the request that noticed while the other
threads keep answering from the last committed index.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from kitab.config import Config
from kitab.harvest.index import ProviderIndex, RefreshReport
from kitab.harvest.protocol import Protocol
from kitab.harvest.tokens import token_secret
from kitab.sync.state import StateStore

_ROUTES = Map(
    [
        Rule("/oai", endpoint="oai", methods=["GET", "POST", "HEAD"]),
        Rule("/scans/<path:path>", endpoint="scan", methods=["GET", "HEAD"]),
    ]
)


class ProviderApp:
    """WSGI callable. ``on_refresh`` hears about every index refresh (the CLI prints it)."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        public_url: str,
        *,
        check_interval: float = 5.0,
        on_refresh: Callable[[RefreshReport], None] = lambda report: None,
    ) -> None:
        self.config = config
        self.index = ProviderIndex(config, store, public_url)
        self.protocol = Protocol(
            config.oai, store, token_secret(store), f"{public_url.rstrip('/')}/oai"
        )
        self.store = store
        self.check_interval = check_interval
        self.on_refresh = on_refresh
        self._refreshing = threading.Lock()
        self._checked = 0.0

    def refresh(self, *, force: bool = False) -> RefreshReport | None:
        """Bring the index up to date if the catalogue changed (or always, with ``force``)."""
        if not self._refreshing.acquire(blocking=force):
            return None  # another request is refreshing; answer from the committed index
        try:
            self._checked = time.monotonic()
            if not force and not self.index.needs_refresh():
                return None
            report = self.index.refresh()
        finally:
            self._refreshing.release()
        self.on_refresh(report)
        return report

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, values = _ROUTES.bind_to_environ(environ).match()
            if endpoint == "oai":
                response = self._oai(request)
            else:
                response = self._scan(request, values["path"])
        except HTTPException as error:
            response = error.get_response(environ)  # type: ignore[assignment]
        return response(environ, start_response)

    def _oai(self, request: Request) -> Response:
        if time.monotonic() - self._checked >= self.check_interval:
            self.refresh()
        if request.method == "POST":
            if request.mimetype != "application/x-www-form-urlencoded":
                raise MethodNotAllowed(valid_methods=["GET"], description="POST must be a form")
            args = request.form
        else:
            args = request.args
        body = self.protocol.answer(args.to_dict(flat=False), int(time.time()))
        return Response(body, content_type="text/xml; charset=utf-8")

    def _scan(self, request: Request, path: str) -> Response:
        """A scan file, served only if a served record links to it (rights rules respected)."""
        if self.config.scans is None:
            raise NotFound()
        rows = self.store.query(
            "SELECT 1 FROM oai_files f JOIN oai_records r ON r.key = f.key "
            "WHERE f.path = ? AND r.deleted = 0",
            (path,),
        )
        root = self.config.scans.path.resolve()
        file = (root / path).resolve()
        if not rows or not file.is_relative_to(root) or not file.is_file():
            raise NotFound()
        return send_file(Path(file), request.environ, conditional=True)
