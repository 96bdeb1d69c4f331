"""When a log file is closed (may be shipped) and when a shipped one may leave the disk.

Closed: a file is named after its UTC day and written until that day ends; the daily ETL takes a
day as complete once it is over (``days_to_load``: before today, UTC). A request received just
before midnight may still be appended a moment after it, so a file is shipped once its day is
over plus the slack the warehouse export allows for requests in flight (warehouse/hours.SLACK,
wider than any request's time in flight). A file that still changes after that (a late append, an
erasure rewriting a line) no longer matches its manifest entry and is shipped again.

Deleted: only a whole day of a kind at once (the ETL would reload a day with files missing and lose
their rows from the lake), only when every file of the day is shipped and verified again just
before, and only when raw-log retention would delete it too (batch/archive.retention_hold: old
enough, loaded by the ETL as it is, its months archived, exported to the warehouse).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from headwater.batch.archive import retention_hold
from headwater.batch.holds import Hold
from headwater.config import Settings
from headwater.lake.layout import Lake
from headwater.warehouse.hours import SLACK

CLOSE_GRACE = SLACK


def closes_at(day: date) -> datetime:
    """The instant a file of this UTC day is closed (shipped from then on)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) + CLOSE_GRACE


def is_closed(day: date, now: datetime) -> bool:
    return now >= closes_at(day)


def keep_reason(
    settings: Settings, kind: str, day: date, now: datetime, still_needed: Hold | None
) -> str | None:
    """Why a shipped day of a log stays on disk (None: it may be deleted)."""
    keep = settings.raw_retention_days
    today = now.astimezone(UTC).date()
    if kind == "events":
        lake = Lake(settings.data_dir / "lake")
        return retention_hold(lake, settings.log_dir, day, keep, today, still_needed)
    if kind == "decisions":
        return "the decision log keeps its own retention (docs/targeting.md)"
    if keep is None:
        return "raw-log retention is off (HEADWATER_RAW_RETENTION_DAYS is not set)"
    if day >= today - timedelta(days=keep):
        return f"retention keeps it until {day + timedelta(days=keep + 1)}"
    return None
