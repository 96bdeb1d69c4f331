"""The metrics over HTTP (a real `headwater serve`) and from the CLI, and the scheduler's catch-up."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.batch.logdata import ev, write_log
from tests.helpers import Server, cli


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Server:
    data = tmp_path_factory.mktemp("api") / "data"
    # two complete past days in the log before the server starts: the scheduler loads them
    write_log(data, [ev("2026-01-05T10:00:00.000Z", user="u1"), ev("2026-01-06T10:00:00.000Z", user="u2")])
    server = Server(data, env={"HEADWATER_ADMIN_TOKEN": "secret-token"})
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


def get(srv: Server, path: str, token: str | None = "secret-token") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(srv.url + path, headers=headers, timeout=30)


def test_scheduler_catches_up_at_start(srv: Server) -> None:
    manifests = srv.data_dir / "lake" / "_etl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(manifests.glob("recv=*.json"))) < 2:
        time.sleep(0.2)
    assert sorted(p.name for p in manifests.glob("recv=*.json")) == [
        "recv=20260105.json",
        "recv=20260106.json",
    ]


def test_metric_over_http(srv: Server) -> None:
    r = get(srv, "/api/v1/metrics/dau?start=2026-01-05&end=2026-01-06&tz=UTC")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["metric"], body["start"], body["end"], body["tz"]) == (
        "dau",
        "2026-01-05",
        "2026-01-06",
        "UTC",
    )
    assert [(row["date"], row["value"]) for row in body["rows"]] == [("2026-01-05", 1), ("2026-01-06", 1)]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/metrics/dau?start=2026-01-06&end=2026-01-05", 400, "start_after_end"),
        ("/api/v1/metrics/nope?start=2026-01-05&end=2026-01-06", 404, "unknown_metric"),
        ("/api/v1/metrics/dau?start=2026-01-05&end=2026-01-06&tz=Nowhere/City", 400, "unknown_timezone"),
        ("/api/v1/metrics/dau?end=2026-01-06", 400, "missing_parameter"),
    ],
)
def test_http_errors(srv: Server, path: str, status: int, code: str) -> None:
    r = get(srv, path)
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    assert r.json()["error"]["message"]


def test_admin_token_required(srv: Server) -> None:
    assert get(srv, "/api/v1/metrics/dau?start=2026-01-05&end=2026-01-06", token=None).status_code == 401
    assert get(srv, "/api/v1/metrics", token="wrong").status_code == 401
    names = [m["name"] for m in get(srv, "/api/v1/metrics").json()["metrics"]]
    assert names[:4] == ["dau", "wau", "mau", "stickiness"]


def test_cli_same_json_while_server_runs(srv: Server) -> None:
    out = cli(srv.data_dir, "metrics", "dau", "--start", "2026-01-05", "--end", "2026-01-06", "--json")
    assert json.loads(out.stdout) == get(srv, "/api/v1/metrics/dau?start=2026-01-05&end=2026-01-06").json()
    # a cron-style ETL run while the server runs: no lock fight, idempotent
    cli(srv.data_dir, "etl", "daily", "--date", "2026-01-05")
    bad = cli(srv.data_dir, "metrics", "dau", "--start", "2026-01-06", "--end", "2026-01-05", check=False)
    assert bad.returncode == 2 and "is after 'end'" in bad.stderr


def test_demo_cli(tmp_path: Path) -> None:
    out = cli(tmp_path, "demo", "--users", "5", "--days", "3", "--seed", "3")
    assert "Wrote" in out.stderr
    dau = cli(tmp_path, "metrics", "mau", "--start", "2026-01-01", "--end", "2026-01-01", "--json").stdout
    assert json.loads(dau)["metric"] == "mau"
    assert list((tmp_path / "lake" / "events").glob("date=*/*.parquet"))


def test_the_demo_has_web_traffic_to_show(tmp_path: Path) -> None:
    """After `headwater demo`, web analytics shows a site's traffic: several pages, real browsers on
    desktop and mobile, countries, search and social sources, a newsletter's UTM tags (it was one page
    of one browser, "Safari on Linux", every visit a bounce)."""
    from datetime import UTC, datetime, timedelta

    cli(tmp_path, "demo", "--users", "80", "--days", "4", "--seed", "5")
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=5)).isoformat()
    args = ["insights", "web", "--start", start, "--end", today.isoformat(), "--tz", "UTC", "--limit", "20"]
    web = json.loads(cli(tmp_path, *args, "--json").stdout)

    def values(key: str) -> set[str]:
        return {row["value"] for row in web[key]}

    assert {"/", "/pricing", "/signup", "/app"} <= values("pages")
    assert {"Chrome", "Safari", "Mobile Safari", "Firefox"} <= values("browsers")
    assert {"desktop", "mobile"} <= values("devices") and {"Windows", "iOS", "Android"} <= values("os")
    assert "$none" not in values("countries") and "US" in values("countries")
    assert {"google.com", "Direct / None"} <= values("sources") and "winter-launch" in values("utm_campaigns")
    assert 0 < web["summary"]["bounce_rate"] < 1 and web["summary"]["views_per_visit"] > 1
    assert web["summary"]["visitors"] == 80
