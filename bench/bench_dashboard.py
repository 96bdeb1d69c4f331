"""The dashboard's first load over 90 days of demo data for 10,000 users (target: under 1.5 s).

Writes the data with `headwater demo` (a few minutes), starts `headwater serve`, and loads the
page in Debian's Chromium, timed from navigation start until every panel is drawn
(``window.headwaterFirstLoadMs``). Four cases, each in a fresh browser context (no HTTP cache)
and, but for "again", a fresh server:

- at_ready: the page opened the moment /readyz answers: the server is still replaying the log into
  its in-memory live and audience stores (~730k events, both cores busy) and computing the
  default view;
- cold: a server whose start-up is done (tailers caught up, default view computed by its warm-up),
  never visited, signed in by cookie;
- login: the same, through the login form with 3 s to type the token;
- again: a second visit (the answers cached until the lake or the recent log change).

Each case prints the breakdown: the HTML, the static files (first request to last answer), the
script's start, each API call (sent, answered), each panel's time, and the server's warm-up time.
The metric batch itself is also timed in this process (every default query computed from
nothing, the groups in parallel as the server does).

The "board" case (issue 20: a saved dashboard of 8 insights, first load under 1.5 s, changing a filter
under 500 ms): 8 saved insights of every kind over the whole range (trends with a breakdown and a
filter, a formula, a funnel, retention, paths, web analytics) pinned to one dashboard, the
``#/dashboards/<id>`` page loaded in a fresh browser context until every tile is drawn
(``window.headwaterBoardLoadMs``, from navigation start), cold (a fresh server whose start-up is
done) and again (a second visit), then the board's range changed by its presets ("7 d", "30 d",
back to the whole range: computed ahead by the warm-up) until every tile is redrawn
(``window.headwaterBoardRedrawMs``), then a range typed in the form that nobody asked before. Each tile's
API call (sent, answered) and drawing time are printed, then each saved insight's /result alone over
HTTP and its query computed in this process (which tile is slow, and where).

Usage: python bench/bench_dashboard.py [--users 10000] [--days 90] [--data DIR (kept, reused)]
       [--case all|overview|board]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.dashboard.browser import FLAGS, chromium_path, wait_ready
from tests.e2e.dashboard.support import session_cookie, wait_started
from tests.helpers import Server

TOKEN = "bench-dashboard-token-7c41e0"
RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.json"
BREAKDOWN_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource").map((e) => ({
    path: e.name.replace(location.origin, ""), start: Math.round(e.startTime), end: Math.round(e.responseEnd),
  }));
  const statics = res.filter((r) => r.path.startsWith("/dashboard/static/"));
  const first = window.headwaterFirstLoadMs;
  return {
    html_ms: Math.round(nav.responseEnd),
    static_files: statics.length,
    static_first_ms: Math.min(...statics.map((r) => r.start)),
    static_last_ms: Math.max(...statics.map((r) => r.end)),
    panels_ms: window.headwaterTimings,
    api_calls: res.filter((r) => !r.path.startsWith("/dashboard/static/") && r.start < first),
  };
}"""


def load_page(browser: Any, url: str, via_login: bool) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = ctx.new_page()
        if via_login:
            page.goto(url + "/dashboard/login")
            time.sleep(3)  # typing the token
            page.fill("#token", TOKEN)
            page.click("#token-form button[type=submit]")
            page.wait_for_url("**/dashboard/")
            # time this navigation (the page after the form's redirect)
        else:
            ctx.add_cookies([session_cookie(url, TOKEN)])
            page.goto(url + "/dashboard/")
        wait_ready(page, timeout_ms=180_000)
        states = page.eval_on_selector_all("section.panel", "els => els.map(e => e.dataset.state)")
        assert all(s == "ready" for s in states), states  # every panel drawn with data
        out = {"first_load_ms": int(page.evaluate("window.headwaterFirstLoadMs"))}
        out.update(page.evaluate(BREAKDOWN_JS))
        return out
    finally:
        ctx.close()


def metric_batch_seconds(data: Path) -> dict[str, Any]:
    """The default view's metric batch computed from nothing in this process, as the server does."""
    from headwater.dashboard.metric_batch import MetricCache, groups, run_group
    from headwater.dashboard.warmup import default_queries

    tz = "UTC"
    shutil.rmtree(data / "run" / "dashboard-cache", ignore_errors=True)  # the servers' shared cache
    cache = MetricCache(data, tz)
    parts = groups(default_queries(tz))
    started = time.monotonic()
    cpu = time.process_time()
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(lambda part: run_group(cache, part), parts))
    return {
        "wall_s": round(time.monotonic() - started, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "queries": sum(len(p) for p in parts),
        "groups": len(parts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--case", choices=("all", "overview", "board"), default="all")
    args = parser.parse_args()
    keep = args.data is not None
    data = args.data or Path(tempfile.mkdtemp(prefix="hw-bench-dash-")) / "data"
    if not (data / "lake").is_dir():
        started = time.monotonic()
        cli_timeout_demo(data, args.users, args.days)
        print(f"demo data: {args.users} users, {args.days} days in {time.monotonic() - started:.0f} s")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        try:
            if args.case in ("all", "overview"):
                write(RESULTS, overview_cases(browser, data, args.users, args.days))
            if args.case in ("all", "board"):
                write(RESULTS.with_name("board.json"), board_case(browser, data, args.users, args.days))
        finally:
            browser.close()
    if not keep:
        shutil.rmtree(data.parent, ignore_errors=True)


def write(path: Path, figures: dict[str, Any]) -> None:
    figures["cpus"] = os.cpu_count()
    figures["note"] = "browser, server and load average share the same cores"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {path.relative_to(Path(__file__).resolve().parent.parent)}")


def overview_cases(browser: Any, data: Path, users: int, days: int) -> dict[str, Any]:
    """The overview page: the metric batch alone, then the four cases of the docstring."""
    figures: dict[str, Any] = {"users": users, "days": days, "target_ms": 1500}
    for run in ("metric_batch_fresh_process", "metric_batch"):  # the first one pays the imports
        load1 = os.getloadavg()[0]
        figures[run] = {**metric_batch_seconds(data), "loadavg_1m": round(max(load1, os.getloadavg()[0]), 2)}
        print(f"{run}, nothing cached: {figures[run]}")
    for case in ("at_ready", "cold", "login", "again"):
        shutil.rmtree(data / "run" / "dashboard-cache", ignore_errors=True)
        srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN})
        srv.start(timeout=60)  # a fresh server: an empty cache, in memory and on disk
        try:
            if case != "at_ready":
                warm = wait_started(srv, timeout=600)["dashboard_warmup"]
                figures[f"{case}_warmup_s"] = warm["last_seconds"]
            if case == "again":
                load_page(browser, srv.url, False)  # the first visit
            load1 = os.getloadavg()[0]
            found = load_page(browser, srv.url, case == "login")
            found["loadavg_1m"] = round(max(load1, os.getloadavg()[0]), 2)
            if case == "at_ready":  # let the start-up finish before stopping
                warm = wait_started(srv, timeout=600)["dashboard_warmup"]
                figures[f"{case}_warmup_s"] = warm["last_seconds"]
        finally:
            srv.stop()
        figures[case] = found
        print(f"first load, {case}: {found['first_load_ms']} ms (load average {found['loadavg_1m']})")
        print("  " + json.dumps(found))
    print(json.dumps(figures))
    return figures


BOARD = "Bench board"
BOARD_JS = """(since) => {
  const res = performance.getEntriesByType("resource").filter((e) => e.startTime >= since).map((e) => ({
    path: e.name.replace(location.origin, ""), start: Math.round(e.startTime - since),
    end: Math.round(e.responseEnd - since), kb: Math.round(e.encodedBodySize / 1024),
  }));
  const nav = performance.getEntriesByType("navigation")[0];
  const statics = res.filter((r) => r.path.startsWith("/dashboard/static/"));
  return {
    html_ms: since ? null : Math.round(nav.responseEnd),
    static_last_ms: statics.length ? Math.max(...statics.map((r) => r.end)) : null,
    other_api: res.filter((r) => r.path.startsWith("/api/") && !r.path.includes("/result")),
    tiles_api: res.filter((r) => r.path.includes("/result")),
    tiles_drawn: window.headwaterBoardTiles,
  };
}"""


def board_insights(start: str, end: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Eight saved insights of every kind over start..end: (name, kind, query)."""
    sign_up = ["Signed Up", "Project Created", "Teammate Invited"]
    editors = [
        {"event": "Document Edited", "measure": "users"},
        {"event": "Message Sent", "measure": "events"},
    ]
    per_sender = [
        {"event": "Message Sent", "measure": "events"},
        {"event": "Message Sent", "measure": "users"},
    ]
    specs: list[tuple[str, str, dict[str, Any]]] = [
        (
            "Editors by plan, docs and chat",
            "trend",
            {
                "interval": "week",
                "series": editors,
                "filters": [{"type": "event", "name": "app", "op": "in", "value": ["docs", "chat"]}],
                "breakdown": {"type": "person", "name": "plan"},
                "limit": 10,
            },
        ),
        ("Messages per sender", "trend", {"interval": "week", "series": per_sender, "formula": "A / B"}),
        ("Daily users", "trend", {"series": [{"event": None, "measure": "users"}], "compare": True}),
        ("Sign-up funnel by plan", "funnel", {"steps": sign_up, "window_days": 14, "breakdown": "plan"}),
        ("Weekly retention", "retention", {"period": "week", "start_event": "Signed Up"}),
        ("After sign-up", "paths", {"event": "Signed Up", "steps": 3, "limit": 5}),
        ("Web", "web", {"limit": 10, "compare": True}),
        (
            "Sign-ups by plan",
            "trend",
            {
                "series": [{"event": "Signed Up", "measure": "users"}],
                "breakdown": {"type": "event", "name": "plan"},
                "interval": "range",
            },
        ),
    ]
    return [(name, kind, {"start": start, "end": end, "tz": "UTC", **q}) for name, kind, q in specs]


def call(url: str, method: str, path: str, body: Any = None, **params: str) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    resp = httpx.request(method, url + path, json=body, params=params, headers=headers, timeout=600)
    assert resp.status_code < 300, (resp.status_code, resp.text[:500])
    return resp.json() if resp.content else None


def make_board(url: str, specs: list[tuple[str, str, dict[str, Any]]]) -> tuple[str, dict[str, str]]:
    """The bench's dashboard made anew (an older one deleted with its insights): its id, and the
    name of each insight id."""
    for old in call(url, "GET", "/api/v1/dashboards")["dashboards"]:
        if old["name"] == BOARD:
            for tile in old["tiles"]:
                call(url, "DELETE", f"/api/v1/insights/saved/{tile['insight']}")
            call(url, "DELETE", f"/api/v1/dashboards/{old['id']}")
    names = {}
    for name, kind, query in specs:
        names[
            call(url, "POST", "/api/v1/insights/saved", {"name": name, "kind": kind, "query": query})["id"]
        ] = name
    board = call(url, "POST", "/api/v1/dashboards", {"name": BOARD, "tiles": [{"insight": i} for i in names]})
    return str(board["id"]), names


def tiles_ready(page: Any, count: int) -> None:
    page.wait_for_selector('#page[data-state="ready"]', state="attached", timeout=600_000)
    states = page.eval_on_selector_all(".board-tile", "els => els.map(e => e.dataset.state)")
    assert states == ["ready"] * count, states  # every tile drawn with its answer


def named(found: dict[str, Any], names: dict[str, str], since: float) -> dict[str, Any]:
    """Each tile's API call (sent, answered, KB) and when it was drawn, in ms after ``since``, under
    its insight's name."""
    calls = {r["path"].split("/")[5]: r for r in found.pop("tiles_api")}
    drawn = found.pop("tiles_drawn") or {}
    found["tiles"] = {
        name: {
            **{k: calls.get(i, {}).get(k) for k in ("start", "end", "kb")},
            "drawn": round(drawn[i] - since) if i in drawn else None,
        }
        for i, name in names.items()
    }
    return found


def report(title: str, ms: int, target: int, found: dict[str, Any]) -> None:
    """A verdict, then where the time went: the page's own requests, each tile's."""
    print(f"{title}: {ms} ms: {'meets' if ms < target else 'MISSES'} the {target} ms target", end="")
    print(f" (load average {found['loadavg_1m']})")
    if "cpu_ms" in found:
        cpu = found["cpu_ms"]
        print(f"    CPU meanwhile: the server {cpu['server']} ms, the machine (browser too)", end="")
        print(f" {cpu['machine']} ms")
    if found.get("html_ms") is not None:
        print(f"    HTML {found['html_ms']} ms, static files answered by {found['static_last_ms']} ms")
    for r in found["other_api"]:
        print(f"    {r['path']}: sent {r['start']} ms, answered {r['end']} ms")
    print(f"    {'tile':<32} {'API sent':>8} {'answered':>8} {'KB':>4} {'drawn':>6}")
    for name, t in found["tiles"].items():
        cols = [f"{t[k]}".rjust(w) for k, w in (("start", 8), ("end", 8), ("kb", 4), ("drawn", 6))]
        print(f"    {name:<32} {' '.join(cols)}")
    answered = [t["end"] for t in found["tiles"].values() if t["end"] is not None]
    drawn = [t["drawn"] for t in found["tiles"].values() if t["drawn"] is not None]
    if answered and drawn:
        print(
            f"    last answer at {max(answered)} ms, every tile drawn {max(drawn) - max(answered)} ms later"
        )


def cpu_ms(pid: int) -> dict[str, float]:
    """CPU time so far (ms): the server's process (and its waited-for children), and the whole
    machine's (every process: the browser too), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    server = sum(int(f) for f in fields[11:15]) * tick
    busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    machine = sum(int(v) for i, v in enumerate(busy[:8]) if i not in (3, 4)) * tick  # not idle, iowait
    return {"server": server, "machine": machine}


def visit(
    browser: Any,
    url: str,
    board: str,
    names: dict[str, str],
    days: int,
    custom: tuple[str, str],
    server_pid: int,
) -> dict[str, Any]:
    """The board loaded in a fresh context, then its range changed by each preset (computed ahead
    by the warm-up), then to ``custom`` typed in the form (a range nobody asked before)."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        ctx.add_cookies([session_cookie(url, TOKEN)])
        page = ctx.new_page()
        load1 = os.getloadavg()[0]
        page.goto(f"{url}/dashboard/#/dashboards/{board}")
        tiles_ready(page, len(names))
        out: dict[str, Any] = {"load_ms": page.evaluate("window.headwaterBoardLoadMs")}
        out.update(named(page.evaluate(BOARD_JS, 0), names, 0))
        out["loadavg_1m"] = round(max(load1, os.getloadavg()[0]), 2)
        for preset in ("7 d", "30 d", f"{days} d" if days in (7, 30, 90) else "Own ranges"):
            load1 = os.getloadavg()[0]
            since = page.evaluate("performance.now()")
            page.click(f'.board-range button:text-is("{preset}")')
            tiles_ready(page, len(names))
            redraw = {"redraw_ms": page.evaluate("window.headwaterBoardRedrawMs")}
            redraw.update(named(page.evaluate(BOARD_JS, since), names, since))
            redraw["loadavg_1m"] = round(max(load1, os.getloadavg()[0]), 2)
            out[f"range {preset}"] = redraw
        load1 = os.getloadavg()[0]
        cpu = cpu_ms(server_pid)
        since = page.evaluate("performance.now()")
        page.fill('.board-range input[data-field="start"]', custom[0])
        page.fill('.board-range input[data-field="end"]', custom[1])
        page.click('.board-range button[type="submit"]')
        tiles_ready(page, len(names))
        redraw = {"redraw_ms": page.evaluate("window.headwaterBoardRedrawMs")}
        redraw.update(named(page.evaluate(BOARD_JS, since), names, since))
        redraw["loadavg_1m"] = round(max(load1, os.getloadavg()[0]), 2)
        redraw["cpu_ms"] = {k: round(v - cpu[k]) for k, v in cpu_ms(server_pid).items()}
        out[f"range {custom[0]}..{custom[1]} (typed, never asked)"] = redraw
        return out
    finally:
        ctx.close()


def alone(url: str, data: Path, specs: list[tuple[str, str, dict[str, Any]]], names: dict[str, str]) -> Any:
    """Each saved insight's /result alone over HTTP, then its query computed in this process."""
    import importlib

    from headwater.insights.saved import run_saved

    for module in ("trend", "paths", "web"):  # their imports (DuckDB, numpy) not in the first one's time
        importlib.import_module(f"headwater.insights.{module}")
    importlib.import_module("headwater.metrics.registry")
    out: dict[str, dict[str, float]] = {}
    for (insight, name), (_, kind, query) in zip(names.items(), specs, strict=True):
        started = time.monotonic()
        call(url, "GET", f"/api/v1/insights/saved/{insight}/result")
        http_s = time.monotonic() - started
        started, cpu = time.monotonic(), time.process_time()
        run_saved(data, "UTC", kind, query)
        wall = time.monotonic() - started
        out[name] = {"http_s": round(http_s, 3), "compute_s": round(wall, 3)}
        out[name]["compute_cpu_s"] = round(time.process_time() - cpu, 3)
    return out


def board_case(browser: Any, data: Path, users: int, days: int) -> dict[str, Any]:
    """A saved dashboard of 8 insights: first load (cold, again) and range changes, per tile."""
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    specs = board_insights((today - timedelta(days=days - 1)).isoformat(), today.isoformat())
    figures: dict[str, Any] = {"users": users, "days": days, "load_target_ms": 1500, "redraw_target_ms": 500}
    srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN})
    srv.start(timeout=60)
    try:  # the insights saved and pinned through the API, by a server stopped since
        wait_started(srv, timeout=600)
        board, names = make_board(srv.url, specs)
    finally:
        srv.stop()
    shutil.rmtree(data / "run" / "dashboard-cache", ignore_errors=True)
    srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN})
    srv.start(timeout=60)  # a fresh server: nothing cached, no insight run yet
    try:
        figures["warmup_s"] = wait_started(srv, timeout=600)["dashboard_warmup"]["last_seconds"]
        for case, span in (("cold", 14), ("again", 21)):  # another typed range each time
            custom = ((today - timedelta(days=span)).isoformat(), (today - timedelta(days=1)).isoformat())
            assert srv.proc is not None
            found = figures[case] = visit(browser, srv.url, board, names, days, custom, srv.proc.pid)
            report(f"board first load, {case}", found["load_ms"], 1500, found)
            for key, redraw in found.items():
                if key.startswith("range "):
                    report(f"  then {key}, every tile redrawn", redraw["redraw_ms"], 500, redraw)
        figures["alone"] = alone(srv.url, data, specs, names)
    finally:
        srv.stop()
    print("each saved insight alone: its /result over HTTP, then its query computed in this process")
    for name, times in figures["alone"].items():
        print(f"    {name:<32} {times}")
    total = {k: round(sum(t[k] for t in figures["alone"].values()), 3) for k in ("http_s", "compute_cpu_s")}
    print(f"    all 8, one after the other: {total['http_s']} s over HTTP, {total['compute_cpu_s']} s of CPU")
    figures["alone_total"] = total
    return figures


def cli_timeout_demo(data: Path, users: int, days: int) -> None:
    """`headwater demo` (the test helper's cli() stops at 60 s, too short for 10,000 users)."""
    import subprocess

    env = {**os.environ, "HEADWATER_DATA_DIR": str(data)}
    subprocess.run(
        [sys.executable, "-m", "headwater", "demo", "--users", str(users), "--days", str(days)],
        env=env,
        check=True,
        capture_output=True,
        timeout=1800,
    )


if __name__ == "__main__":
    main()
