"""The live tailer's counters, distinct sets and checkpoint on Redis / Redis Cluster.

Everything here shares the namespace's hash tag (one slot), so a batch and its checkpoint commit
in one Lua script (lua.py): atomic, replicated and persisted as a unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from headwater.stores.live.ports import EXACT_THRESHOLD, LiveCheckpoint, LiveDelta
from headwater.stores.live.redis.connection import RedisConnection
from headwater.stores.live.redis.keys import Keys
from headwater.stores.live.redis.lua import APPLY, COUNTS, INIT_CHECKPOINT, UNION_COUNT

_encode = msgspec.msgpack.Encoder().encode


class RedisCounters:
    def __init__(self, conn: RedisConnection, keys: Keys) -> None:
        self.conn = conn
        self.keys = keys
        self.url = conn.url
        self.prefix = keys.prefix

    def ping(self) -> None:
        self.conn.run("PING", lambda c: c.ping())

    def load_checkpoint(self, tailer: str) -> LiveCheckpoint | None:
        key = self.keys.checkpoint(tailer)
        stored: dict[str, str] = self.conn.run("load checkpoint", lambda c: c.hgetall(key))
        return _checkpoint(stored)

    def init_checkpoint(self, tailer: str, offsets: Mapping[str, int], epoch: str) -> LiveCheckpoint:
        args: list[str] = [epoch]
        for file, offset in offsets.items():
            args += [file, str(offset)]
        key = self.keys.checkpoint(tailer)
        flat: list[str] = self.conn.run(
            "init checkpoint", lambda c: self.conn.script(c, INIT_CHECKPOINT)([key], args)
        )
        cp = _checkpoint(dict(zip(flat[::2], flat[1::2], strict=True)))
        assert cp is not None
        return cp

    def apply(
        self, tailer: str, epoch: str, base: Mapping[str, int], new: Mapping[str, int], delta: LiveDelta
    ) -> None:
        payload = _encode(
            {
                "epoch": epoch,
                "threshold": EXACT_THRESHOLD,
                "base": {f: str(o) for f, o in base.items()},
                "new": {f: str(o) for f, o in new.items()},
                "counters": [
                    [name, delta.expire_at[name], [x for k, n in row.items() for x in (k, n)]]
                    for name, row in delta.counters.items()
                ],
                "distinct": [
                    [name, delta.expire_at[name], list(members)] for name, members in delta.distinct.items()
                ],
            }
        )
        key = self.keys.checkpoint(tailer)
        self.conn.run("apply", lambda c: self.conn.script(c, APPLY)([key], [payload, self.prefix]))

    def reset(self, tailer: str) -> None:
        def drop(c: Any) -> None:
            keys = list(c.scan_iter(match=self.prefix + "*", count=1000))
            for i in range(0, len(keys), 500):  # one hash tag, one slot: a multi-key DEL is fine
                c.delete(*keys[i : i + 500])

        self.conn.run("reset", drop)

    def forget_checkpoint(self, tailer: str) -> None:
        key = self.keys.checkpoint(tailer)
        self.conn.run("forget checkpoint", lambda c: c.delete(key))

    def union_count(self, names: Sequence[str]) -> int:
        key = self.keys.checkpoint("live")
        args = [self.prefix, *names]
        return int(self.conn.run("count", lambda c: self.conn.script(c, UNION_COUNT)([key], args)))

    def counts(self, names: Sequence[str]) -> list[int]:
        if not names:
            return []
        key = self.keys.checkpoint("live")
        args = [self.prefix, *names]
        out = self.conn.run("counts", lambda c: self.conn.script(c, COUNTS)([key], args))
        return [int(x) for x in out]

    def counter(self, name: str) -> dict[str, int]:
        key = self.keys.counter(name)
        row: dict[str, str] = self.conn.run("read counter", lambda c: c.hgetall(key))
        return {k: int(v) for k, v in row.items()}

    # the same reads for the API's event loop: one round trip each, no thread
    async def aunion_count(self, names: Sequence[str]) -> int:
        key = self.keys.checkpoint("live")
        args = [self.prefix, *names]
        found = await self.conn.arun("count", lambda c: self.conn.aeval(c, UNION_COUNT, [key], args))
        return int(found)

    async def acounts(self, names: Sequence[str]) -> list[int]:
        if not names:
            return []
        key = self.keys.checkpoint("live")
        args = [self.prefix, *names]
        out = await self.conn.arun("counts", lambda c: self.conn.aeval(c, COUNTS, [key], args))
        return [int(x) for x in out]

    async def acounter(self, name: str) -> dict[str, int]:
        key = self.keys.counter(name)
        row: dict[str, str] = await self.conn.arun("read counter", lambda c: c.hgetall(key))
        return {k: int(v) for k, v in row.items()}

    async def aclose(self) -> None:
        await self.conn.adrop()

    def close(self) -> None:
        self.conn.drop()


def _checkpoint(stored: dict[str, str]) -> LiveCheckpoint | None:
    if "_epoch" not in stored:
        return None
    epoch = stored.pop("_epoch")
    return LiveCheckpoint(epoch, {f: int(o) for f, o in stored.items()})
