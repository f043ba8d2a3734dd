"""One authenticated DSpace session shared by every thread of a process.

Why it is shaped like this (see the DSpace notes, §1):
* DSpace keeps one session salt per account: a logout, or a fresh login after a long pause,
  kills every other token of that account. So the process logs in once, shares the JWT under a
  lock, refreshes it shortly before it expires, re-logs in single-flight when a 401 shows it was
  lost anyway, and never logs out.
* The CSRF token rotates on login, refresh and mismatch, and arrives in a response header only
  then; it must be echoed in ``X-XSRF-TOKEN`` *and* in the ``DSPACE-XSRF-COOKIE`` cookie. kitab
  keeps it itself (the cookie jar is switched off) so the header and the cookie can never differ.
* An expired token is silently ignored by the server (the call runs anonymously), so lifetime is
  read from the JWT's ``exp`` against the server's own clock (its ``Date`` header).
"""

from __future__ import annotations

import base64
import email.utils
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests

from kitab.connectors.base import AuthError, RepositoryError
from kitab.connectors.http import HttpClient, raise_for_status, safe_path
from kitab.connectors.secrets import Redactor, SecretSource

CSRF_HEADER = "DSPACE-XSRF-TOKEN"
CSRF_COOKIE = "DSPACE-XSRF-COOKIE"
#: DSpace's default ``jwt.login.token.expiration`` (30 min), used when a token's exp is unreadable.
DEFAULT_LIFETIME = 1800.0


def error_message(response: requests.Response) -> str:
    """The server's own words: Spring's ``message``, problem+json's ``detail``, or the text."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:300] if text and not text.startswith("<") else response.reason or ""
    if isinstance(body, dict):
        for key in ("message", "detail", "title", "error"):
            if body.get(key):
                return str(body[key])
    return response.reason or ""


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch), read without verifying: the server decides."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def server_time(response: requests.Response) -> float:
    """The server's clock from its Date header when ours differs from it by more than the
    header's one-second precision, so a skewed local clock does not shorten or stretch tokens."""
    local = time.time()
    header = response.headers.get("Date")
    if header:
        try:
            remote = email.utils.parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return local
        if abs(remote - local) > 2:
            return remote
    return local


@dataclass
class _Token:
    jwt: str
    expires: float  # local monotonic-ish time.time() at which it stops working
    lifetime: float
    generation: int


class DSpaceSession:
    """Sends requests to ``{url}/api`` with the JWT and CSRF token; logs in when needed."""

    def __init__(
        self,
        http: HttpClient,
        api: str,
        user: str,
        password: SecretSource | str,
    ) -> None:
        self.http = http
        self.api = api
        self.user = user
        self._password = password
        self._lock = threading.Lock()  # guards the token and CSRF state
        self._login_lock = threading.Lock()  # single-flight login/refresh
        self._csrf: str | None = None
        self._token: _Token | None = None
        self._generation = 0
        self._secret = ""  # the password once read, so errors can be scrubbed of it
        self.logins = 0
        self.refreshes = 0
        self.root: dict[str, Any] = {}
        # The CSRF cookie is sent by hand (see the module notes): keep the jar out of it.
        http.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))

    # --- state ------------------------------------------------------------------------------

    def _password_value(self) -> str:
        if isinstance(self._password, SecretSource):
            self._secret = self._password.read()
        else:
            self._secret = self._password
        return self._secret

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = [self._token.jwt if self._token else "", self._csrf or ""]
        return Redactor(self._secret, *secrets)(text)

    def adopt_csrf(self, response: requests.Response) -> None:
        """Take a rotated CSRF token from any response (header first, cookie as a fallback)."""
        token = response.headers.get(CSRF_HEADER) or response.cookies.get(CSRF_COOKIE)
        if token:
            with self._lock:
                self._csrf = token

    def _headers(self, *, write: bool) -> tuple[dict[str, str], int | None]:
        with self._lock:
            headers = {}
            if self._csrf:
                headers["Cookie"] = f"{CSRF_COOKIE}={self._csrf}"
                if write:
                    headers["X-XSRF-TOKEN"] = self._csrf
            generation = None
            if self._token is not None:
                headers["Authorization"] = f"Bearer {self._token.jwt}"
                generation = self._token.generation
        return headers, generation

    # --- login ------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the root document (version, UI URL) and make sure a CSRF token is held."""
        response = self.http.request("GET", self.api)
        self.adopt_csrf(response)
        raise_for_status(response, error_message(response))
        self.root = response.json()
        if self._csrf is None:
            # 8.0–8.2 and 9.0–9.1 issue no token on ordinary GETs (DSpace #9774).
            self._fetch_csrf()

    def _fetch_csrf(self) -> None:
        response = self.http.request("GET", f"{self.api}/security/csrf")
        self.adopt_csrf(response)
        if self._csrf is None:
            raise RepositoryError(
                "the server issued no CSRF token (neither on GET /api nor /security/csrf)",
                status=response.status_code,
                method="GET",
                path=safe_path(response.url),
            )

    def ensure_token(self) -> None:
        """Log in if there is no usable token; refresh one that is close to expiring."""
        with self._lock:
            token = self._token
        now = time.time()
        if token is not None and token.expires - now > min(300.0, token.lifetime * 0.2):
            return
        with self._login_lock:
            with self._lock:
                token = self._token
            now = time.time()
            if token is not None and token.expires - now > min(300.0, token.lifetime * 0.2):
                return  # another thread did it while we waited
            if token is not None and token.expires - now > 0 and self._refresh():
                return
            self._login()

    def relogin_after_401(self, failed_generation: int | None) -> None:
        """Single-flight: only the first thread to see the token fail logs in again."""
        with self._login_lock:
            with self._lock:
                current = self._token.generation if self._token else None
            if current is not None and current != failed_generation:
                return
            self._login()

    def _store(self, response: requests.Response) -> None:
        header = response.headers.get("Authorization", "")
        jwt = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not jwt:
            raise AuthError(
                "DSpace accepted the login but sent no token (no Authorization header)",
                status=response.status_code,
                method="POST",
                path=safe_path(response.url),
            )
        exp = jwt_expiry(jwt)
        lifetime = exp - server_time(response) if exp is not None else DEFAULT_LIFETIME
        with self._lock:
            self._generation += 1
            self._token = _Token(jwt, time.time() + lifetime, lifetime, self._generation)

    def _post_login(self, data: dict[str, str] | None, with_token: bool) -> requests.Response:
        """POST /authn/login, adopting the rotated CSRF token; one retry on a CSRF 403."""
        for attempt in range(2):
            headers, _ = self._headers(write=True)
            if not with_token:
                headers.pop("Authorization", None)
            response = self.http.request(
                "POST", f"{self.api}/authn/login", data=data, headers=headers, idempotent=True
            )
            self.adopt_csrf(response)
            if response.status_code == 403 and attempt == 0 and is_csrf_failure(response):
                continue
            return response
        return response

    def _login(self) -> None:
        if self._csrf is None:
            self._fetch_csrf()
        response = self._post_login({"user": self.user, "password": self._password_value()}, False)
        if response.status_code == 401:
            raise AuthError(
                f"DSpace refused the login of {self.user}: wrong e-mail or password, or the "
                "account may not log in with a password",
                status=401,
                method="POST",
                path=safe_path(response.url),
            )
        raise_for_status(response, self.redact(error_message(response)))
        self._store(response)
        self.logins += 1

    def _refresh(self) -> bool:
        """Exchange a still-valid JWT for a new one; False when the server would not."""
        response = self._post_login(None, True)
        if response.status_code != 200:
            return False
        self._store(response)
        self.refreshes += 1
        return True

    # --- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        body_factory: Callable[[], dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        login: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send an authenticated request; return the final response (the caller judges it).

        A CSRF 403 is retried once with the rotated token, a 401 once after a re-login.
        ``login=False`` sends a read without logging in first (a token already held is used).
        """
        write = method.upper() not in ("GET", "HEAD", "OPTIONS")
        if login or write:
            self.ensure_token()
        csrf_retried = relogged = False
        while True:
            auth, generation = self._headers(write=write)
            response = self.http.request(
                method,
                f"{self.api}{path}",
                idempotent=idempotent,
                body_factory=body_factory,
                headers={**(headers or {}), **auth},
                **kwargs,
            )
            self.adopt_csrf(response)
            if response.status_code == 403 and not csrf_retried and is_csrf_failure(response):
                csrf_retried = True
                continue
            if response.status_code == 401 and not relogged:
                relogged = True
                self.relogin_after_401(generation)
                continue
            return response


def is_csrf_failure(response: requests.Response) -> bool:
    return "csrf" in error_message(response).lower()
