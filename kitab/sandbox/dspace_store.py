"""Persistent state of the DSpace sandbox: one SQLite file plus an assetstore folder.

A real DSpace keeps its objects in PostgreSQL and its files in an assetstore on disk; the sandbox
keeps the same split so a restart on the same data directory finds everything again, and so an
upload never has to sit in memory or in the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kitab.sandbox.dspace_registry import DEFAULT_FIELDS

HANDLE_PREFIX = "123456789"

SCHEMA = """
CREATE TABLE IF NOT EXISTS dso (
    uuid TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    parent TEXT,
    handle TEXT UNIQUE,
    in_archive INTEGER NOT NULL DEFAULT 0,
    discoverable INTEGER NOT NULL DEFAULT 1,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    last_modified REAL NOT NULL,
    seq INTEGER,
    position REAL,
    size INTEGER,
    md5 TEXT,
    mimetype TEXT
);
CREATE INDEX IF NOT EXISTS dso_parent ON dso(parent);
CREATE INDEX IF NOT EXISTS dso_type ON dso(type, created);
CREATE TABLE IF NOT EXISTS metadatavalue (
    dso TEXT NOT NULL,
    field TEXT NOT NULL,
    place INTEGER NOT NULL,
    value TEXT,
    norm TEXT,
    language TEXT,
    authority TEXT,
    confidence INTEGER
);
CREATE INDEX IF NOT EXISTS mv_dso ON metadatavalue(dso);
CREATE INDEX IF NOT EXISTS mv_field ON metadatavalue(field);
CREATE TABLE IF NOT EXISTS eperson (
    uuid TEXT PRIMARY KEY,
    email TEXT UNIQUE NOT NULL,
    pw_salt BLOB NOT NULL,
    pw_hash BLOB NOT NULL,
    session_salt TEXT,
    last_login REAL,
    admin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS metadatafield (
    id INTEGER PRIMARY KEY,
    schema TEXT NOT NULL,
    element TEXT NOT NULL,
    qualifier TEXT,
    scope_note TEXT,
    UNIQUE (schema, element, qualifier)
);
"""


@dataclass
class MetadataValue:
    value: str
    language: str | None = None
    authority: str | None = None
    confidence: int = -1


@dataclass
class Dso:
    """A DSpace object and its metadata, each field's values kept in ``place`` order."""

    uuid: str
    type: str  # community | collection | item | bundle | bitstream
    parent: str | None
    created: float
    last_modified: float
    handle: str | None = None
    in_archive: bool = False
    discoverable: bool = True
    withdrawn: bool = False
    seq: int | None = None
    position: float | None = None  # order among siblings (bitstreams in a bundle); else created
    size: int | None = None
    md5: str | None = None
    mimetype: str | None = None
    metadata: dict[str, list[MetadataValue]] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        titles = self.metadata.get("dc.title")
        return titles[0].value if titles else None


@dataclass
class EPerson:
    uuid: str
    email: str
    session_salt: str | None
    last_login: float | None
    admin: bool


@dataclass(frozen=True)
class MetadataField:
    id: int
    schema: str
    element: str
    qualifier: str | None
    scope_note: str | None

    @property
    def name(self) -> str:
        return ".".join(p for p in (self.schema, self.element, self.qualifier) if p)


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 1000)


class Store:
    """All reads and writes of the sandbox's state. Callers hold ``lock`` around a unit of work."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.assetstore = self.data_dir / "assetstore"
        self.incoming = self.data_dir / "incoming"
        self.assetstore.mkdir(parents=True, exist_ok=True)
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(
            self.data_dir / "dspace.sqlite3", check_same_thread=False, isolation_level=None
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {row["name"] for row in self.db.execute("PRAGMA table_info(dso)")}
        if "position" not in columns:  # data dirs made before bitstreams could be reordered
            self.db.execute("ALTER TABLE dso ADD COLUMN position REAL")
        if not self.db.execute("SELECT 1 FROM metadatafield LIMIT 1").fetchone():
            self.db.executemany(
                "INSERT INTO metadatafield (schema, element, qualifier, scope_note) "
                "VALUES (?, ?, ?, ?)",
                DEFAULT_FIELDS,
            )

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One request's work: all of it is committed, or on any exception none of it is."""
        with self.lock:
            self.db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # --- objects ---------------------------------------------------------------------------

    def get(self, uid: str, type_: str | None = None) -> Dso | None:
        row = self.db.execute("SELECT * FROM dso WHERE uuid = ?", (uid,)).fetchone()
        if row is None or (type_ is not None and row["type"] != type_):
            return None
        return self._load(row)

    def get_many(self, uids: list[str]) -> list[Dso]:
        return [d for d in (self.get(u) for u in uids) if d is not None]

    def by_handle(self, handle: str) -> Dso | None:
        row = self.db.execute("SELECT * FROM dso WHERE handle = ?", (handle,)).fetchone()
        return self._load(row) if row else None

    def children(self, parent: str, type_: str) -> list[Dso]:
        rows = self.db.execute(
            "SELECT * FROM dso WHERE parent = ? AND type = ? ORDER BY coalesce(position, created)",
            (parent, type_),
        ).fetchall()
        return [self._load(r) for r in rows]

    def uuids_of_type(self, types: tuple[str, ...]) -> list[str]:
        marks = ",".join("?" * len(types))
        rows = self.db.execute(
            f"SELECT uuid FROM dso WHERE type IN ({marks}) ORDER BY created, rowid", types
        ).fetchall()
        return [r["uuid"] for r in rows]

    def uuids_with_token(self, field_name: str, token: str) -> set[str]:
        """Objects having a value of ``field_name`` that contains ``token`` (lower-cased)."""
        rows = self.db.execute(
            "SELECT DISTINCT dso FROM metadatavalue WHERE field = ? AND instr(norm, ?) > 0",
            (field_name, token),
        ).fetchall()
        return {r["dso"] for r in rows}

    def new(self, type_: str, parent: str | None, **flags: object) -> Dso:
        now = time.time()
        dso = Dso(uuid=str(uuid.uuid4()), type=type_, parent=parent, created=now, last_modified=now)
        for name, value in flags.items():
            setattr(dso, name, value)
        return dso

    def save(self, dso: Dso, *, touch: bool = True) -> None:
        if touch:
            dso.last_modified = max(time.time(), dso.last_modified + 0.001)
        self.db.execute(
            "INSERT OR REPLACE INTO dso (uuid, type, parent, handle, in_archive, discoverable,"
            " withdrawn, created, last_modified, seq, position, size, md5, mimetype)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                dso.uuid,
                dso.type,
                dso.parent,
                dso.handle,
                int(dso.in_archive),
                int(dso.discoverable),
                int(dso.withdrawn),
                dso.created,
                dso.last_modified,
                dso.seq,
                dso.position,
                dso.size,
                dso.md5,
                dso.mimetype,
            ),
        )
        self.db.execute("DELETE FROM metadatavalue WHERE dso = ?", (dso.uuid,))
        self.db.executemany(
            "INSERT INTO metadatavalue (dso, field, place, value, norm, language, authority,"
            " confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    dso.uuid,
                    f,
                    place,
                    v.value,
                    (v.value or "").lower(),
                    v.language,
                    v.authority,
                    v.confidence,
                )
                for f, values in dso.metadata.items()
                for place, v in enumerate(values)
            ],
        )

    def touch(self, uid: str) -> None:
        """Bump an object's lastModified, as DSpace does to an item when its files change."""
        self.db.execute(
            "UPDATE dso SET last_modified = max(?, last_modified + 0.001) WHERE uuid = ?",
            (time.time(), uid),
        )

    def delete(self, uid: str) -> None:
        """Delete an object and everything below it (bundles, bitstreams and their files)."""
        for row in self.db.execute("SELECT uuid FROM dso WHERE parent = ?", (uid,)).fetchall():
            self.delete(row["uuid"])
        self.db.execute("DELETE FROM metadatavalue WHERE dso = ?", (uid,))
        self.db.execute("DELETE FROM dso WHERE uuid = ?", (uid,))
        path = self.asset_path(uid)
        if path.exists():
            path.unlink()

    def next_counter(self, name: str, start: int = 1) -> int:
        row = self.db.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()
        value = row["value"] + 1 if row else start
        self.db.execute("INSERT OR REPLACE INTO counter (name, value) VALUES (?, ?)", (name, value))
        return value

    def next_handle(self) -> str:
        return f"{HANDLE_PREFIX}/{self.next_counter('handle')}"

    def next_sequence(self, item_uuid: str) -> int:
        return self.next_counter(f"seq:{item_uuid}")

    def asset_path(self, uid: str) -> Path:
        return self.assetstore / uid[:2] / uid

    def _load(self, row: sqlite3.Row) -> Dso:
        dso = Dso(
            uuid=row["uuid"],
            type=row["type"],
            parent=row["parent"],
            handle=row["handle"],
            in_archive=bool(row["in_archive"]),
            discoverable=bool(row["discoverable"]),
            withdrawn=bool(row["withdrawn"]),
            created=row["created"],
            last_modified=row["last_modified"],
            seq=row["seq"],
            position=row["position"],
            size=row["size"],
            md5=row["md5"],
            mimetype=row["mimetype"],
        )
        for mv in self.db.execute(
            "SELECT * FROM metadatavalue WHERE dso = ? ORDER BY field, place", (dso.uuid,)
        ):
            dso.metadata.setdefault(mv["field"], []).append(
                MetadataValue(mv["value"], mv["language"], mv["authority"], mv["confidence"])
            )
        return dso

    # --- people ----------------------------------------------------------------------------

    def ensure_admin(self, email: str, password: str) -> None:
        salt = os.urandom(16)
        row = self.db.execute("SELECT uuid FROM eperson WHERE email = ?", (email,)).fetchone()
        if row:
            self.db.execute(
                "UPDATE eperson SET pw_salt = ?, pw_hash = ?, admin = 1 WHERE uuid = ?",
                (salt, hash_password(password, salt), row["uuid"]),
            )
        else:
            self.db.execute(
                "INSERT INTO eperson (uuid, email, pw_salt, pw_hash, admin) VALUES (?, ?, ?, ?, 1)",
                (str(uuid.uuid4()), email, salt, hash_password(password, salt)),
            )

    def check_password(self, email: str, password: str) -> EPerson | None:
        row = self.db.execute(
            "SELECT * FROM eperson WHERE lower(email) = lower(?)", (email,)
        ).fetchone()
        if row is None or hash_password(password, row["pw_salt"]) != row["pw_hash"]:
            return None
        return _person(row)

    def eperson(self, uid: str) -> EPerson | None:
        row = self.db.execute("SELECT * FROM eperson WHERE uuid = ?", (uid,)).fetchone()
        return _person(row) if row else None

    def set_session(self, uid: str, salt: str | None, last_login: float | None) -> None:
        self.db.execute(
            "UPDATE eperson SET session_salt = ?, last_login = coalesce(?, last_login)"
            " WHERE uuid = ?",
            (salt, last_login, uid),
        )

    def blank_all_sessions(self) -> None:
        self.db.execute("UPDATE eperson SET session_salt = NULL")

    # --- registry --------------------------------------------------------------------------

    def fields(self) -> Iterator[MetadataField]:
        for row in self.db.execute("SELECT * FROM metadatafield ORDER BY id"):
            yield MetadataField(
                row["id"], row["schema"], row["element"], row["qualifier"], row["scope_note"]
            )

    def field_names(self) -> set[str]:
        return {f.name for f in self.fields()}

    def add_field(
        self, schema: str, element: str, qualifier: str | None, scope_note: str | None
    ) -> MetadataField:
        cursor = self.db.execute(
            "INSERT INTO metadatafield (schema, element, qualifier, scope_note) "
            "VALUES (?, ?, ?, ?)",
            (schema, element, qualifier, scope_note),
        )
        return MetadataField(cursor.lastrowid or 0, schema, element, qualifier, scope_note)


def _person(row: sqlite3.Row) -> EPerson:
    return EPerson(
        row["uuid"], row["email"], row["session_salt"], row["last_login"], bool(row["admin"])
    )
