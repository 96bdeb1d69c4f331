"""Membership through real ingestion (collector -> log -> audiences tailer -> live store -> enrich),
identity for ads, and the nightly recomputation: equal to live, drift reported and corrected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.stores.live import open_live
from headwater.stores.live.ports import StoreOptions
from tests.e2e.audiences.harness import ADMIN, Harness, bid_request, order
from tests.helpers import cli
from tests.redis_services import RedisServer, private_redis, unique_namespace

__all__ = ["private_redis"]


@pytest.fixture(scope="module")
def hw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("members") / "data").start()
    yield harness
    harness.stop()


def reason(hw: Harness, request: dict[str, Any]) -> str:
    return str(hw.enrich(request).headers["x-headwater-enrichment"])


def test_rules_follow_the_events(hw: Harness) -> None:
    hw.send([order("ann", 5)])  # below the "buyers" filter (total > 10)
    hw.wait_audiences("ann", {"internal"})
    assert reason(hw, bid_request(id="ann")) == "no_segments"  # "internal" is not sendable
    hw.send([order("ann", 20)])  # two orders within 30 days, no refund
    found = hw.wait_audiences("ann", {"buyers", "loyal", "internal"})
    assert found["segments"] == [{"id": "782", "segtax": 4}, {"id": "hw-loyal", "segtax": None}]
    hw.send([{"type": "track", "event": "Refund Requested", "userId": "ann"}])
    hw.wait_audiences("ann", {"buyers", "internal"})


def test_old_events_are_outside_the_window(hw: Harness) -> None:
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    hw.send([order("bob", 20, timestamp=old), order("bob", 20)])
    hw.wait_audiences("bob", {"buyers", "internal"})  # only one order within 30 days: not loyal


def test_the_same_event_twice_counts_once(hw: Harness) -> None:
    twice = order("cid", 20, messageId="same-message-id")
    hw.send([twice, dict(twice)])
    hw.wait_audiences("cid", {"buyers", "internal"})


def test_ad_ids_map_to_the_user(hw: Harness) -> None:
    hw.send(
        [
            {
                "type": "identify",
                "userId": "dee",
                "traits": {"buyeruid": "exch-uid-9", "eids": [{"source": "id5-sync.com", "id": "ID5-abc"}]},
            },
            order("dee", 50, context={"device": {"advertisingId": "AAAA-1111"}}),
            order("dee", 60),
        ]
    )
    hw.wait_audiences("dee", {"buyers", "loyal", "internal"})
    assert reason(hw, {**bid_request(), "device": {"ifa": "AAAA-1111"}}) == "enriched"
    assert reason(hw, bid_request(buyeruid="exch-uid-9")) == "enriched"
    eids = [{"source": "id5-sync.com", "uids": [{"id": "ID5-abc", "atype": 1}]}]
    assert reason(hw, bid_request(eids=eids)) == "enriched"
    assert reason(hw, bid_request(eids=[{"source": "x", "uids": [{"id": "unmapped"}]}])) == "unknown_user"


def test_nightly_equals_live_and_records_sizes(hw: Harness) -> None:
    hw.send([order("eve", 30), order("eve", 40), order("fay", 1)])
    hw.wait_audiences("eve", {"buyers", "loyal", "internal"})
    hw.wait_audiences("fay", {"internal"})
    r = httpx.post(f"{hw.url}/api/v1/audiences/recompute", headers=ADMIN, timeout=60)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["drift"] == 0, report
    assert report["audiences"]["buyers"]["exact"] == report["audiences"]["buyers"]["live"] >= 3
    detail = httpx.get(f"{hw.url}/api/v1/audiences/buyers", headers=ADMIN).json()
    assert detail["sizes"][0]["source"] == "nightly"
    assert detail["sizes"][0]["size"] == report["audiences"]["buyers"]["exact"] == detail["live_size"]
    sizes = cli(hw.data_dir, "audiences", "sizes", "buyers", env=hw.env).stdout
    assert f"buyers\tnightly\t{detail['live_size']}" in sizes


def test_nightly_reports_and_corrects_drift_on_redis(private_redis: RedisServer, tmp_path: Path) -> None:
    namespace = unique_namespace()
    url = f"{private_redis.url}?namespace={namespace}"
    env = {"HEADWATER_REDIS_URL": url}
    hw = Harness(tmp_path / "data", env=env).start()
    try:
        hw.send([order("g1", 20), order("g2", 20), order("g2", 30), order("g3", 2)])
        hw.wait_audiences("g2", {"buyers", "loyal", "internal"})
        hw.wait_audiences("g3", {"internal"})
        # a definition created after the events: the live store knows nothing of it yet
        spenders = {
            "id": "spenders",
            "name": "Spenders",
            "rule": {"event": "Order Completed", "min_count": 2},
        }
        cli(hw.data_dir, "audiences", "create", json.dumps(spenders), env=hw.env)
        store = open_live(url).membership(StoreOptions())
        store.remove_members("buyers", ["g1"])  # the live store lost a member ...
        store.add_members("buyers", ["g3"])  # ... and holds a wrong one
        store.close()

        def recompute(*flags: str) -> dict[str, Any]:
            out = cli(hw.data_dir, "audiences", "recompute", *flags, env=env)
            return dict(json.loads(out.stdout))

        dry = recompute("--dry-run")
        buyers = dry["audiences"]["buyers"]
        assert (buyers["exact"], buyers["live"], buyers["missing"], buyers["extra"]) == (2, 2, 1, 1)
        assert dry["audiences"]["buyers"]["missing_sample"] == ["g1"]
        assert dry["audiences"]["buyers"]["extra_sample"] == ["g3"]
        assert dry["audiences"]["spenders"]["missing"] == 1
        assert recompute("--dry-run")["drift"] == dry["drift"] == 3  # a dry run changes nothing

        fixed = recompute()
        assert fixed["drift"] == 3
        assert recompute()["drift"] == 0
        hw.wait_audiences("g1", {"buyers", "internal"})
        hw.wait_audiences("g2", {"buyers", "loyal", "internal", "spenders"})
        hw.wait_audiences("g3", {"internal"})
        # the seeded stamps let the live tailer go on exactly: one more order keeps g2 in spenders
        hw.send([order("g2", 1)])
        hw.send([order("g1", 1)])  # g1 reaches 2 orders: spenders, from a stamp the nightly seeded
        hw.wait_audiences("g1", {"buyers", "internal", "spenders", "loyal"})
    finally:
        hw.stop()
