"""Secrets (passwords, API keys) come from the environment or from a file outside the project.

They are never read from ``kitab.toml`` itself, and the error for a missing one names where it
was looked for, never a value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class MissingSecret(Exception):
    """A secret the configuration points to is not there."""


@dataclass(frozen=True)
class SecretSource:
    """Where one secret lives: an environment variable, a file, or both (the variable wins)."""

    what: str  # for messages: "DSpace password", "Omeka S key_credential"
    env: str | None = None
    file: Path | None = None

    def read(self) -> str:
        if self.env and os.environ.get(self.env):
            return os.environ[self.env].strip()
        if self.file is not None:
            try:
                value = Path(self.file).expanduser().read_text(encoding="utf-8").strip()
            except OSError as error:
                raise MissingSecret(
                    f"{self.what}: cannot read {self.file}: {error.strerror}"
                ) from None
            if value:
                return value
            raise MissingSecret(f"{self.what}: {self.file} is empty")
        places = " or ".join(
            p for p in (f"${self.env}" if self.env else "", str(self.file or "")) if p
        )
        raise MissingSecret(f"{self.what} is not set (looked in {places or 'nowhere'})")


class Redactor:
    """Replaces known secret values in any text before it is logged or shown."""

    def __init__(self, *secrets: str) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
