"""Claims: a job or a target is worked on by one run at a time, across processes and machines.

A claim is a lease: a row (name, owner, expires_at) taken in one atomic statement only when it
is free, expired or already the caller's, and renewed by its holder while it works. A holder
that hangs simply stops renewing and the lease runs out.

On PostgreSQL the holder also takes a session-level advisory lock on the claim's name, on a
connection kept open for that purpose, and the row records that it did (``locked``). A worker
that dies (killed, crashed, its machine unplugged once TCP notices) loses its session, the
server drops the lock, and the next contender that gets the lock knows the recorded holder is
gone: the claim is free at once instead of after the lease. The lease still decides in every
other case, so a hung worker whose connection stays open is overtaken when its lease runs out,
and a lock never outlives its row's meaning: an advisory lock only ever shortens a wait.

Lease times on PostgreSQL come from the database server's clock, so the workers' clocks are
never compared with one another. SQLite is one machine: its clock is the local one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kitab.sync.db import PostgresBackend, SqliteBackend, utcnow

T = TypeVar("T")

_NOW = "extract(epoch from clock_timestamp())::float8"

_SQLITE_CLAIM = """INSERT INTO claims (name, owner, expires_at, claimed_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
        claimed_at = CASE WHEN claims.owner = excluded.owner THEN claims.claimed_at
                     ELSE excluded.claimed_at END
    WHERE claims.expires_at <= ? OR claims.owner = excluded.owner
    RETURNING owner"""

_PG_CLAIM = f"""INSERT INTO claims AS c (name, owner, expires_at, claimed_at, locked)
    VALUES (%s, %s, {_NOW} + %s, %s, %s)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
        claimed_at = CASE WHEN c.owner = excluded.owner THEN c.claimed_at
                     ELSE excluded.claimed_at END,
        locked = excluded.locked
    WHERE c.expires_at <= {_NOW} OR c.owner = excluded.owner OR (c.locked = 1 AND %s)
    RETURNING owner"""

_PG_RENEW = (
    f"UPDATE claims SET expires_at = {_NOW} + %s, locked = %s WHERE name = %s AND owner = %s"
)

_PG_LIVE = f"SELECT name, owner, expires_at - {_NOW}, locked FROM claims WHERE expires_at > {_NOW}"

_PG_ADVISORY = (
    "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
    "AND granted AND objsubid = 1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def lock_key(name: str) -> int:
    """The claim's advisory lock key: 64 bits of its name's SHA-256, as a signed bigint."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def _lock_parts(key: int) -> tuple[int, int]:
    """How pg_locks shows a bigint key: (classid, objid) = (high, low) 32 bits."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


class SqliteClaims:
    """Leases in the state file; BEGIN IMMEDIATE makes each claim atomic between processes."""

    def __init__(self, backend: SqliteBackend) -> None:
        self._backend = backend

    def claim(self, name: str, owner: str, ttl: float) -> bool:
        now = time.time()
        with self._backend.transaction() as db:
            rows = db.execute(_SQLITE_CLAIM, (name, owner, now + ttl, utcnow(), now))
            return bool(rows.fetchall())

    def renew(self, name: str, owner: str, ttl: float) -> bool:
        with self._backend.transaction() as db:
            return bool(
                db.execute(
                    "UPDATE claims SET expires_at = ? WHERE name = ? AND owner = ?",
                    (time.time() + ttl, name, owner),
                ).rowcount
            )

    def release(self, name: str, owner: str) -> None:
        with self._backend.transaction() as db:
            db.execute("DELETE FROM claims WHERE name = ? AND owner = ?", (name, owner))

    def live(self) -> list[tuple[str, str, float]]:
        now = time.time()
        with self._backend.statement() as db:
            rows = db.execute(
                "SELECT name, owner, expires_at FROM claims WHERE expires_at > ?", (now,)
            ).fetchall()
        return [(name, owner, expires - now) for name, owner, expires in rows]

    def close(self) -> None:
        """Nothing to let go: a lease outlives the process by design."""


class PostgresClaims:
    """Leases plus session advisory locks, on one connection this store keeps for them."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self._session: Any = None
        self._mutex = threading.Lock()
        self._held: dict[str, str] = {}  # name → the owner for whom this session holds its lock

    def _connection(self) -> Any:
        if self._session is None or self._session.closed or self._session.broken:
            self._held.clear()  # a new session holds no locks
            self._session = self._backend.connect()
        return self._session

    def _run(self, step: Callable[[Any], T]) -> T:
        """One step on the claims session; a session lost (server restart) is opened again
        once, its locks gone with it, and the step retried on the new one."""
        with self._mutex:
            try:
                return step(self._connection())
            except self._backend.connection_errors:
                if self._session is None or not self._session.broken:
                    raise
                return step(self._connection())

    def _try_lock(self, db: Any, name: str, owner: str) -> bool:
        holder = self._held.get(name)
        if holder is not None:  # advisory locks nest per session: never take one twice
            return holder == owner
        taken = db.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(name),)).fetchone()[0]
        if taken:
            self._held[name] = owner
        return bool(taken)

    def _unlock(self, db: Any, name: str, owner: str) -> None:
        if self._held.get(name) == owner:
            del self._held[name]
            db.execute("SELECT pg_advisory_unlock(%s)", (lock_key(name),))

    def claim(self, name: str, owner: str, ttl: float) -> bool:
        def step(db: Any) -> bool:
            locked = self._try_lock(db, name, owner)
            row = db.execute(
                _PG_CLAIM, (name, owner, float(ttl), utcnow(), int(locked), locked)
            ).fetchone()
            if row is None:
                self._unlock(db, name, owner)
            return row is not None

        return self._run(step)

    def renew(self, name: str, owner: str, ttl: float) -> bool:
        def step(db: Any) -> bool:
            locked = self._try_lock(db, name, owner)
            changed = db.execute(_PG_RENEW, (float(ttl), int(locked), name, owner)).rowcount
            if not changed:
                self._unlock(db, name, owner)
            return bool(changed)

        return self._run(step)

    def release(self, name: str, owner: str) -> None:
        def step(db: Any) -> None:
            db.execute("DELETE FROM claims WHERE name = %s AND owner = %s", (name, owner))
            self._unlock(db, name, owner)

        self._run(step)

    def live(self) -> list[tuple[str, str, float]]:
        """Unexpired claims, less those whose holder held the lock and has since died."""
        with self._backend.statement() as db:
            rows = db.raw.execute(_PG_LIVE).fetchall()
            held = set(db.raw.execute(_PG_ADVISORY).fetchall())
        return [
            (name, owner, left)
            for name, owner, left, locked in rows
            if not locked or _lock_parts(lock_key(name)) in held
        ]

    def close(self) -> None:
        """Closing the session lets go of every lock; the rows' leases stay as they were."""
        with self._mutex:
            if self._session is not None:
                self._session.close()
                self._session = None
                self._held.clear()
