"""HTTP for connectors: timeouts on every request, tenacity retries that are safe, typed errors.

Why these rules:
* A request that may have reached the server is retried only when repeating it cannot create a
  second copy of anything: GET/HEAD/PUT/DELETE always, POST/PATCH only when the connection was
  never made or the server answered 429/503 (it says it did not do the work). A POST that died
  mid-flight is left to the sync engine, which looks the identity up before re-creating.
* ``Retry-After`` is honoured (seconds or an HTTP date) but capped, so a misconfigured server
  cannot park a nightly run for hours.
* Errors carry the path without its query string: Omeka S puts API keys there.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from kitab import __version__
from kitab.connectors.base import (
    AuthError,
    Conflict,
    NotFound,
    Rejected,
    RepositoryError,
    Unavailable,
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses with which a server says it did not process the request: safe to retry any method.
NOT_PROCESSED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait: float = 0.5  # seconds, doubled each attempt, with jitter
    max_wait: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 120.0  # cap on a server's Retry-After
    connect_timeout: float = 10.0
    read_timeout: float = 120.0


class RetryableResponse(Exception):
    """A response worth another try; carries it so the wait can honour Retry-After."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_seconds(response: requests.Response) -> float | None:
    """The server's Retry-After, as seconds from now (it may be a number or an HTTP date)."""
    header = response.headers.get("Retry-After")
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def safe_path(url: str) -> str:
    """The URL's path only: no scheme, host, query or fragment, so no key can leak."""
    return urlsplit(url).path


class HttpClient:
    """A requests session with the retry, timeout and error rules above."""

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"kitab/{__version__}"
        self._sleep = sleep
        self.requests_sent = 0

    def close(self) -> None:
        self.session.close()

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential_jitter(
            multiplier=self.policy.initial_wait, max=self.policy.max_wait, jitter=self.policy.jitter
        )(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableResponse):
            after = retry_after_seconds(error.response)
            if after is not None:
                return min(max(after, backoff), self.policy.max_retry_after)
        return backoff

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        body_factory: Callable[[], dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with retries; return the final response (any status) or raise Unavailable.

        ``body_factory`` returns fresh ``data``/``headers`` keyword arguments for each attempt,
        for bodies that are streams and cannot be sent twice (file uploads).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        kwargs.setdefault("timeout", (self.policy.connect_timeout, self.policy.read_timeout))

        def retryable(error: BaseException) -> bool:
            if isinstance(error, RetryableResponse):
                status = error.response.status_code
                return idempotent or status in NOT_PROCESSED_STATUSES
            if isinstance(error, requests.ConnectTimeout | requests.exceptions.ProxyError):
                return True  # never reached the server
            if isinstance(error, requests.ConnectionError | requests.Timeout):
                return idempotent or _never_sent(error)
            return False

        def attempt() -> requests.Response:
            extra = body_factory() if body_factory else {}
            headers = {**kwargs.get("headers", {}), **extra.pop("headers", {})}
            call_kwargs = {**kwargs, **extra, "headers": headers}
            self.requests_sent += 1
            response = self.session.request(method, url, **call_kwargs)
            if response.status_code in RETRY_STATUSES:
                raise RetryableResponse(response)
            return response

        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=retry_if_exception(retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except RetryableResponse as error:
            return error.response  # the caller turns the final status into a typed error
        except (requests.ConnectionError, requests.Timeout) as error:
            raise Unavailable(
                f"{type(error).__name__}: the repository did not answer",
                method=method,
                path=safe_path(url),
            ) from None


def _never_sent(error: BaseException) -> bool:
    """True when the connection failed before the request could reach the server."""
    text = repr(error)
    return "NewConnectionError" in text or "Connection refused" in text


def raise_for_status(response: requests.Response, message: str) -> None:
    """Turn a non-2xx response into the matching typed error; ``message`` is the server's text."""
    status = response.status_code
    if status < 400:
        return
    method = response.request.method or "" if response.request else ""
    path = safe_path(response.url or "")
    error_type: type[RepositoryError]
    if status == 404:
        error_type = NotFound
    elif status in (401, 403):
        error_type = AuthError
    elif status == 409:
        error_type = Conflict
    elif status in RETRY_STATUSES:
        error_type = Unavailable
    elif 400 <= status < 500:
        error_type = Rejected
    else:
        error_type = RepositoryError
    raise error_type(message or response.reason or "error", status=status, method=method, path=path)
