"""`headwater people show|events|search` and `headwater events latest`: the API's JSON with
--json, a table otherwise, exit 1 for a person nobody has. Run through a Typer app with the group
registered as cli/__init__.py registers it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from headwater.batch.etl import run_daily
from headwater.cli import people as people_cli
from tests.batch.logdata import ev, write_log

EVENTS = [
    ev("2026-04-01T08:00:00.000Z", anon="a-1", type="page"),
    ev("2026-04-01T08:01:00.000Z", type="identify", user="u-1", anon="a-1", traits={"plan": "pro"}),
    ev("2026-04-02T09:00:00.000Z", user="u-1", event="Clicked"),
    ev("2026-04-02T09:30:00.000Z", user="u-2", event="Clicked"),
    ev("2026-04-03T10:00:00.000Z", user="u-1", event="Saved"),  # not loaded: the log's
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("people-cli") / "data"
    for day in write_log(root, EVENTS)[:-1]:
        run_daily(root, day, "UTC")
    return root


def invoke(data: Path, *args: str) -> Any:
    app = typer.Typer()
    people_cli.register(app)
    return CliRunner().invoke(app, [*args, "--data-dir", str(data)], env={"HEADWATER_REDIS_URL": "memory://"})


def test_show_events_and_search_print_the_api_json(data: Path) -> None:
    shown = invoke(data, "people", "show", "a-1", "--json")
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["user_id"] == "u-1" and body["traits"] == {"plan": "pro"} and body["events"] == 4
    assert body["experiments"] is None and "memory://" in body["live"]
    first = json.loads(invoke(data, "people", "events", "u-1", "--limit", "3", "--json").stdout)
    assert [e["messageId"] for e in first["events"]] == [EVENTS[i]["messageId"] for i in (4, 2, 1)]
    rest = json.loads(invoke(data, "people", "events", "u-1", "--before", first["next"], "--json").stdout)
    assert [e["messageId"] for e in rest["events"]] == [EVENTS[0]["messageId"]]
    assert rest["next"] is None
    found = json.loads(invoke(data, "people", "search", "u-", "--json").stdout)
    assert [p["id"] for p in found["people"]] == ["u-1", "u-2"]
    by_trait = json.loads(invoke(data, "people", "search", "pro", "--trait", "plan", "--json").stdout)
    assert [p["id"] for p in by_trait["people"]] == ["u-1"]
    latest = json.loads(invoke(data, "events", "latest", "--limit", "2", "--json").stdout)
    assert [e["messageId"] for e in latest["events"]] == [EVENTS[4]["messageId"], EVENTS[3]["messageId"]]


def test_tables_and_a_person_nobody_has(data: Path) -> None:
    table = invoke(data, "people", "show", "u-1")
    assert table.exit_code == 0 and "u-1" in table.stdout and "plan" in table.stdout
    assert "Saved" in invoke(data, "people", "events", "a-1").stdout
    assert "u-2" in invoke(data, "people", "search", "u").stdout
    assert "Clicked" in invoke(data, "events", "latest", "--user", "u-2").stdout
    missing = invoke(data, "people", "show", "nobody")
    assert missing.exit_code == 1 and "nobody" in missing.output
    assert invoke(data, "people", "events", "nobody").exit_code == 1
    bad = invoke(data, "people", "events", "u-1", "--before", "garbage")
    assert bad.exit_code == 2 and "--before" in bad.output
