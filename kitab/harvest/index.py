"""The provider's index of the catalogue, kept in the state store (component ``oai``).

Serving straight from the export would mean re-reading a whole ISO 2709 file for each page,
and would give no datestamps and no deletions. So the catalogue is streamed into one row per
record key: the record ready to serve (its own format and oai_dc, zlib-compressed), its sets,
a hash of everything disseminated and a datestamp that moves only when that hash (or the set
membership, which is part of it) changes. A key missing from the export becomes a persistent
deleted record and is never forgotten.

Datestamps are taken just before each batch commits, so a harvester that did not see a change
always finds it at or after its own responseDate (from= is inclusive, seconds granularity).
"""

from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from kitab.catalogue import ReadOptions, Severity, open_catalogue
from kitab.catalogue.scans import ScanIndex
from kitab.config import Config
from kitab.harvest.disseminate import Link, dc_xml, native_xml
from kitab.mappings import Crosswalk, default_crosswalk, load_crosswalk, map_record
from kitab.model import Flavour, Record
from kitab.sync.db import upsert_sql
from kitab.sync.rules import holds, rights
from kitab.sync.state import MIGRATIONS, StateStore

MIGRATIONS["oai"] = [
    [
        """CREATE TABLE oai_records (
            key TEXT PRIMARY KEY,
            datestamp INTEGER NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            flavour TEXT NOT NULL,
            sets TEXT NOT NULL,
            hash TEXT,
            native BLOB,
            dc BLOB,
            generation INTEGER NOT NULL)""",
        "CREATE INDEX oai_records_order ON oai_records (datestamp, key)",
        """CREATE TABLE oai_files (
            path TEXT PRIMARY KEY,
            key TEXT NOT NULL)""",
        """CREATE TABLE oai_meta (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL)""",
    ]
]

_BATCH = 500


@dataclass(slots=True)
class RefreshReport:
    """What one pass over the catalogue changed in the index, and what it could not read."""

    records: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    problems: list[str] = field(default_factory=list)  # "file: record N (byte B) [key]: reason"
    deletions_held: bool = False  # the read was incomplete, so nothing was marked deleted


def sets_text(specs: list[str]) -> str:
    """Set specs as stored: space-separated with spaces around, so ``instr`` finds whole specs."""
    return f" {' '.join(sorted(set(specs)))} " if specs else " "


class ProviderIndex:
    """Builds and refreshes the index from the catalogue that ``kitab.toml`` names."""

    def __init__(self, config: Config, store: StateStore, public_url: str) -> None:
        self.config = config
        self.store = store
        self.public_url = public_url.rstrip("/")
        store.migrate()
        self._crosswalk: Crosswalk | None = (
            load_crosswalk(config.catalogue.crosswalk) if config.catalogue.crosswalk else None
        )
        self._defaults: dict[Flavour, Crosswalk] = {}

    # -- change detection --------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Changes whenever anything that shapes the served records may have changed.

        Stat calls and one small query: cheap enough to run every few seconds while serving.
        """
        parts = [self.public_url, str(self.config.file), _stat(self.config.file)]
        root = self.config.catalogue.path
        files = sorted(root.iterdir()) if root.is_dir() else [root]
        parts.extend(f"{p}:{_stat(p)}" for p in files)
        if self.config.catalogue.crosswalk:
            parts.append(_stat(Path(self.config.catalogue.crosswalk)))
        if self.config.scans is not None and self.config.scans.path.is_dir():
            parts.append(_stat(self.config.scans.path))
        targets = self._link_targets()
        if targets:
            marks = ",".join("?" * len(targets))
            row = self.store.query(
                f"SELECT COUNT(*), MAX(updated_at) FROM links WHERE target IN ({marks})", targets
            )[0]
            parts.append(f"links:{row[0]}:{row[1]}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def needs_refresh(self) -> bool:
        return self.meta("fingerprint") != self.fingerprint()

    def meta(self, name: str) -> str | None:
        rows = self.store.query("SELECT value FROM oai_meta WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_meta(self, name: str, value: str) -> None:
        self.store.upsert("oai_meta", {"name": name, "value": value}, key=("name",))

    # -- the pass over the catalogue ---------------------------------------------------------

    def refresh(self) -> RefreshReport:
        """Stream the catalogue into the index; memory holds one batch of rows at most."""
        report = RefreshReport()
        fingerprint = self.fingerprint()
        generation = int(self.meta("generation") or 0) + 1
        reader = open_catalogue(
            self.config.catalogue.path,
            ReadOptions(
                flavour=Flavour(self.config.catalogue.flavour)
                if self.config.catalogue.flavour
                else None,
                encoding=self.config.catalogue.encoding,
                key_field=self.config.catalogue.key_field,
            ),
        )
        scans = (
            ScanIndex(self.config.scans.path, self.config.scans.match)
            if self.config.scans is not None
            else None
        )
        batch: list[tuple[Record, bytes, bytes, str, list[str]]] = []
        for record in reader:
            report.records += 1
            try:
                batch.append(self._prepare(record, scans))
            except ValueError as error:  # a crosswalk or serialiser refusing this record
                report.problems.append(f"{record.source} [{record.key}]: {error}")
                self._keep(record.key, generation)
            if len(batch) >= _BATCH:
                self._commit(batch, generation, report)
                batch = []
        self._commit(batch, generation, report)
        for problem in reader.problems:
            if problem.severity is Severity.ERROR:
                report.problems.append(str(problem))
                if problem.key:
                    self._keep(problem.key, generation)
                if problem.position.ordinal == 0:  # a whole file (or its rest) unreadable
                    report.deletions_held = True
        if report.records == 0 and self._live_count() > 0:
            report.deletions_held = True
        if not report.deletions_held:
            report.deleted = self._mark_deleted(generation)
        self.set_meta("generation", str(generation))
        self.set_meta("fingerprint", fingerprint)
        return report

    def _crosswalk_for(self, flavour: Flavour) -> Crosswalk:
        if self._crosswalk is not None:
            return self._crosswalk
        if flavour not in self._defaults:
            self._defaults[flavour] = default_crosswalk(flavour)
        return self._defaults[flavour]

    def _link_targets(self) -> list[str]:
        links_from = self.config.oai.links_from
        return list(links_from if links_from is not None else self.config.targets)

    def _prepare(
        self, record: Record, scans: ScanIndex | None
    ) -> tuple[Record, bytes, bytes, str, list[str]]:
        item_public, files_public = rights(self.config.rights, record)
        links: list[Link] = []
        if item_public:
            for target in self._link_targets():
                link = self.store.get_link(target, record.key)
                if link is not None and link.item_url and link.public:
                    links.append(Link(link.item_url, "Repository copy", "item"))
        files: list[str] = []
        if scans is not None and files_public:
            for path in scans.match(record).files:
                relative = path.relative_to(scans.root).as_posix()
                files.append(relative)
                url = f"{self.public_url}/scans/{quote(relative)}"
                links.append(Link(url, f"Scan: {path.name}", "scan"))
        specs = [s.spec for s in self.config.oai.sets if holds(s.when, record)]
        metadata = map_record(record, self._crosswalk_for(record.flavour))
        native = native_xml(record, links)
        dc = dc_xml(metadata, links)
        return record, native, dc, sets_text(specs), files

    def _keep(self, key: str, generation: int) -> None:
        """A record that could not be read this time is not a deletion."""
        self.store.execute("UPDATE oai_records SET generation = ? WHERE key = ?", (generation, key))

    def _commit(
        self,
        batch: list[tuple[Record, bytes, bytes, str, list[str]]],
        generation: int,
        report: RefreshReport,
    ) -> None:
        if not batch:
            return
        with self.store.transaction() as db:
            now = int(time.time())
            for record, native, dc, sets, files in batch:
                digest = hashlib.sha256(native + b"\0" + dc + b"\0" + sets.encode()).hexdigest()
                row = db.execute(
                    "SELECT hash, deleted, generation FROM oai_records WHERE key = ?",
                    (record.key,),
                ).fetchone()
                if row is not None and row[2] == generation:
                    report.problems.append(
                        f"{record.source} [{record.key}]: duplicate key, an earlier record "
                        "has it: this one is not served"
                    )
                    continue
                if row is not None and row[0] == digest and not row[1]:
                    db.execute(
                        "UPDATE oai_records SET generation = ? WHERE key = ?",
                        (generation, record.key),
                    )
                    report.unchanged += 1
                    continue
                if row is None:
                    report.added += 1
                else:
                    report.changed += 1
                db.upsert(
                    "oai_records",
                    {
                        "key": record.key,
                        "datestamp": now,
                        "deleted": 0,
                        "flavour": str(record.flavour),
                        "sets": sets,
                        "hash": digest,
                        "native": zlib.compress(native),
                        "dc": zlib.compress(dc),
                        "generation": generation,
                    },
                    key=("key",),
                )
                db.execute("DELETE FROM oai_files WHERE key = ?", (record.key,))
                db.executemany(
                    upsert_sql("oai_files", ("path", "key"), ("path",)),
                    [(path, record.key) for path in files],
                )

    def _mark_deleted(self, generation: int) -> int:
        with self.store.transaction() as db:
            now = int(time.time())
            db.execute(
                "DELETE FROM oai_files WHERE key IN (SELECT key FROM oai_records "
                "WHERE generation < ? AND deleted = 0)",
                (generation,),
            )
            return db.execute(
                "UPDATE oai_records SET deleted = 1, datestamp = ?, hash = NULL, native = NULL, "
                "dc = NULL WHERE generation < ? AND deleted = 0",
                (now, generation),
            ).rowcount

    def _live_count(self) -> int:
        return self.store.query("SELECT COUNT(*) FROM oai_records WHERE deleted = 0")[0][0]


def _stat(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"
