"""An export's formats, written piece by piece to a sink (a file, stdout, an HTTP stream). Each piece
comes rendered (transfer/export_scan.py) with which of its lines to keep; a writer drops the others.

- NDJSON: one Segment message per line, as collected (what ``headwater import`` reads back).
- CSV: a header, then one row per message, the columns of ``COLUMNS``: text fields as text,
  ``properties``, ``traits``, ``context`` and ``integrations`` as JSON text, any other top-level
  field of the message in ``extra`` (a JSON object), so no field is lost. Empty for absent.
- Parquet: the same columns, strings, but ``timestamp`` and ``receivedAt`` as UTC timestamps (ms),
  zstd; written straight to the sink (no temporary file), a row group per ``ROW_GROUP_ROWS``.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Protocol

import numpy as np

from headwater.transfer.export_model import Sink
from headwater.transfer.export_scan import COLUMNS, Scanned, arrow_schema

ROW_GROUP_ROWS = 32_768  # the rows the writer holds before it writes them (~30 MB)
Mask = np.ndarray[Any, np.dtype[np.bool_]] | None  # the lines to keep (None: all)


class Writer(Protocol):
    def write(self, piece: Scanned, keep: Mask) -> int:
        """Write the kept lines of a piece; how many."""

    def close(self) -> None: ...


def kept_bytes(piece: Scanned, keep: Mask) -> bytes:
    """The payload of the kept lines (each line's bytes are ``lengths`` long, in order)."""
    if keep is None or keep.all():
        return piece.payload
    if not keep.any():
        return b""
    # the runs of kept lines (a retry dropped here and there: few runs), each one slice of the payload
    ends = np.cumsum(np.asarray(piece.lengths, np.int64)).tolist()
    edges = np.flatnonzero(np.diff(np.concatenate(([False], keep, [False])).astype(np.int8))).tolist()
    view = memoryview(piece.payload)
    return b"".join(
        view[(ends[a - 1] if a else 0) : ends[b - 1]] for a, b in zip(edges[::2], edges[1::2], strict=True)
    )


class TextWriter:
    """NDJSON and CSV: the kept bytes as they come (CSV after its header)."""

    def __init__(self, sink: Sink, header: bytes = b"") -> None:
        self.sink = sink
        if header:
            sink.write(header)

    def write(self, piece: Scanned, keep: Mask) -> int:
        data = kept_bytes(piece, keep)
        if data:
            self.sink.write(data)
        return len(piece.lengths) if keep is None else int(keep.sum())

    def close(self) -> None:
        self.sink.flush()


class _Counted:
    """A write-only stream that knows its position, for pyarrow (stdout and HTTP cannot ``tell``)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        self.closed = True


class ParquetWriter:
    def __init__(self, sink: Sink) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = arrow_schema()
        self.writer = pq.ParquetWriter(
            pa.PythonFile(_Counted(sink), mode="w"), self.schema, compression="zstd"
        )
        self.pending: list[Any] = []  # arrow tables not written yet
        self.rows = 0

    def write(self, piece: Scanned, keep: Mask) -> int:
        pa = self.pa
        if not piece.payload or (keep is not None and not keep.any()):
            return 0
        table = pa.ipc.open_stream(piece.payload).read_all()
        if keep is not None and not keep.all():
            table = table.filter(pa.array(keep))
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            self._flush()
        return int(table.num_rows)

    def _flush(self) -> None:
        if self.pending:
            table = self.pa.concat_tables(self.pending)  # chunked: no copy of the columns
            self.writer.write_table(table, row_group_size=len(table))
        self.pending, self.rows = [], 0

    def close(self) -> None:
        self._flush()
        self.writer.close()


def csv_header() -> bytes:
    text = io.StringIO()
    csv.writer(text).writerow(COLUMNS)
    return text.getvalue().encode()


def open_writer(fmt: str, sink: Sink) -> Writer:
    if fmt == "parquet":
        return ParquetWriter(sink)
    return TextWriter(sink, csv_header() if fmt == "csv" else b"")
