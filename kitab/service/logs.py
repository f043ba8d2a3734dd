"""Logs an administrator can grep: one line per event, key=value, levels, rotation, no secrets.

Why a formatter does the redacting rather than a logger filter: a logger's filters only see
records logged on that very logger, while a handler's formatter sees every line that reaches the
file, including third-party ones (urllib3 writes Omeka's key-bearing URLs at DEBUG) and the
text of tracebacks. Scrubbing the finished line is the one place nothing slips past.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from datetime import datetime
from pathlib import Path

from kitab.config import Config
from kitab.connectors.omeka_keys import SCRUBBER
from kitab.connectors.secrets import MissingSecret

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_KEEP = 5

#: ``password=…``, ``"token": "…"``, ``Authorization: Bearer …`` whatever the value
_SECRET_PAIR = re.compile(
    r"""(?i)\b(password|passwd|secret|token|authorization|key_credential)(["']?\s*[=:]\s*)"""
    r"""(?:bearer\s+)?["']?[^\s"'&,;)}]+"""
)


def kv(**fields: object) -> str:
    """``name=value`` pairs for a log line; values with spaces or quotes are JSON-quoted."""
    parts = []
    for name, value in fields.items():
        text = "-" if value is None else str(value)
        if not text or re.search(r'[\s"=]', text):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{name}={text}")
    return " ".join(parts)


def scrub(text: str) -> str:
    """Text with every known secret value and every secret-looking pair replaced by ***."""
    return _SECRET_PAIR.sub(r"\1\2***", SCRUBBER.scrub(text))


class KeyValueFormatter(logging.Formatter):
    """``time=… level=… logger=… <message>`` on one line, secrets scrubbed."""

    def __init__(self) -> None:
        super().__init__("level=%(levelname)s logger=%(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).astimezone()
        line = f"time={when.isoformat(timespec='milliseconds')} {super().format(record)}"
        return scrub(line).replace("\r", "\\r").replace("\n", "\\n")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the moment (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        """The stream is always the current standard error; nothing to set."""


def configure_logging(level: str | None = None, file: Path | None = None) -> None:
    """Send log lines to ``file`` (rotated by size) or else to standard error.

    Called once per command by the CLI; calling again replaces what an earlier call installed.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "kitab", False)]:
        root.removeHandler(handler)
        handler.close()
    handler: logging.Handler
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            file, maxBytes=ROTATE_BYTES, backupCount=ROTATE_KEEP, encoding="utf-8"
        )
    else:
        handler = _StderrHandler()
    handler.kitab = True  # type: ignore[attr-defined]
    handler.setFormatter(KeyValueFormatter())
    root.addHandler(handler)
    set_level(level or "WARNING")


def set_level(level: str) -> None:
    """Change the level; the scheduler's own chatter stays at WARNING unless debugging."""
    numeric = logging.getLevelName(level.upper())
    logging.getLogger().setLevel(numeric)
    logging.getLogger("apscheduler").setLevel(
        logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    )


def register_secrets(config: Config) -> None:
    """Teach the scrubber the secret values this configuration points to.

    A secret that cannot be read now is left out: the job that needs it will say so, and a value
    kitab never read cannot reach a log line through kitab.
    """
    for target in config.targets.values():
        for source in (target.password, target.key_identity, target.key_credential):
            if source is None:
                continue
            try:
                SCRUBBER.add(source.read())
            except MissingSecret:
                continue
