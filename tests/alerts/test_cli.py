"""`headwater insights save|saved`, `headwater dashboards` and `headwater alerts` from the shell, over
the generated lake (tests/insights/data.py): the same objects and JSON as the API, names or ids
wherever one is asked for, `alerts check` against a real receiver (its exit status says when the
webhook failed), and every mistake a clear line with what to do next, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from headwater.insights.saved import run_saved
from tests.alerts.receiver import Receiver
from tests.helpers import cli

QUERY = {"start": "2026-03-25", "end": "2026-04-01", "series": [{"event": "Tool Used", "measure": "users"}]}


def test_saved_insights_dashboards_and_alerts_from_the_shell(
    lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(lake[0], data)
    query_file = tmp_path / "q.json"
    query_file.write_text(json.dumps(QUERY))
    made = json.loads(
        cli(
            data,
            "insights",
            "save",
            "Daily users",
            "--kind",
            "trend",
            "--query-file",
            str(query_file),
            "--json",
        ).stdout
    )
    assert made["name"] == "Daily users" and made["query"] == QUERY and set(made) >= {"id", "created_at"}
    funnel = cli(
        data, "insights", "save", "Funnel", "--kind", "funnel", "--query-file",
        '{"start": "2026-03-25", "end": "2026-04-01", "steps": ["Signed Up", "Tool Used"]}',
    )  # fmt: skip
    assert funnel.stdout.startswith("saved insight ") and funnel.stdout.strip().endswith("Funnel (funnel)")
    listed = cli(data, "insights", "saved").stdout  # no command: the list
    assert made["id"] in listed and "Daily users" in listed and "funnel" in listed
    assert json.loads(cli(data, "insights", "saved", "show", "Daily users").stdout) == made
    ran = json.loads(cli(data, "insights", "saved", "run", made["id"], "--json").stdout)
    assert ran == run_saved(data, "UTC", "trend", QUERY)
    other = json.loads(
        cli(data, "insights", "saved", "run", "Daily users", "--start", "2026-03-31", "--json").stdout
    )
    assert [r["date"] for r in other["rows"]] == ["2026-03-31", "2026-04-01"]
    table = cli(data, "insights", "saved", "run", "Funnel").stdout
    assert "Signed Up" in table and "conversion" in table

    tiles = '[{"insight": "Daily users", "w": 12}, {"insight": "' + made["id"] + '", "x": 0, "w": 6}]'
    board = json.loads(cli(data, "dashboards", "create", "Product", "--tiles-file", tiles, "--json").stdout)
    assert [(t["insight"], t["y"], t["w"]) for t in board["tiles"]] == [
        (made["id"], 0, 12),
        (made["id"], 4, 6),
    ]
    shown = cli(data, "dashboards", "show", "Product").stdout
    assert "at 0,4 6x4" in shown and "Daily users" in shown
    assert board["id"] in cli(data, "dashboards").stdout

    with Receiver() as rx:
        created = cli(
            data, "alerts", "create", "Few users", "--insight", "Daily users", "--below", "5",
            "--webhook-url", rx.url, "--json",
        )  # fmt: skip
        alert = json.loads(created.stdout)
        assert alert["condition"] == {"type": "below", "value": 5, "period": "day"} and alert["state"] is None
        assert "not checked yet" in cli(data, "alerts").stdout
        dry = cli(data, "alerts", "check", "Few users", "--dry-run", "--at", "2026-04-02")
        assert dry.stdout.startswith("ok: 'Daily users' (series A) was ") and "on 2026-04-01" in dry.stdout
        # today the lake has nothing (its days are in March): 0 users, below 5, the webhook sent
        fired = cli(data, "alerts", "check", alert["id"], "--json")
        found = json.loads(fired.stdout)
        assert found["state"] == "firing" and found["delivered"] is True and len(rx.received) == 1
        assert cli(data, "alerts", "check", "Few users").stdout.startswith("firing: ")
        assert len(rx.received) == 1  # once per crossing
        rx.stop()
        changed = cli(
            data, "alerts", "create", "Moves", "--insight", made["id"], "--change", "50",
            "--direction", "down", "--period", "week", "--webhook-url", rx.url,
        )  # fmt: skip
        assert "a change of 50 % or more (down)" in changed.stdout
        failed = cli(data, "alerts", "check", "Moves", check=False)  # 0 after 0 is no change; ok
        assert failed.returncode == 0 and failed.stdout.startswith("ok: "), failed.stdout + failed.stderr
        lonely = cli(
            data, "alerts", "create", "Lonely", "--insight", made["id"], "--below", "1",
            "--webhook-url", rx.url,
        )  # fmt: skip
        assert lonely.returncode == 0
        down = cli(data, "alerts", "check", "Lonely", check=False)
        assert down.returncode == 1 and "the webhook failed: could not reach 127.0.0.1" in down.stdout
        assert "sent again at the next check" in down.stdout
    history = cli(data, "alerts", "events", "Lonely").stdout
    assert "new -> firing (0), webhook 'firing' not sent: could not reach 127.0.0.1" in history
    events = json.loads(cli(data, "alerts", "events", "Few users", "--json").stdout)
    assert [e["notification"] for e in events["events"]] == ["firing"]
    listing = json.loads(cli(data, "alerts", "list", "--json").stdout)["alerts"]
    assert [a["state"] for a in listing] == ["firing", "ok", "firing"]

    gone = cli(data, "insights", "saved", "delete", "Daily users").stdout
    assert gone.strip() == f"deleted saved insight {made['id']} (and 2 dashboard tiles, 3 alerts)"
    assert cli(data, "alerts").stdout.startswith("no alerts yet")
    assert "no tiles" in cli(data, "dashboards", "show", board["id"]).stdout
    assert cli(data, "dashboards", "delete", "Product").stdout.strip() == f"deleted dashboard {board['id']}"


def test_mistakes_say_what_to_do(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(lake[0], data)
    funnel = '{"start": "2026-03-25", "end": "2026-04-01", "steps": ["Signed Up", "Tool Used"]}'
    cli(data, "insights", "save", "Funnel", "--kind", "funnel", "--query-file", funnel)
    cli(data, "insights", "save", "Twin", "--kind", "trend", "--query-file", json.dumps(QUERY))
    cli(data, "insights", "save", "Twin", "--kind", "trend", "--query-file", json.dumps(QUERY))
    hook = ["--webhook-url", "https://h.example"]
    save = ["insights", "save", "x", "--kind"]
    cases: list[tuple[list[str], int, str]] = [
        ([*save, "pie", "--query-file", "{}"], 2, "field 'kind' must be one of"),
        ([*save, "trend", "--query-file", '{"start": "2026-03-25"}'], 2, "'query.end'"),
        ([*save, "trend", "--query-file", "missing.json"], 1, "cannot read the query"),
        ([*save, "trend", "--query-file", "{oops"], 2, "not valid JSON"),
        (["insights", "saved", "show", "ghost"], 1, "no saved insight 'ghost'"),
        (["insights", "saved", "show", "Twin"], 1, "2 saved insights are named 'Twin': give one's id"),
        (["insights", "saved", "run", "Funnel", "--start", "soon"], 2, "'--start'"),
        (["dashboards", "create", "x", "--tiles-file", '[{"insight": "ghost"}]'], 2, "tiles[0].insight"),
        (["dashboards", "create", "x", "--tiles-file", '[{"insight": "Funnel", "w": 0}]'], 2, "'tiles[0].w'"),
        (["dashboards", "create", "x", "--tiles-file", '{"a": 1}'], 2, "must be a JSON array"),
        (["dashboards", "show", "ghost"], 1, "no dashboard 'ghost'"),
        (
            ["alerts", "create", "x", "--insight", "Funnel", "--below", "1", *hook],
            2,
            "alerts watch trend insights",
        ),
        (
            ["alerts", "create", "x", "--insight", "ghost", "--below", "1", *hook],
            1,
            "no saved insight 'ghost'",
        ),
        (["alerts", "create", "x", "--insight", "Funnel", *hook], 2, "give one condition"),
        (
            ["alerts", "create", "x", "--insight", "Funnel", "--above", "1", "--below", "2", *hook],
            2,
            "one condition",
        ),
        (["alerts", "check", "ghost"], 1, "no alert 'ghost'"),
        (["alerts", "check", "ghost", "--at", "2026-04-02"], 2, "--at needs --dry-run"),
        (["alerts", "events", "ghost"], 1, "no alert 'ghost'"),
        (["insights", "saved", "--data-dir", str(tmp_path / "typo")], 2, "no data directory"),
    ]
    for args, code, says in cases:
        done = cli(data, *args, check=False)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    twin = [line.split()[0] for line in cli(data, "insights", "saved").stdout.splitlines() if "Twin" in line]
    bad_url = cli(
        data,
        "alerts",
        "create",
        "x",
        "--insight",
        twin[0],
        "--below",
        "1",
        "--webhook-url",
        "ftp://h",
        check=False,
    )
    assert bad_url.returncode == 2 and "--webhook-url must be an http or https URL" in bad_url.stderr
    assert not (tmp_path / "typo").exists()
