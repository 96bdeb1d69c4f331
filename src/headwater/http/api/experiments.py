"""Admin API for experiments (admin token): definitions, start/stop, results.

GET    /api/v1/experiments                      list
POST   /api/v1/experiments                      create (201; 409 when the key exists)
GET    /api/v1/experiments/{key}                one, with its phases
PUT    /api/v1/experiments/{key}                replace the definition
PATCH  /api/v1/experiments/{key}                change some fields (null: back to the default)
POST   /api/v1/experiments/{key}/start          {"newPhase": true, "seed": "..."} both optional
POST   /api/v1/experiments/{key}/stop
GET    /api/v1/experiments/{key}/results        ?alpha=&sequential=&correction=holm|bh|none

A refused definition is 400 ``invalid_experiment``: ``field`` names the first bad field and
``problems`` lists every one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.experiments import admin
from headwater.experiments.service import ExperimentsService
from headwater.http import json_body
from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.lake.layout import LakeError
from headwater.stores.sql.experiments import ExperimentCatalog, StoredExperiment

T = TypeVar("T")


def _service(request: Request) -> ExperimentsService:
    require_admin(request)
    found: ExperimentsService | None = request.app.state.runtime.experiments
    if found is None:
        raise HttpError(503, "experiments_unavailable", "experiments are not running in this server")
    return found


def invalid_response(exc: admin.ExperimentInvalid) -> JSONResponse:
    problems = [{"field": p.field, "message": p.message} for p in exc.problems]
    error = {
        "code": "invalid_experiment",
        "message": str(exc),
        "field": problems[0]["field"] if problems else None,
        "problems": problems,
    }
    return JSONResponse({"error": error}, status_code=400)


async def _write(svc: ExperimentsService, fn: Callable[[ExperimentCatalog], T]) -> T | JSONResponse:
    try:
        result = await asyncio.to_thread(fn, svc.catalog)
    except admin.ExperimentInvalid as exc:
        return invalid_response(exc)
    except admin.ExperimentNotFoundError as exc:
        raise HttpError(404, "unknown_experiment", f"no experiment with key {exc.args[0]!r}") from None
    except admin.ExperimentExistsError as exc:
        raise HttpError(
            409, "experiment_exists", f"key: an experiment {exc.args[0]!r} exists already"
        ) from None
    await svc.refresh()  # this worker serves the change at once; the others within a second
    return result


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json_body.loads(raw)
    except ValueError:
        raise HttpError(400, "invalid_json", "the body is not JSON") from None


def _describe(svc: ExperimentsService, stored: StoredExperiment) -> dict[str, Any]:
    return admin.describe(stored, svc.catalog)


async def _answer(svc: ExperimentsService, outcome: Any, status: int = 200) -> Response:
    if isinstance(outcome, Response):
        return outcome
    return JSONResponse(await asyncio.to_thread(_describe, svc, outcome), status_code=status)


async def collection(request: Request) -> Response:
    """List the experiments (GET) or create one (POST; 409 when the key exists)"""
    svc = _service(request)
    if request.method == "POST":
        body = await _body(request)
        return await _answer(svc, await _write(svc, lambda c: admin.create(c, body)), 201)
    stored = await asyncio.to_thread(svc.catalog.all)
    return JSONResponse({"experiments": [admin.describe(s) for s in stored]})


async def item(request: Request) -> Response:
    """One experiment with its phases (GET), replaced (PUT) or changed field by field (PATCH)"""
    svc = _service(request)
    key = request.path_params["key"]
    if request.method in ("PUT", "PATCH"):
        body = await _body(request)
        partial = request.method == "PATCH"
        return await _answer(svc, await _write(svc, lambda c: admin.update(c, key, body, partial)))
    stored = await asyncio.to_thread(svc.catalog.get, key)
    if stored is None:
        raise HttpError(404, "unknown_experiment", f"no experiment with key {key!r}")
    return await _answer(svc, stored)


async def start(request: Request) -> Response:
    """Start (or resume) the experiment, optionally in a new phase with a new seed"""
    svc = _service(request)
    key = request.path_params["key"]
    body = await _body(request)
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_body", 'the body must be an object: {"newPhase": bool, "seed": str}')
    new_phase, seed = body.get("newPhase", False), body.get("seed")
    if not isinstance(new_phase, bool):
        raise HttpError(400, "invalid_parameter", "'newPhase' must be true or false")
    if seed is not None and (not isinstance(seed, str) or not seed):
        raise HttpError(400, "invalid_parameter", "'seed' must be a non-empty string")
    return await _answer(svc, await _write(svc, lambda c: admin.start(c, key, new_phase, seed)))


async def stop(request: Request) -> Response:
    """Stop the experiment (assignment then serves the control and logs nothing)"""
    svc = _service(request)
    key = request.path_params["key"]
    return await _answer(svc, await _write(svc, lambda c: admin.stop(c, key)))


async def results(request: Request) -> Response:
    """The experiment's results: exposures, every metric per variation, frequentist and Bayesian lifts, SRM"""
    # the statistics (numpy, scipy) and DuckDB are loaded on first use, not in every worker
    from headwater.experiments.stored_results import (
        InvalidResultsOption,
        parse_results_options,
        stored_results,
    )

    svc = _service(request)
    key = request.path_params["key"]
    q = request.query_params
    try:
        options = parse_results_options(q.get("alpha"), q.get("sequential"), q.get("correction"))
    except InvalidResultsOption as exc:
        raise HttpError(400, "invalid_parameter", str(exc)) from None
    settings = request.app.state.runtime.settings
    try:
        body = await asyncio.to_thread(
            stored_results, svc.catalog, key, settings.data_dir, settings.timezone, options
        )
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    if body is None:
        raise HttpError(404, "unknown_experiment", f"no experiment with key {key!r}")
    return JSONResponse(body)
