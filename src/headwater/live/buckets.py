"""Names of the live store's counters and distinct sets, their expiry, and the query windows.

Minutes and hours are UTC (``m:YYYYMMDDHHMM``, ``h:YYYYMMDDHH``); days are calendar days in the
project time zone (``d:YYYYMMDD``). Every bucket expires RETENTION after it ends.

- distinct actors: ``m:<minute>``, ``h:<hour>``, ``d:<day>``, ``ht:<hour>:<tool>``,
  ``hte:<hour>:<tool>\\x1f<event_type>``, ``dt:<day>:<tool>``
- event counters (hashes): ``hc:<hour>`` field ``<tool>\\x1f<event_type>``; ``dc:<day>`` field ``<tool>``
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from headwater.events.sessions import INACTIVITY

RETENTION = timedelta(hours=48)
RETENTION_S = int(RETENTION.total_seconds())
SEP = "\x1f"
WINDOWS: dict[str, int] = {"5m": 5, "1h": 60, "24h": 1440}  # minutes
SESSION_MINUTES = INACTIVITY // timedelta(minutes=1)  # who is in a session now (events/sessions.py)


@dataclass(frozen=True, slots=True, eq=False)
class Minute:
    """Everything a fold needs about one UTC minute, computed once per minute and cached.

    Compared and hashed by identity (C speed: the fold keys a dict by it for every event); two
    objects for the same minute only split a fold's pre-aggregation, never its result."""

    epoch: int  # unix seconds of the minute's start
    minute: str  # YYYYMMDDHHMM
    hour: str  # YYYYMMDDHH
    day: str  # YYYYMMDD, local
    minute_expiry: int
    hour_expiry: int
    day_expiry: int


def minute_of(moment: datetime, tz: tzinfo) -> Minute:
    start = moment.astimezone(UTC).replace(second=0, microsecond=0)
    epoch = int(start.timestamp())
    local = start.astimezone(tz) if tz is not UTC else start
    hour_start = epoch - epoch % 3600
    day_end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return Minute(
        epoch=epoch,
        minute=f"{start:%Y%m%d%H%M}",
        hour=f"{start:%Y%m%d%H}",
        day=f"{local:%Y%m%d}",
        minute_expiry=epoch + 60 + RETENTION_S,
        hour_expiry=hour_start + 3600 + RETENTION_S,
        day_expiry=int(day_end.timestamp()) + RETENTION_S,
    )


def hour_name(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%d%H}"


def day_name(day: date) -> str:
    return f"{day:%Y%m%d}"


def window_names(minutes: int, now: datetime) -> list[str]:
    """Distinct-set names covering the last ``minutes`` minutes up to ``now`` (its minute included):
    minute sets for the partial first hour, then whole hour sets up to the current hour."""
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    start = current - timedelta(minutes=minutes - 1)
    if minutes <= 60:
        return [f"m:{start + timedelta(minutes=i):%Y%m%d%H%M}" for i in range(minutes)]
    names = []
    t = start
    while t.minute != 0:
        names.append(f"m:{t:%Y%m%d%H%M}")
        t += timedelta(minutes=1)
    while t <= current:
        names.append(f"h:{t:%Y%m%d%H}")
        t += timedelta(hours=1)
    return names


def split_field(field: str) -> tuple[str, str]:
    tool, _, event_type = field.partition(SEP)
    return tool, event_type
