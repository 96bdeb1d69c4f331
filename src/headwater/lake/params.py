"""Validated metric parameters: dates, time zone, and the error every caller shows the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_RANGE_DAYS = 3660


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
    if isinstance(value, date):
        return value
    if value is None or value == "":
        raise MetricError("missing_parameter", f"parameter {name!r} is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MetricError("bad_date", f"parameter {name!r} is not a date (YYYY-MM-DD): {value!r}") from None


def check_tz(value: str | None, default: str) -> str:
    tz = value or default
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise MetricError(
            "unknown_timezone", f"parameter 'tz': unknown IANA time zone {tz!r} (example: Europe/Paris)"
        ) from None
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
