"""`headwater export events` and `GET /api/v1/export/events`: the events of local days start..end in
Segment's message format, as NDJSON, CSV or Parquet, written as they are read (docs/transfer.md).

The parameters are checked by :mod:`headwater.transfer.export_model`; the events come from
:mod:`headwater.transfer.export_source` (the raw log, and the lake that says which copy of each
message to keep) and are written by :mod:`headwater.transfer.export_formats`. Those are imported
when an export runs (DuckDB, numpy, pyarrow), not with this module: the HTTP worker imports it.
"""

from __future__ import annotations

from pathlib import Path

from headwater.transfer.export_model import EXPORT_MEMORY_LIMIT, ExportRequest, ExportStats, Sink


def export_events(
    data_dir: Path, request: ExportRequest, sink: Sink, memory_limit: str = EXPORT_MEMORY_LIMIT
) -> ExportStats:
    """Write the export to ``sink`` batch by batch (never the whole result in memory); the counts.

    Raises LakeError when the lake cannot be read (before the first byte, for a damaged file of the
    first received day read)."""
    from headwater.transfer.export_formats import open_writer
    from headwater.transfer.export_source import EventSource

    stats = ExportStats()
    with EventSource(data_dir, request, stats, memory_limit) as source:
        writer = open_writer(request.format, sink)
        for piece, keep in source.batches():
            stats.events += writer.write(piece, keep)
        writer.close()
    return stats
