"""``kitab daemon``: the jobs of kitab.toml on their schedules, with APScheduler 3.

Why these settings: each job has ``max_instances=1`` and ``coalesce=True`` with no misfire limit,
so a run that overruns its interval, or a machine that slept through three firings, leads to
one late run, never a burst. APScheduler keeps its schedule in memory, so after a restart a cron
job whose last recorded run is older than its latest firing time runs once at start: a nightly
job missed while the daemon was down is caught up, once.

Stopping: the first SIGTERM or SIGINT stops new runs and waits for the running ones to finish
(their claims are released as each ends); a second one records them as interrupted, releases
their claims and leaves at once; the write-ahead journal lets their next run resume cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from tzlocal import get_localzone

from kitab.config import Config, JobConfig
from kitab.service.cron import crontab_trigger
from kitab.service.history import History
from kitab.service.jobs import ActiveRuns, run_job
from kitab.service.logs import kv
from kitab.sync.state import StateStore

log = logging.getLogger(__name__)


class DaemonError(Exception):
    """The daemon has nothing to do (no job has a schedule)."""


def trigger_for(job: JobConfig) -> BaseTrigger | None:
    """The APScheduler trigger of a job; None for a job that only runs by hand."""
    if job.every is not None:
        return IntervalTrigger(seconds=job.every)
    if job.schedule is not None:
        zone = ZoneInfo(job.timezone) if job.timezone else get_localzone()
        return crontab_trigger(job.schedule, zone)
    return None


def describe_schedule(job: JobConfig) -> str | None:
    if job.every is not None:
        return f"every {job.every:g}s"
    if job.schedule is not None:
        return f"{job.schedule} ({job.timezone or 'local time'})"
    return None


def missed_since(trigger: BaseTrigger, last_started: datetime, now: datetime) -> datetime | None:
    """The first firing after ``last_started`` if it is already past (a run was missed)."""
    if not isinstance(trigger, CronTrigger):
        return None  # an interval job runs again within one interval anyway
    due = trigger.get_next_fire_time(None, last_started)
    return due if due is not None and due < now else None


class Daemon:
    """Runs the scheduled jobs of one configuration until stopped."""

    def __init__(self, config: Config, store: StateStore) -> None:
        self.config = config
        self.store = store
        self.active = ActiveRuns()
        self.hurry = threading.Event()
        self._stopping = False
        workers = max(1, min(8, len(config.jobs)))
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        history = History(store)
        now = datetime.now(get_localzone())
        for job in config.jobs.values():
            trigger = trigger_for(job)
            if trigger is None:
                log.info(kv(event="daemon-unscheduled", job=job.name, reason="no schedule"))
                continue
            options = {}
            last = history.last(job.name)
            if last is not None:
                missed = missed_since(trigger, datetime.fromisoformat(last.started_at), now)
                if missed is not None:
                    options["next_run_time"] = now
                    log.info(kv(event="daemon-catch-up", job=job.name, missed=missed.isoformat()))
            self.scheduler.add_job(
                self._fire, trigger, args=(job.name,), id=job.name, name=job.name, **options
            )
        if not self.scheduler.get_jobs():
            raise DaemonError(
                f"{config.file}: no job has a schedule or every key: nothing for the daemon to do"
            )

    def _fire(self, name: str) -> None:
        if self._stopping:
            return
        run_job(self.config, name, self.store, trigger="schedule", active=self.active)

    def run(self) -> bool:
        """Block until stopped; True when every run finished, False when some were abandoned."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        self.scheduler.add_listener(self._started, mask=EVENT_SCHEDULER_STARTED)
        self.scheduler.start()  # returns once stop() shut the scheduler down
        while not self.active.wait_idle(0.2):
            if self.hurry.is_set():
                for run in self.active.abandon(History(self.store)):
                    log.warning(kv(event="job-abandoned", job=run.job, run=run.id))
                log.info(kv(event="daemon-stopped", clean=False))
                return False
        log.info(kv(event="daemon-stopped", clean=True))
        return True

    def _started(self, _event: object) -> None:
        for job in self.scheduler.get_jobs():
            described = describe_schedule(self.config.jobs[job.id])
            log.info(
                kv(event="daemon-scheduled", job=job.id, schedule=described)
                + f" next={job.next_run_time.isoformat()}"
            )

    def stop(self, *, hurry: bool = False) -> None:
        """Stop starting runs (and with ``hurry``, stop waiting for the running ones)."""
        if hurry:
            self.hurry.set()
        if not self._stopping:
            self._stopping = True
            running = self.active.names()
            log.info(kv(event="daemon-stopping", waiting_for=",".join(running) or None))
            self.scheduler.shutdown(wait=False)

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info(kv(event="daemon-signal", signal=signal.Signals(signum).name))
        self.stop(hurry=self._stopping)
