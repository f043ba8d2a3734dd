"""Job run history: one row per run of a named job, kept in the state store.

The engine already records each push or pull it makes (``runs``); a job is one level up: it
may be a sync (a pull and a push), a harvest that pushes, an export, or a run that did nothing
because another held the claim. This table says what the administrator scheduled and what
became of it, including the runs that never finished (their process died: *interrupted*).

Rows are keyed by a random id rather than an autoincrement, so the same statements work on
every database the state store runs on.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from kitab.sync.state import MIGRATIONS, StateStore, utcnow

MIGRATIONS["service"] = [
    [
        """CREATE TABLE job_runs (
            id TEXT PRIMARY KEY,
            job TEXT NOT NULL,
            kind TEXT NOT NULL,
            target TEXT,
            owner TEXT NOT NULL,
            trigger TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL,
            counts TEXT NOT NULL,
            message TEXT NOT NULL,
            failures TEXT NOT NULL,
            reports TEXT NOT NULL)""",
        "CREATE INDEX job_runs_job ON job_runs (job, started_at)",
        "CREATE INDEX job_runs_target ON job_runs (target, started_at)",
    ]
]

#: failures kept per run in the history (the run's report file has every one)
MAX_FAILURES = 50

_COLUMNS = (
    "id, job, kind, target, owner, trigger, started_at, finished_at, outcome, counts, message, "
    "failures, reports"
)


@dataclass
class JobRun:
    """One run of a job: who ran it, when, and what came of it."""

    id: str
    job: str
    kind: str
    target: str | None
    owner: str
    trigger: str  # manual | schedule
    started_at: str
    finished_at: str | None = None
    outcome: str = "running"  # running | ok | conflicts | failed | error | skipped | interrupted
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # per part: push, pull...
    message: str = ""
    failures: list[dict[str, Any]] = field(default_factory=list)  # part, record, error
    reports: list[str] = field(default_factory=list)  # report files of the engine runs

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "kind": self.kind,
            "target": self.target,
            "owner": self.owner,
            "trigger": self.trigger,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
            "counts": self.counts,
            "message": self.message,
            "failures": self.failures,
            "reports": self.reports,
        }


class History:
    """The job_runs table, through the state store's plain query/execute."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.migrate()  # a state file made before this room existed gets the table now

    def start(self, job: str, kind: str, target: str | None, owner: str, trigger: str) -> JobRun:
        run = JobRun(uuid.uuid4().hex, job, kind, target, owner, trigger, utcnow())
        self.store.execute(
            f"INSERT INTO job_runs ({_COLUMNS}) VALUES ({', '.join('?' * 13)})", _row(run)
        )
        return run

    def finish(self, run: JobRun) -> None:
        run.finished_at = utcnow()
        run.failures = run.failures[:MAX_FAILURES]
        self.store.execute(
            "UPDATE job_runs SET finished_at = ?, outcome = ?, counts = ?, message = ?, "
            "failures = ?, reports = ? WHERE id = ?",
            (
                run.finished_at,
                run.outcome,
                json.dumps(run.counts),
                run.message,
                json.dumps(run.failures, ensure_ascii=False),
                json.dumps(run.reports, ensure_ascii=False),
                run.id,
            ),
        )

    def skipped(
        self, job: str, kind: str, target: str | None, owner: str, trigger: str, message: str
    ) -> JobRun:
        run = self.start(job, kind, target, owner, trigger)
        run.outcome, run.message = "skipped", message
        self.finish(run)
        return run

    def runs(
        self, *, job: str | None = None, target: str | None = None, limit: int = 50
    ) -> list[JobRun]:
        """Most recent first."""
        where, params = [], []
        if job is not None:
            where.append("job = ?")
            params.append(job)
        if target is not None:
            where.append("target = ?")
            params.append(target)
        sql = f"SELECT {_COLUMNS} FROM job_runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id LIMIT ?"
        return [_run(row) for row in self.store.query(sql, (*params, limit))]

    def last(self, job: str) -> JobRun | None:
        found = self.runs(job=job, limit=1)
        return found[0] if found else None

    def started_by(self, owner: str) -> JobRun | None:
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM job_runs WHERE owner = ? AND outcome = 'running'", (owner,)
        )
        return _run(rows[0]) if rows else None

    def settle_interrupted(self) -> list[JobRun]:
        """Mark as interrupted the runs left 'running' by a process that holds no claim now.

        A live run renews its claims; one whose claims all lapsed died without finishing.
        """
        live = {owner for _, owner, _ in self.store.claims()}
        settled = []
        rows = self.store.query(f"SELECT {_COLUMNS} FROM job_runs WHERE outcome = 'running'")
        for row in rows:
            run = _run(row)
            if run.owner in live:
                continue
            run.outcome = "interrupted"
            run.message = "the process running it stopped before the end (killed or crashed)"
            self.store.execute(
                "UPDATE job_runs SET outcome = ?, message = ? WHERE id = ? AND outcome = 'running'",
                (run.outcome, run.message, run.id),
            )
            settled.append(run)
        return settled


def _row(run: JobRun) -> tuple[Any, ...]:
    return (
        run.id,
        run.job,
        run.kind,
        run.target,
        run.owner,
        run.trigger,
        run.started_at,
        run.finished_at,
        run.outcome,
        json.dumps(run.counts),
        run.message,
        json.dumps(run.failures, ensure_ascii=False),
        json.dumps(run.reports, ensure_ascii=False),
    )


def _run(row: tuple[Any, ...]) -> JobRun:
    return JobRun(
        id=row[0],
        job=row[1],
        kind=row[2],
        target=row[3],
        owner=row[4],
        trigger=row[5],
        started_at=row[6],
        finished_at=row[7],
        outcome=row[8],
        counts=json.loads(row[9]),
        message=row[10],
        failures=json.loads(row[11]),
        reports=json.loads(row[12]),
    )
