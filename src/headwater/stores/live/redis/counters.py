"""The live tailer's numbers and checkpoint on Redis / Redis Cluster.

Everything here shares the namespace's hash tag (one slot), so a batch and its checkpoint commit
in one Lua script (lua.py): atomic, replicated and persisted as a unit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import msgspec

from headwater.stores.live.ports import LiveCheckpoint, LiveDelta
from headwater.stores.live.redis.connection import RedisConnection
from headwater.stores.live.redis.keys import Keys
from headwater.stores.live.redis.lua import APPLY, HASHES, INIT_CHECKPOINT, REPLACE, WINDOW_SUM

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
                "base": {f: str(o) for f, o in base.items()},
                "new": {f: str(o) for f, o in new.items()},
                "counters": [
                    [name, delta.expire_at[name], [x for k, n in row.items() for x in (k, n)]]
                    for name, row in delta.counters.items()
                ],
                "values": [
                    [name, delta.expire_at[name], [x for k, n in row.items() for x in (k, n)]]
                    for name, row in delta.values.items()
                ],
            }
        )
        key = self.keys.checkpoint(tailer)
        self.conn.run("apply", lambda c: self.conn.script(c, APPLY)([key], [payload, self.prefix]))

    def replace(
        self, tailer: str, epoch: str, offsets: Mapping[str, int], delta: LiveDelta, forget: Sequence[str]
    ) -> None:
        rows = [
            [name, delta.expire_at[name], [x for k, n in row.items() for x in (k, n)]]
            for source in (delta.counters, delta.values)
            for name, row in source.items()
        ]
        payload = _encode(
            {
                "epoch": epoch,
                "new": {f: str(o) for f, o in offsets.items()},
                "values": rows,
                "forget": list(forget),
            }
        )
        key = self.keys.checkpoint(tailer)
        self.conn.run("replace", lambda c: self.conn.script(c, REPLACE)([key], [payload, self.prefix]))

    def reset(self, tailer: str) -> None:
        def drop(c: Any) -> None:
            keys = list(c.scan_iter(match=self.prefix + "*", count=1000))
            for i in range(0, len(keys), 500):  # one hash tag, one slot: a multi-key DEL is fine
                c.delete(*keys[i : i + 500])

        self.conn.run("reset", drop)

    def forget_checkpoint(self, tailer: str) -> None:
        key = self.keys.checkpoint(tailer)
        self.conn.run("forget checkpoint", lambda c: c.delete(key))

    def forget(self, ids: Collection[str]) -> int:
        """Numbers only here (ports.Counters.forget): nothing to remove."""
        return 0

    def hashes(self, names: Sequence[str]) -> list[dict[str, int]]:
        if not names:
            return []
        key = self.keys.checkpoint("live")
        args = [self.prefix, *names]
        out = self.conn.run("read", lambda c: self.conn.script(c, HASHES)([key], args))
        return [_row(flat) for flat in out]

    def window_sum(self, ranges: Sequence[tuple[str, int, int]]) -> int:
        key = self.keys.checkpoint("live")
        args = _window_args(self.prefix, ranges)
        return int(self.conn.run("window", lambda c: self.conn.script(c, WINDOW_SUM)([key], args)))

    # the same reads for the API's event loop: one round trip each, no thread
    async def ahashes(self, names: Sequence[str]) -> list[dict[str, int]]:
        if not names:
            return []
        key = self.keys.checkpoint("live")
        args = [self.prefix, *names]
        out = await self.conn.arun("read", lambda c: self.conn.aeval(c, HASHES, [key], args))
        return [_row(flat) for flat in out]

    async def awindow_sum(self, ranges: Sequence[tuple[str, int, int]]) -> int:
        key = self.keys.checkpoint("live")
        args = _window_args(self.prefix, ranges)
        return int(await self.conn.arun("window", lambda c: self.conn.aeval(c, WINDOW_SUM, [key], args)))

    async def aclose(self) -> None:
        await self.conn.adrop()

    def close(self) -> None:
        self.conn.drop()


def _row(flat: Sequence[Any]) -> dict[str, int]:
    return {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _window_args(prefix: str, ranges: Sequence[tuple[str, int, int]]) -> list[str]:
    args = [prefix]
    for name, lo, hi in ranges:
        args += [name, str(lo), str(hi)]
    return args


def _checkpoint(stored: dict[str, str]) -> LiveCheckpoint | None:
    if "_epoch" not in stored:
        return None
    epoch = stored.pop("_epoch")
    return LiveCheckpoint(epoch, {f: int(o) for f, o in stored.items()})
