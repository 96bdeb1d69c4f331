"""The nightly audience recompute in a cluster (docs/scale-out.md): the host that runs it sees the
lake (every host's shipped hours) and its own log, not what another host received since its last
hourly part. That host's audiences tailer keeps those events as stamps in the shared live store
(real Redis here), and the cluster's recompute evaluates everyone over both: a member whose order
reached the other host stays; an expired window still goes. The recompute of one host alone
(``every_host=False``) would drop that member: the difference is what this tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from headwater.audiences.definitions import Definitions
from headwater.audiences.service import NIGHTLY_JOB, AudienceService, recompute_now
from headwater.audiences.state import AudienceState
from headwater.audiences.tailer import AudienceEvent, fold, reconcile_users
from headwater.config import Settings
from headwater.stores.live import open_live
from headwater.stores.live.ports import StoreOptions
from headwater.stores.sql.audiences import AudienceCatalog
from headwater.stores.sql.leases import LeaseStore
from tests.batch.logdata import ev, write_log
from tests.helpers import cli
from tests.redis_services import RedisServer, private_redis, unique_namespace

__all__ = ["private_redis"]

RECENT = {"id": "recent", "name": "Recent buyers", "rule": {"event": "Order Completed", "within_days": 7}}


def _order(user: str, when: datetime, mid: str) -> dict[str, Any]:
    return ev(when.strftime("%Y-%m-%dT%H:%M:%SZ"), user=user, event="Order Completed", mid=mid)


def _as_tailer(state: AudienceState, definitions: Definitions, rows: list[dict[str, Any]]) -> None:
    """What another host's audiences tailer does with its events (audiences/tailer.py apply)."""
    compiled = definitions.refresh(force=True).compiled
    events = [msgspec.json.decode(json.dumps(r), type=AudienceEvent) for r in rows]
    folded = fold(events, compiled)
    state.ids.map_ids(folded.ids)
    state.membership.add_stamps(folded.stamps, {c.key: c.keep for c in compiled.conditions.values()})
    reconcile_users(state.membership, compiled, sorted(folded.users), datetime.now(UTC))


def test_the_cluster_recompute_keeps_what_other_hosts_saw_since_their_last_part(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    url = f"{private_redis.url}?namespace={unique_namespace()}"
    data = tmp_path / "data"
    now = datetime.now(UTC)
    # this host's log: a1 ordered an hour ago
    write_log(data, [_order("a1", now - timedelta(hours=1), "a-1")])
    cli(data, "audiences", "create", json.dumps(RECENT), env={"HEADWATER_REDIS_URL": url})
    settings = Settings(data_dir=data, redis_url=url)  # type: ignore[call-arg]
    live = open_live(url)
    state = AudienceState.open(live, StoreOptions())
    definitions = Definitions(AudienceCatalog(settings.effective_database_url))
    try:
        # another host: b1 ordered 20 minutes ago (not in this host's lake or log yet); b2's only
        # order is 10 days old, out of the 7-day window (its membership expired since)
        _as_tailer(state, definitions, [_order("b1", now - timedelta(minutes=20), "b-1")])
        _as_tailer(state, definitions, [_order("b2", now - timedelta(days=10), "b-2")])
        state.membership.add_members("recent", ["b2"])  # as it was while the window held it
        assert state.membership.audience_members("recent") == {"b1", "b2"}

        alone = recompute_now(settings, state, definitions, dry_run=True, every_host=False)
        assert alone["audiences"]["recent"]["extra_sample"] == ["b1", "b2"]  # one host's view drops b1

        dry = recompute_now(settings, state, definitions, dry_run=True, every_host=True)
        recent = dry["audiences"]["recent"]
        assert dry["every_host"] is True
        assert (recent["missing_sample"], recent["extra_sample"]) == (["a1"], ["b2"]), recent
        assert state.membership.audience_members("recent") == {"b1", "b2"}  # a dry run changes nothing

        done = recompute_now(settings, state, definitions, every_host=True)
        assert done["drift"] == 2
        assert state.membership.audience_members("recent") == {"a1", "b1"}
        assert recompute_now(settings, state, definitions, every_host=True)["drift"] == 0
    finally:
        definitions.catalog.close()
        state.close()


def test_one_host_at_a_time_runs_the_cluster_recompute(
    private_redis: RedisServer, tmp_path: Path, pg_url: str
) -> None:
    url = f"{private_redis.url}?namespace={unique_namespace()}"
    data = tmp_path / "data"
    write_log(data, [_order("a1", datetime.now(UTC) - timedelta(hours=1), "a-1")])
    settings = Settings(  # type: ignore[call-arg]
        data_dir=data,
        redis_url=url,
        database_url=pg_url,
        object_store_url="gs://unused-bucket/hw",  # a cluster needs one; the recompute does not read it
        cluster=True,
        writer_id="host-a",
    )
    env = {"HEADWATER_REDIS_URL": url, "HEADWATER_DATABASE_URL": pg_url}
    cli(data, "audiences", "create", json.dumps(RECENT), env=env)
    service = AudienceService(settings, open_live(url), nightly=True)
    try:
        with LeaseStore(pg_url) as leases:
            other = leases.acquire(NIGHTLY_JOB, "host-b@elsewhere:1", 60)
            assert other is not None
            assert service._recompute_held() is None  # host-b runs it: this host skips the night
            leases.release(other)
        ran = service._recompute_held()
        assert ran is not None and ran["every_host"] is True and ran["audiences"]["recent"]["exact"] == 1
        with LeaseStore(pg_url) as leases:  # released after the run
            assert not [x for x in leases.list() if x.job == NIGHTLY_JOB and x.held]
    finally:
        service.state.close()
        service.catalog.close()
