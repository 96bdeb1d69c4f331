"""Decisions made by the real enrichment pipeline (StaticLookup in place of the live store), and
the decision files read back."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.decisions.record import COLUMNS
from headwater.targeting.enrich import IAB_AUDIENCE_1_1, Segment
from headwater.targeting.lookup import StaticLookup
from headwater.targeting.pipeline import EnrichOutcome, EnrichSettings, enrich_body
from tests.targeting.encoding import tcf_core

SETTINGS = EnrichSettings(provider="headwater.example", lookup_timeout_seconds=0.5)
LOOKUP = StaticLookup(
    {"known-user": [Segment("782", IAB_AUDIENCE_1_1), Segment("hw-loyal")], "no-audience": []}
)
GRANTED = tcf_core({1, 3, 4})  # purposes 3 and 4: enrichment allowed under GDPR
REFUSED = tcf_core({1, 3})  # purpose 4 missing: gdpr_no_consent


def bid_request(request_id: str, user: str | None = "known-user", **regs: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "id": request_id,
        "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
        "site": {"page": "https://example.com/"},
        "regs": regs or {"gdpr": 0},
    }
    if user is not None:
        request["user"] = {"id": user}
    return request


def consented(request_id: str, user: str | None = "known-user", consent: str = GRANTED) -> dict[str, Any]:
    request = bid_request(request_id, user, gdpr=1)
    request.setdefault("user", {})["consent"] = consent
    return request


def outcome_of(request: dict[str, Any] | bytes) -> EnrichOutcome:
    body = request if isinstance(request, bytes) else json.dumps(request).encode()
    return asyncio.run(enrich_body(body, LOOKUP, SETTINGS))


def epoch_us(text: str) -> int:
    """Microseconds since the epoch of an ISO time (UTC)."""
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def read_lines(path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    for record in records:
        assert list(record) == list(COLUMNS), record
    return records
