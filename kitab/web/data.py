"""What the pages show besides the service status: runs, records and the chart's figures.

Nothing here writes. Everything is bounded: run lists and journal pages have limits, and the
one record a record page needs is found by streaming the catalogue and stopping at it, so no
page holds the catalogue in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kitab.config import Config, TargetConfig
from kitab.model import Metadata
from kitab.sync.conflicts import ConflictStore, OpenConflict
from kitab.sync.plan import planner_for, record_label
from kitab.sync.state import Link, Run, StateStore

#: how many rows a list shows at most
LIMIT = 500


@dataclass(frozen=True)
class DayCount:
    day: date
    created: int = 0
    updated: int = 0
    pulled: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.pulled


def daily_counts(store: StateStore, target: str, zone: str, days: int = 30) -> list[DayCount]:
    """Items created and updated by push, and records pulled back, per local day."""
    tz = ZoneInfo(zone)
    today = datetime.now(tz).date()
    first = today - timedelta(days=days - 1)
    totals = {first + timedelta(days=n): [0, 0, 0] for n in range(days)}
    for job in ("push", "pull"):
        for run in store.runs(target=target, job=job, limit=LIMIT):
            if run.finished_at is None:
                continue
            day = parse_time(run.finished_at).astimezone(tz).date()
            if day not in totals:
                continue
            counts = run.counts
            if job == "push":
                totals[day][0] += counts.get("create", 0) + counts.get("resume", 0)
                totals[day][1] += counts.get("update", 0)
            else:
                totals[day][2] += counts.get("records_pulled", 0)
    return [DayCount(day, *values) for day, values in sorted(totals.items())]


def parse_time(text: str) -> datetime:
    """The state store's UTC timestamps ("…Z") as aware datetimes."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalRow:
    key: str
    action: str
    status: str  # intent | done | failed
    detail: dict[str, Any]
    at: str


@dataclass
class RunDetail:
    run: Run
    report: dict[str, Any] | None  # the saved JSON report, when it can still be read
    writes: list[JournalRow]


_RUN_COLUMNS = "id, job, target, started_at, finished_at, outcome, counts, report"


def get_run(store: StateStore, run_id: int) -> Run | None:
    rows = store.query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
    if not rows:
        return None
    r = rows[0]
    return Run(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"), r[7])


def run_detail(config: Config, store: StateStore, run_id: int) -> RunDetail | None:
    run = get_run(store, run_id)
    if run is None:
        return None
    rows = store.query(
        "SELECT key, action, status, detail, updated_at FROM journal WHERE run_id = ? "
        "ORDER BY id LIMIT ?",
        (run_id, LIMIT),
    )
    writes = [JournalRow(k, a, s, json.loads(d or "{}"), at) for k, a, s, d, at in rows]
    return RunDetail(run, read_report(config, run), writes)


def report_path(config: Config, run: Run) -> Path | None:
    """The run's report file, only when it lies in the state folder's reports (the path comes
    from the state store; a page must never become a way to read any file)."""
    if not run.report:
        return None
    folder = (config.state_dir / "reports").resolve()
    path = Path(run.report).resolve()
    if path.parent != folder or not path.is_file():
        return None
    return path


def read_report(config: Config, run: Run) -> dict[str, Any] | None:
    path = report_path(config, run)
    if path is None:
        return None
    try:
        with path.open(encoding="utf-8") as source:
            return json.load(source)
    except (OSError, ValueError):
        return None


# -- records ------------------------------------------------------------------------------------


@dataclass
class RecordView:
    target: TargetConfig
    key: str
    label: str | None = None  # "000101 (qazax.xml, record 3)" when found in the catalogue
    mapped: Metadata | None = None  # the catalogue record's fields in the repository's naming
    link: Link | None = None
    writes: list[JournalRow] = field(default_factory=list)
    conflicts: list[OpenConflict] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        """Every field named on either side, catalogue order first."""
        names = list(self.mapped or {})
        base = self.link.base if self.link else {}
        return names + [name for name in base if name not in names]


def find_record(
    config: Config, target: TargetConfig, store: StateStore, wanted: str
) -> RecordView | None:
    """A record by key or control number: its mapped fields, link and history; None when
    neither the catalogue nor the state store knows it."""
    view = RecordView(target, wanted, link=store.get_link(target.name, wanted))
    try:
        planner = planner_for(config, target, store)
        for record in planner.reader:
            if wanted in (record.key, record.control_number):
                view.key, view.label = record.key, record_label(record)
                view.mapped = planner.mapped(record)
                break
    except (OSError, ValueError):
        pass  # the catalogue cannot be read: the page still shows what the state store knows
    if view.link is None and view.key != wanted:
        view.link = store.get_link(target.name, view.key)
    if view.link is None and view.mapped is None:
        return None
    rows = store.query(
        "SELECT key, action, status, detail, updated_at FROM journal "
        "WHERE target = ? AND key = ? ORDER BY id DESC LIMIT ?",
        (target.name, view.key, LIMIT),
    )
    view.writes = [JournalRow(k, a, s, json.loads(d or "{}"), at) for k, a, s, d, at in rows]
    conflicts = ConflictStore(store)
    ids = store.query(
        "SELECT id FROM conflicts WHERE target = ? AND key = ? ORDER BY id DESC LIMIT ?",
        (target.name, view.key, LIMIT),
    )
    view.conflicts = [conflicts.get(row[0]) for row in ids]
    return view
