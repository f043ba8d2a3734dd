"""What an administrator asks first: is everything running, and what needs me?

Per target: the last run of each job and of each engine direction, the items linked, the changes
a push would make (from a plan over local state only: no request to the repository), the open
conflicts, the records that failed last time and why, and the live claims. The CLI prints it;
the web UI shows the same dataclasses.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tzlocal import get_localzone

from kitab.config import Config, JobConfig, TargetConfig
from kitab.service.history import History, JobRun
from kitab.service.jobs import job_target
from kitab.service.scheduler import describe_schedule, trigger_for
from kitab.sync.conflicts import ConflictStore, OpenConflict
from kitab.sync.plan import ActionKind, finish_reading, planner_for
from kitab.sync.report import RunReport
from kitab.sync.state import StateStore, utcnow

#: failures listed per engine run (the report file has them all)
MAX_LISTED = 50

#: the plan's actions that change the repository
CHANGES = (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.WITHDRAW)


@dataclass
class ClaimStatus:
    name: str
    owner: str
    seconds_left: float
    since: str | None  # when the run holding it started, when it is a job run


@dataclass
class EngineRun:
    """The last push, pull or relink on a target, whoever started it (a job or a command)."""

    job: str
    run_id: int
    started_at: str
    finished_at: str | None
    outcome: str | None  # None: never finished (killed)
    counts: dict[str, int]
    report: str | None


@dataclass
class JobStatus:
    name: str
    kind: str
    target: str | None
    schedule: str | None  # None: run by hand only
    next_run: str | None  # cron jobs; interval jobs count from the daemon's start
    last_run: JobRun | None


@dataclass
class Pending:
    """What a push would do now, by action (``changes``: create + update + withdraw)."""

    changes: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    bad_records: int = 0
    error: str | None = None  # the catalogue could not be planned at all


@dataclass
class TargetStatus:
    name: str
    kind: str
    items_linked: int
    pending: Pending | None  # None when not asked for
    conflicts: list[OpenConflict]
    last_runs: list[EngineRun]
    failures: list[dict[str, Any]]  # run, record, error: from each last run's report
    jobs: list[JobStatus]
    claims: list[ClaimStatus]


@dataclass
class ServiceStatus:
    checked_at: str
    targets: list[TargetStatus]
    other_jobs: list[JobStatus]  # jobs bound to no target: exports, harvests into files
    claims: list[ClaimStatus]  # every live claim

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at,
            "targets": {t.name: _target_dict(t) for t in self.targets},
            "other_jobs": [_job_dict(j) for j in self.other_jobs],
            "claims": [vars(c) for c in self.claims],
        }


def gather_status(
    config: Config, store: StateStore, *, target: str | None = None, pending: bool = True
) -> ServiceStatus:
    """The status of every target (or one); ``pending=False`` skips reading the catalogue."""
    history = History(store)
    claims = [
        ClaimStatus(name, owner, round(left, 1), _since(history, owner))
        for name, owner, left in sorted(store.claims())
    ]
    jobs = [_job_status(config, job, history) for job in config.jobs.values()]
    conflicts = ConflictStore(store)
    targets = []
    for target_config in config.target(target):
        name = target_config.name
        own_jobs = [j for j in jobs if j.target == name]
        claim_names = {f"target:{name}", *(f"job:{j.name}" for j in own_jobs)}
        last_runs = _last_runs(store, name)
        targets.append(
            TargetStatus(
                name=name,
                kind=target_config.kind,
                items_linked=store.count_links(name),
                pending=_pending(config, target_config, store) if pending else None,
                conflicts=conflicts.open(name),
                last_runs=last_runs,
                failures=[f for run in last_runs for f in _failures(run)],
                jobs=own_jobs,
                claims=[c for c in claims if c.name in claim_names],
            )
        )
    return ServiceStatus(
        checked_at=utcnow(),
        targets=targets,
        other_jobs=[j for j in jobs if j.target is None] if target is None else [],
        claims=claims,
    )


def _since(history: History, owner: str) -> str | None:
    run = history.started_by(owner)
    return run.started_at if run is not None else None


def _job_status(config: Config, job: JobConfig, history: History) -> JobStatus:
    trigger = trigger_for(job)
    next_run = None
    if trigger is not None and job.schedule is not None:
        fire = trigger.get_next_fire_time(None, datetime.now(get_localzone()))
        next_run = fire.isoformat() if fire is not None else None
    last = history.last(job.name)
    if last is not None and last.outcome == "running":
        live = {owner for _, owner, _ in history.store.claims()}
        if last.owner not in live:
            last.outcome = "interrupted"  # shown as it is; the next run records it
    return JobStatus(
        name=job.name,
        kind=job.kind,
        target=job_target(config, job),
        schedule=describe_schedule(job),
        next_run=next_run,
        last_run=last,
    )


def _last_runs(store: StateStore, target: str) -> list[EngineRun]:
    seen: dict[str, EngineRun] = {}
    for run in store.runs(target=target, limit=100):
        if run.job not in seen:
            seen[run.job] = EngineRun(
                run.job,
                run.id,
                run.started_at,
                run.finished_at,
                run.outcome,
                run.counts,
                run.report,
            )
    return sorted(seen.values(), key=lambda r: r.job)


def _failures(run: EngineRun) -> list[dict[str, Any]]:
    """The records the run could not handle, from its report file."""
    if run.report is None or run.outcome != "failed":
        return []
    try:
        with open(run.report, encoding="utf-8") as file:
            report = json.load(file)
    except (OSError, ValueError) as error:
        return [{"run": run.job, "record": "", "error": f"report unreadable: {error}"}]
    found = [
        {"run": run.job, "record": f["record"], "error": f["error"]}
        for f in report.get("failures", [])[:MAX_LISTED]
    ]
    for p in report.get("problems", [])[:MAX_LISTED]:
        where = f"{p['file']}, record {p['record']}, byte {p['offset']}"
        found.append(
            {"run": run.job, "record": f"{p['key'] or '?'} ({where})", "error": p["reason"]}
        )
    return found


def _pending(config: Config, target: TargetConfig, store: StateStore) -> Pending:
    try:
        planner = planner_for(config, target, store)
        counts: Counter[str] = Counter()
        for action in planner:
            if action.kind is not ActionKind.UNCHANGED:
                counts[action.kind.value] += 1
        report = RunReport("plan", target.name)
        finish_reading(planner, report)
    except (OSError, ValueError) as error:
        return Pending(error=str(error))
    return Pending(
        changes=sum(counts[k.value] for k in CHANGES),
        by_action=dict(sorted(counts.items())),
        bad_records=len(report.problems),
    )


def _job_dict(job: JobStatus) -> dict[str, Any]:
    return {
        "name": job.name,
        "kind": job.kind,
        "target": job.target,
        "schedule": job.schedule,
        "next_run": job.next_run,
        "last_run": job.last_run.to_dict() if job.last_run is not None else None,
    }


def _target_dict(target: TargetStatus) -> dict[str, Any]:
    return {
        "kind": target.kind,
        "items_linked": target.items_linked,
        "pending": vars(target.pending) if target.pending is not None else None,
        "conflicts": {
            "count": len(target.conflicts),
            "open": [
                {
                    "id": c.id,
                    "key": c.key,
                    "record": c.label,
                    "field": c.field,
                    "catalogue": [v.value for v in c.catalogue],
                    "repository": [v.value for v in c.repository],
                    "detected_at": c.detected_at,
                }
                for c in target.conflicts
            ],
        },
        "last_runs": {r.job: vars(r) for r in target.last_runs},
        "failures": target.failures,
        "jobs": [_job_dict(j) for j in target.jobs],
        "claims": [vars(c) for c in target.claims],
    }
