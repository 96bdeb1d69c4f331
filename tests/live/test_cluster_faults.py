"""One master of a 3-master Redis Cluster killed, with cluster-require-full-coverage yes and no.

- ``yes`` (Redis' default): once the others mark the master failed, the whole cluster answers
  CLUSTERDOWN: every live store call fails with LiveUnavailableError (the API answers 503).
- ``no``: only the dead master's slots fail. The live counters (one hash tag, one slot) keep
  working when their master survives; sticky buckets and memberships of users whose slots are
  on surviving masters keep working; the rest fail with LiveUnavailableError.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.stores.live import open_live
from headwater.stores.live.ports import Counters, LiveDelta, LiveUnavailableError, StoreOptions
from tests.redis_services import RedisClusterNodes, RedisServer, counters_at, unique_namespace

FAR = int(time.time()) + 3600


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[object]:
    started: list[RedisClusterNodes] = []

    def make(full_coverage: bool) -> RedisClusterNodes:
        cluster = RedisClusterNodes(tmp_path / f"cluster-{len(started)}", full_coverage).start()
        started.append(cluster)
        return cluster

    yield make
    for cluster in started:
        cluster.stop()


def user_on(cluster: RedisClusterNodes, namespace: str, node: RedisServer, avoid: bool = False) -> str:
    for i in range(10_000):
        user = f"user-{i}"
        on = cluster.node_of(f"{namespace}:sticky:{{id||{user}}}") is node
        if on != avoid:
            return user
    raise LookupError("no such user")


def wait_failed(survivor: RedisServer, victim: RedisServer, timeout: float = 15) -> str:
    """Wait until ``survivor`` marks ``victim`` failed; return its cluster_state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = str(survivor.client().execute_command("CLUSTER", "NODES"))
        line = next((ln for ln in nodes.splitlines() if f":{victim.port}@" in ln), "")
        if "fail" in line.split(" ")[2] and "fail?" not in line.split(" ")[2]:
            info = str(survivor.client().execute_command("CLUSTER", "INFO"))
            return "ok" if "cluster_state:ok" in info else "fail"
        time.sleep(0.1)
    raise TimeoutError("the victim was never marked failed")


def apply_one(store: Counters, epoch: str, member: str) -> None:
    d = LiveDelta()
    d.incr("c:1", member, FAR)
    cp = store.load_checkpoint("live")
    assert cp is not None
    store.apply("live", epoch, {}, {}, d)


@pytest.mark.parametrize(
    ("full_coverage", "kill_counters_master"),
    [(False, False), (False, True), (True, False)],
    ids=["coverage-no-other-master", "coverage-no-counters-master", "coverage-yes-other-master"],
)
def test_one_master_killed(make_cluster: object, full_coverage: bool, kill_counters_master: bool) -> None:
    assert callable(make_cluster)
    cluster: RedisClusterNodes = make_cluster(full_coverage)
    ns = unique_namespace()
    url = f"{cluster.url}?namespace={ns}"
    store, sticky = counters_at(url), open_live(url).sticky_buckets(StoreOptions())
    epoch = store.init_checkpoint("live", {}, "e1").epoch
    apply_one(store, epoch, "before")
    counters_master = cluster.node_of("{" + ns + "}:cp:live")
    victim = (
        counters_master
        if kill_counters_master
        else next(n for n in cluster.nodes if n is not counters_master)
    )
    survivor = next(n for n in cluster.nodes if n is not victim)
    on_victim = user_on(cluster, ns, victim)
    elsewhere = user_on(cluster, ns, victim, avoid=True)
    sticky.save(f"id||{on_victim}", {"exp__0": "a"})
    sticky.save(f"id||{elsewhere}", {"exp__0": "b"})

    victim.kill()
    state = wait_failed(survivor, victim)
    fresh = counters_at(url)  # a process starting now
    fresh_sticky = open_live(url).sticky_buckets(StoreOptions())
    try:
        for b in (sticky, fresh_sticky):
            with pytest.raises(LiveUnavailableError):
                b.get(f"id||{on_victim}")
        if full_coverage:
            assert state == "fail"
            for s, b in ((store, sticky), (fresh, fresh_sticky)):
                with pytest.raises(LiveUnavailableError, match="unavailable"):
                    b.get(f"id||{elsewhere}")
                with pytest.raises(LiveUnavailableError):
                    s.hashes(["c:1"])
            return
        assert state == "ok"
        for b in (sticky, fresh_sticky):
            assert b.get(f"id||{elsewhere}") == {"exp__0": "b"}
        if kill_counters_master:
            for s in (store, fresh):
                with pytest.raises(LiveUnavailableError):
                    s.hashes(["c:1"])
        else:
            apply_one(fresh, epoch, "after")
            assert store.hashes(["c:1"]) == [{"before": 1, "after": 1}]
    finally:
        for closable in (store, fresh, sticky, fresh_sticky):
            closable.close()
