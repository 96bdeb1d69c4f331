"""When a nightly job runs next: one rule for every schedule (the daily ETL, the audiences' nightly
recomputation), right across daylight saving time changes.

A job runs once a day at a local wall-clock time of the project's time zone. The wait is computed
between instants (UTC), never between two local times: on the night a clock goes back, 00:40 local
comes 90 minutes after 23:10 local, not 30. (Two copies of this rule used to disagree there: the
audiences' one fired at 23:40, before the 00:10 ETL it must follow.)
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The daily ETL loads the day just ended ...
ETL_AT = time(0, 10)
#: ... and the audiences' nightly recomputation reads what it loaded.
AUDIENCES_AT = time(0, 40)


def next_run(at: time, tz: str, now: datetime) -> datetime:
    """The first instant after ``now`` whose local time in ``tz`` is ``at`` (a UTC datetime).

    A local time that does not exist that night (skipped by a clock going forward) runs at the
    instant the skipped hour ends plus the same offset; one that exists twice runs the first time."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date()
    while True:
        candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
        if candidate > now:
            return candidate
        day += timedelta(days=1)


def seconds_until(at: time, tz: str, now: datetime | None = None) -> float:
    """Seconds from ``now`` (default: the current time) to :func:`next_run`, at least one."""
    moment = now or datetime.now(UTC)
    return max(1.0, (next_run(at, tz, moment) - moment).total_seconds())
