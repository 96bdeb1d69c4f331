"""validate -> consent -> identity -> lookup -> enrich: the whole of `POST /openrtb2/enrich` but HTTP.

The HTTP layer answers 413 when `validate.too_large(len(body))`, 400 with `str(error)` on
`InvalidBidRequest`, and otherwise 200 with `outcome.request` (when `outcome.changed` is false it
may send the original body bytes as they came) and `outcome.reason` in a response header, counting
the reasons. A slow or failing lookup never fails the request: it is returned unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.targeting.consent import ConsentDecision, ConsentPolicy, decide
from headwater.targeting.enrich import Segment, enrich, identity_candidates
from headwater.targeting.lookup import AudienceLookup
from headwater.targeting.validate import parse

ENRICHED = "enriched"
OUTCOMES = (ENRICHED, "no_identity", "unknown_user", "no_segments", "lookup_timeout", "lookup_error")


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    provider: str  # the `name` of our user.data entries: the configured provider domain
    policy: ConsentPolicy = field(default_factory=ConsentPolicy)
    lookup_timeout_seconds: float = 0.003


@dataclass(frozen=True, slots=True)
class EnrichOutcome:
    request: dict[str, Any]
    reason: str  # ENRICHED, one of OUTCOMES, or a consent reason code
    consent: ConsentDecision | None = None  # the consent gate's decision (None: not asked)
    #: what the lookup found: the user's sendable segments, None when no user was found (or no
    #: lookup was made: consent refused, no identity, timeout, error)
    segments: Sequence[Segment] | None = None

    @property
    def changed(self) -> bool:
        return self.reason == ENRICHED


def apply_segments(
    request: dict[str, Any],
    segments: Sequence[Segment] | None,
    provider: str,
    consent: ConsentDecision | None = None,
) -> EnrichOutcome:
    if segments is None:
        return EnrichOutcome(request, "unknown_user", consent)
    if not segments:
        return EnrichOutcome(request, "no_segments", consent, segments)
    return EnrichOutcome(enrich(request, segments, provider), ENRICHED, consent, segments)


async def enrich_request(
    request: dict[str, Any], lookup: AudienceLookup, settings: EnrichSettings
) -> EnrichOutcome:
    """Enrich a validated request, or return it unchanged with the reason why not."""
    decision = decide(request, settings.policy)
    if not decision.allowed:
        return EnrichOutcome(request, decision.reason, decision)
    keys = identity_candidates(request)
    if not keys:
        return EnrichOutcome(request, "no_identity", decision)
    try:  # asyncio.timeout, not wait_for: no task per request, the lookup runs in this one
        async with asyncio.timeout(settings.lookup_timeout_seconds):
            segments = await lookup.segments(keys)
    except TimeoutError:
        return EnrichOutcome(request, "lookup_timeout", decision)
    except Exception:  # fail open: the exchange gets its request back, the reason is counted
        return EnrichOutcome(request, "lookup_error", decision)
    return apply_segments(request, segments, settings.provider, decision)


async def enrich_body(body: bytes, lookup: AudienceLookup, settings: EnrichSettings) -> EnrichOutcome:
    """Parse (raising InvalidBidRequest) and enrich a request body."""
    return await enrich_request(parse(body), lookup, settings)
