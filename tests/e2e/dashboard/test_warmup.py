"""The server computes the dashboard's default view when it starts and after each ETL run, so a
first visit finds every panel's answers cached (docs/dashboard.md, "How the page loads")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.dashboard.warmup import POLL_SECONDS
from tests.e2e.dashboard.browser import wait_ready
from tests.e2e.dashboard.support import TOKEN, session_cookie, wait_started
from tests.helpers import Server, cli, create_key


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    cli(data, "demo", "--users", "15", "--days", "35")
    srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN})
    try:
        srv.start(timeout=60)
        yield srv
    finally:
        srv.stop()


def warmup(srv: Server) -> dict[str, Any]:
    return dict(srv.checks()["dashboard_warmup"])


def visit(browser: Any, srv: Server) -> int:
    """Open the page signed in by cookie (no login form, so nothing warms on the way): the first
    load in ms."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        ctx.add_cookies([session_cookie(srv.url)])
        page = ctx.new_page()
        page.goto(srv.url + "/dashboard/")
        wait_ready(page)
        states = page.eval_on_selector_all("section.panel", "els => els.map(e => e.dataset.state)")
        assert set(states) == {"ready"}, states
        return int(page.evaluate("window.headwaterFirstLoadMs"))
    finally:
        ctx.close()


def test_a_first_visit_finds_the_default_view_computed(browser: Any, fresh_server: Server) -> None:
    srv = fresh_server
    wait_started(srv)
    before = warmup(srv)
    assert before["last_reason"] == "start" and before["last_error"] is None
    assert before["cache_misses"] >= 10  # the default view's queries, computed at start
    visit(browser, srv)
    after = warmup(srv)
    assert after["cache_misses"] == before["cache_misses"], "the page asked for a query not computed ahead"
    assert after["cache_hits"] >= before["cache_hits"] + 10

    # An ETL run changes the lake: the warm-up computes the default view again, on its own.
    key = create_key(srv.data_dir, "warmup")
    batch = [{"type": "track", "userId": "warmup-probe", "event": "Document Edited"}]
    for _ in range(50):  # a new key reaches the collector within its refresh interval
        resp = httpx.post(srv.url + "/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=10)
        if resp.status_code == 200:
            break
        time.sleep(0.3)
    assert resp.status_code == 200, resp.text
    runs = after["runs"]
    today = datetime.now(UTC).date().isoformat()
    cli(srv.data_dir, "etl", "daily", "--date", today)
    deadline = time.monotonic() + 60
    # (the default range ends today: the probe event made it stale while the page is in use, so
    # a "log grew" run may come first)
    while (now := warmup(srv))["runs"] == runs or now["last_reason"] != "lake changed":
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    while True:  # settled: no other run for a few polls
        time.sleep(3 * POLL_SECONDS)
        settled = warmup(srv)
        if settled["runs"] == now["runs"]:
            break
        now = settled
        assert time.monotonic() < deadline, now
    visit(browser, srv)
    assert warmup(srv)["cache_misses"] == settled["cache_misses"]


def _maps_duckdb(pid: int) -> bool:
    return "_duckdb" in Path(f"/proc/{pid}/maps").read_text()


def _server_pids(srv: Server) -> dict[str, int]:
    """name -> pid of the processes the supervisor started (python -m headwater.process.worker NAME)."""
    assert srv.proc is not None
    found = {}
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        try:
            argv = (pid / "cmdline").read_bytes().split(b"\0")
            ppid = int((pid / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == srv.proc.pid and b"headwater.process.worker" in argv:
            found[argv[argv.index(b"headwater.process.worker") + 1].decode()] = int(pid.name)
    return found


def test_with_several_workers_one_process_warms_and_every_worker_reads_it(
    browser: Any, tmp_path: Path, servers: Any
) -> None:
    data = tmp_path / "data"
    cli(data, "demo", "--users", "15", "--days", "35")
    srv = servers(data, workers=2, env={"HEADWATER_ADMIN_TOKEN": TOKEN}).start(timeout=60)
    shared = data / "run" / "dashboard-cache"
    deadline = time.monotonic() + 120
    # the default view and the demo experiment's results, computed by the background process
    while len(list(shared.glob("metric-*.json"))) < 10 or not list(shared.glob("experiment-*.json")):
        assert time.monotonic() < deadline, sorted(p.name for p in shared.glob("*"))
        time.sleep(0.2)
    pids = _server_pids(srv)
    assert set(pids) == {"background", "http-0", "http-1"}, pids
    assert "dashboard_warmup" not in srv.checks()
    for _ in range(3):  # the connections land on either worker
        visit(browser, srv)
    # the workers answered from the shared cache, and the background process computed it in a
    # child that has exited: no long-lived process of the server carries DuckDB (nor its memory)
    assert not any(_maps_duckdb(pid) for pid in pids.values()), pids
