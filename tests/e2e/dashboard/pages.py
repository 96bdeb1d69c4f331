"""Helpers of the page tests (insights, people, live events, dashboards): a demo server of a test
module's own, a signed-in browser page at a hash, the page's readiness, and API calls with the token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import pytest

from tests.e2e.dashboard.browser import Console
from tests.e2e.dashboard.support import TOKEN, session_cookie, wait_started
from tests.helpers import Server, cli

DEMO_USERS = "120"
DEMO_DAYS = "40"
JSON_FIELDS = {"series", "filters", "breakdown", "exclude"}
INT_FIELDS = {"limit", "steps", "window_days"}
BOOL_FIELDS = {"compare", "session_scoped"}


@contextmanager
def demo_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Server]:
    """A real server over `headwater demo` data, for one test module."""
    data = tmp_path_factory.mktemp(name) / "data"
    cli(data, "demo", "--users", DEMO_USERS, "--days", DEMO_DAYS)
    srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN})
    try:
        srv.start(timeout=60)
        wait_started(srv)
        yield srv
    finally:
        srv.stop()


@contextmanager
def signed_in(browser: Any, srv: Server, width: int = 1440, height: int = 900) -> Iterator[Any]:
    """A browser context holding a dashboard session (made by the sign-in form, no page load)."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    ctx.add_cookies([session_cookie(srv.url)])
    try:
        yield ctx
    finally:
        ctx.close()


def open_page(context: Any, srv: Server, hash_: str) -> tuple[Any, Console]:
    """A new page loaded at /dashboard/<hash>, its console watched from the start, drawn."""
    pg = context.new_page()
    console = Console()
    console.watch(pg)
    pg.goto(srv.url + "/dashboard/" + hash_)
    wait_view(pg)
    return pg, console


def wait_view(pg: Any, timeout_ms: int = 60_000) -> None:
    """The shown view is drawn: a page's <main id=page data-state=ready>, or the overview's panels."""
    pg.wait_for_selector("body[data-ready]", state="attached", timeout=timeout_ms)
    assert pg.get_attribute("body", "data-ready") == "true", pg.inner_text("body")[:500]
    if pg.get_attribute("body", "data-route") != "overview":
        pg.wait_for_selector('#page[data-state="ready"]', state="attached", timeout=timeout_ms)


def go(pg: Any, hash_: str, timeout_ms: int = 60_000) -> None:
    """Another view of the same page (a hash change, as a link does)."""
    pg.evaluate("document.getElementById('page').dataset.state = 'stale'")
    pg.evaluate(f"window.location.hash = {json.dumps(hash_)}")
    if not hash_.startswith("#/") or hash_ == "#/":
        pg.wait_for_selector('body[data-route="overview"]', state="attached", timeout=timeout_ms)
        return
    pg.wait_for_selector('#page[data-state="ready"]', state="attached", timeout=timeout_ms)


def hash_params(url: str) -> dict[str, str]:
    """The parameters of a page's hash ("#/insights/trend?start=...")."""
    fragment = url.split("#", 1)[1]
    query = fragment.split("?", 1)[1] if "?" in fragment else ""
    return {k: v for k, v in parse_qsl(query, keep_blank_values=True)}


def body_from_hash(url: str) -> dict[str, Any]:
    """The request body a builder's address stands for (docs/dashboard.md): one field a parameter,
    lists and objects as JSON, numbers and booleans as text."""
    body: dict[str, Any] = {}
    for key, value in hash_params(url).items():
        if key == "saved":
            continue
        if key in JSON_FIELDS:
            body[key] = json.loads(value)
        elif key in INT_FIELDS:
            body[key] = int(value)
        elif key in BOOL_FIELDS:
            body[key] = value == "true"
        else:
            body[key] = value
    return body


def api(srv: Server, method: str, path: str, body: Any = None, **params: Any) -> Any:
    resp = httpx.request(
        method,
        srv.url + path,
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=120,
    )
    assert resp.status_code < 300, (resp.status_code, resp.text)
    return resp.json() if resp.content else None


def shown_number(text: str) -> float | None:
    """A number as a table shows it ("1,234", "0.5", "—" for none)."""
    text = text.strip().replace(",", "")
    if text in ("—", ""):
        return None
    return float(text)


def cells(pg: Any) -> dict[tuple[str, str, str | None, str], tuple[str, str]]:
    """The trend table's value cells: (period, date, series, breakdown) -> (data-value, text)."""
    out = {}
    for td in pg.query_selector_all("table.trend td[data-series]"):
        key = (
            td.get_attribute("data-period"),
            td.get_attribute("data-date"),
            td.get_attribute("data-series"),
            td.get_attribute("data-breakdown"),
        )
        out[key] = (td.get_attribute("data-value"), td.inner_text())
    return out


def expected_cells(answer: dict[str, Any]) -> dict[tuple[str, str, str | None, str], Any]:
    return {
        (row.get("period") or "current", row["date"], row["series"], row["breakdown"]): row["value"]
        for row in answer["rows"]
    }


def overflow(pg: Any) -> tuple[int, int]:
    return pg.evaluate("document.documentElement.scrollWidth"), pg.evaluate("window.innerWidth")


# Every control of the page has an accessible name: a <label for>, a wrapping label, aria-label or
# aria-labelledby (inputs, selects); text or aria-label (buttons, links). Hidden ones are skipped.
UNLABELLED = """
(() => {
  const visible = (n) => !!(n.offsetWidth || n.offsetHeight || n.getClientRects().length);
  const named = (n) => {
    if (n.getAttribute("aria-label") || n.getAttribute("aria-labelledby")) return true;
    const texted = ["BUTTON", "A", "SUMMARY"].includes(n.tagName);
    if (texted) return n.textContent.trim() !== "";
    if (n.id && document.querySelector(`label[for="${CSS.escape(n.id)}"]`)) return true;
    return !!n.closest("label");
  };
  const controls = "input:not([type=hidden]), select, textarea, button, a[href], summary";
  return [...document.querySelectorAll(controls)]
    .filter(visible).filter((n) => !named(n)).map((n) => n.outerHTML.slice(0, 120));
})()
"""


def wait_until(check: Any, timeout: float = 30.0, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


def screenshot(pg: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


def unquote_hash(url: str) -> str:
    return unquote(url.split("#", 1)[1])
