"""DSpace's stateless security: a CSRF token kept only in a cookie, and signed JWTs bound to a
per-account session salt.

The salt is what makes DSpace sessions fragile (a logout, or a late re-login, kills every other
worker's token); the sandbox keeps it so the connector's single-flight re-login is exercised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from dataclasses import dataclass

CSRF_COOKIE = "DSPACE-XSRF-COOKIE"
CSRF_RESPONSE_HEADER = "DSPACE-XSRF-TOKEN"
CSRF_REQUEST_HEADER = "X-XSRF-TOKEN"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def new_csrf_token() -> str:
    return str(uuid.uuid4())


def csrf_ok(cookie: str | None, header: str | None) -> bool:
    """Spring's CookieCsrfTokenRepository: header and cookie present and equal."""
    return bool(cookie) and bool(header) and hmac.compare_digest(cookie or "", header or "")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Claims:
    eperson: str
    salt: str
    expires: float


class TokenSigner:
    """HS256 JWTs with DSpace's claims (``eid``, ``sg``, ``exp``).

    The key is made at start-up, as a DSpace without ``jwt.login.token.secret`` does, so a
    restart invalidates every token and clients must log in again.
    """

    def __init__(self) -> None:
        self.key = os.urandom(32)

    def sign(self, eperson: str, salt: str, ttl: float) -> str:
        header = _b64(json.dumps({"alg": "HS256"}).encode())
        claims = {
            "eid": eperson,
            "sg": salt,
            "authenticationMethod": "password",
            "exp": int((time.time() + ttl) * 1000) / 1000,
        }
        payload = _b64(json.dumps(claims).encode())
        signature = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def verify(self, token: str, skew: float) -> Claims | None:
        """The claims of a well-signed, unexpired token; None otherwise (caller goes anonymous)."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims = json.loads(_unb64(payload))
            expires = float(claims["exp"])
            if time.time() > expires + skew:
                return None
            return Claims(str(claims["eid"]), str(claims["sg"]), expires)
        except (ValueError, KeyError, TypeError):
            return None


def new_session_salt() -> str:
    return _b64(os.urandom(24))
