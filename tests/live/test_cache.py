"""LiveQueries.cached: an answer is reused for cache_seconds, then recomputed; concurrent misses
share one store call; errors are not cached. On the real in-process store."""

from __future__ import annotations

import asyncio
import time

import pytest

from headwater.live.service import LiveQueries
from headwater.stores.live import open_live
from headwater.stores.live.ports import Counters, LiveUnavailableError, StoreOptions


def store_with(users: int) -> Counters:
    store = open_live("memory://").counters(StoreOptions())
    store.init_checkpoint("live", {}, "e1")
    add(store, users)
    return store


def add(store: Counters, users: int, start: int = 0) -> None:
    from headwater.stores.live.ports import LiveDelta

    delta = LiveDelta()
    for i in range(start, start + users):
        delta.incr("c:1", f"u{i}", int(time.time()) + 3600)
    store.apply("live", "e1", {}, {}, delta)


async def count_of(store: Counters) -> int:
    (row,) = await store.ahashes(["c:1"])
    return len(row)


def test_an_answer_is_reused_within_the_ttl_then_recomputed() -> None:
    store = store_with(3)
    live = LiveQueries(store, cache_seconds=0.3)
    calls = 0

    async def count(s: Counters) -> int:
        nonlocal calls
        calls += 1
        return await count_of(s)

    async def scenario() -> list[bytes]:
        first = await live.cached("k", count, lambda n: str(n).encode())
        add(store, 2, start=100)
        second = await live.cached("k", count, lambda n: str(n).encode())
        other = await live.cached("other", count, lambda n: str(n).encode())
        await asyncio.sleep(0.35)
        third = await live.cached("k", count, lambda n: str(n).encode())
        return [first, second, other, third]

    assert asyncio.run(scenario()) == [b"3", b"3", b"5", b"5"]
    assert calls == 3


def test_concurrent_misses_share_one_call_and_errors_are_not_cached() -> None:
    store = store_with(1)
    live = LiveQueries(store)
    calls = 0
    fail = True

    async def slow(s: Counters) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        if fail:
            raise LiveUnavailableError("down")
        return await count_of(s)

    async def scenario() -> list[object]:
        nonlocal fail
        failed = await asyncio.gather(
            *(live.cached("k", slow, lambda n: str(n).encode()) for _ in range(5)), return_exceptions=True
        )
        live._down_until = 0.0  # past the breaker the failure set
        fail = False
        ok = await asyncio.gather(*(live.cached("k", slow, lambda n: str(n).encode()) for _ in range(5)))
        return [*failed, *ok]

    out = asyncio.run(scenario())
    assert all(isinstance(x, LiveUnavailableError) for x in out[:5])
    assert out[5:] == [b"1"] * 5
    assert calls == 2  # one per burst: the failed burst was not cached


def test_zero_seconds_disables_the_cache() -> None:
    store = open_live("memory://?namespace=cache-test-zero").counters(StoreOptions())
    store.init_checkpoint("live", {}, "e1")
    live = LiveQueries(store, cache_seconds=0)

    async def scenario() -> list[bytes]:
        first = await live.cached("k", count_of, lambda n: str(n).encode())
        add(store, 4)
        return [first, await live.cached("k", count_of, lambda n: str(n).encode())]

    assert asyncio.run(scenario()) == [b"0", b"4"]


@pytest.mark.parametrize("entries", [600])
def test_the_cache_stays_bounded(entries: int) -> None:
    live = LiveQueries(store_with(1))

    async def scenario() -> None:
        for i in range(entries):
            await live.cached(("hourly", i), count_of, lambda n: str(n).encode())

    asyncio.run(scenario())
    assert len(live._answers) <= 512
