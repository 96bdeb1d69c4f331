"""One contract for forgetting a person in the live store (GDPR deletion), run against memory://, a
real Redis and a real 3-master Redis Cluster: two people written through the ports' public
methods, one forgotten, then every key (SCAN, dumped by type) read back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from headwater.stores.live import open_live
from headwater.stores.live.memory import MemoryBackend
from headwater.stores.live.ports import LiveBackend, LiveDelta, StoreOptions
from tests.redis_services import RedisClusterNodes, drop_namespace, unique_namespace

OPTIONS = StoreOptions()
FAR = int(time.time()) + 3600
# ids with letters no hex namespace or digest contains; ODD has every glob character of SCAN MATCH
ALICE = "alice-Kq7zmx"
DEVICE = "dev-Pw9kqz"
ODD = "al*ce?[x]\\Kq"
ALICE_IDS = (ALICE, DEVICE, ODD)
ALICE_KEYS = (*ALICE_IDS, *(f"anon:{i}" for i in ALICE_IDS))
BOB = "bob-Vz3kqw"
BOB_DEVICE = "dev-Mk2xrq"
LOOKALIKE = "alXce?[x]\\Kq"  # what ODD would match as an unescaped pattern: Bob's, it stays


@dataclass
class Opened:
    kind: str
    url: str
    namespace: str
    backend: LiveBackend
    cluster: RedisClusterNodes | None = None


@pytest.fixture(params=["memory", "redis", "cluster"])
def opened(request: pytest.FixtureRequest) -> Iterator[Opened]:
    namespace = unique_namespace()
    cluster: RedisClusterNodes | None = None
    if request.param == "memory":
        url = f"memory://?namespace={namespace}"
    elif request.param == "redis":
        url = f"{request.getfixturevalue('shared_redis')}?namespace={namespace}"
    else:
        cluster = request.getfixturevalue("redis_cluster")
        url = f"{cluster.url}?namespace={namespace}"
    yield Opened(request.param, url, namespace, open_live(url), cluster)
    if cluster is not None:
        for node in cluster.nodes:
            drop_namespace(f"{node.url}?namespace={namespace}", namespace)
    elif request.param == "redis":
        drop_namespace(url, namespace)


def populate(backend: LiveBackend) -> None:
    """Both people through every port's public writes: assignments, ids, memberships, stamps."""
    sticky = backend.sticky_buckets(OPTIONS)
    for doc in (f"id||{ALICE}", f"anonymousId||{DEVICE}", f"deviceId||{DEVICE}", f"id||{ODD}"):
        sticky.save(doc, {"checkout__0": "1", "x:checkout__0": "1"}, ttl_seconds=3600)
    sticky.save(f"id||{BOB}", {"checkout__0": "0"})
    sticky.restore({f"anonymousId||{BOB_DEVICE}": {"checkout__0": "0"}, f"id||{LOOKALIKE}": {"p__0": "1"}})
    sticky.mark_restored()
    sticky.close()
    ids = backend.id_map(OPTIONS)
    ids.map_ids(
        {
            ALICE: ALICE,
            f"anon:{DEVICE}": f"anon:{DEVICE}",
            ODD: ALICE,
            "idfa-Zq11": ALICE,  # her ad ids: only their user says they are hers
            "gaid-Zq22": f"anon:{DEVICE}",
            BOB: BOB,
            f"anon:{BOB_DEVICE}": f"anon:{BOB_DEVICE}",
            "idfa-Zq33": BOB,
            LOOKALIKE: BOB,
        }
    )
    ids.close()
    membership = backend.membership(OPTIONS)
    membership.add_members("buyers", [ALICE, f"anon:{DEVICE}", BOB])
    membership.add_members("visitors", [ALICE, f"anon:{BOB_DEVICE}"])
    membership.add_stamps(
        {
            ALICE: {"c1": {"m1": 1000, "m2": 2000}},
            f"anon:{DEVICE}": {"c1": {"m3": 500}, "c2": {"m4": 700}},
            BOB: {"c1": {"m5": 1500}},
        },
        {"c1": 5, "c2": 5},
    )
    membership.mark_format()
    membership.close()
    counters = backend.counters(OPTIONS)
    cp = counters.init_checkpoint("live", {}, "e1")
    delta = LiveDelta()
    delta.incr("hc:2026112509", "editor\x1fClicked", FAR, 7)
    delta.set_values("hn:2026112509", {"users": 2}, FAR)
    counters.apply("live", cp.epoch, {}, {"events-20261125.w.jsonl": 700}, delta)
    counters.close()


def dump(opened: Opened) -> dict[str, Any]:
    """Every key of the namespace and its value (strings, hashes as dicts, sets sorted)."""
    backend = opened.backend
    if isinstance(backend, MemoryBackend):
        st = backend.state
        out: dict[str, Any] = {f"sticky:{k}": dict(v) for k, v in st.sticky.items()}
        out |= {f"hid:{k}": v for k, v in st.ids.items()}
        out |= {f"members:{k}": sorted(v) for k, v in st.members.items() if v}
        out |= {f"counter:{k}": dict(v) for k, v in st.counters.items()}
        out |= {f"cp:{k}": (v.epoch, dict(v.offsets)) for k, v in st.checkpoints.items()}
        users: dict[str, dict[str, Any]] = {}
        for user, audiences in st.audiences.items():
            users.setdefault(user, {}).update({f"a:{a}": "1" for a in audiences})
        for (user, cond), stamps in st.stamps.items():
            users.setdefault(user, {})[f"s:{cond}"] = sorted(stamps.items())
        return out | {f"u:{k}": v for k, v in users.items()}
    if opened.cluster is not None:
        nodes = [ClusterNode("127.0.0.1", n.port) for n in opened.cluster.nodes]  # type: ignore[no-untyped-call]
        client: Any = RedisCluster(startup_nodes=nodes, decode_responses=True)
    else:
        client = redis.Redis.from_url(opened.url.split("?")[0], decode_responses=True)
    try:
        ns = opened.namespace
        found = {k for pattern in (f"{{{ns}}}:*", f"{ns}:*") for k in client.scan_iter(match=pattern)}
        out = {}
        for key in found:
            kind = client.type(key)
            if kind == "string":
                out[key] = client.get(key)
            elif kind == "hash":
                out[key] = client.hgetall(key)
            elif kind == "set":
                out[key] = sorted(client.smembers(key))
            else:
                raise AssertionError(f"{key}: a {kind} the dump does not read")
        return out
    finally:
        client.close()


def held(text: object, ids: tuple[str, ...] = ALICE_IDS) -> bool:
    return any(i in str(text) for i in ids)


def without_alice(before: dict[str, Any]) -> dict[str, Any]:
    """What must remain: every key and value not naming her, sets without her."""
    out: dict[str, Any] = {}
    for key, value in before.items():
        if held(key) or (isinstance(value, str) and held(value)):
            continue
        if isinstance(value, list):
            value = [m for m in value if not held(m)]
            if not value:
                continue
        out[key] = value
    return out


def forget_all(backend: LiveBackend, ids: tuple[str, ...]) -> dict[str, int]:
    ports: dict[str, Any] = {
        "sticky": backend.sticky_buckets(OPTIONS),
        "ids": backend.id_map(OPTIONS),
        "membership": backend.membership(OPTIONS),
        "counters": backend.counters(OPTIONS),
    }
    try:
        return {name: port.forget(ids) for name, port in ports.items()}
    finally:
        for port in ports.values():
            port.close()


def test_forget_removes_every_key_and_member_of_one_person(opened: Opened) -> None:
    backend = opened.backend
    populate(backend)
    before = dump(opened)
    assert sum(held(k) or held(v) for k, v in before.items()) >= 10
    membership = backend.membership(OPTIONS)
    sizes = {a: membership.audience_size(a) for a in ("buyers", "visitors")}

    removed = forget_all(backend, ALICE_KEYS)

    # 4 documents; 3 entries of hers by name, 2 mapped to her; 2 keys of hers, 3 set members
    assert removed == {"sticky": 4, "ids": 5, "membership": 5, "counters": 0}
    after = dump(opened)
    assert not [(k, v) for k, v in after.items() if held(k) or held(v)]
    assert after == without_alice(before)
    assert {a: membership.audience_size(a) for a in sizes} == {"buyers": sizes["buyers"] - 2, "visitors": 1}

    async def lookups() -> list[tuple[str, set[str]] | None]:
        try:
            return [await membership.lookup(["idfa-Zq11", ALICE]), await membership.lookup(["idfa-Zq33"])]
        finally:
            await membership.aclose()  # on the loop that used the client

    assert asyncio.run(lookups()) == [None, (BOB, {"buyers"})]
    membership.close()
    assert forget_all(backend, ALICE_KEYS) == {"sticky": 0, "ids": 0, "membership": 0, "counters": 0}
    assert dump(opened) == after


def test_plain_ids_reach_their_anon_keys_and_junk_ids_reach_nothing(opened: Opened) -> None:
    """The ids as the realtime store links them (plain); ``anon:<id>`` keys follow. ``null``, ``0``
    ... are nobody's."""
    populate(opened.backend)
    before = dump(opened)
    junk = ("null", "0", "undefined", "anon:anonymous", "")
    assert forget_all(opened.backend, junk) == {"sticky": 0, "ids": 0, "membership": 0, "counters": 0}
    assert dump(opened) == before
    removed = forget_all(opened.backend, ALICE_IDS)
    assert removed == {"sticky": 4, "ids": 5, "membership": 5, "counters": 0}
    assert dump(opened) == without_alice(before)


def test_a_document_or_entry_of_another_value_stays(opened: Opened) -> None:
    """Values that contain hers, or that her glob characters would match, are someone else's."""
    sticky = opened.backend.sticky_buckets(OPTIONS)
    others = [f"id||{ALICE}0", f"id||x{ALICE}", f"id||a||{ALICE}", f"id||{ALICE}}}", f"id||{LOOKALIKE}"]
    for doc in [*others, f"id||{ALICE}", f"user||{ALICE}"]:
        sticky.save(doc, {"e__0": "1"})
    ids = opened.backend.id_map(OPTIONS)
    ids.map_ids({f"{ALICE}0": "carol", "idfa-Zq44": f"{ALICE}0", ALICE: ALICE})
    assert sticky.forget([ALICE]) == 2
    assert ids.forget([ALICE]) == 1
    assert [d for d in others if sticky.get(d)] == others
    assert ids.resolve([f"{ALICE}0"]) == "carol" and ids.resolve(["idfa-Zq44"]) == f"{ALICE}0"
    sticky.close()
    ids.close()
