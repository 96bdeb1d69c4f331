"""History files shaped like the ones users bring: Segment's S3/GCS archives, RudderStack's object
storage dumps (both gzipped JSON lines), plain NDJSON, CSV. Shared by the tests and the benchmark."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)


def ts(moment: datetime) -> str:
    """Segment's form: UTC, milliseconds, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def segment_message(
    n: int,
    at: datetime,
    user: str,
    event: str = "Export Clicked",
    skew: timedelta = timedelta(0),
    **extra: Any,
) -> dict[str, Any]:
    """One line of a Segment archive: the message as Segment stored it, ``timestamp`` already
    corrected for the device clock (``originalTimestamp`` is the device's, ``skew`` off)."""
    msg: dict[str, Any] = {
        "anonymousId": f"anon-{user}",
        "channel": "client",
        "context": {
            "ip": "203.0.113.77",
            "library": {"name": "analytics.js", "version": "4.1.0"},
            "page": {"path": "/editor", "url": "https://app.example.com/editor"},
            "userAgent": UA,
        },
        "event": event,
        "integrations": {},
        "messageId": f"ajs-{n:08d}",
        "originalTimestamp": ts(at + skew - timedelta(milliseconds=40)),
        "projectId": "hFRvZ7mpDE",
        "properties": {"tool_id": f"tool-{n % 4}", "plan": "pro"},
        "receivedAt": ts(at + timedelta(milliseconds=180)),
        "sentAt": ts(at + skew),
        "timestamp": ts(at - timedelta(milliseconds=40)),
        "type": "track",
        "userId": user,
        "version": 2,
        "writeKey": "wk-segment",
    }
    msg.update(extra)
    return msg


def rudder_message(n: int, at: datetime, user: str, event: str = "Report Viewed") -> dict[str, Any]:
    """One line of a RudderStack object-storage dump (rudderId, request_ip beside the context)."""
    return {
        "anonymousId": f"r-anon-{user}",
        "channel": "web",
        "context": {"library": {"name": "RudderLabs JavaScript SDK", "version": "3.0.0"}, "userAgent": UA},
        "event": event,
        "integrations": {"All": True},
        "messageId": f"rs-{n:08d}",
        "originalTimestamp": ts(at - timedelta(seconds=3)),
        "properties": {"tool_id": "reports"},
        "receivedAt": ts(at + timedelta(milliseconds=90)),
        "request_ip": "198.51.100.23",
        "rudderId": f"rid-{user}",
        "sentAt": ts(at - timedelta(seconds=2)),
        "timestamp": ts(at - timedelta(seconds=1)),
        "type": "track",
        "userId": user,
    }


def lines(messages: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(m, separators=(",", ":")).encode() + b"\n" for m in messages)


def write_gz(path: Path, messages: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(lines(messages)))
    return path


def write_ndjson(path: Path, messages: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lines(messages))
    return path


def history(
    count: int, start: datetime, days: int = 3, users: int = 50, seed: int = 7
) -> Iterator[dict[str, Any]]:
    """``count`` Segment messages spread evenly over ``days`` days from ``start``."""
    rng = random.Random(seed)
    step = timedelta(days=days) / max(count, 1)
    for n in range(count):
        yield segment_message(n, start + step * n, f"user-{rng.randrange(users)}")
