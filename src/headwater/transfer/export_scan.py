"""One piece of a log file read for an export: its lines in the range (and the filters), written in
the export's format, with each line's messageId and the size of its output. This is the per-line
work (JSON decoding, cutting ``_hw`` off, CSV or Arrow rows); it runs in worker processes for a big
export, in the exporting thread for a small one. Which of these lines are written (the first copy
of each message the lake kept) is decided afterwards by the caller, from the ids: the output of a
line is a slice of ``payload`` (NDJSON, CSV) or a row of it (Parquet, an Arrow IPC stream).

Light on purpose (no DuckDB): a spawned worker imports this module and msgspec, and pyarrow only for
Parquet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from headwater.events.identity import actor_key
from headwater.events.timestamps import format_timestamp, parse_timestamp

SEGMENT_BYTES = 4 << 20  # the lines starting in 4 MB of a log file (~5,500 lines) make one job
_HW = b',"_hw":'

#: The columns of CSV and Parquet: the message's fields, then any other top-level field in ``extra``.
COLUMNS = (
    "messageId",
    "type",
    "event",
    "name",
    "category",
    "userId",
    "anonymousId",
    "previousId",
    "groupId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "properties",
    "traits",
    "context",
    "integrations",
    "extra",
)
OBJECT_COLUMNS = ("properties", "traits", "context", "integrations")
TIME_COLUMNS = ("timestamp", "receivedAt")  # UTC timestamps (ms) in Parquet
_SCALARS = COLUMNS[: COLUMNS.index("properties")]
_NULL = msgspec.Raw(b"null")
_SPECIAL = re.compile(r'[",\r\n]')


class _Head(msgspec.Struct, gc=False):
    """The fields of a log line an export looks at; the rest is skipped unparsed (but checked)."""

    messageId: str | None = None
    timestamp: str | None = None
    hw: msgspec.Raw = msgspec.field(name="_hw", default_factory=msgspec.Raw)


class _FilterHead(msgspec.Struct, gc=False):
    """The same, with what the filters (event, user) look at."""

    messageId: str | None = None
    timestamp: str | None = None
    type: str | None = None
    event: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    userId: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    anonymousId: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    hw: msgspec.Raw = msgspec.field(name="_hw", default_factory=msgspec.Raw)


class _Row(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A message of the common shape, for its CSV/Parquet row: the fields of COLUMNS only, text
    fields strings (else the general path of ``flatten``)."""

    messageId: str | None = None
    type: str | None = None
    event: str | None = None
    name: str | None = None
    category: str | None = None
    userId: str | None = None
    anonymousId: str | None = None
    previousId: str | None = None
    groupId: str | None = None
    timestamp: str | None = None
    originalTimestamp: str | None = None
    sentAt: str | None = None
    receivedAt: str | None = None
    properties: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    traits: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    context: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    integrations: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_decode_row = msgspec.json.Decoder(_Row).decode
_astuple = msgspec.structs.astuple
_decode_head = msgspec.json.Decoder(_Head).decode
_decode_filter_head = msgspec.json.Decoder(_FilterHead).decode
_decode_message = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_decode_values = msgspec.json.Decoder(list[Any]).decode
_decode_any = msgspec.json.decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class ScanJob:
    """The lines of ``path`` starting in [start, end), none going past ``stop`` (a line still being
    written, without its newline before ``stop``, is left out)."""

    path: str
    start: int
    end: int
    stop: int
    lo: str  # the range, as the collector writes timestamps: lo <= timestamp < hi
    hi: str
    fmt: str
    event: str | None = None
    actors: frozenset[str] | None = None


@dataclass(slots=True)
class Scanned:
    """A job's lines in the range, in file order: their ids, and their output (see the module)."""

    ids: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)  # bytes of payload per line (NDJSON, CSV)
    payload: bytes = b""
    skipped: int = 0  # lines that are no JSON object with a messageId and a timestamp


def body(line: bytes, hw: msgspec.Raw) -> bytes:
    """The message of a log line without its top-level ``_hw`` member *and without its closing brace*
    (the caller puts ``}`` back: one copy of each line less). The collector writes ``_hw`` last, so it
    is cut off the end when the line ends with ``,"_hw":<its value>}`` (``,"`` cannot occur inside a
    JSON string, and a value followed by the closing brace is a top-level member); else re-encoded."""
    n = len(hw)
    if n and line[-n - 8 : -n - 1] == _HW and line.endswith(bytes(hw) + b"}"):
        return line[: -n - 8]
    if not n:
        return line.rstrip()[:-1]
    message = _decode_message(line)
    message.pop("_hw", None)
    return _encode(message)[:-1]


def read_job(job: ScanJob) -> list[bytes]:
    """The job's lines (without their newlines)."""
    with open(job.path, "rb") as fh:
        begin = max(job.start - 1, 0)  # from the byte before: is ``start`` the start of a line?
        fh.seek(begin)
        data = fh.read(max(min(job.end, job.stop) - begin, 0))
        if job.end < job.stop and data and not data.endswith(b"\n"):  # finish the last line
            while True:
                more = fh.read(min(1 << 16, job.stop - begin - len(data)))
                if not more:
                    break
                cut = more.find(b"\n")
                data += more if cut < 0 else more[: cut + 1]
                if cut >= 0:
                    break
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: nothing, or a line not complete before ``stop``
    if job.start > 0 and lines:  # the line running into ``start`` is the previous job's (b"" if none)
        del lines[0]
    return lines


def scan(job: ScanJob) -> Scanned:
    """Read, filter and write out a job's lines (the work a worker process does)."""
    out = Scanned()
    bodies = _filter(read_job(job), job, out)
    if job.fmt == "parquet":
        out.payload = arrow_payload(bodies)
    else:
        out.payload, out.lengths = (csv_payload if job.fmt == "csv" else ndjson_payload)(bodies)
    return out


def _filter(lines: list[bytes], job: ScanJob, out: Scanned) -> list[bytes]:
    lo, hi, event, actors = job.lo, job.hi, job.event, job.actors
    decode = _decode_head if event is None and actors is None else _decode_filter_head
    bodies: list[bytes] = []
    keep, ids = bodies.append, out.ids.append
    skipped = 0
    for line in lines:
        try:
            head: Any = decode(line)  # a _Head, or a _FilterHead when filtering
        except msgspec.DecodeError:
            skipped += line[:1] != b" "  # an erased line (log/erase.py) is no line at all
            continue
        ts, mid = head.timestamp, head.messageId
        if ts is None or mid is None:
            skipped += 1
            continue
        if len(ts) != 24 or ts[23] != "Z":  # not the collector's own form: read it
            moment = parse_timestamp(ts)
            if moment is None:
                skipped += 1
                continue
            ts = format_timestamp(moment)
        if not lo <= ts < hi:
            continue
        if event is not None and _event_name(head) != event:
            continue
        if actors is not None and _actor(head) not in actors:
            continue
        hw = head.hw
        n = len(hw)
        if n and line[-n - 8 : -n - 1] == _HW and line.endswith(bytes(hw) + b"}"):  # body(), inlined
            keep(line[: -n - 8])
        else:
            keep(body(line, hw))
        ids(mid)
    out.skipped = skipped
    return bodies


def _event_name(head: _FilterHead) -> str | None:
    """The event as the metrics name it: a track's ``event``, else the type."""
    if head.type != "track":
        return head.type
    name = _decode_any(head.event) if head.event else None
    return name if isinstance(name, str) else None


def _actor(head: _FilterHead) -> str | None:
    user = _decode_any(head.userId) if head.userId else None
    anon = _decode_any(head.anonymousId) if head.anonymousId else None
    return actor_key(user, anon)


# -- the formats ----------------------------------------------------------------------------------
def ndjson_payload(bodies: list[bytes]) -> tuple[bytes, list[int]]:
    if not bodies:
        return b"", []
    return b"}\n".join(bodies) + b"}\n", [len(b) + 2 for b in bodies]


def flatten(body: bytes) -> list[str | None]:
    """A message's values (given without its closing brace) in the order of COLUMNS: a JSON string as
    its text, anything else as its JSON text, an absent field or null as None."""
    line = body + b"}"
    try:
        fields = _astuple(_decode_row(line))
    except msgspec.ValidationError:  # another field, or a text field that is no string
        pass
    else:
        row: list[str | None] = list(fields[:-4])
        for raw in fields[-4:]:
            row.append(bytes(raw).decode() if raw and raw != _NULL else None)
        row.append(None)
        return row
    message = _decode_message(line)
    pop = message.pop
    # the scalar fields decoded by one call (a JSON array of their raw texts)
    values = _decode_values(b"[" + b",".join([pop(name, _NULL) for name in _SCALARS]) + b"]")
    row = [v if v is None or type(v) is str else _encode(v).decode() for v in values]
    for name in OBJECT_COLUMNS:
        raw = pop(name, None)
        row.append(None if raw is None or raw == _NULL else bytes(raw).decode())
    row.append(_encode(message).decode() if message else None)  # what is left: any other field
    return row


def csv_payload(bodies: list[bytes]) -> tuple[bytes, list[int]]:
    """RFC 4180 rows (``\\r\\n``), UTF-8, and the bytes of each."""
    rows = [csv_row(flatten(b)) for b in bodies]
    text = "".join(rows)
    data = text.encode()
    if len(data) == len(text):  # ASCII: characters are bytes
        return data, [len(r) for r in rows]
    return data, [len(r.encode()) for r in rows]


def csv_row(values: list[str | None]) -> str:
    """What ``csv.writer`` writes (QUOTE_MINIMAL, ``\r\n``), 3x faster on rows of JSON text: a field
    with a quote, comma or line break is quoted, its quotes doubled; None is empty."""
    return (
        ",".join(
            "" if v is None else v if _SPECIAL.search(v) is None else '"' + v.replace('"', '""') + '"'
            for v in values
        )
        + "\r\n"
    )


def arrow_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [(c, pa.timestamp("ms", tz="UTC") if c in TIME_COLUMNS else pa.string()) for c in COLUMNS]
    )


def arrow_payload(bodies: list[bytes]) -> bytes:
    """The rows as an Arrow IPC stream (the schema of arrow_schema)."""
    import pyarrow as pa

    schema = arrow_schema()
    rows = [flatten(b) for b in bodies]
    columns = []
    for i, name in enumerate(COLUMNS):
        values = [r[i] for r in rows]
        column = pa.array(values, pa.string())
        if name in TIME_COLUMNS:
            try:
                column = column.cast(pa.timestamp("ms", tz="UTC"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # not the canonical form: read each
                column = pa.array([parse_timestamp(v) for v in values], pa.timestamp("ms", tz="UTC"))
        columns.append(column)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return bytes(sink.getvalue().to_pybytes())
