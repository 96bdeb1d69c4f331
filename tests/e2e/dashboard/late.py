"""Late events counted by hand from the raw event log, for the dashboard tests' expectations."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.helpers import read_log


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def expected_late(data_dir: Path, start: date, end: date, tz: str) -> tuple[int, int]:
    """(events, late events) with a timestamp on local days start..end of ``tz``: one per
    messageId (its first received copy), late when received on a later local day than its
    timestamp's local day."""
    first: dict[str, tuple[datetime, datetime]] = {}
    for record in read_log(data_dir):
        ts, received = _instant(record["timestamp"]), _instant(record["receivedAt"])
        known = first.get(record["messageId"])
        if known is None or received < known[1]:
            first[record["messageId"]] = (ts, received)
    zone = ZoneInfo(tz)
    events = late = 0
    for ts, received in first.values():
        day = ts.astimezone(zone).date()
        if start <= day <= end:
            events += 1
            late += received.astimezone(zone).date() > day
    return events, late
