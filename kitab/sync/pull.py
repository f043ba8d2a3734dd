"""Pull: repository edits come back to the catalogue as updated MARC records.

For each item the repository changed since the last pull (read with the repository's own
timestamps, so the clocks of the two machines never meet), every field kitab owns is compared
three ways: the catalogue side of the base, the repository side of the base, and now. A field
only the repository changed is written into the *original* record (reverse crosswalk, original
bytes kept elsewhere) for the library system's overlay import; a field both sides changed is a
conflict, settled by the configured policy or left for a cataloguer (``kitab resolve``).

The records are written as ISO 2709 and MARCXML into the output folder, atomically and under a
new name each run: the source export is never touched.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kitab.catalogue import ReadOptions, open_catalogue, write_records
from kitab.catalogue.patch import patched_iso2709
from kitab.config import Config, TargetConfig
from kitab.connectors.base import Repository
from kitab.mappings import apply_changes, map_record, metadata_hash, owned_fields, unrender
from kitab.model import IDENTITY_PREFIX, Metadata, Record, Value
from kitab.sync.conflicts import ConflictStore
from kitab.sync.merge import Conflict, same
from kitab.sync.plan import Planner, finish_reading, planner_for, record_label
from kitab.sync.report import RunReport
from kitab.sync.runs import recorded_run
from kitab.sync.state import (
    MIGRATIONS,
    Link,
    StateStore,
    metadata_from_json,
    metadata_to_json,
)
from kitab.sync.targets import NAMING

#: Re-read this much before the watermark: repositories index late (DSpace's discovery commit).
OVERLAP = timedelta(minutes=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MIGRATIONS["pull"] = [
    [
        """CREATE TABLE pull_scratch (
            target TEXT NOT NULL, key TEXT NOT NULL, item_id TEXT NOT NULL,
            metadata TEXT NOT NULL, withdrawn INTEGER NOT NULL, public INTEGER NOT NULL,
            PRIMARY KEY (target, key))"""
    ]
]


@dataclass
class FieldDecision:
    """What one record's comparison decided."""

    to_catalogue: Metadata = field(default_factory=dict)  # repository naming
    conflicts: list[Conflict] = field(default_factory=list)
    settled: Metadata = field(default_factory=dict)  # both sides already agree: new bases


def decide(link: Link, mapped: Metadata, remote: Metadata, policy: str) -> FieldDecision:
    """Compare every field kitab owns: base (both sides), catalogue now, repository now."""
    decision = FieldDecision()
    catalogue_base, repository_base = link.catalogue_side, link.base
    for name in dict.fromkeys([*mapped, *catalogue_base, *repository_base]):
        catalogue = mapped.get(name, [])
        repository = _without_identity(remote.get(name, []))
        if same(_without_identity(repository_base.get(name, [])), repository):
            continue  # the repository did not touch it: anything else is push's business
        catalogue_changed = not same(catalogue_base.get(name, []), catalogue)
        if catalogue_changed and same(catalogue, repository):
            decision.settled[name] = repository  # both made the same edit
        elif catalogue_changed and policy == "manual":
            decision.conflicts.append(
                Conflict(name, catalogue_base.get(name, []), catalogue, repository)
            )
        elif catalogue_changed and policy == "catalogue-wins":
            continue  # push overwrites the repository's edit
        else:
            decision.to_catalogue[name] = repository
    return decision


def _without_identity(values: list[Value]) -> list[Value]:
    """kitab's own identity value is never pulled into MARC (it is not the catalogue's)."""
    return [v for v in values if not v.value.startswith(IDENTITY_PREFIX)]


def to_neutral(
    changes: Metadata, neutral_now: Metadata, kind: str, owned: set[str]
) -> tuple[Metadata, list[str]]:
    """Repository-named changes as neutral (crosswalk) fields; ambiguous ones reported.

    When several of the crosswalk's fields share one repository term (subjects and UDC are all
    ``dcterms:subject`` in Omeka S), a value goes back to the field it came from, and a new value
    to the term's plain field (``dc.subject``) when the crosswalk has exactly one; a value that
    cannot be placed is reported rather than guessed.
    """
    neutral: Metadata = {}
    problems: list[str] = []
    for term, values in changes.items():
        candidates = [n for n in unrender(term, NAMING[kind], names=owned) if n in owned]
        if len(candidates) <= 1:
            neutral[candidates[0] if candidates else term] = values
            continue
        plain = [n for n in candidates if n.count(".") == 1]
        placed: Metadata = {name: [] for name in candidates if name in neutral_now}
        for value in values:
            home = next(
                (n for n in candidates if any(same([value], [v]) for v in neutral_now.get(n, []))),
                plain[0] if len(plain) == 1 else None,
            )
            if home is None:
                problems.append(
                    f"{term}: cannot tell which MARC field {value.value!r} belongs to "
                    f"({', '.join(candidates)})"
                )
                continue
            placed.setdefault(home, []).append(value)
        neutral.update({n: v for n, v in placed.items() if not same(v, neutral_now.get(n, []))})
    return neutral, problems


class PullWriter:
    """Pulled records into ``<out>/<target>-<stamp>.mrc`` and ``.xml``, atomically."""

    def __init__(self, out_dir: Path, target: str) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.iso_path = out_dir / f"{target}-{stamp}.mrc"
        self.xml_path = out_dir / f"{target}-{stamp}.xml"
        fd, temp = tempfile.mkstemp(dir=out_dir, prefix=f".{target}-", suffix=".mrc")
        self._temp = Path(temp)
        self._out = os.fdopen(fd, "wb")
        self.count = 0

    def write(self, data: bytes) -> None:
        self._out.write(data)
        self.count += 1

    def finish(self) -> list[Path]:
        """Move the files into place (nothing is left when nothing was pulled)."""
        self._out.close()
        if not self.count:
            self._temp.unlink()
            return []
        os.replace(self._temp, self.iso_path)
        write_records(open_catalogue(self.iso_path, ReadOptions()), self.xml_path, "marcxml")
        return [self.iso_path, self.xml_path]

    def abandon(self) -> None:
        self._out.close()
        self._temp.unlink(missing_ok=True)


def pull(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    out_dir: Path,
    *,
    repository: Repository | None = None,
) -> RunReport:
    """Bring repository edits back as MARC records in ``out_dir``; record conflicts."""
    store.migrate()
    conflicts = ConflictStore(store)
    with recorded_run(config, target, store, "pull", repository) as (report, repository):
        writer = PullWriter(out_dir, target.name)
        try:
            _pull(config, target, store, report, repository, conflicts, writer)
        except BaseException:
            writer.abandon()
            raise
        finally:
            store.execute("DELETE FROM pull_scratch WHERE target = ?", (target.name,))
    return report


def _pull(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    report: RunReport,
    repository: Repository,
    conflicts: ConflictStore,
    writer: PullWriter,
) -> None:
    newest = _list_changes(store, repository, target.name, report)
    planner = planner_for(config, target, store)
    for record in planner.reader:
        _pull_record(planner, record, store, conflicts, writer, target, config, report)
    finish_reading(planner, report, scans=False)
    report.notes.extend(f"written: {path}" for path in writer.finish())
    if newest is not None and report.outcome != "failed":  # the whole list was read
        store.set_watermark(f"remote:{target.name}", newest.isoformat())


def _list_changes(
    store: StateStore, repository: Repository, target: str, report: RunReport
) -> datetime | None:
    """Note every item changed since the watermark (minus the overlap) in the scratch table."""
    mark = store.get_watermark(f"remote:{target}")
    since = datetime.fromisoformat(mark) - OVERLAP if mark else EPOCH
    newest: datetime | None = None
    store.execute("DELETE FROM pull_scratch WHERE target = ?", (target,))
    for remote in repository.changed_since(since):
        if remote.modified is not None and (newest is None or remote.modified > newest):
            newest = remote.modified
        if remote.key is None:
            continue
        if store.get_link(target, remote.key) is None:
            report.notes.append(f"item {remote.id} carries {remote.key} but is not linked")
            continue
        report.count("items_checked")
        if remote.withdrawn:
            report.notes.append(f"{remote.key}: item {remote.id} was withdrawn in the repository")
        store.upsert(
            "pull_scratch",
            {
                "target": target,
                "key": remote.key,
                "item_id": remote.id,
                "metadata": metadata_to_json(remote.metadata),
                "withdrawn": int(remote.withdrawn),
                "public": int(remote.public),
            },
            key=("target", "key"),
        )
    return newest


def _pull_record(
    planner: Planner,
    record: Record,
    store: StateStore,
    conflicts: ConflictStore,
    writer: PullWriter,
    target: TargetConfig,
    config: Config,
    report: RunReport,
) -> None:
    rows = store.query(
        "SELECT metadata FROM pull_scratch WHERE target = ? AND key = ?", (target.name, record.key)
    )
    link = store.get_link(target.name, record.key)
    if not rows or link is None:
        return
    remote = metadata_from_json(rows[0][0])
    label = record_label(record)
    mapped = planner.mapped(record)
    decision = decide(link, mapped, remote, config.conflict_policy)
    for conflict in decision.conflicts:
        conflicts.record(target.name, record.key, label, conflict)
        report.conflict(record.key, label, conflict)
    if not decision.to_catalogue and not decision.settled:
        return
    crosswalk = planner.crosswalk_for(record)
    neutral_now = map_record(record, crosswalk)
    owned = owned_fields(crosswalk)
    neutral, problems = to_neutral(decision.to_catalogue, neutral_now, target.kind, owned)
    for problem in problems:
        report.fail(record.key, label, problem)
    pulled: list[str] = []
    if neutral:
        result = apply_changes(record, crosswalk, neutral)
        for problem in result.problems:
            report.fail(record.key, label, problem)
        if result.applied:
            writer.write(patched_iso2709(record, result.marc))
            applied = set(result.applied)
            pulled = [
                term
                for term in decision.to_catalogue
                if applied & set(unrender(term, NAMING[target.kind], names=owned))
            ]
            report.count("records_pulled")
    new_base = dict(link.base)
    for name in pulled:
        new_base[name] = remote.get(name, [])
    for name, values in decision.settled.items():
        new_base[name] = values
    catalogue_side = dict(link.catalogue_side)
    for name in pulled:
        # The catalogue's current value is seen and superseded by the pulled one (under
        # repository-wins it may differ from the base): push must not send it back.
        catalogue_side[name] = mapped.get(name, [])
    for name, values in decision.settled.items():
        catalogue_side[name] = values
    link.base = new_base
    link.catalogue_base = catalogue_side
    link.metadata_hash = metadata_hash(catalogue_side)
    link.source_digest = None  # the bases moved: the next push re-plans the record in full
    store.save_link(link)
    report.count("fields_pulled", len(pulled))
