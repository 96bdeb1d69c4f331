"""What anyone can read without a credential, and what a write key (public: it ships in web pages)
can: /readyz says ready or not ready and nothing else, /metrics wants the admin or the metrics
token, /healthz the version only, and a draft experiment is not there for a write key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from headwater import __version__
from headwater.accounts.roles import ADMIN_TOKEN_USER
from headwater.config import Settings
from headwater.http.auth import SESSION_COOKIE
from tests.http.asgi import ADMIN, Running, run

METRICS_TOKEN = "prometheus-scrape-token-0123456789"
DRAFT = {
    "key": "secret-redesign",
    "name": "The secret redesign",
    "variations": ["control", "launch-day-price"],
    "weights": [0.5, 0.5],
    "metrics": {"primary": {"key": "bought", "kind": "conversion", "event": "Order Completed"}},
}


def with_metrics_token(hw: Running) -> None:
    """The setting ``metrics_token`` (read with getattr until config.py declares it)."""
    if "metrics_token" not in Settings.model_fields:
        object.__setattr__(hw.runtime.settings, "metrics_token", SecretStr(METRICS_TOKEN))


def token_settings() -> dict[str, Any]:
    return {"metrics_token": METRICS_TOKEN} if "metrics_token" in Settings.model_fields else {}


def test_readyz_is_ready_or_not_and_nothing_else_without_the_admin_token(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Write-Key": hw.write_key}):
            public = await c.get("/readyz", headers=headers)
            assert public.status_code == 200 and public.json() == {"status": "ready"}, public.text
        admin = await c.get("/readyz", headers=ADMIN)
        body = admin.json()
        assert admin.status_code == 200 and body["status"] == "ready" and body["writer"] == "inproc"
        assert body["checks"]["events_log"] == "ok" and "disk_free_mb" in body["checks"]
        assert hw.runtime.accounts is not None
        session, _ = hw.runtime.accounts.create_session(ADMIN_TOKEN_USER, 600)
        c.cookies.set(SESSION_COOKIE, session)  # the dashboard's session sees the details too
        assert "checks" in (await c.get("/readyz")).json()
        c.cookies.clear()
        health = await c.get("/healthz")
        assert health.json() == {"status": "ok", "version": __version__}

    run(tmp_path, scenario)


def test_not_ready_is_a_503_that_says_only_that(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        public = await hw.client.get("/readyz")
        assert public.status_code == 503 and public.json() == {"status": "not_ready"}
        admin = await hw.client.get("/readyz", headers=ADMIN)
        assert admin.status_code == 503 and "minimum" in admin.json()["checks"]["disk"]

    run(tmp_path, scenario, min_free_disk_mb=1 << 40)


def test_metrics_want_the_admin_or_the_metrics_token(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        with_metrics_token(hw)
        c = hw.client
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"X-Write-Key": hw.write_key},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
        ):
            refused = await c.get("/metrics", headers=headers)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
            assert "headwater_" not in refused.text
        for headers in (ADMIN, {"Authorization": f"Bearer {METRICS_TOKEN}"}):
            scraped = await c.get("/metrics", headers=headers)
            assert scraped.status_code == 200 and "headwater_events_accepted_total" in scraped.text
            assert scraped.headers["content-type"].startswith("text/plain")
        # the metrics token opens nothing else
        other = await c.get("/api/v1/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert other.status_code == 401
        ready = await c.get("/readyz", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ready.json() == {"status": "ready"}

    run(tmp_path, scenario, **token_settings())


def test_without_a_metrics_token_only_the_admin_token_reads_metrics(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        for headers in ({"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
            assert (await hw.client.get("/metrics", headers=headers)).status_code == 401
        assert (await hw.client.get("/metrics", headers=ADMIN)).status_code == 200

    run(tmp_path, scenario)


def test_openapi_says_who_may_call_them(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        doc = (await hw.client.get("/openapi.json")).json()
        assert doc["paths"]["/readyz"]["get"]["security"] == []
        security = doc["paths"]["/metrics"]["get"]["security"]
        assert {"metricsToken": []} in security and {"admin": []} in security
        assert "401" in doc["paths"]["/metrics"]["get"]["responses"]
        assert doc["components"]["securitySchemes"]["metricsToken"]["scheme"] == "bearer"

    run(tmp_path, scenario)


def test_a_draft_experiment_is_not_there_for_a_write_key(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        c = hw.client
        created = await c.post("/api/v1/experiments", json=DRAFT, headers=ADMIN)
        assert created.status_code == 201 and created.json()["status"] == "draft", created.text
        key = {"X-Write-Key": hw.write_key}
        url = "/v1/experiments/secret-redesign/assignment?userId=u1"
        draft = await c.get(url, headers=key)
        assert draft.status_code == 404 and draft.json()["error"]["code"] == "unknown_experiment"
        unknown = await c.get("/v1/experiments/no-such-thing/assignment?userId=u1", headers=key)
        assert draft.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
            "no-such-thing", "secret-redesign"
        )  # the same answer as for a key that does not exist
        every = await c.post("/v1/assign", json={"userId": "u1"}, headers=key)
        assert every.status_code == 200 and every.json()["assignments"] == []
        for answer in (draft, every):
            assert "launch-day-price" not in answer.text and "The secret redesign" not in answer.text
        # running: served; stopped: the control, as documented
        await c.post("/api/v1/experiments/secret-redesign/start", json={}, headers=ADMIN)
        running_answer = await c.get(url, headers=key)
        assert running_answer.status_code == 200 and running_answer.json()["status"] == "running"
        await c.post("/api/v1/experiments/secret-redesign/stop", headers=ADMIN)
        stopped = await c.get(url, headers=key)
        assert stopped.status_code == 200 and not stopped.json()["inExperiment"]
        assert stopped.json()["variationId"] == 0

    run(tmp_path, scenario)
