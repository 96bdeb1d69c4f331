"""One chunk of input lines -> log lines and quarantine lines, validated like the collector's.

Runs in worker processes (a pure function of the chunk and a :class:`Convert` context). Every
message goes through the collector's :class:`~headwater.events.normalize.Normalizer`, with what an
import changes about time, because history is not traffic arriving now:

- the event's time is its ``timestamp`` as stored (Segment and RudderStack archives hold the
  corrected time); without one, Segment's correction ``receivedAt - (sentAt - originalTimestamp)``
  from the record's own fields, else ``originalTimestamp``, else ``receivedAt``; none at all is a
  rejection (``missing_timestamp``), never the time of the import;
- ``receivedAt`` is the record's own (capped at now), else the event's time: it names the log file
  (one per received UTC day), so history lands in the days it belongs to;
- the future clamp is relative to now: an old event is never moved.

A message without ``messageId`` gets one derived from its line number and content (a UUID of
their SHA-256), so importing the same file again, renamed, recompressed or from stdin, yields the
same ids and adds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from headwater.collector.suppression import message_suppressed
from headwater.events.errors import EventError
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.events.timestamps import format_timestamp, parse_timestamp
from headwater.privacy.keyed import id_hash
from headwater.transfer.csvmap import ColumnMap

_decode = msgspec.json.Decoder().decode
_encoder = msgspec.json.Encoder()
_encode = _encoder.encode
_encode_into = _encoder.encode_into
#: Reasons kept per chunk for the summary (all of them are in the quarantine).
MAX_REASONS = 20


@dataclass(frozen=True, slots=True)
class Convert:
    """What converting a chunk needs to know (pickled to the workers with each chunk)."""

    kind: str  # "json" | "csv"
    file: str  # the input's name, for _hw.import and the quarantine
    import_id: str  # the import's identity (the file's first SHA-256), in quarantine records
    source: str
    now: datetime
    normalizer: Normalizer
    max_event_bytes: int
    columns: ColumnMap | None = None
    delimiter: str = ","
    #: keyed hashes of suppressed people's ids and the key (docs/privacy.md): their events are skipped
    suppressed: frozenset[str] = frozenset()
    hash_key: bytes = b""


@dataclass(slots=True)
class Converted:
    """A chunk's good events and its rejections. The log lines are one buffer (each line with its
    newline; ``ends[i]`` is where line i ends), encoded into it message by message; from a worker
    it comes back through shared memory (``slot``, :mod:`.import_pool`), not through the pipe.
    Dates and received days are runs (value, how many consecutive events): a few per chunk, as
    archives are sorted by day first."""

    blob: bytearray = field(default_factory=bytearray)
    ends: array[int] = field(default_factory=lambda: array("q"))
    ids: list[str] = field(default_factory=list)
    dates: list[tuple[str, int]] = field(default_factory=list)  # runs of UTC event dates, YYYY-MM-DD
    days: list[tuple[str, int]] = field(default_factory=list)  # runs of received days (the log files)
    slot: int = -1  # >= 0: the lines are in this shared slot instead of ``blob``
    bad: list[bytes] = field(default_factory=list)  # quarantine lines
    bad_lines: list[int] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    reasons: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, reason), the first ones
    flagged: int = 0
    suppressed: int = 0  # events of suppressed people, skipped (counted, not stored)
    formats: dict[str, int] = field(default_factory=dict)  # segment | rudderstack | ndjson | csv


def derived_id(seed: bytes, line: int) -> str:
    """The messageId of a message that has none: a UUID (version 5 layout) of its line and content."""
    digest = hashlib.sha256(b"%d\x00" % line + seed).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


class _Run:
    def __init__(self, conv: Convert) -> None:
        self.conv = conv
        self.out = Converted()
        self.req = RequestInfo(received_at=conv.now, source=conv.source)
        self.now_text = self.req.received_text
        self.normalize = conv.normalizer.normalize
        self.buf = self.out.blob
        self.date_runs: list[str] = [""]
        self.date_counts: list[int] = [0]
        self.day_runs: list[str] = [""]
        self.day_counts: list[int] = [0]

    def json_lines(self, data: bytes, first_line: int) -> None:
        limit = self.conv.max_event_bytes
        depth = self.conv.normalizer.max_depth
        counts = self.out.formats
        for i, text in enumerate(data.split(b"\n")):
            if not text.strip():
                continue
            line = first_line + i
            raw: Any = text
            try:
                if len(text) > limit and not self.conv.suppressed:
                    raise EventError("event_too_large", f"the event is over the {limit} byte limit")
                try:
                    raw = _decode(text)
                except msgspec.DecodeError as exc:
                    raise EventError("bad_json", f"not a JSON object: {exc}") from None
                if type(raw) is not dict:
                    self.normalize(raw, self.req)  # raises not_an_object, the collector's words
                if self.suppressed_message(raw):
                    continue
                if len(text) > limit:  # decoded only to know whose it is
                    raise EventError("event_too_large", f"the event is over the {limit} byte limit")
                kind = "segment" if "projectId" in raw else "rudderstack" if "rudderId" in raw else "ndjson"
                counts[kind] = counts.get(kind, 0) + 1
                # fewer brackets in the line than the depth limit: no field can nest too deep (C speed;
                # most lines hold no array, and finding none is four times faster than counting)
                opens = text.count(b"{") + (text.count(b"[") if text.find(b"[") >= 0 else 0)
                self.event(raw, line, text, opens <= depth)
            except EventError as exc:
                if type(raw) is dict:  # event() changed it in place: quarantine it as it came
                    raw = _decode(text)
                self.reject(raw, line, exc)

    def csv_rows(self, data: bytes, first_line: int) -> None:
        columns = self.conv.columns
        assert columns is not None
        text = data.decode("utf-8", "replace")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.conv.delimiter, strict=False)
        start = first_line
        counts = self.out.formats
        for cells in reader:
            line = start
            start = first_line + reader.line_num
            if not cells or cells == [""]:
                continue
            counts["csv"] = counts.get("csv", 0) + 1
            try:
                raw = columns.event(cells)
            except EventError as exc:
                if not self.suppressed_cells(cells):
                    self.reject(cells, line, exc)
                continue
            if self.suppressed_message(raw):
                continue
            try:
                self.event(raw, line, "\x1f".join(cells).encode())
            except EventError as exc:
                raw = columns.event(cells)  # as mapped, before event() changed it
                self.reject(raw, line, EventError(exc.code, columns.name_column(exc.message)))

    def event(self, raw: dict[str, Any], line: int, seed: bytes, shallow: bool = False) -> None:
        ev = raw  # freshly decoded, ours to change (the normalizer makes its own copy anyway)
        request_ip = ev.pop("request_ip", None)  # RudderStack keeps the client's address beside context
        if isinstance(request_ip, str) and request_ip:
            context = ev.get("context")
            if context is None:
                ev["context"] = {"ip": request_ip}
            elif isinstance(context, dict) and not context.get("ip"):
                ev["context"] = {**context, "ip": request_ip}
        if ev.get("messageId") is None or ev.get("messageId") == "":
            ev["messageId"] = derived_id(seed, line)
        original = ev.pop("originalTimestamp", None)
        sent = ev.pop("sentAt", None)
        received = ev.pop("receivedAt", None)
        received_at = _received(received, self.now_text)
        moment = ev.get("timestamp")
        if moment is None:  # only then are the device time and sentAt read (else kept as sent)
            moment = _corrected(original, sent, received_at)
            if moment is None:
                raise EventError(
                    "missing_timestamp",
                    "an imported event needs 'timestamp', 'originalTimestamp' or 'receivedAt'"
                    " (the time of the import is never used)",
                )
            ev["timestamp"] = moment
        out = self.normalize(ev, self.req, shallow)
        if original is None:
            out.pop("originalTimestamp", None)  # the normalizer's copy of 'timestamp'
        else:
            out["originalTimestamp"] = original
        if sent is not None:
            out["sentAt"] = sent
        if received_at is None:  # history without a received time: received when it happened
            received_at = min(out["timestamp"], self.now_text)
        out["receivedAt"] = received_at
        hw = out["_hw"]
        hw["import"] = {"file": self.conv.file, "line": line}
        if "flags" in hw:
            self.out.flagged += 1
        buf = self.buf
        start = len(buf)
        _encode_into(out, buf, -1)
        limit = self.conv.max_event_bytes
        if len(buf) - start > limit and len(seed) > limit:
            del buf[start:]
            raise EventError("event_too_large", f"the event is over the {limit} byte limit")
        buf.append(10)  # b"\n"
        o = self.out
        o.ends.append(len(buf))
        o.ids.append(out["messageId"])
        day = out["timestamp"][:10]
        if day == self.date_runs[-1]:
            self.date_counts[-1] += 1
        else:
            self.date_runs.append(day)
            self.date_counts.append(1)
        day = out["receivedAt"][:10]
        if day == self.day_runs[-1]:
            self.day_counts[-1] += 1
        else:
            self.day_runs.append(day)
            self.day_counts.append(1)

    def done(self) -> Converted:
        o = self.out
        o.dates = list(zip(self.date_runs[1:], self.date_counts[1:], strict=True))
        o.days = list(zip(self.day_runs[1:], self.day_counts[1:], strict=True))
        return o

    def suppressed_message(self, raw: dict[str, Any]) -> bool:
        """Whether a message (valid or not) is a suppressed person's: any id it names is theirs
        (collector/suppression.py); it is counted, and neither stored nor quarantined."""
        conv = self.conv
        if conv.suppressed and message_suppressed(raw, conv.hash_key, conv.suppressed):
            self.out.suppressed += 1
            return True
        return False

    def suppressed_cells(self, cells: list[str]) -> bool:
        """Whether a CSV row that cannot be mapped holds a suppressed id in one of its cells."""
        conv = self.conv
        if conv.suppressed and any(c and id_hash(conv.hash_key, c) in conv.suppressed for c in cells):
            self.out.suppressed += 1
            return True
        return False

    def reject(self, raw: Any, line: int, exc: EventError) -> None:
        o = self.out
        record = {
            "reason": exc.message,
            "code": exc.code,
            "file": self.conv.file,
            "line": line,
            "import": self.conv.import_id,
            "receivedAt": self.now_text,
            "source": self.conv.source,
            "event": raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw,
        }
        try:
            o.bad.append(_encode(record))
        except (TypeError, ValueError, OverflowError):
            record["event"] = repr(raw)[: self.conv.max_event_bytes]
            o.bad.append(_encode(record))
        o.bad_lines.append(line)
        o.codes[exc.code] = o.codes.get(exc.code, 0) + 1
        if len(o.reasons) < MAX_REASONS:
            o.reasons.append((line, exc.code, exc.message))


def _time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise EventError("bad_timestamp", f"field '{name}' is not an ISO 8601 timestamp: {str(value)[:64]!r}")
    return parsed


def _received(value: Any, now_text: str) -> str | None:
    """The record's receivedAt in the log's form (UTC, milliseconds, Z), at most now."""
    if value is None:
        return None
    if type(value) is str and len(value) == 24 and value[10] == "T" and value[19] == "." and value[23] == "Z":
        try:  # already in the log's form (Segment's archives): checked, not rewritten
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value if value <= now_text else now_text
    parsed = _time(value, "receivedAt")
    assert parsed is not None
    text = format_timestamp(parsed)
    return text if text <= now_text else now_text


def _corrected(original: Any, sent: Any, received: str | None) -> str | None:
    """The event time of a record without ``timestamp``: Segment's skew correction from the
    record's own fields when it has them all, else the device time, else the received time."""
    device = _time(original, "originalTimestamp")
    if device is not None:
        sent_at = _time(sent, "sentAt")
        if sent_at is not None and received is not None:
            try:
                return format_timestamp(datetime.fromisoformat(received) - (sent_at - device))
            except OverflowError:
                raise EventError(
                    "bad_timestamp", "fields 'sentAt' and 'originalTimestamp' are too far apart"
                ) from None
        return str(original)
    return received


def convert_chunk(conv: Convert, data: bytes | tuple[str, int, int], first_line: int) -> Converted:
    """The events and rejections of one chunk (run in a worker process, or inline). ``data`` is
    the chunk, or where it is in an uncompressed file (path, offset, size): a worker reads it from
    the page cache rather than through a pipe."""
    if isinstance(data, tuple):
        path, offset, size = data
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(size)
    run = _Run(conv)
    if conv.kind == "csv":
        run.csv_rows(data, first_line)
    else:
        run.json_lines(data, first_line)
    return run.done()
