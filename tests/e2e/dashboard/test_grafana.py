"""Grafana provisioning: the files' structure, and every panel's SQL (macros expanded as Grafana
does) run against a real PostgreSQL filled by the realtime tailer from `headwater demo` data."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.e2e.dashboard.grafana_macros import expand
from tests.helpers import ROOT, Server, cli

PROVISIONING = ROOT / "grafana" / "provisioning"
DATASOURCE = PROVISIONING / "datasources" / "headwater.yaml"
PROVIDER = PROVISIONING / "dashboards" / "headwater.yaml"
DASHBOARDS = sorted((PROVISIONING / "dashboards").glob("**/*.json"))
NUMERIC = {"int2", "int4", "int8", "numeric", "float4", "float8"}
TIME = {"timestamptz", "timestamp", "date"}


def load_datasource() -> dict[str, Any]:
    doc = yaml.safe_load(DATASOURCE.read_text())
    assert doc["apiVersion"] == 1
    (ds,) = doc["datasources"]
    return dict(ds)


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def test_datasource_and_provider_files() -> None:
    ds = load_datasource()
    assert ds["type"] == "postgres" and ds["uid"] == "headwater-pg" and ds["access"] == "proxy"
    assert ds["jsonData"]["database"] and "password" in ds["secureJsonData"]
    variables = set(re.findall(r"\$\{(\w+)\}", DATASOURCE.read_text()))
    documented = (ROOT / "docs" / "dashboard.md").read_text()
    assert variables and all(v in documented for v in variables), variables
    provider = yaml.safe_load(PROVIDER.read_text())
    (prov,) = provider["providers"]
    assert prov["type"] == "file"
    # the provider's path is where this folder is mounted: the JSON files are right under it
    mounted = Path(prov["options"]["path"]).relative_to("/etc/grafana/provisioning")
    assert DASHBOARDS and all(d.parent == PROVISIONING / mounted for d in DASHBOARDS)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    uid = load_datasource()["uid"]
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dashboard["uid"])
    assert dashboard["title"] and dashboard["time"]["from"].startswith("now-")
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"} and grid["w"] > 0 and grid["h"] > 0
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not covered & cells, f"panel {panel['title']!r} overlaps another"
        cells |= covered
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid and target["rawSql"].strip()
            assert target["format"] in ("time_series", "table")
            assert target["rawQuery"] is True


def hourly_filled(url: str) -> bool:
    with psycopg.connect(url) as db:
        (rows,) = db.execute(b"SELECT count(*) FROM hourly_stats").fetchone() or (0,)
        (hours,) = db.execute(b"SELECT count(*) FROM hourly_rollups").fetchone() or (0,)
    return bool(rows) and hours >= 24


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str) -> Iterator[tuple[Server, str]]:
    """A database filled by `headwater serve` (realtime tailer, hourly rollup) from `headwater demo`
    traffic; the server keeps running (its live API is the hourly panels' reference)."""
    from tests.services import create_database, drop_database

    name, url = create_database(pg_admin_url)
    data = tmp_path_factory.mktemp("grafana") / "data"
    env = {"HEADWATER_DATABASE_URL": url}
    cli(data, "demo", "--users", "60", "--days", "20", "--no-etl", env=env)
    srv = Server(data, env=env)
    try:
        srv.start(timeout=60)
        deadline = time.monotonic() + 60
        while True:
            tailer = srv_json(srv)["checks"]["tailer_realtime"]
            if tailer.get("state") == "caught_up" and tailer.get("applied_events", 0) > 0:
                break
            assert time.monotonic() < deadline, tailer
            time.sleep(0.2)
        # hourly_stats: the live service's hourly rollup copies the complete hours of the demo's
        # last two days once the live tailer is caught up (a pass every 30 s)
        deadline = time.monotonic() + 90
        while not hourly_filled(url):
            assert time.monotonic() < deadline, srv_json(srv)["checks"].get("live")
            time.sleep(0.5)
        yield srv, url
    finally:
        srv.stop()
        drop_database(pg_admin_url, name)


def srv_json(srv: Server) -> dict[str, Any]:
    return dict(srv.readyz(timeout=5).json())


def column_kinds(cur: psycopg.Cursor[Any]) -> list[tuple[str, str]]:
    out = []
    for col in cur.description or []:
        type_name = cur.connection.adapters.types.get(col.type_code)
        out.append((col.name, type_name.name if type_name else str(col.type_code)))
    return out


@pytest.fixture(scope="module")
def filled_pg(filled: tuple[Server, str]) -> str:
    return filled[1]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_query_runs_and_returns_what_its_panel_needs(path: Path, filled_pg: str) -> None:
    dashboard = json.loads(path.read_text())
    end = datetime.now(UTC)
    start = end - timedelta(days=30)
    with psycopg.connect(filled_pg) as db:
        for panel in panels(dashboard):
            for target in panel["targets"]:
                sql = expand(target["rawSql"], start, end)
                with db.cursor() as cur:
                    cur.execute(sql.encode())
                    rows = cur.fetchall()
                    kinds = column_kinds(cur)
                what = f"{panel['title']}: {sql}"
                assert rows, f"no rows: {what}"
                names = [n for n, _ in kinds]
                numeric = [n for n, k in kinds if k in NUMERIC]
                if panel["type"] == "timeseries":
                    assert target["format"] == "time_series", what
                    assert names[0] == "time" and kinds[0][1] in NUMERIC | TIME, (what, kinds)
                    assert len(numeric) >= 2, (what, kinds)  # time + at least one value
                    others = [k for n, k in kinds[1:] if k not in NUMERIC]
                    assert all(k == "text" for k in others) and len(others) <= 1, (what, kinds)
                    times = [r[0] for r in rows]
                    assert times == sorted(times), f"time must be ascending: {what}"
                elif panel["type"] == "stat":
                    assert len(rows) == 1 and numeric, (what, kinds)
                elif panel["type"] in ("barchart", "piechart"):
                    assert numeric and any(k == "text" for _, k in kinds), (what, kinds)
                else:
                    assert panel["type"] == "table", what
                    assert len(names) >= 2, (what, kinds)


def test_panel_numbers_match_the_realtime_api(filled_pg: str) -> None:
    """Spot check: the events panel's total equals the sum of daily_stats the API reports."""
    dashboard = json.loads((PROVISIONING / "dashboards" / "headwater" / "realtime.json").read_text())
    (events,) = [p for p in panels(dashboard) if p["title"] == "Events"]
    end = datetime.now(UTC) + timedelta(days=1)
    start = end - timedelta(days=400)
    with psycopg.connect(filled_pg) as db:
        (shown,) = db.execute(expand(events["targets"][0]["rawSql"], start, end).encode()).fetchone() or (
            None,
        )
        (total,) = db.execute(b"SELECT sum(count) FROM daily_stats").fetchone() or (None,)
    assert shown == total and total and total > 100


def test_hourly_panels_match_the_live_api(filled: tuple[Server, str]) -> None:
    """The hourly panels over hourly_stats / hourly_rollups: each hour's events and users equal what
    the live API answered for that hour, and the per-tool series add up to the hour's events."""
    import httpx

    srv, url = filled
    token = srv.admin_token
    dashboard = json.loads((PROVISIONING / "dashboards" / "headwater" / "realtime.json").read_text())
    by_title = {p["title"]: p for p in panels(dashboard)}
    end = datetime.now(UTC)
    start = end - timedelta(days=3)
    with psycopg.connect(url) as db:
        hours = db.execute(
            expand(by_title["Events and users per hour"]["targets"][0]["rawSql"], start, end).encode()
        ).fetchall()
        by_tool = db.execute(
            expand(by_title["Events per hour by tool"]["targets"][0]["rawSql"], start, end).encode()
        ).fetchall()
    assert len(hours) >= 24 and sum(events for _, events, _ in hours) > 0
    per_hour: dict[int, int] = {}
    for epoch, _, events in by_tool:
        per_hour[int(epoch)] = per_hour.get(int(epoch), 0) + int(events)
    checked = 0
    for hour, events, users in hours:
        assert per_hour.get(int(hour.timestamp()), 0) == events, hour
        if events and checked < 6:  # a few hours against the live store, still holding them
            live = httpx.get(
                srv.url + "/api/v1/live/hourly",
                params={"hour": hour.astimezone(UTC).strftime("%Y-%m-%dT%H")},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ).json()
            assert (live["events"], live["unique_users"]) == (events, users), hour
            checked += 1
    assert checked
