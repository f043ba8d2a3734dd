"""Rebuilding the links from the repository when the state store is lost or never existed.

Every item kitab creates carries the record's identity, so listing the repository is enough to
link items back to records (items loaded earlier through SAF carry it too). The base of each
link becomes the values kitab would write *that the repository already holds*: a following push
then sends only the real differences, and never takes for kitab's a value a cataloguer added.

The repository is listed once into a scratch table of the state store and joined with the
catalogue as it streams, so memory stays flat however many items there are.
"""

from __future__ import annotations

import json

from kitab.config import Config, TargetConfig
from kitab.connectors.base import RemoteItem, Repository
from kitab.mappings import metadata_hash
from kitab.model import FileRef, Metadata
from kitab.sync.merge import same
from kitab.sync.plan import finish_reading, planner_for
from kitab.sync.report import RunReport
from kitab.sync.runs import recorded_run
from kitab.sync.state import (
    MIGRATIONS,
    Link,
    StateStore,
    SyncedFile,
    metadata_from_json,
    metadata_to_json,
)

MIGRATIONS["relink"] = [
    [
        """CREATE TABLE relink_scratch (
            target TEXT NOT NULL, key TEXT NOT NULL, item_id TEXT NOT NULL, item_url TEXT,
            public INTEGER NOT NULL, metadata TEXT NOT NULL, files TEXT NOT NULL,
            PRIMARY KEY (target, key))"""
    ]
]


def relink(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    *,
    repository: Repository | None = None,
) -> RunReport:
    """Link every record to the item that carries its identity; report the rest."""
    store.migrate()
    with recorded_run(config, target, store, "relink", repository) as (report, repository):
        try:
            _relink(config, target, store, report, repository)
        finally:
            store.execute("DELETE FROM relink_scratch WHERE target = ?", (target.name,))
    return report


def _relink(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    report: RunReport,
    repository: Repository,
) -> None:
    _list_repository(store, repository, target.name, report)
    planner = planner_for(config, target, store)
    for record in planner.reader:
        rows = store.query(
            "SELECT item_id, item_url, public, metadata, files FROM relink_scratch "
            "WHERE target = ? AND key = ?",
            (target.name, record.key),
        )
        if not rows:
            report.count("not_in_repository")
            continue
        item_id, item_url, public, remote_json, files_json = rows[0]
        mapped = planner.mapped(record)
        remote = metadata_from_json(remote_json)
        held = _held_values(mapped, remote)
        scans = planner.scans.match(record).files if planner.scans else []
        stored = {c: (file_id, size) for file_id, c, size in json.loads(files_json)}
        files = []
        for path in scans:
            checksum = planner.checksum(FileRef(path))
            if checksum in stored:
                file_id, size = stored[checksum]
                files.append(SyncedFile(path.name, file_id, checksum, size))
        store.save_link(
            Link(
                target=target.name,
                key=record.key,
                item_id=item_id,
                metadata_hash=metadata_hash(held),
                base={name: remote.get(name, []) for name in mapped},
                catalogue_base=held,
                files=files,
                item_url=item_url,
                public=bool(public),
            )
        )
        store.execute(
            "DELETE FROM relink_scratch WHERE target = ? AND key = ?", (target.name, record.key)
        )
        report.count("linked")
    finish_reading(planner, report)
    for key, item_id in store.query(
        "SELECT key, item_id FROM relink_scratch WHERE target = ?", (target.name,)
    ):
        report.notes.append(f"item {item_id} carries {key}, which the catalogue does not hold")
        report.count("items_without_record")


def _list_repository(
    store: StateStore, repository: Repository, target: str, report: RunReport
) -> None:
    store.execute("DELETE FROM relink_scratch WHERE target = ?", (target,))
    for remote in repository.iter_items():
        report.count("items_listed")
        if remote.key is None:
            continue
        store.upsert(
            "relink_scratch",
            {
                "target": target,
                "key": remote.key,
                "item_id": remote.id,
                "item_url": remote.url,
                "public": int(remote.public),
                "metadata": metadata_to_json(remote.metadata),
                "files": _files_json(remote),
            },
            key=("target", "key"),
        )


def _files_json(remote: RemoteItem) -> str:
    return json.dumps([[f.id, f.checksum, f.size] for f in remote.files])


def _held_values(mapped: Metadata, remote: Metadata) -> Metadata:
    """Per field, kitab's values that the repository holds, in kitab's order."""
    base: Metadata = {}
    for name, values in mapped.items():
        held = [v for v in values if any(same([v], [r]) for r in remote.get(name, []))]
        if held:
            base[name] = held
    return base
