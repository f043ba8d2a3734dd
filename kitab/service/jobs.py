"""Running one job of kitab.toml: claims first, then the work, then the history row.

A job holds ``job:<name>`` and ``target:<name>`` (and ``source:<name>`` for a harvest) for as
long as it runs, so a scheduled sync never meets a manual push on the same repository; a run
that finds a claim taken is recorded as skipped, naming the holder, and is not an error. Every
way a job can end is caught here and written to the history, so the daemon never dies of one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kitab.catalogue import ReadOptions, Severity, open_catalogue, write_records
from kitab.config import Config, JobConfig
from kitab.connectors.base import RepositoryError
from kitab.connectors.secrets import MissingSecret
from kitab.harvest.client import HarvestError
from kitab.service.claims import Lease, new_owner
from kitab.service.history import History, JobRun
from kitab.service.logs import kv
from kitab.sync.report import RunReport
from kitab.sync.state import StateStore

log = logging.getLogger(__name__)

#: how bad an outcome is, to report the worst of a job's parts
SEVERITY = {"ok": 0, "conflicts": 1, "failed": 2, "error": 3, "interrupted": 3}

#: errors that say what went wrong in words an administrator can act on: no traceback needed
EXPECTED = (RepositoryError, MissingSecret, HarvestError, OSError, ValueError)


def job_target(config: Config, job: JobConfig) -> str | None:
    """The repository a job writes to or reads from, if any."""
    if job.kind == "harvest":
        return config.sources[job.source].target  # type: ignore[index]
    return job.target


def claims_for(config: Config, job: JobConfig) -> list[str]:
    names = [f"job:{job.name}"]
    if job.kind == "harvest":
        names.append(f"source:{job.source}")
    target = job_target(config, job)
    if target is not None:
        names.append(f"target:{target}")
    return names


class ActiveRuns:
    """The runs in progress in this process, so a stop can wait for them or settle them."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._runs: dict[str, tuple[JobRun, Lease]] = {}

    def add(self, run: JobRun, lease: Lease) -> None:
        with self._changed:
            self._runs[run.id] = (run, lease)

    def remove(self, run: JobRun) -> None:
        with self._changed:
            self._runs.pop(run.id, None)
            self._changed.notify_all()

    def names(self) -> list[str]:
        with self._changed:
            return [run.job for run, _ in self._runs.values()]

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._runs, timeout)

    def abandon(self, history: History) -> list[JobRun]:
        """Record every run still going as interrupted and free its claims, for a fast exit.

        The runs' own threads are left to die with the process; the journal makes the next run
        pick up where they stopped.
        """
        with self._changed:
            left = list(self._runs.values())
            self._runs.clear()
        for run, lease in left:
            run.outcome = "interrupted"
            run.message = "the daemon was told to stop at once while this run was going"
            history.finish(run)
            lease.release()
        return [run for run, _ in left]


def run_job(
    config: Config,
    name: str,
    store: StateStore,
    *,
    trigger: str = "manual",
    active: ActiveRuns | None = None,
) -> JobRun:
    """Run the job ``name`` now, unless another run holds one of its claims."""
    job = config.jobs[name]
    history = History(store)
    for stale in history.settle_interrupted():
        log.warning(
            kv(event="job-interrupted", job=stale.job, run=stale.id, owner=stale.owner)
            + f" started={stale.started_at}"
        )
    owner = new_owner()
    target = job_target(config, job)
    lease = Lease(store, claims_for(config, job), owner, job.lease_seconds)
    holder = lease.acquire()
    if holder is not None:
        holding = history.started_by(holder.owner)
        since = holding.started_at if holding is not None else "unknown"
        message = f"already running ({holder.claim} held by {holder.owner} since {since})"
        log.info(
            kv(event="job-skipped", job=name, claim=holder.claim, holder=holder.owner, since=since)
        )
        return history.skipped(name, job.kind, target, owner, trigger, message)
    run = history.start(name, job.kind, target, owner, trigger)
    if active is not None:
        active.add(run, lease)
    log.info(
        kv(event="job-start", job=name, kind=job.kind, target=target, trigger=trigger, run=run.id)
    )
    began = time.monotonic()
    try:
        _execute(config, job, store, run)
    except EXPECTED as error:
        run.outcome, run.message = "error", str(error)
    except Exception as error:  # a bug: keep the daemon alive, and the traceback in the log
        log.exception(kv(event="job-crashed", job=name, run=run.id))
        run.outcome, run.message = "error", f"internal error: {type(error).__name__}: {error}"
    except BaseException:
        run.outcome, run.message = "interrupted", "stopped by a signal"
        raise
    finally:
        if lease.lost:
            run.message = f"{run.message}; claims lost while running: {', '.join(lease.lost)}"
        history.finish(run)
        lease.release()
        if active is not None:
            active.remove(run)
    level = logging.INFO if run.outcome == "ok" else logging.WARNING
    counts = " ".join(f"{part}.{k}={n}" for part, c in run.counts.items() for k, n in c.items())
    log.log(
        level,
        kv(
            event="job-end",
            job=name,
            outcome=run.outcome,
            seconds=f"{time.monotonic() - began:.1f}",
        )
        + (f" {counts}" if counts else "")
        + (f" {kv(message=run.message)}" if run.message else ""),
    )
    return run


def _execute(config: Config, job: JobConfig, store: StateStore, run: JobRun) -> None:
    from kitab.sync.engine import push, sync
    from kitab.sync.pull import pull

    run.outcome = "ok"
    if job.kind == "push":
        _add_report(run, push(config, config.targets[job.target], store))  # type: ignore[index]
    elif job.kind in ("pull", "sync"):
        target = config.targets[job.target]  # type: ignore[index]
        out = job.out or config.state_dir / "pulled"
        if job.kind == "pull":
            _add_report(run, pull(config, target, store, out))
        else:
            for report in sync(config, target, store, out):
                _add_report(run, report)
    elif job.kind == "harvest":
        _harvest(config, job, store, run)
    else:
        _export(config, job, run)


def _worse(run: JobRun, outcome: str) -> None:
    if SEVERITY[outcome] > SEVERITY[run.outcome]:
        run.outcome = outcome


def _add_report(run: JobRun, report: RunReport) -> None:
    """Fold one engine run into the job run; log what the engine did not log per record."""
    part = report.job
    run.counts[part] = dict(report.counts)
    if report.path is not None:
        run.reports.append(str(report.path))
    _worse(run, report.outcome)
    for failure in report.failures:
        run.failures.append({"part": part, "record": failure["record"], "error": failure["error"]})
        if part != "push":  # the push logs its own outcomes, one line per record
            log.warning(
                kv(event=f"{part}-failed", record=failure["record"], error=failure["error"])
            )
    for problem in report.problems:
        where = f"{problem['file']}, record {problem['record']}, byte {problem['offset']}"
        record = f"{problem['key'] or '?'} ({where})"
        run.failures.append({"part": part, "record": record, "error": problem["reason"]})
        log.warning(kv(event="bad-record", part=part, record=record, reason=problem["reason"]))
    if part != "push":
        for conflict in report.conflicts:
            log.warning(
                kv(event=f"{part}-conflict", record=conflict["record"], field=conflict["field"])
            )


def _harvest(config: Config, job: JobConfig, store: StateStore, run: JobRun) -> None:
    from kitab.harvest.jobs import run as harvest_run
    from kitab.harvest.jobs import source_of

    source = config.sources[job.source]  # type: ignore[index]
    done = harvest_run(
        source_of(source), store, out=source.out, config=config, target=source.target
    )
    counts: dict[str, Any] = dict(done.report.counts)
    if done.written is not None:
        counts["written"] = done.written
    run.counts["harvest"] = counts
    for problem in done.report.problems:
        run.failures.append({"part": "harvest", "record": "", "error": problem})
        log.warning(kv(event="harvest-skipped", source=source.name, reason=problem))
    if done.report.problems:
        _worse(run, "failed")
    if not done.report.complete:
        _worse(run, "failed")
        run.message = "the source's list did not complete; the next run asks again"
    if done.push is not None:
        _add_report(run, done.push)


def _export(config: Config, job: JobConfig, run: JobRun) -> None:
    """The whole catalogue as one file for the national library, replaced atomically.

    The previous file is kept as ``.bak``; records that cannot be read are reported and left out.
    """
    out = job.out
    assert out is not None  # the configuration requires it for exports
    catalogue = open_catalogue(
        config.catalogue.path,
        ReadOptions(
            flavour=config.catalogue.flavour,
            encoding=config.catalogue.encoding,
            key_field=config.catalogue.key_field,
        ),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_records(catalogue, out, job.format, overwrite=True)
    errors = [p for p in catalogue.problems if p.severity is Severity.ERROR]
    for problem in errors:
        where = f"{problem.position.file}, record {problem.position.ordinal}"
        record = f"{problem.key or '?'} ({where}, byte {problem.position.offset})"
        run.failures.append({"part": "export", "record": record, "error": problem.reason})
        log.warning(kv(event="bad-record", part="export", record=record, reason=problem.reason))
    run.counts["export"] = {"written": written, "skipped": len(errors)}
    run.message = f"{written} records written to {out}"
    if errors:
        _worse(run, "failed")
