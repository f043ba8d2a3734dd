"""The Omeka S REST transport: keys added per request, typed errors, pagination, uploads.

The keys are added to each request's parameters at the last moment and never stored in a URL
kept anywhere; the ``Link`` header (which repeats them) is only parsed for the presence of a
``next`` page, never followed or logged. Every error leaving this module is a
:class:`RepositoryError` built outside any ``except`` block, so no ``requests`` exception that
quotes a keyed URL travels along as its ``__context__``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import requests
from requests_toolbelt import MultipartEncoder

from kitab.connectors.base import Rejected, RepositoryError, Unavailable
from kitab.connectors.http import RETRY_STATUSES, HttpClient, raise_for_status, safe_path
from kitab.connectors.omeka_json import JsonObject, error_text
from kitab.connectors.omeka_keys import ApiKey, KeyScrubber
from kitab.model import FileRef

log = logging.getLogger("kitab.connectors.omeka")

Params = Sequence[tuple[str, str | int]]


class OmekaApi:
    """Requests to ``{root}/api/…`` with the run's key pair."""

    def __init__(self, root: str, key: ApiKey, http: HttpClient, scrubber: KeyScrubber) -> None:
        self.root = root.rstrip("/")
        self._key = key
        self.http = http
        self._scrub = scrubber.scrub

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        json_body: Any = None,
        body_factory: Callable[[], dict[str, Any]] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """One request (with the HttpClient's retries); any status comes back as a response."""
        url = f"{self.root}/api/{path}"
        keyed = [
            *params,
            ("key_identity", self._key.identity),
            ("key_credential", self._key.credential),
        ]
        failure: RepositoryError | None = None
        response: requests.Response | None = None
        try:
            response = self.http.request(
                method,
                url,
                params=keyed,
                json=json_body,
                body_factory=body_factory,
                idempotent=idempotent,
            )
        except RepositoryError as error:
            failure = type(error)(
                self._scrub(error.message), status=error.status, method=method, path=error.path
            )
        except requests.RequestException as error:
            failure = Unavailable(
                self._scrub(f"{type(error).__name__}: {error}"),
                method=method,
                path=safe_path(url),
            )
        except OSError as error:  # a scan that vanished or cannot be read while uploading
            failure = Rejected(
                f"cannot read {error.filename}: {error.strerror}",
                method=method,
                path=safe_path(url),
            )
        if failure is not None:
            raise failure
        assert response is not None
        log.debug("%s %s -> %s", method, safe_path(url), response.status_code)
        return response

    def check(self, response: requests.Response) -> None:
        """Raise the typed error for a failed answer, in the server's words, keys scrubbed."""
        if response.status_code < 400:
            return
        text = self._scrub(error_text(response))
        if response.status_code in RETRY_STATUSES:
            attempts = self.http.policy.attempts
            text = f"Omeka S kept failing ({attempts} attempts): {text}"
        raise_for_status(response, text)

    def decode(self, response: requests.Response) -> Any:
        """The JSON body of a successful answer."""
        self.check(response)
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            method = response.request.method or "" if response.request else ""
            message = f"Omeka S answered with {kind}, not JSON"
        raise RepositoryError(
            message, status=response.status_code, method=method, path=safe_path(response.url)
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send and decode: the JSON of a successful answer, or a typed error."""
        return self.decode(self.send(method, path, **kwargs))

    def pages(self, path: str, params: Params, per_page: int) -> Iterator[list[JsonObject]]:
        """Search results page by page, until the server says there is no next page."""
        page = 1
        while True:
            response = self.send(
                "GET", path, params=[*params, ("per_page", per_page), ("page", page)]
            )
            batch = self.decode(response)
            if not isinstance(batch, list):
                raise RepositoryError(
                    "Omeka S answered a search with something other than a list",
                    status=response.status_code,
                    method="GET",
                    path=safe_path(response.url),
                )
            if batch:
                yield batch
            if not batch or not _has_next(response, page, per_page, len(batch)):
                return
            page += 1

    def upload(self, path: str, data: JsonObject, files: Sequence[FileRef]) -> Any:
        """POST ``data`` and ``files`` as one multipart request, files streamed from disk.

        Each attempt reopens the files, because a stream half-sent by a failed attempt cannot be
        rewound into a fresh multipart body.
        """
        opened: list[IO[bytes]] = []

        def body() -> dict[str, Any]:
            _close(opened)
            fields: list[tuple[str, Any]] = [("data", (None, json.dumps(data), "application/json"))]
            for index, file in enumerate(files):
                stream = file.path.open("rb")
                opened.append(stream)
                fields.append((f"file[{index}]", (file.name, stream, file.mimetype)))
            encoder = MultipartEncoder(fields=fields)
            return {"data": encoder, "headers": {"Content-Type": encoder.content_type}}

        try:
            return self.call("POST", path, body_factory=body)
        finally:
            _close(opened)


def _has_next(response: requests.Response, page: int, per_page: int, count: int) -> bool:
    """Link rel="next" first (Omeka's own answer), then the total count, then a full page."""
    if "Link" in response.headers:
        return "next" in response.links
    total = response.headers.get("Omeka-S-Total-Results", "")
    if total.isdigit():
        return page * per_page < int(total)
    return count == per_page


def _close(streams: list[IO[bytes]]) -> None:
    for stream in streams:
        with contextlib.suppress(OSError):
            stream.close()
    streams.clear()
