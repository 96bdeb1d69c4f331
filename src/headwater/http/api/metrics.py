"""`GET /api/v1/metrics` (the list) and `GET /api/v1/metrics/{name}?start=&end=&tz=&...` (admin token)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError

# headwater.metrics.registry (the metric functions, numpy with them) is imported on first use: an
# HTTP worker that never answers a metric does not carry it (~13 MB per process).


async def list_metrics(request: Request) -> Response:
    """Every metric, with its options"""
    from headwater.metrics.registry import METRICS

    require_admin(request)
    return JSONResponse(
        {"metrics": [{"name": m.name, "doc": m.doc, "options": list(m.options)} for m in METRICS.values()]}
    )


async def get_metric(request: Request) -> Response:
    """A metric over local days start..end: the same JSON as `headwater metrics NAME --json`"""
    from headwater.metrics.registry import run_metric

    require_admin(request)
    settings = request.app.state.runtime.settings
    params = dict(request.query_params)
    options = {k: v for k, v in params.items() if k not in ("start", "end", "tz")}
    try:
        body: dict[str, Any] = await asyncio.to_thread(
            run_metric,
            settings.data_dir,
            settings.timezone,
            request.path_params["name"],
            params.get("start"),
            params.get("end"),
            params.get("tz"),
            options,
        )
    except MetricError as exc:
        raise HttpError(exc.status, exc.code, exc.message) from None
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    return JSONResponse(body)
