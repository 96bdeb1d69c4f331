"""Cohorts through the in-process app (/api/v1/cohorts CRUD, compute, members; a trend filtered by
one, the same as run_trend; every bad input a 4xx naming the field) and through the CLI
(`headwater cohorts create|list|show|compute|members|delete`, `insights trend --filter cohort:ID`),
on the control plane of the data directory (SQLite)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from headwater.insights.cohort_spec import parse_cohort
from headwater.insights.cohorts import Cohorts
from headwater.insights.trend import run_trend
from tests.helpers import ROOT, cli
from tests.http.asgi import ADMIN, Running, run, settings_for
from tests.insights.reference import resolve
from tests.insights.test_cohorts import POWER, STATIC, by_hand

TREND = {
    "start": "2026-03-27",
    "end": "2026-04-01",
    "series": [{"event": "Tool Used", "measure": "users"}],
    "breakdown": {"type": "cohort", "name": "power"},
    "interval": "range",
}


def _copy(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(lake[0], data)
    return data


def test_the_api(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    data = _copy(lake, tmp_path)
    truth = by_hand(lake[1])

    async def scenario(hw: Running) -> None:
        c = hw.client
        assert (await c.get("/api/v1/cohorts", headers=ADMIN)).json() == {"cohorts": []}
        made = await c.post("/api/v1/cohorts", json=POWER, headers=ADMIN)
        assert made.status_code == 201, made.text
        assert made.json()["kind"] == "rule" and made.json()["computed"] is None
        assert (await c.post("/api/v1/cohorts", json=POWER, headers=ADMIN)).status_code == 409
        put = await c.put(
            "/api/v1/cohorts/beta", json={k: v for k, v in STATIC.items() if k != "id"}, headers=ADMIN
        )
        assert put.status_code == 201 and put.json()["size"] == 3
        assert (await c.post("/api/v1/cohorts", json=POWER)).status_code == 401

        computed = await c.post("/api/v1/cohorts/power/compute", headers=ADMIN)
        assert computed.status_code == 200 and computed.json()["members"] == len(truth["power"])
        members = (await c.get("/api/v1/cohorts/power/members?limit=2", headers=ADMIN)).json()
        assert len(members["people"]) == 2 and members["truncated"] is True
        assert set(members["people"]) <= truth["power"]
        everyone = (await c.get("/api/v1/cohorts/beta/members", headers=ADMIN)).json()
        assert set(everyone["people"]) == truth["beta"] and everyone["truncated"] is False
        listed = (await c.get("/api/v1/cohorts", headers=ADMIN)).json()["cohorts"]
        assert [x["id"] for x in listed] == ["beta", "power"]
        assert listed[1]["computed"]["members"] == len(truth["power"])

        answer = await c.post("/api/v1/insights/trend", json=TREND, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        resolver = Cohorts(data, hw.runtime.settings.effective_database_url)
        assert answer.json()["rows"] == run_trend(data, "UTC", TREND, resolver)["rows"]
        assert {r["breakdown"] for r in answer.json()["rows"]} == {"true", "false"}
        for route in ("/api/v1/insights/paths", "/api/v1/insights/web"):
            body = {
                "start": "2026-03-27",
                "end": "2026-04-01",
                "filters": [{"type": "cohort", "name": "beta", "op": "eq"}],
            }
            if route.endswith("paths"):
                body["event"] = "Tool Used"
            shown = await c.post(route, json=body, headers=ADMIN)
            assert shown.status_code == 200 and shown.json()["cohorts"]["beta"]["members"] == 2, shown.text

        bad = [
            ("POST", "/api/v1/cohorts", {"id": "x"}, 400, "'rule'"),
            ("POST", "/api/v1/cohorts", {"id": "x", "members": ["u", 5]}, 400, "'members[1]'"),
            ("POST", "/api/v1/cohorts", {"id": "x", "rule": {"event": ""}}, 400, "rule.event"),
            ("PUT", "/api/v1/cohorts/beta", {"id": "other", "members": []}, 400, "'id'"),
            ("GET", "/api/v1/cohorts/ghost", None, 404, "'ghost'"),
            ("POST", "/api/v1/cohorts/ghost/compute", None, 404, "'ghost'"),
            ("GET", "/api/v1/cohorts/ghost/members", None, 404, "'ghost'"),
            ("GET", "/api/v1/cohorts/power/members?limit=0", None, 400, "'limit'"),
            ("DELETE", "/api/v1/cohorts/ghost", None, 404, "'ghost'"),
        ]
        for method, url, body, status, named in bad:
            got = await c.request(method, url, json=body, headers=ADMIN)
            assert got.status_code == status and named in got.json()["error"]["message"], (url, got.text)
        raw = await c.post(
            "/api/v1/cohorts", content=b"{", headers={**ADMIN, "Content-Type": "application/json"}
        )
        assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
        unknown = await c.post(
            "/api/v1/insights/trend",
            json={**TREND, "breakdown": {"type": "cohort", "name": "ghost"}},
            headers=ADMIN,
        )
        assert unknown.status_code == 400 and "'breakdown.name'" in unknown.json()["error"]["message"]

        assert (await c.delete("/api/v1/cohorts/power", headers=ADMIN)).status_code == 204
        assert not (data / "cohorts" / "power.parquet").exists()
        assert (await c.get("/api/v1/cohorts/power", headers=ADMIN)).status_code == 404

    run(tmp_path, scenario)


def test_the_cli(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    data = _copy(lake, tmp_path)
    truth = by_hand(lake[1])
    assert "no cohorts yet" in cli(data, "cohorts", "list").stdout
    spec = tmp_path / "power.json"
    spec.write_text(json.dumps(POWER))
    assert "created cohort power (rule)" in cli(data, "cohorts", "create", str(spec)).stdout
    again = cli(data, "cohorts", "create", str(spec), check=False)
    assert again.returncode == 1 and "--replace" in again.stderr
    assert cli(data, "cohorts", "create", json.dumps(STATIC)).returncode == 0
    bad = cli(data, "cohorts", "create", '{"id": "x", "members": "u1"}', check=False)
    assert bad.returncode == 1 and "'members'" in bad.stderr
    missing = cli(data, "cohorts", "create", str(tmp_path / "nope.json"), check=False)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    computed = json.loads(cli(data, "cohorts", "compute", "power", "--json").stdout)
    assert computed["members"] == len(truth["power"])
    assert set(cli(data, "cohorts", "members", "beta").stdout.split()) == truth["beta"]
    assert "power" in cli(data, "cohorts", "list").stdout
    assert json.loads(cli(data, "cohorts", "show", "beta").stdout)["members"] == STATIC["members"]
    ghost = cli(data, "cohorts", "compute", "ghost", check=False)
    assert ghost.returncode == 2 and "'ghost'" in ghost.stderr
    shown = cli(
        data, "insights", "trend", "--start", "2026-03-27", "--end", "2026-04-01", "--event", "Tool Used",
        "--measure", "users", "--filter", "cohort:power", "--interval", "range", "--json",
    )  # fmt: skip
    body = {**TREND, "filters": [{"type": "cohort", "name": "power", "op": "eq", "value": True}]}
    del body["breakdown"]
    url = settings_for(data).effective_database_url
    assert json.loads(shown.stdout)["rows"] == run_trend(data, "UTC", body, Cohorts(data, url))["rows"]
    outside = cli(
        data, "insights", "trend", "--start", "2026-03-27", "--end", "2026-04-01", "--event", "Tool Used",
        "--measure", "users", "--filter", "cohort:power=false", "--interval", "range", "--json",
    )  # fmt: skip
    both = json.loads(shown.stdout)["rows"][0]["value"] + json.loads(outside.stdout)["rows"][0]["value"]
    users = {
        e["person"]
        for e in resolve(lake[1])
        if e["person"]
        and e["name"] == "Tool Used"
        and "2026-03-27" <= e["at"].date().isoformat() <= "2026-04-01"
    }
    assert both == len(users) and json.loads(outside.stdout)["rows"][0]["value"] == len(
        users - truth["power"]
    )
    assert "deleted cohort power" in cli(data, "cohorts", "delete", "power").stdout
    assert cli(data, "cohorts", "delete", "power", check=False).returncode == 1


def test_the_docs_examples_run_as_printed_in_order(
    lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    data = _copy(lake, tmp_path)
    text = (ROOT / "docs" / "insights.md").read_text()
    section = text[text.index("\n## Cohorts\n") :]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    lines = [line.strip() for b in blocks for line in b.splitlines() if line.startswith("headwater ")]
    assert len(lines) >= 8
    for line in lines:
        done = cli(data, *shlex.split(line)[1:], check=False)
        assert done.returncode == 0, (line, done.stderr)
        assert done.stdout.strip(), line
        if "--json" in line:
            answer = json.loads(done.stdout)
            assert answer["cohorts"], line
            assert (
                any(r["value"] for r in answer["rows"])
                if "rows" in answer
                else answer["summary"]["pageviews"]
            )
    for shown in re.findall(r"```json\n(.*?)```", section, re.DOTALL)[0].splitlines():
        parse_cohort(json.loads(shown))
