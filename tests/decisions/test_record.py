"""The decision record: fields from real enrichment outcomes, the consent mapping, the sampling."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from headwater.decisions.record import (
    ALLOWED,
    DENIED,
    NOT_APPLICABLE,
    Formatter,
    consent_outcome,
    sample_threshold,
    sampled,
)
from headwater.targeting.consent import ConsentPolicy, decide
from tests.decisions.records import REFUSED, bid_request, consented, epoch_us, outcome_of, read_lines
from tests.targeting.fixtures import Fixture, requests

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def test_user_found_with_segments() -> None:
    outcome = outcome_of(consented("r1"))
    day, line = Formatter("w1").line(
        (
            epoch_us("2026-03-27T10:15:02.000042"),
            "r1",
            outcome.reason,
            outcome.consent,
            outcome.segments,
            0.0000414,
        )
    )
    assert str(day) == "2026-03-27"
    record = json.loads(line)
    assert record["id"] == f"r1:w1:{epoch_us('2026-03-27T10:15:02.000042')}"
    assert (record["request_id"], record["timestamp"], record["writer"]) == (
        "r1",
        "2026-03-27T10:15:02.000042Z",
        "w1",
    )
    assert (record["user_found"], record["segments"], record["segment_count"]) == (True, "782,hw-loyal", 2)
    assert (record["consent"], record["reason"], record["latency_us"]) == (ALLOWED, "enriched", 41)


@pytest.mark.parametrize(
    ("request_", "user_found", "consent", "reason"),
    [
        (bid_request("r", user="never-seen"), False, NOT_APPLICABLE, "unknown_user"),
        (bid_request("r", user="no-audience"), True, NOT_APPLICABLE, "no_segments"),
        (bid_request("r", user=None), False, NOT_APPLICABLE, "no_identity"),
        (bid_request("r", gdpr=0, us_privacy="1YNN"), True, ALLOWED, "enriched"),
        (bid_request("r", gdpr=0, us_privacy="1YYN"), False, DENIED, "us_privacy"),
        (bid_request("r", gdpr=0, coppa=1), False, DENIED, "coppa"),
        (consented("r", consent=REFUSED), False, DENIED, "gdpr_no_consent"),
        (consented("r", consent="not-a-tcf-string"), False, DENIED, "gdpr_bad_string"),
        (consented("r", user="never-seen"), False, ALLOWED, "unknown_user"),
    ],
)
def test_outcomes(request_: dict[str, Any], user_found: bool, consent: str, reason: str) -> None:
    outcome = outcome_of(request_)
    record = json.loads(
        Formatter("w").line((0, "r", outcome.reason, outcome.consent, outcome.segments, 0.0))[1]
    )
    assert (record["user_found"], record["consent"], record["reason"]) == (user_found, consent, reason)
    if reason != "enriched":
        assert (record["segments"], record["segment_count"]) == ("", 0)


@pytest.mark.parametrize("fx", requests(valid=True), ids=lambda fx: fx.name)
def test_consent_mapping_of_the_shared_fixtures(fx: Fixture) -> None:
    """denied exactly when a gate refused; not_applicable only when no signal applied (GDPR not
    presumed): a fixture without regs is denied by default and not_applicable without the presumption."""
    request = fx.json()
    for policy in (ConsentPolicy(), ConsentPolicy(gdpr_unknown_applies=False)):
        decision = decide(request, policy)
        mapped = consent_outcome(decision)
        assert (mapped == DENIED) == (not decision.allowed)
        if mapped == NOT_APPLICABLE:
            regs = request.get("regs") or {}
            assert not regs.get("us_privacy") and not regs.get("gpp") and regs.get("gdpr") != 1
    assert consent_outcome(None) == NOT_APPLICABLE


def test_timestamp_is_utc_with_microseconds_and_the_day_is_the_timestamps() -> None:
    formatter = Formatter("w")
    day_a, last = formatter.line(
        (epoch_us("2026-03-27T23:59:59.999999"), "a", "no_identity", None, None, 0.0)
    )
    day_b, first = formatter.line((epoch_us("2026-03-28T00:00:00"), "b", "no_identity", None, None, 0.0))
    stamps = json.loads(last)["timestamp"], json.loads(first)["timestamp"]
    assert stamps == ("2026-03-27T23:59:59.999999Z", "2026-03-28T00:00:00.000000Z")
    assert (str(day_a), str(day_b)) == ("2026-03-27", "2026-03-28")
    assert all(STAMP.match(stamp) for stamp in stamps)


def test_lines_are_json_with_exactly_the_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    outcome = outcome_of(consented('quote"and\\back'))
    by_day = Formatter("w").lines(
        [
            (
                epoch_us("2026-03-27T10:00:00"),
                'quote"and\\back',
                outcome.reason,
                outcome.consent,
                outcome.segments,
                0.001,
            )
        ]
    )
    ((data, count),) = by_day.values()
    path.write_bytes(data)
    assert count == 1
    (record,) = read_lines(path)
    assert record["request_id"] == 'quote"and\\back' and record["latency_us"] == 1000


def test_sampling_is_a_pure_function_of_the_request_id() -> None:
    ids = [str(uuid.uuid4()) for _ in range(20_000)] + [f"req-{i}" for i in range(20_000)]
    half = sample_threshold(0.5)
    kept = [i for i in ids if sampled(i, half)]
    assert 0.48 < len(kept) / len(ids) < 0.52
    assert kept == [i for i in ids if sampled(i, sample_threshold(0.5))]  # the same answer again
    assert all(sampled(i, sample_threshold(1.0)) for i in ids[:1000])
    assert not any(sampled(i, sample_threshold(0.0)) for i in ids[:1000])
    tenth = [i for i in ids if sampled(i, sample_threshold(0.1))]
    assert set(tenth) <= set(kept) and 0.09 < len(tenth) / len(ids) < 0.11  # nested samples
