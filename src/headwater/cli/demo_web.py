"""The demo's web traffic: who browses from where, and which pages they see.

Each simulated person keeps one device (a real browser's User-Agent, so the derived browser, OS
and device type are those a site sees), one country, and the source their first visit came from
(a search engine, a social link, a newsletter with UTM tags, a launch site, or typed in). Their
first visit lands on a page of the site and reads /pricing and /signup before signing up; later
visits open the app, sometimes by way of the docs or the blog. Page events carry
``context.page`` (path, url, referrer, title) as analytics.js sends them, so web analytics and
page paths have something to show after ``headwater demo``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

SITE = "https://example.com"
# (User-Agent, weight): current desktop and mobile browsers, as they send it
DEVICES = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        38,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        17,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 7),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        8,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        16,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        14,
    ),
]
COUNTRIES = [
    ("US", 30),
    ("DE", 11),
    ("GB", 10),
    ("FR", 9),
    ("KR", 8),
    ("JP", 8),
    ("IN", 9),
    ("BR", 8),
    ("CA", 7),
]
# (referrer, UTM campaign context or None, weight): where a first visit comes from
SOURCES: list[tuple[str | None, dict[str, str] | None, int]] = [
    ("https://www.google.com/", None, 34),
    (None, None, 26),
    ("https://t.co/", None, 7),
    ("https://github.com/", None, 7),
    (None, {"source": "newsletter", "medium": "email", "name": "winter-launch"}, 12),
    (
        "https://www.producthunt.com/",
        {"source": "producthunt", "medium": "referral", "name": "launch-day"},
        6,
    ),
    ("https://www.linkedin.com/", {"source": "linkedin", "medium": "social", "name": "winter-launch"}, 8),
]
LANDINGS = [("/", 50), ("/pricing", 15), ("/blog/launch", 20), ("/docs", 15)]
UTM = {"utm_source": "source", "utm_medium": "medium", "utm_campaign": "name"}  # URL tag: campaign key
TITLES = {
    "/": "Home",
    "/pricing": "Pricing",
    "/signup": "Sign up",
    "/blog/launch": "We launched",
    "/docs": "Docs",
    "/docs/getting-started": "Getting started",
    "/app": "App",
}


def pick(rng: random.Random, choices: list[tuple[Any, int]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


@dataclass(frozen=True, slots=True)
class Visitor:
    """One person's browser, country and first source."""

    user_agent: str
    country: str
    referrer: str | None
    campaign: dict[str, str] | None

    @classmethod
    def draw(cls, rng: random.Random) -> Visitor:
        referrer, campaign, _ = rng.choices(SOURCES, weights=[w for *_, w in SOURCES])[0]
        return cls(pick(rng, DEVICES), pick(rng, COUNTRIES), referrer, campaign)

    def context(self) -> dict[str, Any]:
        """What every event of this person carries besides traits."""
        return {"userAgent": self.user_agent, "location": {"country": self.country}}


def first_visit(rng: random.Random, visitor: Visitor) -> list[dict[str, Any]]:
    """The page events' fields of a first visit, up to the sign-up."""
    landing = pick(rng, LANDINGS)
    paths = [landing] + [p for p in ("/pricing", "/signup") if p != landing]
    return _pages(paths, visitor.referrer, visitor.campaign)


def return_visit(rng: random.Random) -> list[dict[str, Any]]:
    """The page events' fields of a later visit: the app, now and then by way of the docs or the blog."""
    roll = rng.random()
    if roll < 0.12:
        paths = ["/docs", "/docs/getting-started", "/app"]
    elif roll < 0.2:
        paths = ["/blog/launch", "/app"]
    else:
        paths = ["/app"]
    return _pages(paths, None, None)


def _pages(paths: list[str], referrer: str | None, campaign: dict[str, str] | None) -> list[dict[str, Any]]:
    out = []
    for n, path in enumerate(paths):
        url = SITE + path
        if n == 0 and campaign:  # the landing URL carries the UTM tags the campaign context holds
            url += "?" + urlencode({tag: campaign[key] for tag, key in UTM.items()})
        page: dict[str, Any] = {"path": path, "url": url, "title": TITLES[path]}
        ref = referrer if n == 0 else SITE + paths[n - 1]
        if ref:
            page["referrer"] = ref
        fields: dict[str, Any] = {"name": TITLES[path], "properties": dict(page), "context": {"page": page}}
        if n == 0 and campaign:
            fields["context"]["campaign"] = dict(campaign)
        out.append(fields)
    return out
