"""Planning a push: what each catalogue record needs on one target, decided from local state.

Planning reads the catalogue, the scans folder and the state store, and never the network: a
plan over an unchanged catalogue is all ``unchanged`` and the push that follows sends nothing.
Records stream through one at a time, so memory stays flat whatever the catalogue's size
(the only thing kept per record is its key, to catch duplicate control numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from pathlib import Path

from kitab.catalogue import ReadOptions, open_catalogue
from kitab.catalogue.scans import ScanIndex
from kitab.config import Config, TargetConfig
from kitab.mappings import Crosswalk, default_crosswalk, load_crosswalk, map_record, render
from kitab.mappings import metadata_hash as hash_metadata
from kitab.model import FileRef, Flavour, Item, Metadata, Record
from kitab.sync import rules
from kitab.sync.conflicts import ConflictStore
from kitab.sync.digest import SourceDigests, seal, setup_fingerprint
from kitab.sync.merge import FieldChange, changed_fields
from kitab.sync.report import RunReport
from kitab.sync.state import Link, StateStore, SyncedFile
from kitab.sync.targets import NAMING


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIP = "skip"
    WITHDRAW = "withdraw"


#: records planned together: their links come from the state store in one query
_PAGE = 256

#: metadata_hash of a link whose item kitab withdrew: a deleted record stays "unchanged" after
WITHDRAWN = "withdrawn"


@dataclass(slots=True)
class FilePlan:
    add: list[FileRef] = field(default_factory=list)
    replace: list[tuple[SyncedFile, FileRef]] = field(default_factory=list)
    unchanged: list[SyncedFile] = field(default_factory=list)
    #: pushed before, gone from the scans folder now: left in the repository, and reported
    gone: list[SyncedFile] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.add) + len(self.replace)


@dataclass(slots=True)
class Action:
    """What one record needs on one target."""

    kind: ActionKind
    key: str
    label: str  # "000101 (qazax.xml, record 3)": how messages name the record
    item: Item | None = None
    container: str | None = None
    metadata_hash: str = ""
    changes: list[FieldChange] = field(default_factory=list)
    files: FilePlan = field(default_factory=FilePlan)
    link: Link | None = None
    visibility_changed: bool = False
    reason: str = ""
    missing_scans: list[str] = field(default_factory=list)
    #: the record's source digest (kitab.sync.digest), unsealed; None when the record may not
    #: take the fast path (an open intent or conflict)
    source_digest: str | None = None
    #: restricted scans kept back because the target cannot restrict them (DSpace: reported)
    withheld: list[Path] = field(default_factory=list)


def record_label(record: Record) -> str:
    control = record.control_number or record.key
    return f"{control} ({Path(record.source.file).name}, record {record.source.ordinal})"


@dataclass
class PlanContext:
    """Everything a planner needs that outlives one record."""

    config: Config
    target: TargetConfig
    store: StateStore
    repository_kind: str  # "dspace" | "omeka" (SAF packages use DSpace naming)
    checksum_algorithm: str  # "MD5" | "SHA-256"


class Planner:
    """Streams the catalogue and yields one :class:`Action` per record."""

    def __init__(self, context: PlanContext) -> None:
        self.context = context
        config = context.config
        self.reader = open_catalogue(
            config.catalogue.path,
            ReadOptions(
                flavour=config.catalogue.flavour,
                encoding=config.catalogue.encoding,
                key_field=config.catalogue.key_field,
            ),
        )
        self.scans = (
            ScanIndex(config.scans.path, config.scans.match) if config.scans is not None else None
        )
        self._configured: Crosswalk | None = (
            load_crosswalk(config.catalogue.crosswalk) if config.catalogue.crosswalk else None
        )
        self._crosswalks: dict[str, Crosswalk] = {}
        self.seen_keys: set[str] = set()
        self.deletions_skipped = False
        target = context.target
        self.digests = SourceDigests(
            {
                flavour: setup_fingerprint(
                    config, target, context.repository_kind, self._crosswalk(flavour)
                )
                for flavour in Flavour
            }
        )
        #: records that must be planned the ordinary way: a write was cut short, or a cataloguer
        #: has a conflict to settle
        self.held_back = {entry.key for entry in context.store.open_intents(target.name)}
        self.held_back.update(c.key for c in ConflictStore(context.store).open(target.name))
        #: records found unchanged from their source digest alone, without being mapped
        self.fast_paths = 0

    def crosswalk_for(self, record: Record) -> Crosswalk:
        return self._crosswalk(record.flavour)

    def _crosswalk(self, flavour: Flavour) -> Crosswalk:
        if self._configured is not None:
            return self._configured
        if flavour not in self._crosswalks:
            self._crosswalks[flavour] = default_crosswalk(flavour)
        return self._crosswalks[flavour]

    def __iter__(self) -> Iterator[Action]:
        records = iter(self.reader)
        target = self.context.target.name
        while page := list(islice(records, _PAGE)):
            links = self.context.store.get_links(target, [record.key for record in page])
            for record in page:
                yield self.plan(record, links.get(record.key))
        if self.context.config.catalogue.full_export:
            yield from self._gone_from_export()

    def _gone_from_export(self) -> Iterator[Action]:
        """Linked records a full export no longer holds: deleted in the library system.

        Not when a record could not be read: its key is unknown, and withdrawing its item
        because the export was damaged would destroy a good item's visibility."""
        if any(problem.severity == "error" for problem in self.reader.problems):
            self.deletions_skipped = True
            return
        target = self.context.target.name
        for link in self.context.store.iter_links(target):
            if link.key in self.seen_keys:
                continue
            kind = ActionKind.UNCHANGED if link.metadata_hash == WITHDRAWN else ActionKind.WITHDRAW
            yield Action(
                kind,
                link.key,
                f"{link.key} (gone from the export)",
                link=link,
                reason="no longer in the full export",
            )

    def unclaimed_scans(self) -> list[Path]:
        return self.scans.unclaimed() if self.scans is not None else []

    def mapped(self, record: Record) -> Metadata:
        """The record's metadata in the target repository's naming."""
        return render(map_record(record, self.crosswalk_for(record)), self.context.repository_kind)

    def plan(self, record: Record, link: Link | None) -> Action:
        """The action for one record, given its link (None: never pushed)."""
        context = self.context
        label = record_label(record)
        if record.key in self.seen_keys:
            return Action(
                ActionKind.SKIP, record.key, label, reason="duplicate control number in catalogue"
            )
        self.seen_keys.add(record.key)
        if record.leader[5:6] == "d":
            return self._deleted(record, label, link)
        match = self.scans.match(record) if self.scans is not None else None
        missing = match.missing if match else []
        scans = match.files if match else []
        source = None if record.key in self.held_back else self.digests.record(record, scans)
        if source is not None and link is not None and link.source_digest == seal(source, link):
            self.fast_paths += 1
            local = {path.name for path in scans}
            gone = [f for f in link.files if f.name not in local]
            return Action(
                ActionKind.UNCHANGED,
                record.key,
                label,
                metadata_hash=link.metadata_hash,
                files=FilePlan(gone=gone),
                link=link,
                missing_scans=missing,
                source_digest=source,
            )
        metadata = self.mapped(record)
        item_public, files_public = rules.rights(context.config.rights, record)
        withheld: list[Path] = []
        if context.target.kind == "dspace" and not (item_public and files_public):
            # DSpace reads access from resource policies, which kitab does not manage (and a
            # non-discoverable item's files are still readable): rather than publish restricted
            # scans, keep them back and say so.
            withheld, scans = scans, []
        files = [FileRef(path, public=files_public) for path in scans]
        item = Item(record.key, metadata, files, public=item_public)
        container = rules.route(context.target.routes, record, context.target.container)
        digest = hash_metadata(metadata)
        if link is None:
            return Action(
                ActionKind.CREATE,
                record.key,
                label,
                item=item,
                container=container,
                metadata_hash=digest,
                files=FilePlan(add=files),
                missing_scans=missing,
                source_digest=source,
                withheld=withheld,
            )
        file_plan = self.compare_files(files, link.files)
        changes = (
            [] if link.metadata_hash == digest else changed_fields(link.catalogue_side, metadata)
        )
        visibility_changed = link.public != item_public
        kind = (
            ActionKind.UPDATE
            if changes or file_plan.writes or visibility_changed
            else ActionKind.UNCHANGED
        )
        return Action(
            kind,
            record.key,
            label,
            item=item,
            container=container,
            metadata_hash=digest,
            changes=changes,
            files=file_plan,
            link=link,
            visibility_changed=visibility_changed,
            missing_scans=missing,
            source_digest=source,
            withheld=withheld,
        )

    def _deleted(self, record: Record, label: str, link: Link | None) -> Action:
        """A record marked deleted (leader/05 = d): its item is withdrawn, never destroyed."""
        if link is None:
            return Action(ActionKind.SKIP, record.key, label, reason="deleted, never pushed")
        if link.metadata_hash == WITHDRAWN:
            return Action(ActionKind.UNCHANGED, record.key, label, link=link)
        return Action(
            ActionKind.WITHDRAW, record.key, label, link=link, reason="marked deleted (leader/05)"
        )

    def checksum(self, file: FileRef) -> str:
        """The file's checksum in the target's algorithm, from the cache when the file is
        unchanged since it was last hashed (a no-op push hashes nothing)."""
        cached = self.context.store.file_checksums(file.path)
        if cached is None:
            self.context.store.remember_checksums(file.path, file.md5, file.sha256)
            cached = (file.md5, file.sha256)
        file._md5, file._sha256 = cached
        return cached[0] if self.context.checksum_algorithm == "MD5" else cached[1]

    def compare_files(self, local: list[FileRef], pushed: list[SyncedFile]) -> FilePlan:
        plan = FilePlan()
        by_name = {f.name: f for f in pushed}
        for file in local:
            previous = by_name.pop(file.name, None)
            if previous is None:
                plan.add.append(file)
            elif previous.checksum == self.checksum(file):
                plan.unchanged.append(previous)
            else:
                plan.replace.append((previous, file))
        plan.gone = list(by_name.values())
        return plan


#: the checksum each kind of repository keeps for a file
CHECKSUM = {"dspace": "MD5", "omeka": "SHA-256", "saf": "MD5"}


def planner_for(config: Config, target: TargetConfig, store: StateStore) -> Planner:
    return Planner(PlanContext(config, target, store, NAMING[target.kind], CHECKSUM[target.kind]))


def finish_reading(planner: Planner, report: RunReport, *, scans: bool = True) -> None:
    """Add what only the end of the catalogue tells: bad records, scans no record claimed."""
    for problem in planner.reader.problems:
        if problem.severity == "error":
            report.problems.append(
                {
                    "file": problem.position.file,
                    "record": problem.position.ordinal,
                    "offset": problem.position.offset,
                    "key": problem.key,
                    "reason": problem.reason,
                }
            )
    if scans:  # only a run that matched every record's scans knows which are left over
        report.unclaimed_scans = [str(p) for p in planner.unclaimed_scans()]
    if planner.deletions_skipped:
        report.notes.append(
            "records missing from the full export were not withdrawn: some records could not "
            "be read, so the export may be incomplete"
        )
