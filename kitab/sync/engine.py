"""The push job for one target: plan the catalogue, apply the plan, keep the report.

The command line and the scheduler call these functions; they never print. Progress reaches the
caller through ``on_outcome``, once per record, from the worker threads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from kitab.config import Config, TargetConfig
from kitab.connectors.base import Rejected, Repository
from kitab.sync.conflicts import ConflictStore
from kitab.sync.plan import Action, finish_reading, planner_for
from kitab.sync.pull import pull
from kitab.sync.push import Outcome, Pusher
from kitab.sync.report import RunReport
from kitab.sync.runs import recorded_run
from kitab.sync.setup import missing_fields
from kitab.sync.state import StateStore
from kitab.sync.targets import open_repository

log = logging.getLogger(__name__)


def observe(actions: Iterator[Action], report: RunReport) -> Iterator[Action]:
    """Pass actions through, noting what the report lists beside outcomes."""
    for action in actions:
        if action.missing_scans:
            report.missing_scans.append(
                {"key": action.key, "record": action.label, "declared": action.missing_scans}
            )
        for gone in action.files.gone:
            report.files_left.append({"key": action.key, "record": action.label, "file": gone.name})
        if action.withheld:
            pushed = {f.name for f in action.link.files} if action.link else set()
            names = ", ".join(p.name for p in action.withheld)
            report.notes.append(
                f"{action.label}: restricted scans not uploaded ({names}): kitab does not set "
                "DSpace access policies; add them in DSpace with restricted access"
                + ("; the copies uploaded before are still as they were" if pushed else "")
            )
        yield action


def log_outcome(target: str, outcome: Outcome, store: StateStore) -> None:
    """One line per record for the administrator's log: which record, which item, what happened.

    Writes at INFO, failures and conflicts at WARNING; records left as they were only at DEBUG,
    so a nightly run over an unchanged catalogue does not bury the lines that matter.
    """
    if outcome.status == "failed" or outcome.conflicts:
        level = logging.WARNING
    elif outcome.action in ("unchanged", "skip"):
        level = logging.DEBUG
    else:
        level = logging.INFO
    if not log.isEnabledFor(level):
        return
    item = outcome.item_id
    if item is None:  # records left alone carry no item: the link knows it
        link = store.get_link(target, outcome.key)
        item = link.item_id if link is not None else None
    line = (
        f"push target={target} record={json.dumps(outcome.label, ensure_ascii=False)} "
        f"item={item or '-'} action={outcome.action} status={outcome.status}"
    )
    if outcome.fields:
        line += f" fields={','.join(outcome.fields)}"
    if outcome.files_sent:
        line += f" files_sent={outcome.files_sent}"
    if outcome.conflicts:
        line += f" conflicts={','.join(c.field for c in outcome.conflicts)}"
    if outcome.message:
        line += f" message={json.dumps(outcome.message, ensure_ascii=False)}"
    log.log(level, line)


def push(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    *,
    concurrency: int | None = None,
    repository: Repository | None = None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
) -> RunReport:
    """Push the catalogue to one target; the report is saved and the run recorded."""
    with recorded_run(config, target, store, "push", repository) as (report, repository):
        _push(config, target, store, report, repository, concurrency, on_outcome)
    return report


def _push(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    report: RunReport,
    repository: Repository,
    concurrency: int | None,
    on_outcome: Callable[[Outcome], None],
) -> None:
    conflicts = ConflictStore(store)

    def record(outcome: Outcome) -> None:
        if outcome.status == "failed":
            report.fail(outcome.key, outcome.label, outcome.message)
        else:
            report.count(outcome.action)
        for conflict in outcome.conflicts:
            report.conflict(outcome.key, outcome.label, conflict)
            conflicts.record(target.name, outcome.key, outcome.label, conflict)
        report.count("files_sent", outcome.files_sent)
        log_outcome(target.name, outcome, store)
        on_outcome(outcome)

    def check_fields() -> None:
        missing = missing_fields(config, target.kind, repository)
        if missing:
            raise Rejected(
                f"the repository has no field {', '.join(missing)}; "
                f"register it with `kitab setup --target {target.name} --apply`, "
                "or change the crosswalk"
            )

    planner = planner_for(config, target, store)
    pusher = Pusher(
        store,
        repository,
        target.name,
        run_id=report.run_id,
        concurrency=concurrency or target.concurrency or config.concurrency,
        on_outcome=record,
        policy=config.conflict_policy,
        before_first_write=check_fields,
    )
    pusher.apply(observe(iter(planner), report))
    finish_reading(planner, report)


def sync(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    out_dir: Path,
    *,
    concurrency: int | None = None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
) -> tuple[RunReport, RunReport]:
    """Pull repository edits back into MARC, then push catalogue changes: both directions,
    one connection, conflicts settled by the configured policy or left for a cataloguer."""
    repository = open_repository(target)
    try:
        pulled = pull(config, target, store, out_dir, repository=repository)
        pushed = push(
            config,
            target,
            store,
            concurrency=concurrency,
            repository=repository,
            on_outcome=on_outcome,
        )
    finally:
        repository.close()
    return pulled, pushed
