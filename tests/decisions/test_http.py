"""Decisions of POST /openrtb2/enrich on a real server: written by the worker, sampled, or not at all."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.decisions.record import sample_threshold, sampled
from headwater.log.files import list_log_files
from tests.decisions.records import REFUSED, bid_request, consented, read_lines
from tests.e2e.audiences.harness import Harness, order
from tests.targeting.fixtures import requests

FIXTURES = {fx.name: fx for fx in requests(valid=True)}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def decisions(data_dir: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for lf in list_log_files(data_dir / "log", "decisions"):
        out += read_lines(lf.path)
    return out


def wait_for(data_dir: Path, request_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every decision written so far, once ``request_id``'s is among them (the buffer is FIFO)."""
    deadline = time.monotonic() + timeout
    while True:
        found = decisions(data_dir)
        if any(d["request_id"] == request_id for d in found):
            return found
        assert time.monotonic() < deadline, f"no decision for {request_id} in {timeout} s"
        time.sleep(0.05)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def with_id(request: dict[str, Any], request_id: str) -> dict[str, Any]:
    return {**request, "id": request_id}


@pytest.fixture(scope="module")
def hw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("decisions") / "data").start()  # default sample: 1
    harness.send([order("known-user", 50), order("known-user", 60)])
    harness.wait_audiences("known-user", {"buyers", "loyal", "internal"})
    yield harness
    harness.stop()


def one(hw: Harness, request: dict[str, Any], reason: str) -> dict[str, Any]:
    r = hw.enrich(request)
    assert r.status_code == 200 and r.headers["x-headwater-enrichment"] == reason, r.text
    (record,) = [d for d in wait_for(hw.data_dir, request["id"]) if d["request_id"] == request["id"]]
    assert record["id"].startswith(f"{request['id']}:{hw.server.writer_id}:")
    assert record["writer"] == hw.server.writer_id
    assert STAMP.match(record["timestamp"])
    written = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - written).total_seconds()) < 30
    assert 0 < record["latency_us"] < 1_000_000
    return record


def test_user_found_with_segments(hw: Harness) -> None:
    record = one(hw, consented(unique("found")), "enriched")
    assert record["user_found"] is True
    assert (record["segments"], record["segment_count"]) == ("782,hw-loyal", 2)  # not the private one
    assert (record["consent"], record["reason"]) == ("allowed", "enriched")


def test_user_not_found(hw: Harness) -> None:
    record = one(hw, bid_request(unique("unknown"), user="never-seen"), "unknown_user")
    assert (record["user_found"], record["segments"], record["segment_count"]) == (False, "", 0)
    assert (record["consent"], record["reason"]) == ("not_applicable", "unknown_user")


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("spec2.6md_6-2-1-example-1-simple-banner.json", "gdpr_no_consent"),  # GDPR presumed, no string
        ("exchange__exchangetest__ccpa-nosale-any-bidder.json", "us_privacy"),
        ("exchange__exchangetest__lmt-featureflag-on.json", "lmt"),
        ("adapters__smaato__smaatotest__exemplary__simple-banner.json", "coppa"),
    ],
)
def test_consent_denied_fixture(hw: Harness, fixture: str, reason: str) -> None:
    record = one(hw, with_id(FIXTURES[fixture].json(), unique("denied")), reason)
    assert (record["consent"], record["reason"]) == ("denied", reason)
    assert (record["user_found"], record["segments"], record["segment_count"]) == (False, "", 0)


def test_consent_string_refusing_purpose_4(hw: Harness) -> None:
    record = one(hw, consented(unique("refused"), consent=REFUSED), "gdpr_no_consent")
    assert (record["consent"], record["user_found"], record["segments"]) == ("denied", False, "")


def test_refused_requests_are_no_decisions(hw: Harness) -> None:
    bad = unique("invalid")
    assert hw.enrich({"id": bad, "site": {"page": "p"}}).status_code == 400
    unauthorized = bid_request(unique("unauthorized"))
    r = httpx.post(f"{hw.url}/openrtb2/enrich", json=unauthorized, timeout=10)
    assert r.status_code == 401
    found = wait_for(
        hw.data_dir, one(hw, bid_request(unique("after"), user=None), "no_identity")["request_id"]
    )
    assert not [d for d in found if d["request_id"] in (bad, unauthorized["id"])]


def test_counted_on_metrics_and_readyz(hw: Harness) -> None:
    def logged() -> float:
        text = hw.server.metrics()
        return sum(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("headwater_decisions_logged_total")
        )

    before = logged()
    one(hw, bid_request(unique("metrics"), user="never-seen"), "unknown_user")
    assert logged() >= before + 1
    checks = hw.server.checks()
    assert checks["decisions"]["sample"] == 1.0 and checks["decisions"]["dropped"] == 0


def test_sample_half_keeps_the_same_requests_each_time(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "data", env={"HEADWATER_DECISION_SAMPLE": "0.5"}).start()
    try:
        ids = [f"half-{i}" for i in range(300)]
        for _ in range(2):  # every request twice: both kept, or both left out
            for request_id in ids:
                assert harness.enrich(bid_request(request_id, user="never-seen")).status_code == 200
        half = sample_threshold(0.5)
        sentinel = next(f"sentinel-{i}" for i in range(1000) if sampled(f"sentinel-{i}", half))
        harness.enrich(bid_request(sentinel, user="never-seen"))
        counts = Counter(d["request_id"] for d in wait_for(harness.data_dir, sentinel))
    finally:
        harness.stop()
    kept = {i for i in ids if counts[i]}
    assert 0.4 < len(kept) / len(ids) < 0.6
    assert all(counts[i] == 2 for i in kept)
    assert kept == {i for i in ids if sampled(i, half)}  # the documented hash, in every worker


def test_sample_zero_writes_nothing_and_runs_no_thread(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "data", env={"HEADWATER_DECISION_SAMPLE": "0"}).start()
    try:
        for i in range(20):
            assert harness.enrich(bid_request(f"off-{i}", user="never-seen")).status_code == 200
        checks = harness.server.checks()
        time.sleep(1.5)  # more than a flush interval
    finally:
        harness.stop()
    assert "decisions" not in checks  # no decision log service, so no thread
    log_dir = harness.data_dir / "log"
    assert list_log_files(log_dir, "decisions") == []
    assert not [p for p in log_dir.iterdir() if p.name.startswith("decisions")] if log_dir.is_dir() else True
