"""Omeka S API keys: reading them, and keeping them out of every log line and message.

Omeka S only accepts its keys in the query string, so they ride in every URL that urllib3 logs at
DEBUG level (``"GET /api/items?key_identity=…"``), in the ``Link`` pagination header and in any
exception text that quotes a URL. Rather than trusting every caller to be careful, one filter is
attached to the loggers that print URLs and scrubs both the ``key_*=`` parameters (whatever their
value) and the literal key values of every connector created in this process.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

from kitab.connectors.secrets import Redactor, SecretSource

#: ``key_identity=…`` / ``key_credential=…`` in a URL, raw or percent-encoded.
_KEY_PARAM = re.compile(r"(key_identity|key_credential)(=|%3D)[^&\s>\"';,)]*", re.IGNORECASE)

#: Loggers that write request URLs. A logger's filters see only its own records, not its
#: children's, so each one is named.
_URL_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "tenacity",
    "kitab.connectors.omeka",
    "kitab.connectors.http",
)


class KeyScrubber(logging.Filter):
    """Removes API keys from log records and from any text passed to :meth:`scrub`."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._redact = Redactor()

    def add(self, *secrets: str) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s)
            self._redact = Redactor(*self._secrets)

    def scrub(self, text: str) -> str:
        return self._redact(_KEY_PARAM.sub(r"\1\2***", text))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record is the logging module's problem, not a leak
        scrubbed = self.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        return True


SCRUBBER = KeyScrubber()


def install_scrubber() -> KeyScrubber:
    """Attach the process-wide scrubber to the URL-logging loggers (adding twice is a no-op)."""
    for name in _URL_LOGGERS:
        logging.getLogger(name).addFilter(SCRUBBER)  # Filterer ignores a filter already there
    return SCRUBBER


@dataclass(frozen=True)
class ApiKey:
    """A resolved key pair, plus where the identity came from (for messages, never the value)."""

    identity: str
    credential: str
    origin: str

    def __repr__(self) -> str:
        return f"ApiKey(origin={self.origin!r})"


def read_key(identity: SecretSource | str, credential: SecretSource | str) -> ApiKey:
    """Read both halves now, so a missing secret stops the run before any request is made."""
    return ApiKey(
        identity=identity.read() if isinstance(identity, SecretSource) else identity,
        credential=credential.read() if isinstance(credential, SecretSource) else credential,
        origin=_origin(identity),
    )


def _origin(source: SecretSource | str) -> str:
    if not isinstance(source, SecretSource):
        return "the key_identity given in the settings"
    places = [f"${source.env}"] if source.env else []
    if source.file is not None:
        places.append(str(source.file))
    return f"the key_identity from {' or '.join(places) or 'nowhere'}"
