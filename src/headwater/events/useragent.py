"""User-agent parsing (uap-core rules via ua-parser) and bot detection, cached."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ua_parser import parse

# Crawlers, monitors and scripted clients that uap-core does not all mark as "Spider".
_BOT_RE = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrape|headless|lighthouse|pingdom|uptime|monitor|"
    r"facebookexternalhit|curl/|wget/|python-requests|python-urllib|go-http-client|okhttp|"
    r"java/|libwww|httpclient|axios/|node-fetch|phantomjs|selenium|puppeteer|playwright",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class UserAgent:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device: str | None
    is_bot: bool

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("browser", "browser_version", "os", "os_version", "device"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def looks_like_browser(ua: str) -> bool:
    """True for a browser's User-Agent header (not a server SDK's like 'analytics-python/2.4')."""
    return ua.startswith("Mozilla/") or ua.startswith("Opera/")


def _version(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ".".join(kept) if kept else None


@lru_cache(maxsize=8192)
def describe_user_agent(ua: str) -> UserAgent:
    text = ua[:1024]
    result = parse(text)
    agent, os, device = result.user_agent, result.os, result.device
    is_bot = (device is not None and device.family == "Spider") or bool(_BOT_RE.search(text))
    return UserAgent(
        browser=agent.family if agent and agent.family != "Other" else None,
        browser_version=_version(agent.major, agent.minor) if agent else None,
        os=os.family if os and os.family != "Other" else None,
        os_version=_version(os.major, os.minor) if os else None,
        device=device.family if device and device.family != "Other" else None,
        is_bot=is_bot,
    )


@lru_cache(maxsize=8192)
def ua_annotation(ua: str) -> tuple[dict[str, Any], bool]:
    """What the log keeps of a user agent: its description (shared, never mutate) and the bot flag."""
    described = describe_user_agent(ua)
    return described.as_dict(), described.is_bot
