"""The import's depth check, as the collector's: an event nested deeper than the limit is refused
(too_deep) whether or not its text looks shallow; the bracket count only spares the walk when the
text cannot nest that deep (brackets inside strings count too, so they never hide a deep event)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from headwater.events.errors import EventError
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.transfer.convert import Convert, convert_chunk


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def _convert(*events: dict[str, Any], depth: int = 6) -> dict[int, str]:
    conv = Convert("json", "x.ndjson", "imp", "import", datetime.now(UTC), Normalizer(max_depth=depth), 32768)
    data = b"\n".join(msgspec.json.encode(e) for e in events) + b"\n"
    out = convert_chunk(conv, data, 1)
    codes = {n: msgspec.json.decode(b)["code"] for b, n in zip(out.bad, out.bad_lines, strict=True)}
    return {i + 1: codes.get(i + 1, "ok") for i in range(len(events))}


def _collector(event: dict[str, Any], depth: int = 6) -> str:
    """The collector's verdict (no shortcut: the full depth walk)."""
    try:
        Normalizer(max_depth=depth).normalize(
            dict(event), RequestInfo(source="t", received_at=datetime.now(UTC))
        )
    except EventError as exc:
        return exc.code
    return "ok"


def test_the_import_refuses_exactly_what_the_collector_refuses() -> None:
    base = {"type": "track", "event": "E", "userId": "u", "timestamp": "2024-03-04T10:00:00Z"}
    events = []
    for levels in range(3, 10):
        events.append({**base, "properties": _nested(levels)})
        # brackets inside strings make the text look deep: the walk decides
        events.append({**base, "properties": _nested(levels), "context": {"note": "[[[[[[[[[[{{{{{"}})
    got = _convert(*events)
    want = {i + 1: _collector(e) for i, e in enumerate(events)}
    assert got == want
    assert {"ok", "too_deep"} <= set(want.values())
