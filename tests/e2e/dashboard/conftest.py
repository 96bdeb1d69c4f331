from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.dashboard.browser import FLAGS, Console, chromium_path, login
from tests.e2e.dashboard.support import TOKEN, wait_started
from tests.helpers import Server, cli

DEMO_USERS = "120"
DEMO_DAYS = "40"


@pytest.fixture(scope="package")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server over `headwater demo` data (small: the 10,000-user run is in bench/)."""
    data = tmp_path_factory.mktemp("dashboard") / "data"
    cli(data, "demo", "--users", DEMO_USERS, "--days", DEMO_DAYS)
    srv = Server(data, env={"HEADWATER_ADMIN_TOKEN": TOKEN})
    try:
        srv.start(timeout=60)  # a loaded machine can be slow to start it
        wait_started(srv)  # tailers caught up, default view computed: the tests see a settled server
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any, demo_server: Server) -> Iterator[tuple[Any, Console]]:
    """A signed-in dashboard page, loaded, with its console watched from the start."""
    pg = context.new_page()
    console = Console()
    console.watch(pg)
    login(pg, demo_server.url, TOKEN)
    yield pg, console
