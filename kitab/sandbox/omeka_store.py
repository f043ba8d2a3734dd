"""SQLite persistence for the Omeka S sandbox, shaped like Omeka's own tables.

Why one ``resource`` table for items, media and item sets: Omeka S gives them ids from a single
sequence (after item set 1, an item and its media get 2 and 3), and clients must cope with
``GET /api/items/3`` answering 404 because 3 is a media. AUTOINCREMENT keeps deleted ids from
coming back, as MySQL's auto-increment does. Writes run one at a time under a lock, each in a
transaction, so a failed nested media upload rolls the whole item back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kitab.sandbox.omeka_vocab import TITLE_PROPERTY_ID

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS resource (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_type TEXT NOT NULL,              -- items | media | item_sets
    owner_id INTEGER,
    resource_class_id INTEGER,
    resource_template_id INTEGER,
    title TEXT,
    is_public INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    is_open INTEGER,                          -- item sets
    primary_media_id INTEGER,                 -- items: set explicitly, else the first media
    item_id INTEGER REFERENCES resource(id),  -- media from here on
    position INTEGER,
    ingester TEXT, renderer TEXT, source TEXT, media_type TEXT, sha256 TEXT, size INTEGER,
    filename TEXT, lang TEXT, alt_text TEXT, data TEXT
);
CREATE INDEX IF NOT EXISTS resource_item ON resource(item_id);
CREATE TABLE IF NOT EXISTS value (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id INTEGER NOT NULL,
    property_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    value TEXT, lang TEXT, uri TEXT, value_resource_id INTEGER,
    is_public INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS value_resource ON value(resource_id);
CREATE INDEX IF NOT EXISTS value_property ON value(property_id, value);
CREATE TABLE IF NOT EXISTS item_item_set (
    item_id INTEGER NOT NULL, item_set_id INTEGER NOT NULL, PRIMARY KEY (item_id, item_set_id)
);
CREATE TABLE IF NOT EXISTS item_site (
    item_id INTEGER NOT NULL, site_id INTEGER NOT NULL, PRIMARY KEY (item_id, site_id)
);
CREATE TABLE IF NOT EXISTS site (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT UNIQUE NOT NULL, title TEXT NOT NULL, summary TEXT, theme TEXT NOT NULL,
    is_public INTEGER NOT NULL, assign_new_items INTEGER NOT NULL,
    created TEXT NOT NULL, modified TEXT
);
"""

USER = {"id": 1, "name": "kitab", "email": "kitab@example.org", "role": "global_admin"}
SANDBOX_ITEM_SET_TITLE = "kitab sandbox"


def now() -> str:
    """UTC to the second, as MySQL's DATETIME column keeps it."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(stamp: str | None) -> str | None:
    """PHP ``format('c')`` of a UTC stamp: ``2026-11-22T14:47:02+00:00``."""
    return f"{stamp.replace(' ', 'T')}+00:00" if stamp else None


def _fold(text: str | None) -> str | None:
    """MariaDB's utf8mb4_unicode_ci compares case-insensitively; Unicode casefold does too."""
    return text.casefold() if isinstance(text, str) else text


@dataclass
class Transaction:
    """A write in progress; files written are removed again if it fails."""

    db: sqlite3.Connection
    new_files: list[str]
    doomed_files: list[str]


class Store:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.create_function("fold", 1, _fold, deterministic=True)
        self.db.executescript(SCHEMA)
        self.lock = threading.RLock()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self.db

    @contextmanager
    def write(self, remove_file) -> Iterator[Transaction]:
        """One transaction; ``remove_file(name)`` undoes uploads on failure, deletes on success."""
        with self.lock:
            tx = Transaction(self.db, [], [])
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield tx
            except BaseException:
                self.db.execute("ROLLBACK")
                for name in tx.new_files:
                    remove_file(name)
                raise
            self.db.execute("COMMIT")
            for name in tx.doomed_files:
                remove_file(name)

    def install(self) -> int:
        """First start: the item set "kitab sandbox". Returns its id (1 on a fresh data dir)."""
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'item_set_id'").fetchone()
            if row:
                return int(row["value"])
            self.db.execute("BEGIN IMMEDIATE")
            stamp = now()
            cursor = self.db.execute(
                "INSERT INTO resource (resource_type, owner_id, title, is_public, created, "
                "modified, is_open) VALUES ('item_sets', ?, ?, 1, ?, ?, 1)",
                (USER["id"], SANDBOX_ITEM_SET_TITLE, stamp, stamp),
            )
            set_id = cursor.lastrowid
            self.db.execute(
                "INSERT INTO value (resource_id, property_id, type, value) VALUES (?, ?, ?, ?)",
                (set_id, TITLE_PROPERTY_ID, "literal", SANDBOX_ITEM_SET_TITLE),
            )
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('item_set_id', ?), ('installed', ?)",
                (str(set_id), stamp),
            )
            self.db.execute("COMMIT")
            return int(set_id)

    def close(self) -> None:
        with self.lock:
            self.db.close()
