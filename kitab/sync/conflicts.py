"""Open conflicts and their resolution: one code path for ``kitab resolve`` and the web page.

A conflict is one field of one record changed on both sides since the last sync. It stays open,
with neither side changed for that field, until a cataloguer picks the catalogue's value, the
repository's, or types a merged one. Resolving only moves the sync bases (and, for a merged
value, writes it to the repository); the next ``kitab sync`` then carries the choice to the
other side through the ordinary push and pull paths, so there is no second way of writing data.
"""

from __future__ import annotations

from dataclasses import dataclass

from kitab.connectors.base import Repository
from kitab.mappings import metadata_hash
from kitab.model import Metadata, Value
from kitab.sync.merge import Conflict, values_to_write
from kitab.sync.state import StateStore, metadata_from_json, metadata_to_json, utcnow

CHOICES = ("catalogue", "repository", "value")


class ConflictError(Exception):
    """A resolution that cannot be applied (unknown, already resolved, bad choice)."""


@dataclass(frozen=True)
class OpenConflict:
    id: int
    target: str
    key: str
    label: str
    field: str
    base: list[Value]
    catalogue: list[Value]
    repository: list[Value]
    detected_at: str
    resolved_at: str | None = None
    resolution: str | None = None
    resolved_by: str | None = None


def _encode(values: list[Value]) -> str:
    return metadata_to_json({"v": values})


def _decode(text: str) -> list[Value]:
    return metadata_from_json(text).get("v", [])


class ConflictStore:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def record(self, target: str, key: str, label: str, conflict: Conflict) -> int:
        """Open a conflict, or refresh the values of the one already open for that field."""
        values = (
            label,
            _encode(conflict.base),
            _encode(conflict.catalogue),
            _encode(conflict.repository),
        )
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT id FROM conflicts WHERE target = ? AND key = ? AND field = ? "
                "AND resolved_at IS NULL",
                (target, key, conflict.field),
            ).fetchone()
            if row:
                db.execute(
                    "UPDATE conflicts SET label = ?, base = ?, catalogue = ?, repository = ? "
                    "WHERE id = ?",
                    (*values, row[0]),
                )
                return row[0]
            return db.insert(
                "INSERT INTO conflicts (target, key, field, label, base, catalogue, repository, "
                "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (target, key, conflict.field, *values, utcnow()),
            )

    def open(self, target: str | None = None) -> list[OpenConflict]:
        sql = f"SELECT {_COLUMNS} FROM conflicts WHERE resolved_at IS NULL"
        params: tuple = ()
        if target is not None:
            sql += " AND target = ?"
            params = (target,)
        return [_conflict(row) for row in self.store.query(sql + " ORDER BY id", params)]

    def get(self, conflict_id: int) -> OpenConflict:
        rows = self.store.query(f"SELECT {_COLUMNS} FROM conflicts WHERE id = ?", (conflict_id,))
        if not rows:
            raise ConflictError(f"there is no conflict {conflict_id}")
        return _conflict(rows[0])

    def resolve(
        self,
        conflict_id: int,
        choice: str,
        *,
        value: list[Value] | None = None,
        by: str = "",
        repository: Repository | None = None,
    ) -> OpenConflict:
        """Settle a conflict; ``repository`` is needed only to write a merged value."""
        if choice not in CHOICES:
            raise ConflictError(f"choose one of {', '.join(CHOICES)}, not {choice!r}")
        conflict = self.get(conflict_id)
        if conflict.resolved_at is not None:
            who = f" by {conflict.resolved_by}" if conflict.resolved_by else ""
            raise ConflictError(
                f"conflict {conflict_id} ({conflict.label}, {conflict.field}) was already "
                f"resolved{who} at {conflict.resolved_at} ({conflict.resolution})"
            )
        link = self.store.get_link(conflict.target, conflict.key)
        if link is None:
            raise ConflictError(f"{conflict.label} is no longer linked to an item")
        base: Metadata = dict(link.base)
        catalogue_side: Metadata = dict(link.catalogue_side)
        if choice == "catalogue":
            base[conflict.field] = conflict.repository  # its edit is seen: push may overwrite
        elif choice == "repository":
            catalogue_side[conflict.field] = conflict.catalogue  # seen: pull brings the edit
        else:
            if not value:
                raise ConflictError("a merged value must not be empty")
            if repository is None:
                raise ConflictError("writing a merged value needs the repository")
            current = repository.get(link.item_id).metadata.get(conflict.field, [])
            final = values_to_write(conflict.repository, value, current)
            repository.update_metadata(link.item_id, {conflict.field: final})
            base[conflict.field] = conflict.repository  # so pull carries the value to MARC
            catalogue_side[conflict.field] = conflict.catalogue
        link.base = base
        link.catalogue_base = catalogue_side
        # the catalogue side moved: its hash with it, and the next push plans this record afresh
        link.metadata_hash = metadata_hash(catalogue_side)
        link.source_digest = None
        with self.store.transaction() as db:
            changed = db.execute(
                "UPDATE conflicts SET resolved_at = ?, resolution = ?, value = ?, resolved_by = ? "
                "WHERE id = ? AND resolved_at IS NULL",
                (utcnow(), choice, _encode(value or []), by, conflict_id),
            ).rowcount
        if not changed:
            raise ConflictError(f"conflict {conflict_id} was resolved by someone else meanwhile")
        self.store.save_link(link)
        return self.get(conflict_id)


_COLUMNS = (
    "id, target, key, label, field, base, catalogue, repository, detected_at, resolved_at, "
    "resolution, resolved_by"
)


def _conflict(row: tuple) -> OpenConflict:
    (id_, target, key, label, field, base, catalogue, repository, detected, resolved, how, by) = row
    return OpenConflict(
        id_,
        target,
        key,
        label,
        field,
        _decode(base),
        _decode(catalogue),
        _decode(repository),
        detected,
        resolved,
        how,
        by,
    )
