"""One contract suite for every port of the live store (counters, sticky buckets, id map,
membership), run against memory://, a real Redis and a real 3-master Redis Cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from headwater.stores.live import open_live
from headwater.stores.live.ports import (
    Counters,
    IdMap,
    LiveBackend,
    LiveConflictError,
    LiveDelta,
    LiveUnavailableError,
    Membership,
    StickyBuckets,
    StoreOptions,
)
from tests.redis_services import RedisClusterNodes, drop_namespace, unique_namespace

FAR = int(time.time()) + 3600
OPTIONS = StoreOptions()


@dataclass
class Opened:
    kind: str
    url: str
    backend: LiveBackend


@pytest.fixture(params=["memory", "redis", "cluster"])
def opened(request: pytest.FixtureRequest) -> Iterator[Opened]:
    namespace = unique_namespace()
    if request.param == "memory":
        url = f"memory://?namespace={namespace}"
    elif request.param == "redis":
        url = f"{request.getfixturevalue('shared_redis')}?namespace={namespace}"
    else:
        cluster: RedisClusterNodes = request.getfixturevalue("redis_cluster")
        url = f"{cluster.url}?namespace={namespace}"
    yield Opened(request.param, url, open_live(url))
    if request.param == "redis":
        drop_namespace(url, namespace)
    elif request.param == "cluster":
        for node in request.getfixturevalue("redis_cluster").nodes:
            drop_namespace(f"{node.url}?namespace={namespace}", namespace)


@pytest.fixture()
def store(opened: Opened) -> Iterator[Counters]:
    s = opened.backend.counters(OPTIONS)
    yield s
    s.close()


@pytest.fixture()
def sticky(opened: Opened) -> Iterator[StickyBuckets]:
    s = opened.backend.sticky_buckets(OPTIONS)
    yield s
    s.close()


@pytest.fixture()
def ids(opened: Opened) -> Iterator[IdMap]:
    s = opened.backend.id_map(OPTIONS)
    yield s
    s.close()


@pytest.fixture()
def membership(opened: Opened) -> Iterator[Membership]:
    s = opened.backend.membership(OPTIONS)
    yield s
    s.close()


def delta_of(
    values: dict[str, dict[str, int]] | None = None, counters: dict[str, dict[str, int]] | None = None
) -> LiveDelta:
    d = LiveDelta()
    for name, row in (values or {}).items():
        d.set_values(name, row, FAR)
    for name, row in (counters or {}).items():
        for key, n in row.items():
            d.incr(name, key, FAR, n)
    return d


def started(store: Counters, offsets: dict[str, int] | None = None) -> str:
    assert store.load_checkpoint("live") is None
    cp = store.init_checkpoint("live", offsets or {}, "epoch-1")
    assert cp.epoch == "epoch-1"
    return cp.epoch


def test_checkpoint_is_created_once_and_moves_with_the_counters(store: Counters) -> None:
    epoch = started(store, {"old.jsonl": 1234})
    again = store.init_checkpoint("live", {}, "epoch-2")  # a second process loses the race
    assert again.epoch == "epoch-1" and again.offsets == {"old.jsonl": 1234}
    store.apply(
        "live", epoch, {"a.jsonl": 0}, {"a.jsonl": 500}, delta_of({"hn:1": {"users": 2}}, {"c1": {"x": 2}})
    )
    store.apply(
        "live", epoch, {"a.jsonl": 500}, {"a.jsonl": 900}, delta_of({"hn:1": {"users": 3}}, {"c1": {"x": 3}})
    )
    cp = store.load_checkpoint("live")
    assert cp is not None and cp.epoch == epoch
    assert cp.offsets == {"old.jsonl": 1234, "a.jsonl": 900}
    # counters add up; values are set
    assert store.hashes(["c1", "hn:1", "missing"]) == [{"x": 5}, {"users": 3}, {}]
    assert store.hashes([]) == []


def test_a_stale_base_is_refused_and_applies_nothing(store: Counters) -> None:
    epoch = started(store)
    store.apply("live", epoch, {"a.jsonl": 0}, {"a.jsonl": 100}, delta_of({"v": {"n": 1}}, {"c": {"k": 1}}))
    with pytest.raises(LiveConflictError):
        store.apply(
            "live", epoch, {"a.jsonl": 0}, {"a.jsonl": 100}, delta_of({"v": {"n": 9}}, {"c": {"k": 1}})
        )
    with pytest.raises(LiveConflictError):
        store.apply("live", "other-epoch", {"a.jsonl": 100}, {"a.jsonl": 200}, delta_of({}, {"c": {"k": 1}}))
    assert store.hashes(["c", "v"]) == [{"k": 1}, {"n": 1}]
    cp = store.load_checkpoint("live")
    assert cp is not None and cp.offsets == {"a.jsonl": 100}


def test_large_offsets_round_trip_exactly(store: Counters) -> None:
    epoch = started(store)
    big = 2**52 + 12345  # beyond what a float prints without an exponent
    store.apply("live", epoch, {"a": 0}, {"a": big}, LiveDelta())
    store.apply("live", epoch, {"a": big}, {"a": big + 1}, LiveDelta())
    cp = store.load_checkpoint("live")
    assert cp is not None and cp.offsets["a"] == big + 1


def test_a_window_sums_the_fields_in_range(store: Counters) -> None:
    epoch = started(store)
    rows = {"ls:1": {f"{m:02d}": m for m in range(60)}, "ls:2": {"00": 1000, "59": 2000}}
    store.apply("live", epoch, {}, {}, delta_of(rows))
    assert store.window_sum([("ls:1", 55, 59)]) == 55 + 56 + 57 + 58 + 59
    assert store.window_sum([("ls:1", 58, 59), ("ls:2", 0, 30), ("ls:never", 0, 59)]) == 58 + 59 + 1000
    assert store.window_sum([("ls:2", 0, 59)]) == 3000 and store.window_sum([]) == 0
    big = {"hu:1": {f"t{i}\x1fe{j}": i * j for i in range(50) for j in range(100)}}  # 5,000 fields
    store.apply("live", epoch, {}, {}, delta_of(big))
    assert store.hashes(["hu:1"]) == [big["hu:1"]]


def test_counters_and_values_expire(store: Counters) -> None:
    epoch = started(store)
    d = LiveDelta()
    soon = int(time.time()) + 1
    d.set_values("v:soon", {"01": 1}, soon)
    d.incr("c:soon", "k", soon)
    d.set_values("v:later", {"01": 1}, FAR)
    store.apply("live", epoch, {}, {}, d)
    assert store.window_sum([("v:soon", 0, 59), ("v:later", 0, 59)]) == 2
    time.sleep(2.1)
    assert store.window_sum([("v:soon", 0, 59), ("v:later", 0, 59)]) == 1
    assert store.hashes(["c:soon"]) == [{}]
    cp = store.load_checkpoint("live")
    assert cp is not None  # the checkpoint never expires


def test_reset_forgets_counters_and_checkpoint(store: Counters) -> None:
    epoch = started(store)
    store.apply("live", epoch, {"a": 0}, {"a": 10}, delta_of({"v": {"n": 1}}, {"c": {"k": 1}}))
    store.reset("live")
    assert store.load_checkpoint("live") is None
    assert store.hashes(["v", "c"]) == [{}, {}]


def test_replace_swaps_in_a_rebuild_at_once(store: Counters) -> None:
    epoch = started(store)
    store.apply("live", epoch, {"a": 0}, {"a": 10}, delta_of({"v": {"n": 7}, "w": {"x": 1}}, {"c": {"k": 5}}))
    store.init_checkpoint("audiences", {"a": 10}, "their-epoch")
    rebuilt = delta_of({"v": {"m": 2}}, {"c": {"k": 2}})
    store.replace("live", "epoch-2", {"a": 10, "b": 4}, rebuilt, forget=["v", "w", "c", "absent"])
    assert store.hashes(["v", "w", "c"]) == [{"m": 2}, {}, {"k": 2}]  # counters stored as values
    cp = store.load_checkpoint("live")
    assert cp is not None and cp.epoch == "epoch-2" and cp.offsets == {"a": 10, "b": 4}
    with pytest.raises(LiveConflictError):  # a batch of the old epoch is refused
        store.apply("live", epoch, {"a": 10}, {"a": 20}, LiveDelta())
    other = store.load_checkpoint("audiences")  # another tailer's checkpoint is untouched
    assert other is not None and other.epoch == "their-epoch"


def test_sticky_buckets(sticky: StickyBuckets) -> None:
    assert sticky.get("id||u1") == {}
    sticky.save("id||u1", {"exp1__0": "control"})
    sticky.save("id||u1", {"exp2__1": "1"})
    sticky.save("id||u2", {"exp1__0": "treatment"}, ttl_seconds=1)
    assert sticky.get("id||u1") == {"exp1__0": "control", "exp2__1": "1"}
    assert sticky.get("id||u2") == {"exp1__0": "treatment"}
    time.sleep(1.6)
    assert sticky.get("id||u2") == {}


def test_sticky_buckets_awaited(sticky: StickyBuckets) -> None:
    async def run() -> dict[str, str]:
        await sticky.asave("id||a1", {"exp__0": "1"})
        await sticky.asave("id||a1", {"x:exp__0": "1"})
        got = await sticky.aget("id||a1")
        await sticky.aclose()
        return got

    assert asyncio.run(run()) == {"exp__0": "1", "x:exp__0": "1"}
    assert sticky.get("id||a1") == {"exp__0": "1", "x:exp__0": "1"}


def test_sticky_buckets_are_vouched_for_only_once_restored(opened: Opened, sticky: StickyBuckets) -> None:
    sticky.save("id||kept", {"exp__0": "1"})  # a document that survived whatever was lost
    assert not sticky.restored()

    async def verified(key: str) -> dict[str, str] | None:
        found = await sticky.aget_verified(key)
        await sticky.aclose()
        return found

    assert asyncio.run(verified("id||kept")) is None  # not vouched for: nobody is assigned afresh
    assert sticky.lock_restore(30) and not sticky.lock_restore(30)  # one process restores
    written = sticky.restore({"id||kept": {"exp__0": "0", "x:exp__0": "1"}, "id||back": {"exp__0": "0"}}, 60)
    assert written == 2  # the kept field wins; the missing ones come back
    sticky.mark_restored()
    sticky.unlock_restore()
    assert sticky.restored() and sticky.lock_restore(30)
    sticky.unlock_restore()
    assert asyncio.run(verified("id||kept")) == {"exp__0": "1", "x:exp__0": "1"}
    assert asyncio.run(verified("id||back")) == {"exp__0": "0"}


def test_a_lost_cluster_slot_loses_its_mark_with_its_documents(redis_cluster: RedisClusterNodes) -> None:
    """On a cluster the marks are per slot: a master lost with its slots (here: the mark of one slot
    deleted) stops vouching for those documents only."""
    from redis.crc import key_slot

    from headwater.stores.live.redis import RedisBackend
    from headwater.stores.live.redis.sticky import slot_tags

    namespace = unique_namespace()
    backend = open_live(f"{redis_cluster.url}?namespace={namespace}")
    assert isinstance(backend, RedisBackend)
    sticky = backend.sticky_buckets(OPTIONS)
    try:
        sticky.mark_restored()
        lost, kept = "id||lost-user", "id||kept-user"
        assert key_slot(lost.encode()) != key_slot(kept.encode())
        mark = backend.keys.sticky_mark(slot_tags()[key_slot(lost.encode())])
        sticky.conn.run("lose a slot", lambda c: c.delete(mark))
        assert not sticky.restored()

        async def run() -> tuple[object, object]:
            out = (await sticky.aget_verified(lost), await sticky.aget_verified(kept))
            await sticky.aclose()
            return out

        assert asyncio.run(run()) == (None, {})
    finally:
        sticky.close()
        for node in redis_cluster.nodes:
            drop_namespace(f"{node.url}?namespace={namespace}", namespace)


def test_counters_read_awaited(store: Counters) -> None:
    epoch = started(store)
    store.apply("live", epoch, {}, {}, delta_of({"ls:1": {"01": 2, "02": 3}}, {"c": {"k": 3}}))

    async def run() -> tuple[int, list[dict[str, int]]]:
        out = (await store.awindow_sum([("ls:1", 2, 59)]), await store.ahashes(["c", "none"]))
        await store.aclose()  # on the loop that used the client
        return out

    assert asyncio.run(run()) == (3, [{"k": 3}, {}])


def test_audience_membership(membership: Membership) -> None:
    membership.add_members("aud-a", ["u1", "u2", "u3"])
    membership.add_members("aud-b", ["u2"])
    membership.remove_members("aud-a", ["u3", "never"])
    assert membership.audiences_of("u2") == {"aud-a", "aud-b"}
    assert membership.audiences_of("u3") == set()
    assert membership.memberships(["u1", "u2", "u3"]) == {
        "u1": {"aud-a"},
        "u2": {"aud-a", "aud-b"},
        "u3": set(),
    }
    assert membership.audience_size("aud-a") == 2
    assert membership.audience_size("aud-missing") == 0
    assert membership.audience_members("aud-a") == {"u1", "u2"}


def test_stamps_keep_the_latest_per_condition(membership: Membership) -> None:
    membership.add_stamps({"u1": {"c1": {"m1": 100, "m2": 300}, "c2": {"m9": 5}}}, {"c1": 2, "c2": 1})
    membership.add_stamps({"u1": {"c1": {"m3": 200, "m2": 300}}}, {"c1": 2})  # m2 again: idempotent
    found = membership.stamps_of(["u1", "u2"], ["c1", "c2", "c3"])
    assert sorted(found["u1"]["c1"]) == [200, 300] and found["u1"]["c2"] == [5]
    assert found["u2"] == {} and "c3" not in found["u1"]


def test_id_map_and_the_enrichment_lookup(opened: Opened, ids: IdMap, membership: Membership) -> None:
    ids.map_ids({"ifa-1": "u1", "u1": "u1", "buyer-9": "u2"})
    ids.map_ids({"ifa-1": "u3"})  # the latest mapping wins
    assert ids.resolve(["nobody", "ifa-1"]) == "u3"
    assert ids.resolve(["buyer-9", "ifa-1"]) == "u2"
    assert ids.resolve(["nobody"]) is None
    membership.add_members("buyers", ["u2"])
    # the lookup of another connection (the enrichment's), one call: ids in order -> user -> audiences
    reader = opened.backend.membership(StoreOptions(connect_timeout=0.5, socket_timeout=0.5))

    async def run() -> list[tuple[str, set[str]] | None]:
        out = [
            await reader.lookup(["nobody", "buyer-9"]),
            await reader.lookup(["u1"]),
            await reader.lookup(["nobody"]),
            await reader.lookup([]),
        ]
        await reader.aclose()
        return out

    assert asyncio.run(run()) == [("u2", {"buyers"}), ("u1", set()), None, None]
    reader.close()


def test_namespaces_do_not_see_each_other(opened: Opened, store: Counters, sticky: StickyBuckets) -> None:
    epoch = started(store)
    store.apply("live", epoch, {}, {}, delta_of({"v": {"n": 1}}))
    sticky.save("k", {"e": "v"})
    base = opened.url.split("?", 1)[0]
    other = open_live(f"{base}?namespace={unique_namespace()}")
    counters, buckets = other.counters(OPTIONS), other.sticky_buckets(OPTIONS)
    try:
        assert counters.load_checkpoint("live") is None
        assert counters.hashes(["v"]) == [{}]
        assert buckets.get("k") == {}
    finally:
        counters.close()
        buckets.close()


def test_unreachable_server_is_a_clear_error_with_the_password_masked() -> None:
    for url in ("redis://:s3cret@127.0.0.1:1/0", "redis+cluster://:s3cret@127.0.0.1:1,127.0.0.1:2"):
        s = open_live(url).counters(OPTIONS)
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
        open_live(url)
    assert "s3cret" not in str(info.value)
    assert "memory://" in str(info.value) or "host:port" in str(info.value)
