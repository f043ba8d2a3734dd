"""What every request handler needs: the configuration, the state store and the users."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from kitab.config import Config, TargetConfig
from kitab.sync.state import StateStore
from kitab.web.users import User, UserStore


@dataclass(frozen=True)
class WebContext:
    config: Config
    store: StateStore
    users: UserStore

    def target(self, name: str) -> TargetConfig | None:
        return self.config.targets.get(name)

    def role_of(self, name: str) -> str | None:
        """The role the trusted proxy's user has by configuration (None: not let in)."""
        return self.config.web.users.get(name)

    def header_user(self, name: str | None) -> User | None:
        if not name:
            return None
        role = self.role_of(name)
        return User(name, role) if role else None


def context() -> WebContext:
    return current_app.extensions["kitab"]
