"""Debian's Chromium driven by Playwright (never `playwright install`), with the flags that keep
it quiet on a closed network, and the dashboard's login and readiness steps."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
# Every panel: after `headwater demo` each has data (the demo defines an experiment and audiences).
DATA_PANELS = [
    "headline",
    "activity",
    "live",
    "health",
    "features",
    "preferences",
    "stickiness",
    "retention",
    "funnel",
    "lifecycle",
    "experiments",
    "audiences",
]


def chromium_path() -> str:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is needed for the dashboard tests: apt-get install chromium")
    return str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))


@dataclass
class Console:
    """Console errors and warnings, and uncaught page errors, of one page."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: self.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        # which request failed (the console only says "Failed to load resource")
        page.on(
            "response",
            lambda r: self.problems.append(f"response: {r.status} {r.url}") if r.status >= 400 else None,
        )


def login(page: Any, base_url: str, token: str) -> None:
    page.goto(base_url + "/dashboard/")
    page.fill("#token", token)
    page.click("#token-form button[type=submit]")
    wait_ready(page)


def wait_ready(page: Any, timeout_ms: int = 60_000) -> None:
    # Selectors, not wait_for_function: the page's CSP forbids eval, which that uses.
    page.wait_for_selector("body[data-ready]", state="attached", timeout=timeout_ms)
    assert page.get_attribute("body", "data-ready") == "true", page.inner_text("main")[:500]


def wait_loads(page: Any, count: int, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector(f'body[data-loads="{count}"]', state="attached", timeout=timeout_ms)


def tile_value(page: Any, panel: str, metric: str) -> float | None:
    text = page.get_attribute(f'#{panel} .tile[data-metric="{metric}"]', "data-value")
    return float(text) if text not in (None, "") else None
