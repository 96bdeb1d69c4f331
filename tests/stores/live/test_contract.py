"""One contract suite for every live store: memory://, a real Redis, a real 3-master Redis Cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from headwater.stores.live import (
    EXACT_THRESHOLD,
    LiveConflictError,
    LiveDelta,
    LiveStore,
    LiveUnavailableError,
    open_live_store,
)
from tests.redis_services import RedisClusterNodes, drop_namespace, unique_namespace

FAR = int(time.time()) + 3600


@pytest.fixture(params=["memory", "redis", "cluster"])
def store(request: pytest.FixtureRequest) -> Iterator[LiveStore]:
    namespace = unique_namespace()
    if request.param == "memory":
        url = f"memory://?namespace={namespace}"
    elif request.param == "redis":
        url = f"{request.getfixturevalue('shared_redis')}?namespace={namespace}"
    else:
        cluster: RedisClusterNodes = request.getfixturevalue("redis_cluster")
        url = f"{cluster.url}?namespace={namespace}"
    s = open_live_store(url)
    try:
        yield s
    finally:
        s.close()
        if request.param == "redis":
            drop_namespace(url, namespace)
        elif request.param == "cluster":
            for node in request.getfixturevalue("redis_cluster").nodes:
                drop_namespace(f"{node.url}?namespace={namespace}", namespace)


def delta_of(distinct: dict[str, list[str]], counters: dict[str, dict[str, int]] | None = None) -> LiveDelta:
    d = LiveDelta()
    for name, members in distinct.items():
        for m in members:
            d.add(name, m, FAR)
    for name, row in (counters or {}).items():
        for key, n in row.items():
            d.incr(name, key, FAR, n)
    return d


def started(store: LiveStore, offsets: dict[str, int] | None = None) -> str:
    assert store.load_checkpoint("live") is None
    cp = store.init_checkpoint("live", offsets or {}, "epoch-1")
    assert cp.epoch == "epoch-1"
    return cp.epoch


def test_checkpoint_is_created_once_and_moves_with_the_counters(store: LiveStore) -> None:
    epoch = started(store, {"old.jsonl": 1234})
    again = store.init_checkpoint("live", {}, "epoch-2")  # a second process loses the race
    assert again.epoch == "epoch-1" and again.offsets == {"old.jsonl": 1234}
    store.apply(
        "live", epoch, {"a.jsonl": 0}, {"a.jsonl": 500}, delta_of({"m:1": ["u1", "u2"]}, {"c1": {"x": 2}})
    )
    store.apply(
        "live", epoch, {"a.jsonl": 500}, {"a.jsonl": 900}, delta_of({"m:1": ["u2", "u3"]}, {"c1": {"x": 3}})
    )
    cp = store.load_checkpoint("live")
    assert cp is not None and cp.epoch == epoch
    assert cp.offsets == {"old.jsonl": 1234, "a.jsonl": 900}
    assert store.counter("c1") == {"x": 5}
    assert store.counts(["m:1", "m:missing"]) == [3, 0]


def test_a_stale_base_is_refused_and_applies_nothing(store: LiveStore) -> None:
    epoch = started(store)
    store.apply("live", epoch, {"a.jsonl": 0}, {"a.jsonl": 100}, delta_of({"m:1": ["u1"]}, {"c": {"k": 1}}))
    with pytest.raises(LiveConflictError):
        store.apply(
            "live", epoch, {"a.jsonl": 0}, {"a.jsonl": 100}, delta_of({"m:1": ["u9"]}, {"c": {"k": 1}})
        )
    with pytest.raises(LiveConflictError):
        store.apply("live", "other-epoch", {"a.jsonl": 100}, {"a.jsonl": 200}, delta_of({}, {"c": {"k": 1}}))
    assert store.counter("c") == {"k": 1}
    assert store.counts(["m:1"]) == [1]
    cp = store.load_checkpoint("live")
    assert cp is not None and cp.offsets == {"a.jsonl": 100}


def test_large_offsets_round_trip_exactly(store: LiveStore) -> None:
    epoch = started(store)
    big = 2**52 + 12345  # beyond what a float prints without an exponent
    store.apply("live", epoch, {"a": 0}, {"a": big}, LiveDelta())
    store.apply("live", epoch, {"a": big}, {"a": big + 1}, LiveDelta())
    cp = store.load_checkpoint("live")
    assert cp is not None and cp.offsets["a"] == big + 1


def test_union_is_exact_below_the_threshold(store: LiveStore) -> None:
    epoch = started(store)
    store.apply("live", epoch, {}, {}, delta_of({"m:1": ["a", "b", "c"], "m:2": ["c", "d"], "m:3": []}))
    assert store.union_count(["m:1", "m:2", "m:3", "m:never"]) == 4
    assert store.union_count(["m:2"]) == 2
    assert store.union_count([]) == 0


def test_large_sets_switch_to_hyperloglog_within_two_percent(store: LiveStore) -> None:
    epoch = started(store)
    n = 20 * EXACT_THRESHOLD
    first = [f"user-{i}" for i in range(n)]
    second = [f"user-{i}" for i in range(n // 2, n + n // 2)]  # half overlaps
    store.apply("live", epoch, {}, {}, delta_of({"h:1": first[: n // 2]}))
    store.apply("live", epoch, {}, {}, delta_of({"h:1": first[n // 2 :], "h:2": second, "h:3": ["x"]}))
    one, two, three = store.counts(["h:1", "h:2", "h:3"])
    assert abs(one - n) <= 0.02 * n and abs(two - n) <= 0.02 * n and three == 1
    union = store.union_count(["h:1", "h:2", "h:3"])
    assert abs(union - (n + n // 2 + 1)) <= 0.02 * (n + n // 2)


def test_counters_and_sets_expire(store: LiveStore) -> None:
    epoch = started(store)
    d = LiveDelta()
    soon = int(time.time()) + 1
    d.add("m:soon", "u1", soon)
    d.incr("c:soon", "k", soon)
    d.add("m:later", "u1", FAR)
    store.apply("live", epoch, {}, {}, d)
    assert store.counts(["m:soon", "m:later"]) == [1, 1]
    time.sleep(2.1)
    assert store.counts(["m:soon", "m:later"]) == [0, 1]
    assert store.counter("c:soon") == {}
    cp = store.load_checkpoint("live")
    assert cp is not None  # the checkpoint never expires


def test_reset_forgets_counters_and_checkpoint(store: LiveStore) -> None:
    epoch = started(store)
    store.apply("live", epoch, {"a": 0}, {"a": 10}, delta_of({"m:1": ["u"]}, {"c": {"k": 1}}))
    store.reset("live")
    assert store.load_checkpoint("live") is None
    assert store.counts(["m:1"]) == [0] and store.counter("c") == {}


def test_sticky_buckets(store: LiveStore) -> None:
    assert store.get_sticky("id||u1") == {}
    store.save_sticky("id||u1", {"exp1__0": "control"})
    store.save_sticky("id||u1", {"exp2__1": "1"})
    store.save_sticky("id||u2", {"exp1__0": "treatment"}, ttl_seconds=1)
    assert store.get_sticky("id||u1") == {"exp1__0": "control", "exp2__1": "1"}
    assert store.get_sticky("id||u2") == {"exp1__0": "treatment"}
    time.sleep(1.6)
    assert store.get_sticky("id||u2") == {}


def test_audience_membership(store: LiveStore) -> None:
    store.add_members("aud-a", ["u1", "u2", "u3"])
    store.add_members("aud-b", ["u2"])
    store.remove_members("aud-a", ["u3", "never"])
    assert store.audiences_of("u2") == {"aud-a", "aud-b"}
    assert store.audiences_of("u3") == set()
    assert store.audience_size("aud-a") == 2
    assert store.audience_size("aud-missing") == 0


def test_namespaces_do_not_see_each_other(store: LiveStore) -> None:
    epoch = started(store)
    store.apply("live", epoch, {}, {}, delta_of({"m:1": ["u"]}))
    store.save_sticky("k", {"e": "v"})
    other_url = store_url_with_namespace(store, unique_namespace())
    if other_url is None:
        pytest.skip("memory:// namespaces are separate stores by construction")
    other = open_live_store(other_url)
    try:
        assert other.load_checkpoint("live") is None
        assert other.counts(["m:1"]) == [0]
        assert other.get_sticky("k") == {}
    finally:
        other.close()


def store_url_with_namespace(store: LiveStore, namespace: str) -> str | None:
    if store.url.startswith("memory"):
        return None
    base = store.url.split("?", 1)[0]
    return f"{base}?namespace={namespace}"


def test_unreachable_server_is_a_clear_error_with_the_password_masked() -> None:
    for url in ("redis://:s3cret@127.0.0.1:1/0", "redis+cluster://:s3cret@127.0.0.1:1,127.0.0.1:2"):
        s = open_live_store(url)
        with pytest.raises(LiveUnavailableError) as info:
            s.ping()
        message = str(info.value)
        assert "s3cret" not in message and "****" in message and "unavailable" in message
        s.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:s3cret@h/db",
        "redis+sentinel://:s3cret@h:1",
        "memcached://h",
        "redis+cluster://:s3cret@h",
    ],
)
def test_a_wrong_url_is_refused_with_the_password_masked(url: str) -> None:
    with pytest.raises(LiveUnavailableError) as info:
        open_live_store(url)
    assert "s3cret" not in str(info.value)
    assert "memory://" in str(info.value) or "host:port" in str(info.value)
