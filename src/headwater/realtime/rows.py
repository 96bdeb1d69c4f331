"""Logged events -> the fold's rows, with the per-value work (junk ids, cuts, local days) memoized:
the realtime tailer's hot loop."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo

import msgspec

from headwater.events.identity import ANON_PREFIX
from headwater.events.timestamps import parse_timestamp
from headwater.log.record import LogRecord
from headwater.log.tailing.batch import TailReject
from headwater.realtime.fold import Row, event_type_text, id_text, local_day, tool_text

#: The fields of a log line the realtime aggregates read: the record every tailer of a process shares.
LoggedEvent = LogRecord

_fromiso = datetime.fromisoformat


class RowMaker:
    """Logged events -> fold rows, with the per-value work (junk ids, cuts, local days) memoized."""

    def __init__(self, tz: tzinfo = UTC, max_memo: int = 200_000) -> None:
        self.tz = tz
        self.max_memo = max_memo
        self._ids: dict[str, str] = {}  # raw id -> cleaned id, "" for junk
        self._anons: dict[str, str] = {}  # raw anonymousId -> its actor key anon:<cleaned id>, "" for junk
        self._names: dict[str | None, str] = {}
        self._tools: dict[str, str] = {}
        self._days: dict[str, date] = {}  # 'YYYY-MM-DDTHH:MM' (UTC) -> local day

    def rows(
        self, records: list[LoggedEvent], positions: Sequence[tuple[str, int]], rejects: list[TailReject]
    ) -> list[Row]:
        for memo in (self._ids, self._anons, self._names, self._tools, self._days):
            if len(memo) > self.max_memo:
                memo.clear()
        ids, anons, names, tools, days = self._ids, self._anons, self._names, self._tools, self._days
        out: list[Row] = []
        append = out.append
        for i, rec in enumerate(records):
            s = rec.timestamp
            ts: datetime | None = None
            day: date | None = None
            if s is not None and len(s) == 24 and s[23] == "Z" and s[16] == ":":  # the collector's format
                try:
                    ts = _fromiso(s)
                except ValueError:
                    ts = None
                else:
                    day = days.get(s[:16])
                    if day is None:
                        day = self._day(ts, s[:16])
            if ts is None:
                ts = parse_timestamp(s) or parse_timestamp(rec.receivedAt)
                if ts is None or not rec.type:
                    self._reject(rec, positions[i], rejects)
                    continue
                day = local_day(ts, self.tz)
            typ = rec.type
            if not typ:
                self._reject(rec, positions[i], rejects)
                continue
            hw = rec.hw
            raw_name = hw.event_type or rec.event or typ
            name = names.get(raw_name)
            if name is None:
                name = names[raw_name] = event_type_text(raw_name)
            raw_tool = hw.tool_id
            if raw_tool is None:
                tool = ""
            elif type(raw_tool) is str:
                tool = tools.get(raw_tool) or tools.setdefault(raw_tool, tool_text(raw_tool))
            else:
                tool = tool_text(raw_tool)
            v = rec.userId
            if v is None:
                user = None
            elif type(v) is str:
                got = ids.get(v)
                if got is None:
                    got = ids[v] = id_text(v) or ""  # "" for a junk id (never a cleaned one)
                user = got or None
            else:
                user = id_text(v)
            v = rec.anonymousId
            if v is None:
                anon = None
            elif type(v) is str:
                got = anons.get(v)
                if got is None:
                    cleaned = id_text(v)
                    got = anons[v] = "" if cleaned is None else ANON_PREFIX + cleaned  # "": a junk id
                anon = got or None
            else:
                cleaned = id_text(v)
                anon = None if cleaned is None else ANON_PREFIX + cleaned
            prev = None if rec.previousId is None else _clean(ids, rec.previousId)
            assert day is not None
            append((ts, day, tool, name, user, anon, prev, typ, rec.messageId))
        return out

    def _day(self, ts: datetime, minute: str) -> date:
        day = local_day(ts, self.tz)
        offset = ts.astimezone(self.tz).utcoffset() if self.tz is not UTC else None
        if offset is None or offset.seconds % 60 == 0:  # whole-minute offset: the minute decides
            self._days[minute] = day
        return day

    @staticmethod
    def _reject(rec: LoggedEvent, position: tuple[str, int], rejects: list[TailReject]) -> None:
        reason = "no event type" if not rec.type else "no usable timestamp or receivedAt"
        rejects.append(TailReject(position[0], position[1], reason, msgspec.json.encode(rec).decode()))


def _clean(memo: dict[str, str], value: object) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        return id_text(value)
    got = memo.get(value)
    if got is None:
        got = memo[value] = id_text(value) or ""
    return got or None


def to_event_row(rec: LoggedEvent, tz: tzinfo = UTC) -> Row | None:
    """One logged event as a fold row (None when it has no type or no usable timestamp)."""
    rejects: list[TailReject] = []
    rows = RowMaker(tz).rows([rec], [("", 0)], rejects)
    return rows[0] if rows else None
