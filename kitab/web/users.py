"""People who may use the web pages, their roles and language, and the session signing key.

Kept in the state store (tables of the ``web`` component), so the pages need no other
database, and a copy of the state file carries its users along. Passwords are stored only as
werkzeug hashes (scrypt). Each user has an *epoch*: logging out bumps it, and a signed session
cookie carrying an older epoch is refused, so a copied cookie dies with the logout.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from kitab.config import WEB_ROLES
from kitab.sync.state import MIGRATIONS, StateStore, utcnow

MIGRATIONS["web"] = [
    [
        """CREATE TABLE web_users (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            epoch INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL)""",
        # language per person, also for people who come through a trusted proxy header and so
        # have no row in web_users
        "CREATE TABLE web_preferences (name TEXT PRIMARY KEY, language TEXT NOT NULL)",
        "CREATE TABLE web_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]
]

MIN_PASSWORD = 8
#: checked against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class UserError(ValueError):
    """A user that cannot be added as asked (bad name, role or password)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    epoch: int = 0

    @property
    def can_resolve(self) -> bool:
        return self.role == "cataloguer"


class UserStore:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.migrate()

    def add(self, name: str, password: str, role: str) -> bool:
        """Create the user, or set a new password and role; True when created."""
        if not name or len(name) > 64 or not name.isprintable() or name != name.strip():
            raise UserError(f"not a usable user name: {name!r}")
        if role not in WEB_ROLES:
            raise UserError(f"role must be one of {', '.join(WEB_ROLES)}, not {role!r}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
        digest = generate_password_hash(password)
        with self.store.transaction() as db:
            exists = db.execute("SELECT 1 FROM web_users WHERE name = ?", (name,)).fetchone()
            if exists:
                db.execute(
                    "UPDATE web_users SET password_hash = ?, role = ?, epoch = epoch + 1 "
                    "WHERE name = ?",
                    (digest, role, name),
                )
            else:
                db.execute(
                    "INSERT INTO web_users (name, password_hash, role, epoch, created_at) "
                    "VALUES (?, ?, ?, 0, ?)",
                    (name, digest, role, utcnow()),
                )
        return not exists

    def count(self) -> int:
        return self.store.query("SELECT COUNT(*) FROM web_users")[0][0]

    def get(self, name: str) -> User | None:
        rows = self.store.query("SELECT name, role, epoch FROM web_users WHERE name = ?", (name,))
        return User(*rows[0]) if rows else None

    def check(self, name: str, password: str) -> User | None:
        """The user when the password is right, else None (same cost either way)."""
        rows = self.store.query(
            "SELECT name, role, epoch, password_hash FROM web_users WHERE name = ?", (name,)
        )
        digest = rows[0][3] if rows else _DUMMY_HASH
        good = check_password_hash(digest, password)
        return User(*rows[0][:3]) if rows and good else None

    def end_sessions(self, name: str) -> None:
        self.store.execute("UPDATE web_users SET epoch = epoch + 1 WHERE name = ?", (name,))

    def language(self, name: str) -> str | None:
        rows = self.store.query("SELECT language FROM web_preferences WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_language(self, name: str, language: str) -> None:
        self.store.upsert("web_preferences", {"name": name, "language": language}, key=("name",))

    def secret_key(self) -> str:
        """The key that signs session cookies: made once, then the same for every start, so
        a restart does not log everybody out. It never leaves the state store."""
        self.store.execute(
            "INSERT INTO web_settings (name, value) VALUES ('secret_key', ?) "
            "ON CONFLICT (name) DO NOTHING",
            (secrets.token_hex(32),),
        )
        return self.store.query("SELECT value FROM web_settings WHERE name = 'secret_key'")[0][0]
