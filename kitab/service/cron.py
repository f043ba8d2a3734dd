"""Five-field cron expressions read the way crontab(5) reads them, for APScheduler 3.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0, so a crontab
line copied from the system (``0 2 * * 1``: Mondays) would fire on Tuesdays; upstream fixed it
only in 4.x (agronholm/apscheduler#286). Numeric weekdays are therefore turned into day names
here, which both agree on. And where crontab runs a job when *either* a restricted day of month
or a restricted weekday matches, APScheduler wants both: such a line is refused rather than
silently read another way.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

#: crontab's weekday numbers: 0 and 7 are Sunday
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NUMERIC = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")


def _weekdays(field: str) -> str:
    """A crontab weekday field as APScheduler day names (names given stay as they are)."""
    if field == "*" or re.search(r"[a-zA-Z]", field):
        return field
    days: list[str] = []
    for part in field.split(","):
        match = _NUMERIC.match(part)
        if match is None:
            raise ValueError(f"weekday {part!r} is not a number, range or step")
        span, step = match[1], int(match[2] or 1)
        low, _, high = span.partition("-")
        first, last = (0, 6) if span == "*" else (int(low), int(high or low))
        if not 0 <= first <= last <= 7 or step < 1:
            raise ValueError(f"weekday {part!r} is outside 0-7 (0 and 7 are Sunday)")
        for number in range(first, last + 1, step):
            if DAY_NAMES[number] not in days:
                days.append(DAY_NAMES[number])
    return ",".join(days)


def crontab_trigger(expression: str, timezone: tzinfo | str) -> CronTrigger:
    """``minute hour day month weekday`` as crontab(5) means it; ValueError says what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError(
            "give a day of the month or a weekday, not both (crontab runs on either, "
            "the scheduler only on both)"
        )
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekdays(weekday),
        timezone=timezone,
    )
