"""Validated metric parameters: dates, time zone, and the error every caller shows the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from headwater.timezones import is_time_zone

MAX_RANGE_DAYS = 3660
#: The days a range may name: every computation (a week or a month before the start, a funnel's
#: window and a day after the end, in any time zone) stays within what datetime can hold.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9997, 12, 31)


class MetricError(Exception):
    """Bad parameters (HTTP 400) or data that cannot be read (code says which)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Range:
    start: date
    end: date
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def utc_bounds(self, first: date | None = None, last: date | None = None) -> tuple[datetime, datetime]:
        """[start of `first`, start of the day after `last`) in UTC, for local calendar days."""
        return local_midnight(first or self.start, self.zone), local_midnight(
            (last or self.end) + timedelta(days=1), self.zone
        )


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def parse_date(value: str | date | None, name: str) -> date:
    if value is None or value == "":
        raise MetricError("missing_parameter", f"parameter {name!r} is required (YYYY-MM-DD)")
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise MetricError(
                "bad_date", f"parameter {name!r} is not a date (YYYY-MM-DD): {value!r}"
            ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        bounds = f"from {FIRST_DAY} to {LAST_DAY}"
        raise MetricError("bad_date", f"parameter {name!r} must be a day {bounds}: {day.isoformat()!r}")
    return day


def check_tz(value: str | None, default: str) -> str:
    tz = value or default
    if not is_time_zone(tz):
        raise MetricError(
            "unknown_timezone", f"parameter 'tz': unknown IANA time zone {tz!r} (example: Europe/Paris)"
        )
    return tz


def make_range(start: str | date | None, end: str | date | None, tz: str | None, default_tz: str) -> Range:
    first = parse_date(start, "start")
    last = parse_date(end, "end")
    zone = check_tz(tz, default_tz)
    if first > last:
        raise MetricError("start_after_end", f"parameter 'start' ({first}) is after 'end' ({last})")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise MetricError("range_too_long", f"the range may cover at most {MAX_RANGE_DAYS} days")
    return Range(first, last, zone)
