"""POST /openrtb2/enrich on a real server: every fixture, limits, auth, consent, outcomes on /metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.targeting.enrich import IAB_AUDIENCE_1_1, Segment, enrich, identity_candidates
from headwater.targeting.validate import validate
from tests.e2e.audiences.harness import PROVIDER, Harness, bid_request, order
from tests.helpers import cli
from tests.targeting.encoding import tcf_core
from tests.targeting.fixtures import requests

VALID = requests(valid=True)
INVALID = requests(valid=False)
SEGMENTS = [Segment("782", IAB_AUDIENCE_1_1), Segment("hw-loyal")]


@pytest.fixture(scope="module")
def hw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("enrich") / "data").start()
    # every id of every valid fixture is a user of ours in "buyers" and "loyal"
    ids = {k.value for fx in VALID for k in identity_candidates(fx.json())}
    batch: list[dict[str, Any]] = []
    for user in [*sorted(ids), "known-user"]:
        batch += [order(user, 50), order(user, 60)]
    batch.append({"type": "identify", "userId": "nobody-special", "traits": {"plan": "free"}})
    harness.send(batch)
    harness.wait_audiences("known-user", {"buyers", "loyal", "internal"})
    harness.wait_audiences("nobody-special", set())
    yield harness
    harness.stop()


def check_fixture(hw: Harness, fx: Any) -> str:
    original = fx.json()
    r = hw.enrich(fx.text)
    assert r.status_code == 200, r.text
    reason = str(r.headers["x-headwater-enrichment"])
    got = r.json()
    if reason == "enriched":
        assert got == enrich(original, SEGMENTS, PROVIDER), fx.name
        ours = [d for d in got["user"]["data"] if d.get("name") == PROVIDER]
        assert ours == [
            {"name": PROVIDER, "segment": [{"id": "782"}], "ext": {"segtax": 4}},
            {"name": PROVIDER, "segment": [{"id": "hw-loyal"}]},
        ]
    else:
        assert r.content == fx.text  # the bytes as sent
    validate(got)  # still passes the same validation
    return reason


def wait_gdpr_presumed(hw: Harness, presumed: bool, timeout: float = 10.0) -> None:
    """Until the server applies the setting: a request that says nothing of GDPR (and carries no
    consent) is refused with ``gdpr_no_consent`` exactly when GDPR is presumed to apply."""
    silent = {k: v for k, v in bid_request(id="known-user").items() if k != "regs"}
    deadline = time.monotonic() + timeout
    while True:
        reason = hw.enrich(silent).headers["x-headwater-enrichment"]
        if (reason == "gdpr_no_consent") == presumed:
            return
        assert time.monotonic() < deadline, f"gdpr_unknown_applies={presumed} not applied: {reason}"
        time.sleep(0.05)


@pytest.mark.parametrize("fx", VALID, ids=[fx.name for fx in VALID])
def test_valid_fixture_comes_back_unchanged_but_our_entry(hw: Harness, fx: Any) -> None:
    check_fixture(hw, fx)


def test_valid_fixtures_enriched_when_gdpr_is_not_presumed(hw: Harness) -> None:
    """With gdpr_unknown_applies = false most fixtures are enriched: compare each with the pure result."""
    cli(hw.data_dir, "audiences", "settings", "gdpr_unknown_applies", "false", env=hw.env)
    try:
        wait_gdpr_presumed(hw, False)  # the server re-reads its settings every half second
        reasons = {fx.name: check_fixture(hw, fx) for fx in VALID}
    finally:
        cli(hw.data_dir, "audiences", "settings", "gdpr_unknown_applies", "true", env=hw.env)
        wait_gdpr_presumed(hw, True)
    enriched = [name for name, reason in reasons.items() if reason == "enriched"]
    assert len(enriched) >= len(VALID) // 2, reasons
    assert {"coppa", "us_privacy"} <= set(reasons.values())


@pytest.mark.parametrize("fx", INVALID, ids=[fx.name for fx in INVALID])
def test_invalid_fixture_is_400_naming_the_field(hw: Harness, fx: Any) -> None:
    r = hw.enrich(fx.text)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"].startswith("request")
    assert r.headers["x-headwater-enrichment"] == "invalid"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "r", "site": {"page": "p"}}, "request.imp"),
        ({"id": "r", "imp": [], "site": {"page": "p"}}, "request.imp"),
        (
            {"id": "r", "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}, "app": {"id": "a"}},
            "request.app",
        ),
        ({"id": "r", "tmax": -1, "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}}, "request.tmax"),
        (
            {"id": "r", "imp": [{"id": "1", "banner": {}}], "site": {"page": "p"}, "regs": {"gdpr": 2}},
            "request.regs.gdpr",
        ),
    ],
)
def test_prebid_refusals_name_the_field(hw: Harness, body: dict[str, Any], field: str) -> None:
    r = hw.enrich(body)
    assert r.status_code == 400
    assert r.json()["error"]["field"] == field
    assert field in r.json()["error"]["message"]


def test_not_json_is_400(hw: Harness) -> None:
    r = hw.enrich(b"{not json")
    assert r.status_code == 400 and r.json()["error"]["field"] == "request"


def test_over_5_mb_is_413_declared_or_streamed(hw: Harness) -> None:
    big = json.dumps({**bid_request(id="known-user"), "ext": {"pad": "x" * (5 * 1024 * 1024)}}).encode()
    assert hw.enrich(big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = httpx.post(
        f"{hw.url}/openrtb2/enrich",
        content=chunks(),
        headers={"Authorization": f"Bearer {hw.enrich_key}"},
        timeout=10,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    just_under = json.dumps(bid_request(id="known-user")).encode()
    assert hw.enrich(just_under).status_code == 200


def test_unknown_user_and_user_in_no_audience_come_back_unchanged(hw: Harness) -> None:
    for user, reason in (("never-seen", "unknown_user"), ("nobody-special", "no_segments")):
        body = json.dumps(bid_request(id=user)).encode()
        r = hw.enrich(body)
        assert r.status_code == 200
        assert r.headers["x-headwater-enrichment"] == reason
        assert r.content == body


def test_known_user_gets_sendable_segments_only(hw: Harness) -> None:
    other = {"name": "other.example", "segment": [{"id": "9"}], "ext": {"segtax": 4, "x": 1}}
    stale = {"name": PROVIDER, "segment": [{"id": "old"}]}
    request = bid_request(id="known-user", data=[stale, other], ext={"unknown": {"a": [1, 2]}})
    r = hw.enrich(request)
    assert r.headers["x-headwater-enrichment"] == "enriched"
    data = r.json()["user"]["data"]
    assert data[-1] == other and stale not in data
    assert [d["segment"] for d in data if d.get("name") == PROVIDER] == [
        [{"id": "782"}],
        [{"id": "hw-loyal"}],
    ]
    assert r.json()["user"]["ext"] == {"unknown": {"a": [1, 2]}}


def test_tcf_string_that_does_not_decode_means_no_enrichment(hw: Harness) -> None:
    request = bid_request(id="known-user", consent="not-a-tcf-string")
    request["regs"] = {"gdpr": 1}
    body = json.dumps(request).encode()
    r = hw.enrich(body)
    assert r.status_code == 200 and r.content == body
    assert r.headers["x-headwater-enrichment"] == "gdpr_bad_string"
    granted = {**request, "user": {"id": "known-user", "consent": tcf_core({1, 3, 4})}}
    assert hw.enrich(granted).headers["x-headwater-enrichment"] == "enriched"
    refused = {**request, "user": {"id": "known-user", "consent": tcf_core({1, 3})}}
    assert hw.enrich(refused).headers["x-headwater-enrichment"] == "gdpr_no_consent"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"regs": {"coppa": 1, "gdpr": 0}}, "coppa"),
        ({"device": {"lmt": 1}}, "lmt"),
        ({"regs": {"gdpr": 0, "us_privacy": "1YYN"}}, "us_privacy"),
        ({"regs": {"gdpr": 0, "ext": {"gpc": "1"}}}, "gpc"),
        ({"regs": {}}, "gdpr_no_consent"),  # unknown GDPR applicability: treated as applying
    ],
)
def test_consent_gates(hw: Harness, change: dict[str, Any], reason: str) -> None:
    body = json.dumps({**bid_request(id="known-user"), **change}).encode()
    r = hw.enrich(body)
    assert r.headers["x-headwater-enrichment"] == reason
    assert r.content == body


def test_reasons_are_counted_on_metrics(hw: Harness) -> None:
    def count(reason: str) -> float:
        text = hw.server.metrics()
        line = f'headwater_openrtb_enrich_total{{reason="{reason}"}}'
        return sum(float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(line))

    before = count("lmt"), count("enriched")
    hw.enrich({**bid_request(id="known-user"), "device": {"lmt": 1}})
    hw.enrich(bid_request(id="known-user"))
    assert (count("lmt"), count("enriched")) == (before[0] + 1, before[1] + 1)


def test_api_key_required_and_revocable(hw: Harness, tmp_path: Path) -> None:
    body = bid_request(id="known-user")
    r = httpx.post(f"{hw.url}/openrtb2/enrich", json=body, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert hw.enrich(body, Authorization="Bearer wrong").status_code == 401
    key = cli(hw.data_dir, "audiences", "keys", "create", "second").stdout.split()[-1]
    ok = httpx.post(f"{hw.url}/openrtb2/enrich", json=body, headers={"X-Api-Key": key}, timeout=10)
    for _ in range(40):
        if ok.status_code == 200:
            break
        ok = httpx.post(f"{hw.url}/openrtb2/enrich", json=body, headers={"X-Api-Key": key}, timeout=10)
        time.sleep(0.05)
    assert ok.status_code == 200
    cli(hw.data_dir, "audiences", "keys", "revoke", "second")
    deadline = time.monotonic() + 10
    gone = ok
    while gone.status_code != 401 and time.monotonic() < deadline:
        time.sleep(0.05)
        gone = httpx.post(f"{hw.url}/openrtb2/enrich", json=body, headers={"X-Api-Key": key}, timeout=10)
    assert gone.status_code == 401
