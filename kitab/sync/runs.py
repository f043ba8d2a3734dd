"""One run of a job against a target: its connection, its report and its line in the history.

Push, pull and relink all open the target's connector (unless the caller shares one), start a
run in the state store, and — whatever happens — close what they opened, save the report and
record the outcome. A failure of the target as a whole (login refused, repository unreachable)
is written into the report before it propagates, so the history never shows such a run as ok.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kitab.config import Config, TargetConfig
from kitab.connectors.base import Repository, RepositoryError
from kitab.sync.report import RunReport
from kitab.sync.state import StateStore
from kitab.sync.targets import open_repository


@contextmanager
def recorded_run(
    config: Config,
    target: TargetConfig,
    store: StateStore,
    job: str,
    repository: Repository | None = None,
) -> Iterator[tuple[RunReport, Repository]]:
    """Yield (report, repository) for one run of ``job``; the report is saved at the end."""
    own_repository = repository is None
    repository = repository or open_repository(target)
    report = RunReport(job, target.name)
    report.run_id = store.start_run(job, target.name)
    try:
        yield report, repository
    except RepositoryError as error:
        report.fail("", target.name, str(error))
        raise
    finally:
        if own_repository:
            repository.close()
        report.save(config.state_dir / "reports")
        store.finish_run(report.run_id, report.outcome, dict(report.counts), str(report.path))
