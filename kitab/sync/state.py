"""The state store: what kitab knows about each target between runs.

Per target it keeps the link record ↔ item, the hash of the metadata last pushed, the files last
pushed with their checksums, the last synced metadata (the *base* of the three-way merge), a
write-ahead journal of remote writes, watermarks for incremental reads, and the history of runs.

It is a real SQLite file by default (WAL mode, so ``kitab serve`` can read while a push writes),
or a PostgreSQL database (``[state] url``) that several ``kitab daemon`` workers on different
machines share; kitab.sync.db makes up the differences between the two.

The schema is versioned: each room that needs tables registers numbered migrations under its
own component name, and opening a store applies whatever is missing, so an old state file is
upgraded in place rather than rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitab.model import Metadata, Value
from kitab.sync.claims import PostgresClaims, SqliteClaims
from kitab.sync.db import (
    Connection,
    PostgresBackend,
    SqliteBackend,
    ddl_for_postgres,
    is_url,
    utcnow,
)

if TYPE_CHECKING:
    from kitab.config import Config

__all__ = ["MIGRATIONS", "JournalEntry", "Link", "Run", "StateStore", "SyncedFile", "utcnow"]

#: component → ordered migrations (each a list of SQL statements). Append, never edit: a
#: migration that has run on a library's state file must stay as it was.
MIGRATIONS: dict[str, list[list[str]]] = {
    "sync": [
        [
            """CREATE TABLE links (
                target TEXT NOT NULL,
                key TEXT NOT NULL,
                item_id TEXT NOT NULL,
                item_url TEXT,
                metadata_hash TEXT NOT NULL,
                base TEXT NOT NULL,
                files TEXT NOT NULL,
                public INTEGER NOT NULL DEFAULT 1,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (target, key))""",
            "CREATE INDEX links_item ON links (target, item_id)",
            """CREATE TABLE journal (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER,
                target TEXT NOT NULL,
                key TEXT NOT NULL,
                action TEXT NOT NULL,
                status TEXT NOT NULL,
                detail TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL)""",
            "CREATE INDEX journal_open ON journal (target, status)",
            """CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                job TEXT NOT NULL,
                target TEXT,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                outcome TEXT,
                counts TEXT,
                report TEXT)""",
            """CREATE TABLE watermarks (
                scope TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at TEXT NOT NULL)""",
            """CREATE TABLE file_hashes (
                path TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                md5 TEXT NOT NULL,
                sha256 TEXT NOT NULL)""",
        ],
        [
            # Two-way sync keeps one base per side: what the catalogue said and what the
            # repository held at the last sync. They differ while a pulled edit waits for the
            # library system to import it, and that must not read as a catalogue change.
            "ALTER TABLE links ADD COLUMN catalogue_base TEXT",
            """CREATE TABLE conflicts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                target TEXT NOT NULL,
                key TEXT NOT NULL,
                field TEXT NOT NULL,
                label TEXT NOT NULL,
                base TEXT NOT NULL,
                catalogue TEXT NOT NULL,
                repository TEXT NOT NULL,
                detected_at TEXT NOT NULL,
                resolved_at TEXT,
                resolution TEXT,
                value TEXT,
                resolved_by TEXT)""",
            "CREATE UNIQUE INDEX conflicts_open ON conflicts (target, key, field) "
            "WHERE resolved_at IS NULL",
        ],
        [
            # Claims: a job or a target is worked on by one run at a time. A claim is a lease
            # that its holder renews; one whose holder died simply expires.
            """CREATE TABLE claims (
                name TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                expires_at REAL NOT NULL,
                claimed_at TEXT NOT NULL)""",
        ],
        [
            # On PostgreSQL a holder also takes a session advisory lock on the claim and says
            # so here, so a holder whose session died frees its claim at once (claims.py).
            "ALTER TABLE claims ADD COLUMN locked INTEGER NOT NULL DEFAULT 0",
        ],
        [
            # A digest of the record's source and set-up when the link was last known to be in
            # step with it (kitab.sync.digest): a no-op push skips mapping records it matches.
            "ALTER TABLE links ADD COLUMN source_digest TEXT",
        ],
    ],
}


_LINK_COLUMNS = (
    "target, key, item_id, metadata_hash, base, files, item_url, public, updated_at, "
    "catalogue_base, source_digest"
)


def metadata_to_json(metadata: Metadata) -> str:
    return json.dumps(
        {
            name: [[v.value, v.language] if v.language else [v.value] for v in values]
            for name, values in metadata.items()
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def metadata_from_json(text: str) -> Metadata:
    return {name: [Value(*pair) for pair in values] for name, values in json.loads(text).items()}


@dataclass(slots=True)
class SyncedFile:
    """A file as last pushed: enough to tell whether the local scan changed since."""

    name: str
    remote_id: str
    checksum: str  # in the target's algorithm (MD5 for DSpace, SHA-256 for Omeka S)
    size: int


@dataclass(slots=True)
class Link:
    """One catalogue record linked to one repository item on one target."""

    target: str
    key: str
    item_id: str
    metadata_hash: str
    base: Metadata  # the mapped metadata as last synced: the base of the three-way merge
    files: list[SyncedFile] = field(default_factory=list)
    item_url: str | None = None
    public: bool = True  # the item's visibility as last pushed (rights rules can change it)
    updated_at: str = ""
    #: the catalogue's mapped metadata at the last sync, when it differs from ``base`` (a pulled
    #: edit the library system has not imported yet); None means "the same as base"
    catalogue_base: Metadata | None = None
    #: sealed digest of the record's source when this link was saved in step with it
    #: (kitab.sync.digest); None when it was not, or is not known to be
    source_digest: str | None = None

    @property
    def catalogue_side(self) -> Metadata:
        return self.base if self.catalogue_base is None else self.catalogue_base


_BASE = Link.__dict__["base"]  # the slots behind Link's metadata, for _StoredLink's properties
_CATALOGUE_BASE = Link.__dict__["catalogue_base"]


class _StoredLink(Link):
    """A link read from the store, whose two metadata copies are decoded on first use: most
    links a push reads belong to unchanged records, and decoding them cost more than deciding
    that they are unchanged."""

    __slots__ = ("_base_json", "_catalogue_json")

    def __init__(
        self, *args: Any, base_json: str | None = None, catalogue_json: str | None = None, **kw: Any
    ) -> None:
        self._base_json = self._catalogue_json = None
        Link.__init__(self, *args, **kw)
        self._base_json, self._catalogue_json = base_json, catalogue_json

    def __eq__(self, other: object) -> bool:
        """Equal to any link with the same values, stored or made."""
        if not isinstance(other, Link):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(Link))

    __hash__ = None  # type: ignore[assignment]  # mutable, as Link

    @property  # type: ignore[override]
    def base(self) -> Metadata:
        if self._base_json is not None:
            _BASE.__set__(self, metadata_from_json(self._base_json))
            self._base_json = None
        return _BASE.__get__(self, Link)

    @base.setter
    def base(self, value: Metadata) -> None:
        self._base_json = None
        _BASE.__set__(self, value)

    @property  # type: ignore[override]
    def catalogue_base(self) -> Metadata | None:
        if self._catalogue_json is not None:
            _CATALOGUE_BASE.__set__(self, metadata_from_json(self._catalogue_json))
            self._catalogue_json = None
        return _CATALOGUE_BASE.__get__(self, Link)

    @catalogue_base.setter
    def catalogue_base(self, value: Metadata | None) -> None:
        self._catalogue_json = None
        _CATALOGUE_BASE.__set__(self, value)


@dataclass(slots=True)
class JournalEntry:
    id: int
    run_id: int | None
    target: str
    key: str
    action: str
    status: str  # intent | done | failed
    detail: dict[str, Any]
    created_at: str


@dataclass(slots=True)
class Run:
    id: int
    job: str
    target: str | None
    started_at: str
    finished_at: str | None
    outcome: str | None
    counts: dict[str, int]
    report: str | None


class StateStore:
    """The state, on SQLite (a path) or PostgreSQL (a ``postgresql://`` URL).

    Safe to share between the threads of one run; on PostgreSQL also between processes and
    machines. ``password`` is for a URL's server and comes from the environment, never the URL.
    """

    def __init__(
        self, location: Path | str, *, password: str | None = None, pool_size: int = 8
    ) -> None:
        self._backend: SqliteBackend | PostgresBackend
        self._claims: SqliteClaims | PostgresClaims
        if is_url(location):
            self.path: Path | None = None
            self._backend = PostgresBackend(str(location), password=password, pool_size=pool_size)
            self._claims = PostgresClaims(self._backend)
        else:
            self.path = Path(location)
            self._backend = SqliteBackend(self.path)
            self._claims = SqliteClaims(self._backend)
        #: where the state lives, for messages (a URL without its password)
        self.where = self._backend.where
        try:
            self.migrate()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, config: Config) -> StateStore:
        """The store kitab.toml names: ``[state] url`` (PostgreSQL) or ``path`` (SQLite)."""
        if config.state_url is None:
            return cls(config.state_path)
        password = config.state_password.read() if config.state_password is not None else None
        return cls(config.state_url, password=password, pool_size=config.concurrency + 2)

    @property
    def postgres(self) -> bool:
        return self._backend.postgres

    def close(self) -> None:
        self._claims.close()
        self._backend.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic unit of writes; writers queue for each other instead of failing
        (BEGIN IMMEDIATE on SQLite, a store-wide advisory lock on PostgreSQL)."""
        with self._backend.transaction() as db:
            yield db

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._backend.statement() as db:
            return [tuple(row) for row in db.execute(sql, params).fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement on its own; returns how many rows it changed."""
        if self._backend.postgres:
            with self._backend.statement() as db:
                return db.execute(sql, params).rowcount
        with self._backend.transaction() as db:
            return db.execute(sql, params).rowcount

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one INSERT into a table with an ``id`` column; returns the new id."""
        with self._backend.transaction() as db:
            return db.insert(sql, params)

    def upsert(self, table: str, row: dict[str, Any], key: Sequence[str]) -> None:
        """Insert ``row``, or replace the row with the same ``key`` columns."""
        if self._backend.postgres:
            with self._backend.statement() as db:
                db.upsert(table, row, key)
            return
        with self._backend.transaction() as db:
            db.upsert(table, row, key)

    def migrate(self) -> None:
        """Bring every registered component's tables up to date (one worker at a time)."""
        with self._backend.migration() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            for component, steps in MIGRATIONS.items():
                row = db.execute(
                    "SELECT version FROM schema_versions WHERE component = ?", (component,)
                ).fetchone()
                current = row[0] if row else 0
                if current > len(steps):
                    raise RuntimeError(
                        f"{self.where} was written by a newer kitab "
                        f"({component} schema {current}, this one knows {len(steps)})"
                    )
                for statements in steps[current:]:
                    for statement in statements:
                        db.execute(
                            ddl_for_postgres(statement) if self._backend.postgres else statement
                        )
                if len(steps) != current:
                    db.upsert(
                        "schema_versions",
                        {"component": component, "version": len(steps)},
                        key=("component",),
                    )

    def schema_version(self, component: str = "sync") -> int:
        rows = self.query("SELECT version FROM schema_versions WHERE component = ?", (component,))
        return rows[0][0] if rows else 0

    # -- links ----------------------------------------------------------------------------------

    def get_link(self, target: str, key: str) -> Link | None:
        rows = self.query(
            f"SELECT {_LINK_COLUMNS} FROM links WHERE target = ? AND key = ?",
            (target, key),
        )
        return _link(rows[0]) if rows else None

    def get_links(self, target: str, keys: Sequence[str]) -> dict[str, Link]:
        """The links of many records by key (those that have one): the planner asks for a page
        of records at once, since one query per record costs more than the planning itself."""
        found: dict[str, Link] = {}
        for start in range(0, len(keys), 500):  # well inside every SQLite's variable limit
            page = keys[start : start + 500]
            rows = self.query(
                f"SELECT {_LINK_COLUMNS} FROM links WHERE target = ? AND key IN "
                f"({', '.join('?' * len(page))})",
                (target, *page),
            )
            found.update((row[1], _link(row)) for row in rows)
        return found

    def link_by_item(self, target: str, item_id: str) -> Link | None:
        rows = self.query(
            f"SELECT {_LINK_COLUMNS} FROM links WHERE target = ? AND item_id = ?",
            (target, item_id),
        )
        return _link(rows[0]) if rows else None

    def iter_links(self, target: str) -> Iterator[Link]:
        """Every link of a target, in key order, fetched in pages (memory stays flat)."""
        last = ""
        while True:
            rows = self.query(
                f"SELECT {_LINK_COLUMNS} FROM links "
                "WHERE target = ? AND key > ? ORDER BY key LIMIT 1000",
                (target, last),
            )
            if not rows:
                return
            for row in rows:
                yield _link(row)
            last = rows[-1][1]

    def count_links(self, target: str) -> int:
        return self.query("SELECT COUNT(*) FROM links WHERE target = ?", (target,))[0][0]

    def save_link(self, link: Link) -> None:
        link.updated_at = utcnow()
        files = json.dumps(
            [[f.name, f.remote_id, f.checksum, f.size] for f in link.files], ensure_ascii=False
        )
        cat = link.catalogue_base
        self.upsert(
            "links",
            {
                "target": link.target,
                "key": link.key,
                "item_id": link.item_id,
                "item_url": link.item_url,
                "metadata_hash": link.metadata_hash,
                "base": metadata_to_json(link.base),
                "files": files,
                "public": int(link.public),
                "updated_at": link.updated_at,
                "catalogue_base": None if cat is None else metadata_to_json(cat),
                "source_digest": link.source_digest,
            },
            key=("target", "key"),
        )

    def stamp_source_digests(self, target: str, stamps: Sequence[tuple[str, str, str]]) -> None:
        """Store (key, sealed digest, the link's updated_at as read) for links a push found in
        step with their records; a link saved since it was read is left alone."""
        with self.transaction() as db:
            for key, digest, updated_at in stamps:
                db.execute(
                    "UPDATE links SET source_digest = ? "
                    "WHERE target = ? AND key = ? AND updated_at = ?",
                    (digest, target, key, updated_at),
                )

    def delete_link(self, target: str, key: str) -> None:
        self.execute("DELETE FROM links WHERE target = ? AND key = ?", (target, key))

    # -- write-ahead journal --------------------------------------------------------------------

    def journal_intent(
        self, target: str, key: str, action: str, detail: dict[str, Any], run_id: int | None
    ) -> int:
        """Record what is about to be written remotely, before writing it."""
        now = utcnow()
        return self.insert(
            "INSERT INTO journal (run_id, target, key, action, status, detail, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 'intent', ?, ?, ?)",
            (run_id, target, key, action, json.dumps(detail, ensure_ascii=False), now, now),
        )

    def journal_close(self, entry_id: int, status: str, detail: dict[str, Any]) -> None:
        """Confirm (``done``) or give up on (``failed``) an intent."""
        self.execute(
            "UPDATE journal SET status = ?, detail = ?, updated_at = ? WHERE id = ?",
            (status, json.dumps(detail, ensure_ascii=False), utcnow(), entry_id),
        )

    def open_intents(self, target: str) -> list[JournalEntry]:
        """Intents never confirmed: a run was killed between recording and confirming them."""
        rows = self.query(
            "SELECT id, run_id, target, key, action, status, detail, created_at FROM journal "
            "WHERE target = ? AND status = 'intent' ORDER BY id",
            (target,),
        )
        return [
            JournalEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"), r[7])
            for r in rows
        ]

    # -- runs -----------------------------------------------------------------------------------

    def start_run(self, job: str, target: str | None) -> int:
        return self.insert(
            "INSERT INTO runs (job, target, started_at) VALUES (?, ?, ?)", (job, target, utcnow())
        )

    def finish_run(
        self, run_id: int, outcome: str, counts: dict[str, int], report: str | None
    ) -> None:
        self.execute(
            "UPDATE runs SET finished_at = ?, outcome = ?, counts = ?, report = ? WHERE id = ?",
            (utcnow(), outcome, json.dumps(counts), report, run_id),
        )

    def runs(
        self, *, target: str | None = None, job: str | None = None, limit: int = 50
    ) -> list[Run]:
        sql = "SELECT id, job, target, started_at, finished_at, outcome, counts, report FROM runs"
        where, params = [], []
        if target is not None:
            where.append("target = ?")
            params.append(target)
        if job is not None:
            where.append("job = ?")
            params.append(job)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [
            Run(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"), r[7])
            for r in self.query(sql, params)
        ]

    # -- claims (no two runs of a job or against a target at once) ---------------------------

    def claim(self, name: str, owner: str, ttl: float) -> bool:
        """Take the claim ``name`` for ``ttl`` seconds if it is free, expired or already ours
        (on PostgreSQL also when its holder's session has died); atomic between workers."""
        return self._claims.claim(name, owner, ttl)

    def renew(self, name: str, owner: str, ttl: float) -> bool:
        """Extend a claim we hold; False when it was lost (expired and taken by another)."""
        return self._claims.renew(name, owner, ttl)

    def release(self, name: str, owner: str) -> None:
        self._claims.release(name, owner)

    def claims(self) -> list[tuple[str, str, float]]:
        """Live claims: (name, owner, seconds left)."""
        return self._claims.live()

    # -- watermarks -----------------------------------------------------------------------------

    def get_watermark(self, scope: str) -> str | None:
        rows = self.query("SELECT value FROM watermarks WHERE scope = ?", (scope,))
        return rows[0][0] if rows else None

    def set_watermark(self, scope: str, value: str) -> None:
        self.upsert(
            "watermarks", {"scope": scope, "value": value, "updated_at": utcnow()}, key=("scope",)
        )

    # -- file checksum cache --------------------------------------------------------------------

    def file_checksums(self, path: Path) -> tuple[str, str] | None:
        """(md5, sha256) of a scan if it has not changed (same size and mtime) since hashed."""
        stat = path.stat()
        rows = self.query(
            "SELECT md5, sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
            (str(path), stat.st_size, stat.st_mtime_ns),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def remember_checksums(self, path: Path, md5: str, sha256: str) -> None:
        stat = path.stat()
        self.upsert(
            "file_hashes",
            {
                "path": str(path),
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "md5": md5,
                "sha256": sha256,
            },
            key=("path",),
        )


def _link(row: tuple[Any, ...]) -> Link:
    target, key, item_id, metadata_hash, base, files, item_url, public, updated = row[:9]
    cat, digest = row[9:]
    return _StoredLink(
        target=target,
        key=key,
        item_id=item_id,
        metadata_hash=metadata_hash,
        base={},
        files=[SyncedFile(*f) for f in json.loads(files)] if files != "[]" else [],
        item_url=item_url,
        public=bool(public),
        updated_at=updated,
        source_digest=digest,
        base_json=base,
        catalogue_json=cat,
    )
