"""`GET /api/v1/metrics` (the list) and `GET /api/v1/metrics/{name}?start=&end=&tz=&engine=&...` (admin
token). ``engine=warehouse`` computes the metric in the warehouse (BigQuery) instead of the lake."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError

# headwater.metrics.registry (the metric functions, numpy with them) and the warehouse's client are
# imported on first use: an HTTP worker that never answers a metric does not carry them (~13 MB per
# process for the lake's).


async def list_metrics(request: Request) -> Response:
    """Every metric, with its options"""
    from headwater.metrics.registry import METRICS

    require_admin(request)
    return JSONResponse(
        {"metrics": [{"name": m.name, "doc": m.doc, "options": list(m.options)} for m in METRICS.values()]}
    )


async def get_metric(request: Request) -> Response:
    """A metric over local days start..end: the same JSON as `headwater metrics NAME --json`"""
    require_admin(request)
    settings = request.app.state.runtime.settings
    params = dict(request.query_params)
    options = {k: v for k, v in params.items() if k not in ("start", "end", "tz", "engine")}
    engine = params.get("engine") or "lake"
    name = request.path_params["name"]
    try:
        if engine == "lake":
            from headwater.insights.cohorts import Cohorts
            from headwater.metrics.registry import run_metric

            body: dict[str, Any] = await asyncio.to_thread(
                run_metric,
                settings.data_dir,
                settings.timezone,
                name,
                params.get("start"),
                params.get("end"),
                params.get("tz"),
                options,
                Cohorts(settings.data_dir, settings.effective_database_url),
            )
            return JSONResponse(body)
        from headwater.warehouse.metrics import check_engine, check_metric

        check_engine(engine)
        check_metric(name)
        if not settings.warehouse_url:
            raise HttpError(
                409,
                "warehouse_not_configured",
                "engine=warehouse needs a warehouse: set HEADWATER_WAREHOUSE_URL (bigquery://PROJECT/DATASET)"
                " and restart, or use engine=lake",
            )
        return await asyncio.to_thread(_warehouse_metric, settings, name, params, options)
    except MetricError as exc:
        raise HttpError(exc.status, exc.code, exc.message) from None
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None


def _warehouse_metric(settings: Any, name: str, params: dict[str, str], options: dict[str, str]) -> Response:
    """The metric from the warehouse (in a worker thread). The bytes BigQuery billed for it go into
    the ``X-Warehouse-Bytes-Processed`` header (and the number of queries into ``X-Warehouse-Queries``)."""
    from headwater.stores.warehouse import open_warehouse
    from headwater.stores.warehouse.ports import WarehouseError, WarehouseUnreachableError
    from headwater.warehouse.metrics import Cost, run_warehouse_metric

    cost = Cost()
    try:
        warehouse = open_warehouse(settings.warehouse_url)
        try:
            body = run_warehouse_metric(
                warehouse,
                settings.timezone,
                name,
                params.get("start"),
                params.get("end"),
                params.get("tz"),
                options,
                cost,
            )
        finally:
            warehouse.close()
    except WarehouseUnreachableError as exc:
        raise HttpError(503, "warehouse_unavailable", str(exc)) from None
    except WarehouseError as exc:
        raise HttpError(502, "warehouse_error", str(exc)) from None
    headers = {"X-Warehouse-Queries": str(cost.queries)}
    if cost.bytes_processed is not None:
        headers["X-Warehouse-Bytes-Processed"] = str(cost.bytes_processed)
    return JSONResponse(body, headers=headers)
