"""What an export is before any data is read: its parameters checked (the same rules as the metrics'
days), its format, media type and file name, and what it wrote. Nothing heavy is imported here: the
HTTP worker checks a request with it before the export runs in a thread (transfer/export.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from headwater.lake.params import MetricError, Range, make_range

#: format -> (media type, file suffix)
FORMATS: dict[str, tuple[str, str]] = {
    "ndjson": ("application/x-ndjson", ".ndjson"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "parquet": ("application/vnd.apache.parquet", ".parquet"),
}
#: DuckDB's share of the export's memory (it spills beyond): the lake's ids of a received day, today's log
EXPORT_MEMORY_LIMIT = "128MB"
MAX_ID = 2048  # a user id (anon:<id>) or event name longer than any the collector keeps: refused


class Sink(Protocol):
    """Where an export is written: a binary file, standard output, an HTTP stream."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export: local days (and their time zone), the format, optional filters."""

    rng: Range
    format: str = "ndjson"
    user: str | None = None  # a person as the metrics count them (identified userId or anon:<id>)
    event: str | None = None  # an event name as the metrics see it (track: the event; else the type)

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][0]

    @property
    def filename(self) -> str:
        return f"events-{self.rng.start.isoformat()}_{self.rng.end.isoformat()}{FORMATS[self.format][1]}"


@dataclass(slots=True)
class ExportStats:
    """What an export wrote: events in all, from the raw log, and rebuilt from the lake (days whose
    raw log is gone, by retention: see docs/transfer.md for the fields they lack)."""

    events: int = 0
    from_log: int = 0
    from_lake: int = 0
    lake_only_days: list[str] = field(default_factory=list)
    skipped_lines: int = 0  # log lines that are not JSON objects with a messageId and a timestamp


def check_format(value: str | None) -> str:
    fmt = (value or "ndjson").strip().lower()
    if fmt not in FORMATS:
        raise MetricError("bad_format", f"parameter 'format' must be one of {', '.join(FORMATS)}: {value!r}")
    return fmt


def _check_text(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > MAX_ID or not value.isprintable():
        raise MetricError(
            "bad_parameter", f"parameter {name!r} must be printable text of at most {MAX_ID} characters"
        )
    return value


def parse_request(
    start: str | None,
    end: str | None,
    tz: str | None,
    fmt: str | None,
    user: str | None,
    event: str | None,
    project_tz: str,
) -> ExportRequest:
    """The request, or MetricError naming the bad parameter (the same rules as the metrics' days)."""
    rng = make_range(start, end, tz, project_tz)
    return ExportRequest(rng, check_format(fmt), _check_text(user, "user"), _check_text(event, "event"))


def format_for(output: str | None, fmt: str | None) -> str:
    """The format asked for, else the one the output's name says (``x.csv``, ``x.parquet.gz``), else
    NDJSON."""
    if fmt:
        return check_format(fmt)
    name = (output or "").lower().removesuffix(".gz")
    for key, (_, suffix) in FORMATS.items():
        if name.endswith(suffix) or (key == "ndjson" and name.endswith((".jsonl", ".json"))):
            return key
    return "ndjson"
