"""[jobs.NAME] tables: every key checked, mistakes name the key; schedules and catch-up."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kitab.config import ConfigError, load_config
from kitab.service.cron import crontab_trigger
from kitab.service.scheduler import missed_since, trigger_for

BASE = """
[catalogue]
path = "exports"
[targets.district]
kind = "saf"
path = "saf"
[sources.union]
url = "https://union.example.org/oai"
out = "union.jsonl"
"""


def config_with(tmp_path: Path, jobs: str):
    file = tmp_path / "kitab.toml"
    file.write_text(BASE + jobs, encoding="utf-8")
    return load_config(file)


def test_jobs_of_every_kind_are_read(tmp_path):
    config = config_with(
        tmp_path,
        """
[jobs.nightly]
kind = "sync"
target = "district"
schedule = "0 2 * * *"
timezone = "Asia/Tashkent"
out = "pulled"
[jobs.often]
kind = "push"
target = "district"
every = "15m"
lease_seconds = 30
[jobs.union]
kind = "harvest"
source = "union"
every = "6h"
[jobs.national]
kind = "export"
out = "out/national.xml"
""",
    )
    nightly, often, union, national = (config.jobs[n] for n in config.jobs)
    assert (nightly.kind, nightly.target, nightly.schedule) == ("sync", "district", "0 2 * * *")
    assert nightly.timezone == "Asia/Tashkent"
    assert nightly.out == tmp_path / "pulled"
    assert nightly.every is None and nightly.lease_seconds == 60.0
    assert (often.every, often.lease_seconds, often.schedule) == (900.0, 30.0, None)
    assert (union.kind, union.source, union.every) == ("harvest", "union", 21600.0)
    assert (national.out, national.format) == (tmp_path / "out" / "national.xml", "marcxml")


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ('[jobs.a]\ntarget = "district"', "jobs.a.kind: is required"),
        ('[jobs.a]\nkind = "pussh"', "jobs.a.kind: expected one of push, pull, sync"),
        ('[jobs.a]\nkind = "push"', "jobs.a.target: is required (one of district)"),
        ('[jobs.a]\nkind = "push"\ntarget = "distrct"', "jobs.a.target: no target named"),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\nout = "x"',
            "jobs.a.out: not used by a push job (only by pull, sync, export)",
        ),
        ('[jobs.a]\nkind = "harvest"\nsource = "unoin"', "jobs.a.source: no source named"),
        ('[jobs.a]\nkind = "export"', "jobs.a.out: is required"),
        (
            '[jobs.a]\nkind = "export"\nout = "x.xml"\nformat = "json"',
            "jobs.a.format: expected one of marcxml, iso2709",
        ),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\nschedule = "61 * * * *"',
            "jobs.a.schedule: not a cron schedule (minute hour day month weekday)",
        ),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\nschedule = "0 2 * *"',
            "jobs.a.schedule: not a cron schedule",
        ),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\nevery = "2x"',
            "jobs.a.every: expected a period like '30s'",
        ),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\nevery = "0.5s"',
            "jobs.a.every: expected a period",
        ),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\nevery = "1m"\nschedule = "* * * * *"',
            "jobs.a.every: give either schedule (cron) or every, not both",
        ),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\ntimezone = "Asia/Bakuu"',
            "jobs.a.timezone: not a time zone name",
        ),
        (
            '[jobs.a]\nkind = "push"\ntarget = "district"\nlease_seconds = 0',
            "jobs.a.lease_seconds: expected 1 to 86400",
        ),
        ('[jobs.a]\nkind = "push"\ntarget = "district"\nshedule = "x"', "jobs.a.shedule: unknown"),
    ],
)
def test_job_mistakes_name_the_key(tmp_path, jobs, message):
    with pytest.raises(ConfigError) as error:
        config_with(tmp_path, jobs)
    assert message in str(error.value)
    assert str(tmp_path / "kitab.toml") in str(error.value)


def test_cron_schedule_in_its_time_zone(tmp_path):
    config = config_with(
        tmp_path,
        '[jobs.a]\nkind = "push"\ntarget = "district"\n'
        'schedule = "30 2 * * 1"\ntimezone = "Asia/Tashkent"',
    )
    trigger = trigger_for(config.jobs["a"])
    tashkent = ZoneInfo("Asia/Tashkent")
    fire = trigger.get_next_fire_time(None, datetime(2024, 3, 6, 12, 0, tzinfo=tashkent))
    assert fire == datetime(2024, 3, 11, 2, 30, tzinfo=tashkent)  # the next Monday, 02:30
    assert fire.utcoffset().total_seconds() == 5 * 3600


def test_a_missed_nightly_run_is_caught_up_once(tmp_path):
    config = config_with(
        tmp_path,
        '[jobs.a]\nkind = "push"\ntarget = "district"\n'
        'schedule = "0 2 * * *"\ntimezone = "Asia/Baku"',
    )
    trigger = trigger_for(config.jobs["a"])
    baku = ZoneInfo("Asia/Baku")
    now = datetime(2024, 3, 4, 12, 0, tzinfo=baku)
    # the daemon was down for three nights: one run, for the first night missed
    missed = missed_since(trigger, datetime(2024, 3, 1, 2, 0, 5, tzinfo=baku), now)
    assert missed == datetime(2024, 3, 2, 2, 0, tzinfo=baku)
    # last night's run happened: nothing to catch up
    assert missed_since(trigger, datetime(2024, 3, 4, 2, 0, 3, tzinfo=baku), now) is None


def test_interval_jobs_are_not_caught_up(tmp_path):
    config = config_with(tmp_path, '[jobs.a]\nkind = "push"\ntarget = "district"\nevery = "1h"')
    trigger = trigger_for(config.jobs["a"])
    long_ago = datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC"))
    assert missed_since(trigger, long_ago, datetime.now(ZoneInfo("UTC"))) is None


def test_a_job_without_schedule_runs_only_by_hand(tmp_path):
    config = config_with(tmp_path, '[jobs.a]\nkind = "push"\ntarget = "district"')
    assert trigger_for(config.jobs["a"]) is None


@pytest.mark.parametrize(
    ("weekday", "fires_on"),
    [
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("1", ["Mon"]),
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("*/2", ["Sun", "Tue", "Thu", "Sat"]),  # crontab counts steps from Sunday
        ("0,6", ["Sun", "Sat"]),
        ("mon-wed", ["Mon", "Tue", "Wed"]),
    ],
)
def test_weekdays_are_read_as_crontab_reads_them(weekday, fires_on):
    """APScheduler 3 alone would fire `0 2 * * 1` on Tuesdays (Monday = 0 there)."""
    trigger = crontab_trigger(f"0 2 * * {weekday}", "UTC")
    fire, days = datetime(2024, 3, 3, 0, 0, tzinfo=ZoneInfo("UTC")), set()  # a Sunday
    for _ in range(7):
        fire = trigger.get_next_fire_time(None, fire)
        days.add(fire.strftime("%a"))
        fire = fire.replace(hour=3)
    assert days == set(fires_on)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 2 1 * 1", "not both"),
        ("0 2 * * 8", "outside 0-7"),
        ("0 2 * * 1-3-5", "not a number"),
    ],
)
def test_cron_lines_read_differently_are_refused(tmp_path, expression, message):
    with pytest.raises(ConfigError) as error:
        config_with(
            tmp_path, f'[jobs.a]\nkind = "push"\ntarget = "district"\nschedule = "{expression}"'
        )
    assert "jobs.a.schedule: not a cron schedule" in str(error.value)
    assert message in str(error.value)
