"""Fetching OAI-PMH pages through sickle, and refusing to trust what is not an OAI answer.

sickle sends the requests and honours ``Retry-After`` on 503; on top of it come a bounded
number of retries with exponential backoff for the transport failures sickle gives up on at
once (a reset connection, a 502 from a proxy), a cap on how long a ``Retry-After`` may make us
wait, and checks on the body: a proxy's login page or a maintenance notice served with HTTP 200
is not an empty list, and a page that is not well-formed XML is re-read in lxml's recovery
mode only when what comes out is still an OAI-PMH document (and the caller is told).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from lxml import etree
from sickle import Sickle
from sickle.response import OAIResponse

OAI = "{http://www.openarchives.org/OAI/2.0/}"
_STRICT = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_RECOVER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=True)
RETRY_STATUS = (500, 502, 503, 504)


class HarvestError(Exception):
    """The source could not be reached, or answered with something that is not OAI-PMH."""


class OaiProtocolError(HarvestError):
    """An OAI-PMH ``<error>`` answer (other than the ones a harvest handles itself)."""

    def __init__(self, code: str, message: str, where: str) -> None:
        super().__init__(f"{where}: OAI error {code}: {message}")
        self.code = code


@dataclass(slots=True)
class Page:
    """One OAI-PMH answer, checked."""

    root: etree._Element
    response_date: str
    where: str  # the request, for messages: "URL?verb=…"
    warnings: list[str] = field(default_factory=list)

    def error_codes(self) -> list[tuple[str, str]]:
        return [(e.get("code", ""), (e.text or "").strip()) for e in self.root.iter(f"{OAI}error")]


class _Sickle(Sickle):
    """sickle with one HTTP session (keep-alive) and retries with backoff on any transport
    failure, ``Retry-After`` honoured up to ``max_wait`` seconds."""

    def __init__(
        self,
        endpoint: str,
        *,
        max_retries: int,
        timeout: float,
        max_wait: float,
        sleep: Callable[[float], None],
    ) -> None:
        super().__init__(
            endpoint,
            max_retries=max_retries,
            retry_status_codes=RETRY_STATUS,
            default_retry_after=1,
            encoding="utf-8",
            timeout=timeout,
        )
        self.session = requests.Session()
        self.max_wait = max_wait
        self.sleep = sleep
        self.retries = 0  # over the whole run, for the report

    def _request(self, kwargs: dict[str, Any]) -> requests.Response:
        if self.http_method == "GET":
            return self.session.get(self.endpoint, params=kwargs, **self.request_args)
        return self.session.post(self.endpoint, data=kwargs, **self.request_args)

    def harvest(self, **kwargs: Any) -> OAIResponse:
        attempt = 0
        while True:
            try:
                response = self._request(kwargs)
                if response.status_code not in self.retry_status_codes:
                    break
                wait = _retry_after(response) or 2.0**attempt
                failure = f"HTTP {response.status_code}"
            except (requests.ConnectionError, requests.Timeout) as error:
                wait, failure = 2.0**attempt, type(error).__name__
            if attempt >= self.max_retries:
                raise HarvestError(
                    f"{_where(self.endpoint, kwargs)}: {failure}, gave up after {attempt + 1} tries"
                )
            attempt += 1
            self.retries += 1
            self.sleep(min(wait, self.max_wait))
        if response.status_code >= 400:
            raise HarvestError(
                f"{_where(self.endpoint, kwargs)}: HTTP {response.status_code}, not an OAI answer"
            )
        return OAIResponse(response, params=kwargs)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _where(endpoint: str, params: dict[str, Any]) -> str:
    shown = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{endpoint}?{shown}"


class OaiClient:
    """Checked OAI-PMH requests to one base URL."""

    def __init__(
        self,
        url: str,
        *,
        max_retries: int = 5,
        timeout: float = 60.0,
        max_wait: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.sickle = _Sickle(
            url, max_retries=max_retries, timeout=timeout, max_wait=max_wait, sleep=sleep
        )

    @property
    def retries(self) -> int:
        return self.sickle.retries

    def close(self) -> None:
        self.sickle.session.close()

    def request(self, **params: str) -> Page:
        """One request; OAI errors come back in the page, transport trouble as HarvestError."""
        response = self.sickle.harvest(**params)
        where = _where(self.url, params)
        body = response.http_response.content
        warnings: list[str] = []
        try:
            root = etree.fromstring(body, _STRICT)
        except etree.XMLSyntaxError as error:
            root = _recovered(body)
            if root is None or root.tag != f"{OAI}OAI-PMH":
                kind = response.http_response.headers.get("Content-Type", "no content type")
                raise HarvestError(
                    f"{where}: not an OAI-PMH answer ({kind}; {error}): {_snippet(body)}"
                ) from None
            warnings.append(f"{where}: not well-formed XML ({error}); read in recovery mode")
        if root.tag != f"{OAI}OAI-PMH":
            kind = response.http_response.headers.get("Content-Type", "no content type")
            raise HarvestError(
                f"{where}: not an OAI-PMH answer (root <{etree.QName(root).localname}>, "
                f"{kind}): {_snippet(body)}"
            )
        date = root.findtext(f"{OAI}responseDate") or ""
        return Page(root, date.strip(), where, warnings)


def _recovered(body: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(body, _RECOVER)
    except etree.XMLSyntaxError:
        return None


def _snippet(body: bytes) -> str:
    text = body[:160].decode("utf-8", "replace")
    return " ".join(text.split())
