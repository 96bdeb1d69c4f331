"""Names of the live store's numbers, their expiry, and the query windows.

Hours are UTC (``YYYYMMDDHH``); days are calendar days in the project time zone (``YYYYMMDD``).
Every number is a field of a hash; every hash expires RETENTION after its hour or day ends.

- events: ``hc:<hour>`` field ``<tool>\\x1f<event_type>``; ``dc:<day>`` field ``<tool>``
- unique actors (exact, counted by the tailer: headwater.live.state): ``hu:<hour>`` per
  ``<tool>\\x1f<event_type>``, ``htu:<hour>`` per ``<tool>``, ``hn:<hour>`` field ``users``;
  ``dtu:<day>`` per ``<tool>``, ``dn:<day>`` field ``users``
- windows: ``ls:<hour>`` field ``MM`` (minute of the hour) -> the actors whose latest activity
  is that minute; the actors active in the last N minutes are the sum over those minutes. Kept
  LAST_SEEN_RETENTION after the hour (the longest window is 24 hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from headwater.events.sessions import INACTIVITY

LIVE_TAILER = "live"  # the tailer's name (its lock, checkpoint, status)
RETENTION = timedelta(hours=48)
RETENTION_S = int(RETENTION.total_seconds())
SEP = "\x1f"
USERS = "users"  # the field of hn: and dn:
LAST_SEEN_RETENTION_S = 25 * 3600
LAST_SEEN_KEEP_MINUTES = 25 * 60  # latest minutes the tailer remembers (beyond the longest window)
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


def last_seen_key(minute: int) -> tuple[str, str, int]:
    """(hash, field, expiry) of the count of actors last active in this unix minute."""
    start = datetime.fromtimestamp(minute * 60, UTC)
    hour_end = (minute - minute % 60) * 60 + 3600
    return f"ls:{start:%Y%m%d%H}", f"{start.minute:02d}", hour_end + LAST_SEEN_RETENTION_S


def window_ranges(minutes: int, now: datetime) -> list[tuple[str, int, int]]:
    """(hash, first minute, last minute) covering the last ``minutes`` minutes up to ``now`` (its
    minute included): the ``ls:`` hashes to sum over."""
    current = int(now.timestamp()) // 60
    first = current - minutes + 1
    out: list[tuple[str, int, int]] = []
    hour_start = first - first % 60
    while hour_start <= current:
        name = f"ls:{datetime.fromtimestamp(hour_start * 60, UTC):%Y%m%d%H}"
        out.append((name, max(first, hour_start) - hour_start, min(current, hour_start + 59) - hour_start))
        hour_start += 60
    return out


def split_field(field: str) -> tuple[str, str]:
    tool, _, event_type = field.partition(SEP)
    return tool, event_type


HOUR_KINDS = ("hc", "hu", "htu", "hn", "ls")
DAY_KINDS = ("dc", "dtu", "dn")


def names_within(now: datetime, tz: tzinfo, hours: int) -> list[str]:
    """Every hash name the tailer may have written for the last ``hours`` hours (and the next
    day's, for events stamped ahead): what a rebuild swapped in replaces."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
    names: list[str] = []
    days: set[date] = set()
    for i in range(hours + 26):
        moment = start + timedelta(hours=i)
        names += [f"{kind}:{moment:%Y%m%d%H}" for kind in HOUR_KINDS]
        days.add(moment.astimezone(tz).date())
        days.add(moment.date())
    return names + [f"{kind}:{day:%Y%m%d}" for day in sorted(days) for kind in DAY_KINDS]
