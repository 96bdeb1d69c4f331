"""Paths (issue 19, item 4) against a count by hand over a generated raw log: five received days
(the last one not loaded: read from the log), people who are anonymous then identified, a junk id,
duplicates by messageId with another timestamp, events at the same instant, pages with and without
a path, gaps around the 30-minute session rule, hours that are another day in Seoul or New York.

The count by hand (``by_hand``) follows docs/insights.md ("Paths") in plain Python over the raw
lines; POST /api/v1/insights/paths, the CLI and the 400s naming the field are tested after it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from headwater.batch.etl import run_daily
from headwater.insights.paths import run_paths
from headwater.insights.paths_request import FIELDS, PathsQuery
from tests.batch.logdata import ev, write_log
from tests.helpers import ROOT
from tests.insights.reference import _reader, derived, match, resolve

FIRST = date(2026, 3, 24)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]  # 03-24 .. 03-28; the last is not loaded
NAMES = ["Signed Up", "Viewed Pricing", "Tool Used", "Tool Used", "Invited", "Exported"]
PAGES = ["/", "/pricing", "/pricing", "/docs", "/signup", "/blog/ünï", None]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.0 Mobile/15E148 Safari/604.1",
    None,
]
GAPS = [0, 0, 1, 5, 20, 29, 30, 31, 45, 90, 600]  # minutes: 0 is the same instant (message ids order)
URL = "/api/v1/insights/paths"


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _random_event(rng: random.Random, at: datetime, who: dict[str, Any]) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.06:
        return ev(_stamp(at), type="identify", traits={"plan": rng.choice(["pro", "free"])}, **who)
    if roll < 0.35:
        e = ev(_stamp(at), type="page", props={"title": "t"}, **who)
        path = rng.choice(PAGES)
        if path is not None and rng.random() < 0.8:
            e["context"]["page"] = {"path": path}
        elif path is not None:
            e["properties"]["path"] = path  # a page event's own path property
    else:
        e = ev(_stamp(at), event=rng.choice(NAMES), props={"plan": rng.choice(["pro", "free", None])}, **who)
    agent = rng.choice(AGENTS)
    if agent is not None:
        e["context"]["userAgent"] = agent
    return e


def _scripted() -> list[dict[str, Any]]:
    """People whose paths the tests also check by name."""
    out = [
        # an anonymous visitor who starts a trial, is identified, and goes on as the user
        ev("2026-03-25T10:00:00.000Z", anon="trial-1", event="Trial Started"),
        ev("2026-03-25T10:01:00.000Z", anon="trial-1", event="Trial Started"),  # a repeat: collapsed
        ev(
            "2026-03-25T10:02:00.000Z",
            user="u-trial",
            anon="trial-1",
            type="identify",
            traits={"plan": "pro"},
        ),
        ev("2026-03-25T10:03:00.000Z", user="u-trial", event="Tool Used"),
        ev("2026-03-25T10:10:00.000Z", anon="trial-1", event="Exported"),
        ev("2026-03-26T10:00:00.000Z", user="u-trial", event="Trial Started"),  # not the first one
        # two events at the same instant: ordered by message id
        ev("2026-03-25T12:00:00.000Z", user="u-tie", event="Tie Anchor", mid="tie-0"),
        ev("2026-03-25T12:05:00.000Z", user="u-tie", event="Viewed Pricing", mid="tie-b"),
        ev("2026-03-25T12:05:00.000Z", user="u-tie", event="Invited", mid="tie-a"),
        # the anchor at 23:30 UTC (08:30 the next day in Seoul), its step after midnight UTC
        ev("2026-03-25T23:30:00.000Z", user="u-tz", event="TZ Anchor"),
        ev("2026-03-26T00:10:00.000Z", user="u-tz", event="Exported"),
        # a session: 10 min, then an excluded identify 25 min later keeps it alive, then a 31 min gap
        ev("2026-03-26T08:00:00.000Z", user="u-sess", event="Session Anchor"),
        ev("2026-03-26T08:10:00.000Z", user="u-sess", event="Tool Used"),
        ev("2026-03-26T08:35:00.000Z", user="u-sess", type="identify", traits={"plan": "free"}),
        ev("2026-03-26T09:00:00.000Z", user="u-sess", event="Exported"),
        ev("2026-03-26T09:31:00.000Z", user="u-sess", event="Invited"),
        # an anchor seen only in the log not loaded yet
        ev("2026-03-28T09:00:00.000Z", user="u3", event="Late Anchor"),
    ]
    # dedup: the same messageId again, with another timestamp, received later (same day, and in
    # the unloaded day's file): the first received counts, the copies are no steps
    first = ev("2026-03-25T09:00:00.000Z", user="u-dup", event="Dup Anchor")
    step = ev("2026-03-25T09:05:00.000Z", user="u-dup", event="Exported", mid="dup-1")
    second = ev("2026-03-25T10:00:00.000Z", user="u-dup", event="Invited", mid="dup-2")
    copy1 = {**step, "timestamp": "2026-03-25T11:05:00.000Z", "receivedAt": "2026-03-25T11:05:00.000Z"}
    copy2 = {**second, "timestamp": "2026-03-25T12:00:00.000Z", "receivedAt": "2026-03-28T12:00:00.000Z"}
    return [*out, first, step, second, copy1, copy2]


def generate() -> list[dict[str, Any]]:
    """The log, in the order written (copies included)."""
    rng = random.Random(1904)
    who: list[dict[str, Any]] = [{"user": f"u{i}"} for i in range(1, 19)]
    who += [{"anon": f"v{i}"} for i in range(1, 6)] + [{"anon": "0"}]  # "0": a junk id, nobody
    out: list[dict[str, Any]] = []
    for day in DAYS:
        for person in who:
            at = datetime.combine(day, time(rng.choice([2, 9, 15, 22])), UTC)
            at += timedelta(minutes=rng.randrange(60))
            for _ in range(rng.randrange(0, 9)):
                at += timedelta(minutes=rng.choice(GAPS))
                if at.date() > DAYS[-1]:
                    break
                out.append(_random_event(rng, at, person))
    # v1 .. v3 are identified on 03-26: their anonymous events are the users' (before and after)
    for i in range(1, 4):
        out.append(ev("2026-03-26T06:00:00.000Z", user=f"u{20 + i}", anon=f"v{i}", type="identify"))
    out.extend(_scripted())
    return out


def build(data: Path) -> tuple[Path, list[dict[str, Any]]]:
    """(data dir, lines): the log written and every received day loaded but the last."""
    lines = generate()
    write_log(data, lines)
    for day in DAYS[:-1]:
        run_daily(data, day, "UTC")
    return data, lines


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    return build(tmp_path_factory.mktemp("paths") / "data")


def by_hand(lines: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    """``{"anchor", "steps"}`` of a paths body, counted over the raw lines (docs/insights.md)."""
    events = resolve(lines)
    tz = body.get("tz") or "UTC"
    zone = ZoneInfo(tz)
    start, end = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
    pages = body.get("kind", "events") == "pages"
    n, limit = body.get("steps", 3), body.get("limit", 5)
    forward = body.get("direction", "next") == "next"
    filters = body.get("filters", [])
    glue = all if body.get("filter_match", "all") == "all" else any
    exclude = set(body.get("exclude", []))
    read = _reader(events, body, tz)

    def name(e: dict[str, Any]) -> str:
        return (derived(e, "path") if pages else e["name"]) or "$none"

    def keep(e: dict[str, Any]) -> bool:
        if (pages and e["type"] != "page") or name(e) in exclude:
            return False
        return not filters or glue(
            match(f, read(e, f["type"], f["name"]), f["type"] == "event") for f in filters
        )

    mine: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["person"] is not None and start <= e["at"].astimezone(zone).date() <= end:
            mine[e["person"]].append(e)
    rows: list[list[str]] = []  # each person's steps (all of them)
    for evs in mine.values():
        evs.sort(key=lambda e: (e["at"], e["messageId"]))
        found = [i for i, e in enumerate(evs) if keep(e) and name(e) == body["event"]]
        if not found:
            continue
        walk = evs[found[0] :] if forward else evs[found[0] :: -1]
        if body.get("session_scoped"):
            gaps = [
                j
                for j in range(1, len(walk))
                if abs(walk[j]["at"] - walk[j - 1]["at"]) > timedelta(minutes=30)
            ]
            walk = walk[: gaps[0]] if gaps else walk
        names: list[str] = []
        for e in walk:
            if keep(e) and (not names or names[-1] != name(e)):
                names.append(name(e))
        rows.append(names[1:])
    mapped: list[list[str | None]] = [[] for _ in rows]  # None: $other
    for k in range(1, n + 1):
        counts = Counter((tuple(m), r[k - 1]) for r, m in zip(rows, mapped, strict=True) if len(r) >= k)
        ranked = sorted(counts, key=lambda x: (-counts[x], [(p is None, p or "") for p in x[0]], x[1]))
        top = set(ranked[:limit])
        for r, m in zip(rows, mapped, strict=True):
            if len(r) >= k:
                m.append(r[k - 1] if (tuple(m), r[k - 1]) in top else None)
    users = len(rows)
    steps = []
    sizes: dict[tuple[str | None, ...], int] = {(): users}
    for k in range(1, n + 1):
        here = Counter(tuple(m[:k]) for r, m in zip(rows, mapped, strict=True) if len(r) >= k)
        further = Counter(tuple(m[:k]) for r, m in zip(rows, mapped, strict=True) if len(r) > k)
        sizes.update(here)
        nodes = []
        for key, count in here.items():
            path = [body["event"], *("$other" if p is None else p for p in key)]
            nodes.append(
                {
                    "path": path,
                    "event": path[-1],
                    "other": key[-1] is None,
                    "users": count,
                    "share_of_anchor": round(count / users, 6),
                    "share_of_parent": round(count / sizes[key[:-1]], 6),
                    "drop_off": count - further[key],
                }
            )
        nodes.sort(key=lambda x: (x["other"], -x["users"], [(p == "$other", p) for p in x["path"]]))
        total, drop = sum(x["users"] for x in nodes), sum(x["drop_off"] for x in nodes)
        steps.append({"step": k, "users": total, "drop_off": drop, "nodes": nodes})
    anchor = {"event": body["event"], "users": users, "drop_off": users - sum(1 for r in rows if r)}
    return {"anchor": anchor, "steps": steps}


WHOLE = {"start": "2026-03-24", "end": "2026-03-28"}
CASES: dict[str, dict[str, Any]] = {
    "next": {"event": "Signed Up"},
    "next-5-limit-2": {"event": "Signed Up", "steps": 5, "limit": 2},  # $other nodes, and under them
    "next-1": {"event": "Tool Used", "steps": 1, "limit": 20},
    "previous": {"event": "Exported", "direction": "previous", "steps": 4},
    "previous-limit-1": {"event": "Invited", "direction": "previous", "steps": 5, "limit": 1},
    "seoul": {"event": "Viewed Pricing", "tz": "Asia/Seoul", "start": "2026-03-25", "end": "2026-03-27"},
    "new-york-previous": {
        "event": "Tool Used",
        "direction": "previous",
        "tz": "America/New_York",
        "start": "2026-03-24",
        "end": "2026-03-26",
    },
    "session": {"event": "Signed Up", "steps": 5, "session_scoped": True},
    "session-previous": {"event": "Tool Used", "direction": "previous", "steps": 5, "session_scoped": True},
    "session-exclude": {"event": "Tool Used", "session_scoped": True, "exclude": ["identify", "page"]},
    "pages": {"event": "/pricing", "kind": "pages", "steps": 4},
    "pages-previous-session": {
        "event": "/docs",
        "kind": "pages",
        "direction": "previous",
        "session_scoped": True,
        "limit": 3,
    },
    "pages-none": {"event": "$none", "kind": "pages", "exclude": ["/"]},
    "filter-event": {
        "event": "Tool Used",
        "filters": [{"type": "event", "name": "plan", "op": "eq", "value": "pro"}],
    },
    "filter-any": {
        "event": "Signed Up",
        "steps": 4,
        "filters": [
            {"type": "derived", "name": "browser", "op": "eq", "value": "Chrome"},
            {"type": "event", "name": "plan", "op": "exists", "value": False},
        ],
        "filter_match": "any",
    },
    "filter-person": {
        "event": "Invited",
        "filters": [{"type": "person", "name": "plan", "op": "eq", "value": "pro"}],
    },
    "filter-derived-session": {
        "event": "Tool Used",
        "session_scoped": True,
        "filters": [{"type": "derived", "name": "device_type", "op": "neq", "value": "mobile"}],
    },
    "exclude": {"event": "Signed Up", "exclude": ["Tool Used", "identify"], "steps": 5},
    "late-anchor": {"event": "Late Anchor", "direction": "previous"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_paths_match_the_count_by_hand(log: tuple[Path, list[dict[str, Any]]], case: str) -> None:
    data, lines = log
    body = {**WHOLE, **CASES[case]}
    got = run_paths(data, "UTC", body)
    want = by_hand(lines, body)
    assert got["anchor"] == want["anchor"]
    assert got["steps"] == want["steps"]
    assert got["anchor"]["users"] > 0 and got["steps"][0]["nodes"], "a case that finds nothing tests little"
    # the tree adds up: a node's people are its children's plus those who stopped there
    for step, after in zip(got["steps"], got["steps"][1:], strict=False):
        for node in step["nodes"]:
            children = [c["users"] for c in after["nodes"] if c["path"][:-1] == node["path"]]
            assert node["users"] == sum(children) + node["drop_off"], node
    first = got["steps"][0]["nodes"]
    assert got["anchor"]["users"] == sum(x["users"] for x in first) + got["anchor"]["drop_off"]
    limit, before = body.get("limit", 5), 1
    for step in got["steps"]:  # at most `limit` named nodes, and one $other per node of the step before
        assert sum(1 for x in step["nodes"] if not x["other"]) <= limit
        assert sum(1 for x in step["nodes"] if x["other"]) <= before
        before = len(step["nodes"])


def _nodes(out: dict[str, Any]) -> list[list[tuple[tuple[str, ...], int, int]]]:
    return [[(tuple(x["path"]), x["users"], x["drop_off"]) for x in s["nodes"]] for s in out["steps"]]


def test_scripted_people(log: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = log
    # identity: trial-1's anonymous events and u-trial's are one person's; the repeat is collapsed
    trial = run_paths(data, "UTC", {**WHOLE, "event": "Trial Started"})
    assert trial["anchor"] == {"event": "Trial Started", "users": 1, "drop_off": 0}
    assert [n[0][0][-1] for n in _nodes(trial)] == ["identify", "Tool Used", "Exported"]
    # the same instant: ordered by message id ("tie-a" before "tie-b")
    tie = run_paths(data, "UTC", {**WHOLE, "event": "Tie Anchor", "steps": 2})
    assert _nodes(tie) == [
        [(("Tie Anchor", "Invited"), 1, 0)],
        [(("Tie Anchor", "Invited", "Viewed Pricing"), 1, 1)],
    ]
    # dedup: the copies (other timestamps, received later, one in the unloaded file) are no steps
    dup = run_paths(data, "UTC", {**WHOLE, "event": "Dup Anchor"})
    assert _nodes(dup) == [
        [(("Dup Anchor", "Exported"), 1, 0)],
        [(("Dup Anchor", "Exported", "Invited"), 1, 1)],
        [],
    ]
    # the time zone: in UTC the range ends before the step; in Seoul both are on 03-26
    utc = run_paths(data, "UTC", {"start": "2026-03-25", "end": "2026-03-25", "event": "TZ Anchor"})
    assert utc["anchor"]["users"] == 1 and utc["anchor"]["drop_off"] == 1
    seoul = {"start": "2026-03-26", "end": "2026-03-26", "tz": "Asia/Seoul", "event": "TZ Anchor"}
    assert _nodes(run_paths(data, "UTC", seoul))[0] == [(("TZ Anchor", "Exported"), 1, 1)]
    # the session: the excluded identify is still activity (no 30-minute gap), the 31 minutes are one
    body = {**WHOLE, "event": "Session Anchor", "exclude": ["identify"], "session_scoped": True}
    assert [s[0][0][-1] for s in _nodes(run_paths(data, "UTC", body)) if s] == ["Tool Used", "Exported"]
    assert [s[0][0][-1] for s in _nodes(run_paths(data, "UTC", {**body, "session_scoped": False})) if s] == [
        "Tool Used",
        "Exported",
        "Invited",
    ]


def test_an_anchor_nobody_did_is_an_empty_answer(log: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = log
    out = run_paths(data, "UTC", {**WHOLE, "event": "Nobody Does This", "steps": 5})
    assert out["anchor"] == {"event": "Nobody Does This", "users": 0, "drop_off": 0}
    assert out["steps"] == [{"step": k, "users": 0, "drop_off": 0, "nodes": []} for k in range(1, 6)]
    never = {"type": "event", "name": "no such property", "op": "eq", "value": 1}
    assert run_paths(data, "UTC", {**WHOLE, "event": "Signed Up", "filters": [never]})["anchor"]["users"] == 0


def test_the_answer_describes_the_query(log: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = log
    body = {**WHOLE, **CASES["filter-any"], "tz": "Europe/Paris"}
    out = run_paths(data, "UTC", body)
    assert {k: out[k] for k in ("insight", "start", "end", "tz", "kind", "direction", "step_count")} == {
        "insight": "paths",
        "start": "2026-03-24",
        "end": "2026-03-28",
        "tz": "Europe/Paris",
        "kind": "events",
        "direction": "next",
        "step_count": 4,
    }
    assert out["filters"] == body["filters"] and out["filter_match"] == "any" and out["limit"] == 5
    assert out["session_scoped"] is False and out["exclude"] == [] and out["missing_days"] == []
    assert set(PathsQuery.__struct_fields__) == set(FIELDS)  # /openapi.json describes what is read


BAD: list[tuple[Any, str, str]] = [
    ({**WHOLE, "event": "x", "steps": 0}, "bad_field", "'steps'"),
    ({**WHOLE, "event": "x", "steps": 6}, "bad_field", "'steps'"),
    ({**WHOLE, "event": "x", "steps": "3"}, "bad_field", "'steps'"),
    ({**WHOLE, "event": "x", "direction": "sideways"}, "bad_field", "'direction'"),
    ({**WHOLE}, "missing_field", "'event'"),
    ({**WHOLE, "event": ""}, "bad_field", "'event'"),
    ({**WHOLE, "event": 7}, "bad_field", "'event'"),
    ({**WHOLE, "event": "x", "kind": "screens"}, "bad_field", "'kind'"),
    ({**WHOLE, "event": "x", "limit": 21}, "bad_field", "'limit'"),
    ({**WHOLE, "event": "x", "limit": True}, "bad_field", "'limit'"),
    ({**WHOLE, "event": "x", "session_scoped": "yes"}, "bad_field", "'session_scoped'"),
    ({**WHOLE, "event": "x", "exclude": ["y", "x"]}, "bad_field", "'exclude[1]'"),
    ({**WHOLE, "event": "x", "exclude": "y"}, "bad_field", "'exclude'"),
    (
        {**WHOLE, "event": "x", "filters": [{"type": "event", "name": "a", "op": "like"}]},
        "bad_field",
        "'filters[0].op'",
    ),
    ({**WHOLE, "event": "x", "filter_match": "most"}, "bad_field", "'filter_match'"),
    ({**WHOLE, "event": "x", "interval": "day"}, "bad_field", "'interval'"),
    ({"end": "2026-03-28", "event": "x"}, "missing_parameter", "'start'"),
    ({**WHOLE, "event": "x", "tz": "Nowhere/Land"}, "unknown_timezone", "'tz'"),
    ({**WHOLE, "start": "2026-03-29", "event": "x"}, "start_after_end", "'start'"),
    ([WHOLE], "bad_body", "body"),
]


def test_the_api_answers_what_run_paths_answers_and_names_every_bad_field(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from headwater.http.api.insight_paths import PATH_ROUTES
    from headwater.http.routes import ROUTES
    from tests.http.asgi import ADMIN, Running, run

    if not any(r.path == URL for r in ROUTES):  # until http/routes.py lists PATH_ROUTES
        monkeypatch.setattr("headwater.http.app.ROUTES", (*ROUTES, *PATH_ROUTES))
    data = tmp_path / "data"
    shutil.copytree(log[0], data)
    body = {**WHOLE, **CASES["next-5-limit-2"]}
    want = json.loads(json.dumps(run_paths(data, "UTC", body)))

    async def scenario(hw: Running) -> None:
        c = hw.client
        ok = await c.post(URL, json=body, headers=ADMIN)
        assert ok.status_code == 200, ok.text
        assert ok.json() == want
        assert (await c.post(URL, json=body)).status_code == 401
        for bad, code, field in BAD:
            answer = await c.post(URL, json=bad, headers=ADMIN)
            assert answer.status_code == 400, (bad, answer.text)
            error = answer.json()["error"]
            assert error["code"] == code and field in error["message"], (bad, error)
        for raw, code in [
            (b"{", "invalid_json"),
            (b"", "invalid_json"),
            (b"[" * 5000 + b"]" * 5000, "too_deep"),
        ]:
            answer = await c.post(URL, content=raw, headers={**ADMIN, "Content-Type": "application/json"})
            assert answer.status_code == 400 and answer.json()["error"]["code"] == code, (
                raw[:10],
                answer.text,
            )

    run(tmp_path, scenario)


def test_the_cli_prints_the_same_json_and_a_table(log: tuple[Path, list[dict[str, Any]]]) -> None:
    from headwater.cli.insight_paths import paths

    data, _ = log
    app = typer.Typer()
    app.command("paths")(paths)
    app.command("other")(lambda: None)  # two commands: `paths` is named, as under `insights`
    args = ["paths", "--start", "2026-03-24", "--end", "2026-03-28", "--event", "/pricing", "--kind", "pages"]
    args += ["--direction", "previous", "--steps", "2", "--limit", "3", "--session", "--exclude", "/"]
    args += ["--filter", "derived:browser=Chrome", "--data-dir", str(data)]
    runner = CliRunner()
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    body = {
        **WHOLE,
        "event": "/pricing",
        "kind": "pages",
        "direction": "previous",
        "steps": 2,
        "limit": 3,
        "session_scoped": True,
        "exclude": ["/"],
        "filters": [{"type": "derived", "name": "browser", "op": "eq", "value": "Chrome"}],
    }
    assert json.loads(out.stdout) == run_paths(data, "UTC", body)
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "/pricing" in table.stdout, table.output
    bad = runner.invoke(app, [*args, "--steps", "6"])
    assert bad.exit_code == 2 and "'steps'" in bad.output


def test_the_http_worker_does_not_import_duckdb() -> None:
    code = (
        "import sys; import headwater.http.api.insight_paths; "
        "print(sorted(m for m in ('duckdb', 'numpy', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_many_distinct_events_keep_the_top_and_other_in_bounded_memory(tmp_path: Path) -> None:
    """20,000 people after "Start": 100 do "Hot", 50 "Warm", each other one an event of their own,
    then all "Common": the top 2 nodes per step keep their names, the 19,850 others are one $other
    node (then "Common" under it), and Python never holds the 19,850 names."""
    import tracemalloc

    data = tmp_path / "data"
    log = data / "log"
    log.mkdir(parents=True)
    people = 20_000
    with open(log / "events-20260501.t.jsonl", "w") as fh:
        for i in range(people):
            step = "Hot" if i < 100 else "Warm" if i < 150 else f"E{i:05d}"
            for second, name in enumerate(("Start", step, "Common")):
                at = f"2026-05-01T12:00:{second:02d}.000Z"
                line: dict[str, Any] = {"type": "track", "event": name, "messageId": f"{i}-{second}"}
                line["userId"] = f"p{i}"
                line.update({"timestamp": at, "receivedAt": at, "properties": {}, "context": {}})
                line["_hw"] = {"source": "t", "event_type": name, "bot": False}
                fh.write(json.dumps(line) + "\n")
    run_daily(data, date(2026, 5, 1), "UTC")
    body = {"start": "2026-05-01", "end": "2026-05-01", "event": "Start", "steps": 5, "limit": 2}
    tracemalloc.start()
    try:
        out = run_paths(data, "UTC", body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, peak
    assert out["anchor"] == {"event": "Start", "users": people, "drop_off": 0}
    assert _nodes(out) == [
        [(("Start", "Hot"), 100, 0), (("Start", "Warm"), 50, 0), (("Start", "$other"), 19_850, 0)],
        [  # the top 2 of step 2 are ($other, Common) and (Hot, Common): Warm's Common is $other
            (("Start", "$other", "Common"), 19_850, 19_850),
            (("Start", "Hot", "Common"), 100, 100),
            (("Start", "Warm", "$other"), 50, 50),
        ],
        [],
        [],
        [],
    ]


def test_the_docs_examples_run_as_printed(log: tuple[Path, list[dict[str, Any]]]) -> None:
    """The "Paths" section of docs/insights.md: its CLI lines and its curl bodies, over this log."""
    import re
    import shlex

    from headwater.cli.insight_paths import paths

    data, _ = log
    text = (ROOT / "docs" / "insights.md").read_text()
    section = text[text.index("\n## Paths\n") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", section, re.DOTALL)
    lines = [line.strip() for b in blocks for line in b.replace("\\\n", " ").splitlines()]
    commands = [shlex.split(line)[3:] for line in lines if line.startswith("headwater insights paths ")]
    curls = [shlex.split(line) for line in lines if line.startswith("curl ")]
    assert len(commands) >= 2 and len(curls) >= 2
    app = typer.Typer()
    app.command("paths")(paths)
    app.command("other")(lambda: None)
    for args in commands:
        done = CliRunner().invoke(app, ["paths", *args, "--data-dir", str(data)])
        assert done.exit_code == 0, (args, done.output)
        if "--json" in args:
            assert json.loads(done.stdout)["anchor"]["users"] > 0
    for args in curls:
        assert args[args.index("-X") + 2].endswith(URL)
        out = run_paths(data, "UTC", json.loads(args[args.index("-d") + 1]))
        assert out["anchor"]["users"] > 0 and out["steps"][0]["nodes"], args


def test_generated_queries_are_answered_or_refused_naming_a_field(
    log: tuple[Path, list[dict[str, Any]]],
) -> None:
    """Bodies valid and not, with names that are SQL or JSON-path syntax: a 200, or a 400 naming a
    field; never a failure in the query (which the API would answer with a 500)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from headwater.lake.params import MetricError

    data, _ = log
    names = st.sampled_from(
        ["Signed Up", "/pricing", "$none", "'; DROP TABLE x; --", "ключ", "$.a"]
    ) | st.text(max_size=6)
    filters = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["event", "event", "person", "derived", "cohort"]),
            "name": st.sampled_from(["plan", "path", "browser", "os", "a.b", "country"])
            | st.text(max_size=4),
            "op": st.sampled_from(["eq", "neq", "in", "gt", "lt", "contains", "exists", "exists", "like"]),
        },
        optional={"value": st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4)},
    )
    bodies = st.fixed_dictionaries(
        {
            "start": st.sampled_from(["2026-03-24", "2026-03-26"]),
            "end": st.just("2026-03-28"),
            "event": names,
        },
        optional={
            "tz": st.sampled_from(["UTC", "Asia/Seoul", "Pacific/Kiritimati"]),
            "direction": st.sampled_from(["next", "previous", "previous", "up"]),
            "steps": st.integers(0, 6) | st.just("3"),
            "limit": st.integers(1, 21),
            "session_scoped": st.booleans(),
            "kind": st.sampled_from(["events", "pages", "pages", "screens"]),
            "filters": st.lists(filters, max_size=2),
            "filter_match": st.sampled_from(["all", "any", "most"]),
            "exclude": st.lists(names, max_size=2),
        },
    )
    outcomes = {"answered": 0, "refused": 0}

    @settings(
        max_examples=80,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies)
    def check(body: dict[str, Any]) -> None:
        try:
            out = run_paths(data, "UTC", body)
        except MetricError as exc:
            assert exc.status == 400 and "'" in exc.message, (body, exc.code, exc.message)
            outcomes["refused"] += 1
            return
        assert out["insight"] == "paths" and len(out["steps"]) == out["step_count"]
        outcomes["answered"] += 1

    check()
    assert outcomes["answered"] >= 10 and outcomes["refused"] >= 10, outcomes
