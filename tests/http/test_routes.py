"""The route table is the truth: every route in it is mounted and documented, nothing else is, and
every route answers a request (with or without its credential) with JSON, never a 500 and never
the framework's own 404 or 405. In process, through the ASGI transport."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import msgspec
import pytest

from headwater.accounts.roles import ADMIN_TOKEN_USER
from headwater.http.app import framework_routes
from headwater.http.openapi import openapi_document
from headwater.http.routes import ROUTES, Route
from tests.http.asgi import ADMIN, running

SAMPLE = {
    "key": "no-such-experiment",
    "name": "dau",
    "audience_id": "no-such-audience",
    "user_id": "nobody",
    "writeKey": "hw_unknown",
    "path": "dashboard.css",
    "user": "nobody@example.com",
    "token": "hwt_unknown",
    "source": "no-such-source",
    "regulation_id": "reg_none",
    "cohort_id": "no-such-cohort",
    "id": "nobody",
}


def _url(route: Route) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], route.path)


def _calls() -> list[tuple[Route, str]]:
    return [(r, m) for r in ROUTES for m in r.methods if m not in ("OPTIONS", "HEAD")]


def test_the_table_is_what_is_mounted_and_documented() -> None:
    doc = openapi_document(ROUTES)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    assert documented == {(r.path, m) for r, m in _calls()}
    mounted = {(route.path, m) for route in framework_routes() for m in route.methods or ()}
    framework = {(r.mount_path or r.path, m) for r in ROUTES if not r.hot for m in r.methods}
    assert {(p, m) for p, m in mounted if m != "HEAD"} == framework
    # every route has a summary, and every declared path parameter is in its path
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["summary"] != path, (path, method)
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    assert "{" + param["name"] + "}" in path
    # the request bodies' schemas come from their msgspec types
    assert doc["components"]["schemas"]["SegmentBatch"]["required"] == ["batch"]
    assert "ExperimentDefinition" in doc["components"]["schemas"]
    msgspec.json.encode(doc)


@pytest.mark.parametrize(("route", "method"), _calls(), ids=lambda x: x if isinstance(x, str) else x.path)
def test_every_route_answers_with_json_never_a_500(route: Route, method: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path / "data") as hw:
            url = _url(route)
            if route.auth not in ("none",):
                anonymous = await hw.client.request(method, url, json={})
                expected = 303 if route.auth == "admin_cookie" and method == "GET" else 401
                if route.auth == "webhook":  # the sample source does not exist: said before any check
                    expected = 404
                assert anonymous.status_code == expected, (url, anonymous.text[:300])
                if expected in (401, 404):
                    assert anonymous.json()["error"]["code"], anonymous.text
            headers = dict(ADMIN)
            if route.auth == "write_key":
                headers = {"X-Write-Key": hw.write_key}
            elif route.auth == "enrich_key":
                headers = {}
            cookies = {}
            if route.auth == "admin_cookie":  # a dashboard session of the admin token's owner
                assert hw.runtime.accounts is not None
                session, _ = hw.runtime.accounts.create_session(ADMIN_TOKEN_USER, 600)
                cookies = {"headwater_session": session}
            body: object = {}
            if (route.hot == "collect" and "batch" in url) or url.endswith("/b"):
                body = {"batch": [{"type": "track", "event": "Probe", "userId": "u1"}]}
            elif route.hot == "collect":
                body = {"type": "track", "event": "Probe", "userId": "u1"}
            hw.client.cookies.update(cookies)
            answer = await hw.client.request(method, url, json=body, headers=headers)
            hw.client.cookies.clear()
            assert answer.status_code < 500 or answer.status_code == 503, (url, answer.text[:300])
            assert answer.status_code not in (405,), (url, method)
            html = answer.headers.get("content-type", "").startswith("text/html")
            if answer.status_code == 404 and html:  # a page of the dashboard says so on the page
                assert 'class="error"' in answer.text, answer.text
            elif answer.status_code == 404:  # an application 404 names what was not found
                assert "error" in answer.json() or answer.text == "not found", answer.text
            if answer.headers.get("content-type", "").startswith("application/json"):
                answer.json()

    asyncio.run(scenario())
