"""A harvest as a job: one source into its destinations, the way ``kitab harvest`` runs it.

The record store is the state-store table; the files are written from it after each run, so a
run that broke off still leaves a consistent file with everything held so far. The route into a
target repository goes through the sync engine unchanged: the live MARC records are written as
a MARCXML file in the state folder and pushed with a copy of the configuration whose catalogue
is that file, so routing, rights, hashing and the journal work as for the library's own records.
Deletions harvested are kept in the record store and reported; the push never deletes items.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from kitab.config import Config, SourceConfig
from kitab.harvest.harvester import HarvestReport, Source, harvest
from kitab.harvest.stores import RecordStore
from kitab.sync.report import RunReport
from kitab.sync.state import StateStore


@dataclass(slots=True)
class HarvestJob:
    report: HarvestReport
    out: Path | None = None
    written: int | None = None
    push: RunReport | None = None


def source_of(config: SourceConfig) -> Source:
    return Source(
        name=config.name,
        url=config.url,
        prefix=config.prefix,
        set=config.set,
        overlap_hours=config.overlap_hours,
        max_retries=config.max_retries,
        timeout=config.timeout,
    )


def run(
    source: Source,
    state: StateStore,
    *,
    out: Path | None = None,
    config: Config | None = None,
    target: str | None = None,
    full: bool = False,
    from_: str | None = None,
    until: str | None = None,
) -> HarvestJob:
    """Harvest ``source``; write ``out``; push into ``target`` (a target of ``config``).

    HarvestError when the source fails for good: the file is still written with what is held.
    """
    if out is not None and out.suffix.lower() not in (".jsonl", ".xml"):
        raise ValueError(f"{out}: the record store is .jsonl or .xml (MARCXML)")
    if target is not None and (config is None or target not in config.targets):
        raise ValueError(f"no target named {target!r} in the configuration")
    store_name = str(out.resolve()) if out is not None else f"target:{target}:{source.name}"
    records = RecordStore(state, store_name)
    job = HarvestJob(HarvestReport(source.name, source.prefix, source.set), out)
    try:
        job.report = harvest(source, state, records, full=full, from_=from_, until=until)
    finally:
        if out is not None:
            job.written = records.export(out)
    if target is not None and config is not None and job.report.complete:
        job.push = _push(config, target, source, records, state)
    return job


def _push(
    config: Config, target: str, source: Source, records: RecordStore, state: StateStore
) -> RunReport:
    from kitab.sync.engine import push

    file = config.state_dir / "harvest" / f"{_safe(source.name)}-{_safe(source.prefix)}.xml"
    records.export(file, include_deleted=False)
    harvested = replace(
        config,
        catalogue=replace(
            config.catalogue, path=file, flavour=None, encoding=None, full_export=False
        ),
        scans=None,
    )
    return push(harvested, config.targets[target], state)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
