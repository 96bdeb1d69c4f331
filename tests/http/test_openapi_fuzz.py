"""/openapi.json is the contract, and a real server keeps it (issue 18): schemathesis generates
requests for every operation of the document the server itself serves (parameters, bodies, the
credential each needs) and every answer must be no 5xx and inside the document: a status it
declares, in a media type it declares, with a body its schema accepts.

Bounded and reproducible: a fixed number of examples per operation, derandomized (the same requests
on every run). The lake holds a few loaded days, there is a running experiment and an audience, so
the metric, results and audience routes reach their real code, not only their empty-lake branch.
A failure lists every failing operation with the request to reproduce it (a curl line).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from headwater.batch.etl import run_daily
from headwater.http.dashboard import STATIC_FILES
from headwater.metrics.registry import METRICS
from tests.batch.logdata import ev, write_log
from tests.helpers import Server, cli, create_key

TOKEN = "openapi-fuzz-admin-token-0123456789abcdef"
EXAMPLES = 12  # valid requests per operation
NEGATIVE_EXAMPLES = 8  # requests that break the schema (a bad parameter, body): 4xx, never 5xx
FOCUS_EXAMPLES = 6  # per focused run (below)
DAYS = ["2026-01-05", "2026-01-06", "2026-01-07"]
EXPERIMENT = "fuzz-checkout"
AUDIENCE = "fuzz-buyers"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _seed_lake(data: Path) -> None:
    """Three days of a few users (tracks, pages, identifies with traits, a funnel, exposures), loaded."""
    events = []
    for day, user in itertools.product(DAYS, ["u1", "u2", "u3", "u4"]):
        events += [
            ev(f"{day}T09:00:00.000Z", user=user, type="identify", traits={"plan": "pro", "country": "FR"}),
            ev(f"{day}T09:05:00.000Z", user=user, type="page", props={"path": "/pricing"}),
            ev(f"{day}T09:10:00.000Z", user=user, event="Signup", props={"plan": "pro"}, tool="t1"),
            ev(
                f"{day}T09:20:00.000Z",
                user=user,
                event="Experiment Viewed",
                props={"experiment_id": EXPERIMENT, "variation_id": 0 if user in ("u1", "u3") else 1},
            ),
        ]
        if user != "u4":
            events.append(ev(f"{day}T09:30:00.000Z", user=user, event="Order Completed", props={"total": 9}))
    write_log(data, events)
    for day in DAYS:
        run_daily(data, date.fromisoformat(day), "UTC")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("openapi-fuzz") / "data"
    _seed_lake(data)
    server = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN, "HEADWATER_TIMEZONE": "UTC"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


SEGMENT_SOURCE = "fuzz-segment"


def _credentials(srv: Server, write_key: str) -> dict[str, dict[str, str]]:
    """The headers that authenticate a request, by the first security scheme an operation lists:
    the admin token (Bearer), the write key (Basic), an enrich key, the dashboard's session."""
    enrich_key = cli(srv.data_dir, "audiences", "keys", "create", "fuzz").stdout.strip().splitlines()[-1]
    basic = base64.b64encode(f"{write_key}:".encode()).decode()
    signed_in = httpx.post(f"{srv.url}/dashboard/login", data={"token": TOKEN}, timeout=30)
    assert signed_in.status_code == 303, signed_in.text
    session = signed_in.headers["set-cookie"].split(";", 1)[0]
    made = cli(srv.data_dir, "keys", "create", SEGMENT_SOURCE, "--webhook-token")
    (webhook_token,) = [w for w in made.stdout.split() if w.startswith("hwwh_")]  # a Segment source's token
    return {
        "webhookToken": {"X-Webhook-Token": webhook_token},
        "admin": {"Authorization": f"Bearer {TOKEN}"},
        "adminCookie": {"Cookie": session},
        "basic": {"Authorization": f"Basic {basic}"},
        "enrichKey": {"Authorization": f"Bearer {enrich_key}"},
        "": {},
    }


def _prepare(srv: Server) -> None:
    """A running experiment and an audience, for the focused runs to find."""
    admin = {"Authorization": f"Bearer {TOKEN}"}
    experiment = {
        "key": EXPERIMENT,
        "name": "Checkout",
        "variations": ["control", "one-page"],
        "weights": [0.5, 0.5],
        "metrics": {"primary": {"key": "bought", "kind": "conversion", "event": "Order Completed"}},
    }
    r = httpx.post(f"{srv.url}/api/v1/experiments", json=experiment, headers=admin, timeout=30)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{srv.url}/api/v1/experiments/{EXPERIMENT}/start", json={}, headers=admin, timeout=30)
    assert r.status_code == 200, r.text
    audience = {"id": AUDIENCE, "name": "Buyers", "rule": {"event": "Order Completed", "within_days": 30}}
    r = httpx.post(f"{srv.url}/api/v1/audiences", json=audience, headers=admin, timeout=30)
    assert r.status_code == 201, r.text


def _focus(srv: Server, write_key: str) -> dict[str, list[dict[str, Any]]]:
    """Besides a free run, operations run again with values that exist (random ones are only ever
    "not found"): the metric names over the loaded days, the experiment, the audience, a user."""
    metric_days = {"start": DAYS[0], "end": DAYS[-1], "tz": "UTC"}
    metric_runs = [{"path_parameters": {"name": name}, "query": metric_days} for name in METRICS]
    key = {"path_parameters": {"key": EXPERIMENT}}
    return {
        "GET /api/v1/metrics/{name}": metric_runs,
        "GET /api/v1/experiments/{key}": [key],
        "PATCH /api/v1/experiments/{key}": [key],
        "GET /v1/experiments/{key}/assignment": [key],
        "POST /api/v1/experiments/{key}/stop": [key],
        "POST /api/v1/experiments/{key}/start": [key],
        "GET /api/v1/experiments/{key}/results": [key],
        "GET /dashboard/data/experiments/{key}/results": [key],
        "GET /api/v1/audiences/{audience_id}": [{"path_parameters": {"audience_id": AUDIENCE}}],
        "PUT /api/v1/audiences/{audience_id}": [{"path_parameters": {"audience_id": AUDIENCE}}],
        "GET /v1/users/{user_id}/segments": [{"path_parameters": {"user_id": "u1"}}],
        "GET /v1/projects/{writeKey}/settings": [{"path_parameters": {"writeKey": write_key}}],
        "GET /dashboard/static/{path}": [
            {"path_parameters": {"path": name}} for name in sorted(STATIC_FILES)[:3]
        ],
        "GET /api/v1/realtime/daily": [{"query": {"date": DAYS[0]}}],
        "POST /v1/webhooks/segment/{source}": [{"path_parameters": {"source": SEGMENT_SOURCE}}],
    }


def _report(exc: BaseException) -> str:
    notes = "\n".join(getattr(exc, "__notes__", []))
    return f"{type(exc).__name__}: {exc}\n{notes}".strip()


def _fuzz(
    cases: st.SearchStrategy[Any], examples: int, base_url: str, headers: dict[str, str], seen: list[int]
) -> list[str]:
    """Every distinct failure of ``examples`` generated requests (each with its curl line); the
    statuses answered go to ``seen``."""
    failures: dict[str, str] = {}

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same requests on every run: seeded from this function
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing request is kept
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Any) -> None:
        try:
            answer = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=60)
            seen.append(answer.status_code)
        except (Exception, BaseExceptionGroup) as exc:  # check failures, and requests not answered
            title = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            failures.setdefault(title, _report(exc))

    run()
    return list(failures.values())


@pytest.mark.slow
def test_every_operation_keeps_the_openapi_document(srv: Server) -> None:
    write_key = create_key(srv.data_dir, "fuzz-source")
    creds = _credentials(srv, write_key)
    _prepare(srv)
    # the credentials are ours (above), not random values for each security scheme: else a random
    # X-Write-Key beside the right Basic one would be the key read, and every request a 401
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_url(f"{srv.url}/openapi.json", config=config)
    focus = _focus(srv, write_key)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert set(focus) <= labels, set(focus) - labels  # a renamed route must not go unfuzzed
    failing: dict[str, list[str]] = {}
    statuses: dict[str, list[int]] = {}
    for op in operations:  # every operation of the document: none is left out
        security = op.definition.raw.get("security") or [{"": []}]
        scheme = next(iter(security[0]))
        headers = creds.get(scheme)
        assert headers is not None, f"{op.label}: no credential for security scheme {scheme!r}"
        seen = statuses.setdefault(op.label, [])
        runs: list[tuple[dict[str, Any], int]] = [({}, EXAMPLES)]
        if "parameters" in op.definition.raw or "requestBody" in op.definition.raw:
            runs.append(({"generation_mode": GenerationMode.NEGATIVE}, NEGATIVE_EXAMPLES))
        runs += [(fixed, FOCUS_EXAMPLES) for fixed in focus.get(op.label, [])]
        for fixed, examples in runs:
            try:
                found = _fuzz(op.as_strategy(**fixed), examples, srv.url, headers, seen)
            except Unsatisfiable:
                # no request can break the schema when every input is a free string (a path
                # parameter, a form field): the positive run covered the operation
                assert fixed.get("generation_mode") is GenerationMode.NEGATIVE, (op.label, fixed)
                continue
            failing.setdefault(op.label, []).extend(found)
    healthy = httpx.get(f"{srv.url}/healthz", timeout=10)
    assert healthy.status_code == 200, healthy.text
    failing = {label: found for label, found in failing.items() if found}
    if failing:
        report = "\n\n".join(f"== {label}\n" + "\n\n".join(found) for label, found in failing.items())
        pytest.fail(f"{len(failing)} operations answer outside /openapi.json:\n\n{report}", pytrace=False)
    # the focused runs reached the real code: each such read answered with data at least once
    reads = [label for label in focus if label.startswith("GET ")] + ["POST /v1/webhooks/segment/{source}"]
    unreached = [label for label in reads if 200 not in statuses[label]]
    assert not unreached, {label: sorted(set(statuses[label])) for label in unreached}
