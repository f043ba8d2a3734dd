"""Resumption tokens that need no server-side session: the list's state, signed.

A token carries the list request (verb, prefix, set, from, until), the (datestamp, key) of the
last item sent, the cursor and the complete list size. The next page is "everything after that
item", so a record changing mid-harvest never makes another one skip or repeat (an offset
would), and a restarted server carries on from any token it issued. The HMAC key lives in the
state store; a token that does not verify (tampered, truncated, from another server) is a
``badResumptionToken``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from kitab.sync.state import StateStore

_SECRET_NAME = "token_secret"


class BadToken(ValueError):
    """The token did not come from this repository, or was altered."""


@dataclass(frozen=True, slots=True)
class ListState:
    verb: str
    prefix: str | None
    set: str | None
    start: int | None  # from, as UTC epoch seconds (inclusive)
    end: int | None  # until, as UTC epoch seconds (inclusive)
    last_stamp: int
    last_key: str
    cursor: int  # items sent before the page this token asks for
    total: int  # completeListSize, counted when the list began


def token_secret(store: StateStore) -> bytes:
    """The signing key, made once per state store and kept, so tokens survive restarts."""
    with store.transaction() as db:
        row = db.execute("SELECT value FROM oai_meta WHERE name = ?", (_SECRET_NAME,)).fetchone()
        if row is None:
            value = secrets.token_hex(32)
            db.execute("INSERT INTO oai_meta VALUES (?, ?)", (_SECRET_NAME, value))
        else:
            value = row[0]
    return bytes.fromhex(value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(state: ListState, secret: bytes) -> str:
    payload = json.dumps(list(asdict(state).values()), separators=(",", ":")).encode()
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(signature)}"


def decode(token: str, secret: bytes) -> ListState:
    try:
        payload_text, signature_text = token.split(".")
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except (ValueError, UnicodeEncodeError):
        raise BadToken("not a token of this repository") from None
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(signature, expected):
        raise BadToken("not a token of this repository")
    try:
        return ListState(*json.loads(payload))
    except (ValueError, TypeError):
        raise BadToken("token from an incompatible version") from None
