"""The pure endpoint path: unknown users, no audience, a slow or broken store (fail open)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from headwater.targeting.enrich import IdentityKey, Segment
from headwater.targeting.lookup import StaticLookup
from headwater.targeting.pipeline import EnrichSettings, enrich_body
from headwater.targeting.validate import InvalidBidRequest
from tests.targeting.encoding import tcf_core

SETTINGS = EnrichSettings(provider="headwater.example", lookup_timeout_seconds=0.05)
CONSENTED = {"regs": {"gdpr": 1}, "user": {"id": "u1", "consent": tcf_core({1, 3, 4})}}


def body(**parts: object) -> bytes:
    base = {"id": "r", "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}}
    return json.dumps(base | CONSENTED | parts).encode()


class Slow:
    async def segments(self, keys: Sequence[IdentityKey]) -> Sequence[Segment] | None:
        await asyncio.sleep(1)
        return [Segment("1")]


class Broken:
    async def segments(self, keys: Sequence[IdentityKey]) -> Sequence[Segment] | None:
        raise ConnectionError("store down")


def run(data: bytes, lookup: object) -> tuple[str, dict[str, object]]:
    outcome = asyncio.run(enrich_body(data, lookup, SETTINGS))  # type: ignore[arg-type]
    return outcome.reason, outcome.request


def test_enriched() -> None:
    reason, request = run(body(), StaticLookup({"u1": [Segment("782", 4)]}))
    assert reason == "enriched"
    assert request["user"]["data"] == [  # type: ignore[index]
        {"name": "headwater.example", "segment": [{"id": "782"}], "ext": {"segtax": 4}}
    ]


def test_lookup_falls_back_to_lower_priority_ids() -> None:
    request = body(device={"ifa": "ifa-1"})
    assert run(request, StaticLookup({"ifa-1": [Segment("5")]}))[0] == "enriched"


@pytest.mark.parametrize(
    ("lookup", "reason"),
    [
        (StaticLookup({}), "unknown_user"),
        (StaticLookup({"u1": []}), "no_segments"),
        (Slow(), "lookup_timeout"),
        (Broken(), "lookup_error"),
    ],
)
def test_returned_unchanged(lookup: object, reason: str) -> None:
    data = body()
    got_reason, request = run(data, lookup)
    assert got_reason == reason
    assert request == json.loads(data)


def test_no_identity_and_consent_block() -> None:
    anonymous = json.dumps(
        {"id": "r", "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}, "regs": {"gdpr": 0}}
    )
    assert run(anonymous.encode(), StaticLookup({}))[0] == "no_identity"
    assert run(body(device={"lmt": 1}), StaticLookup({"u1": [Segment("1")]}))[0] == "lmt"
    bad_tcf = body(user={"id": "u1", "consent": "not-a-tcf-string"})
    assert run(bad_tcf, StaticLookup({"u1": [Segment("1")]}))[0] == "gdpr_bad_string"


def test_invalid_bodies_raise() -> None:
    with pytest.raises(InvalidBidRequest):
        run(b"{}", StaticLookup({}))
