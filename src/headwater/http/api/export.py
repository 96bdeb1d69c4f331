"""`GET /api/v1/export/events?start=&end=&tz=&format=&user=&event=` (admin token, a read): the events of
local days start..end in Segment's message format, streamed as they are read (docs/transfer.md).

The parameters are checked before anything is read (400 naming the parameter). The export runs in
a thread of its own and reaches the response through a bounded pipe (transfer/export_stream.py):
the response never holds more than a few chunks, whatever the range. The answer starts once the
first chunk is written, so a lake that cannot be read is still a 500 with a JSON error; a failure
after that cuts the stream short (the client sees an incomplete chunked response, never a complete
one). DuckDB, numpy and pyarrow are imported by that thread, not by this module.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError
from headwater.transfer.export import export_events
from headwater.transfer.export_model import ExportRequest, parse_request
from headwater.transfer.export_stream import ChunkPipe, PipeWriter, run_in_thread

log = logging.getLogger("headwater.export")


async def export_events_route(request: Request) -> Response:
    """Events of local days start..end as NDJSON, CSV or Parquet, streamed"""
    require_admin(request)
    settings = request.app.state.runtime.settings
    params = request.query_params
    try:
        wanted = parse_request(
            params.get("start"),
            params.get("end"),
            params.get("tz"),
            params.get("format"),
            params.get("user"),
            params.get("event"),
            settings.timezone,
        )
    except MetricError as exc:
        raise HttpError(400, exc.code, exc.message) from None
    pipe = ChunkPipe(asyncio.get_running_loop())
    data_dir: Path = settings.data_dir

    def work(sink: PipeWriter) -> Any:
        return export_events(data_dir, wanted, sink)

    run_in_thread(pipe, work)
    try:
        first = await pipe.get()
    except BaseException:
        pipe.close()
        raise
    if first[0] == "error":
        _raise(first[1], wanted)
    return StreamingResponse(
        pipe.stream(first),
        media_type=wanted.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{wanted.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _raise(exc: BaseException, wanted: ExportRequest) -> None:
    """An export that failed before its first byte: a JSON error."""
    if isinstance(exc, LakeError):
        raise HttpError(500, "lake_error", str(exc)) from None
    if isinstance(exc, MetricError):
        raise HttpError(exc.status, exc.code, exc.message) from None
    log.error("export %s failed", wanted.filename, exc_info=exc)
    raise HttpError(500, "export_failed", f"the export failed: {type(exc).__name__}") from None
