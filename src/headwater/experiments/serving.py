"""Serving assignments: sticky buckets read and written in the live store, one exposure per user and
phase written to the event log before the answer.

For one visitor and a set of experiments: read each sticky document once (one per hash attribute
value), evaluate every experiment (GrowthBook's rules), hand the new `Experiment Viewed` events to
the sink (the collector's ingestor: normalized and durable in the log), then save the new
assignments and exposure markers. A returning user (every assignment and exposure marker already
stored) is answered from one read, shared by the requests for that user in flight at the same time,
with no lock; anything to write is decided again under a per-user lock from a fresh read, so
requests for the same user are serialized within a process when they write, and a burst of first
requests logs one exposure. The exposure's messageId is derived from the user, the
experiment and the phase, so a duplicate that slips through (two workers racing on a user's very
first request, or a marker lost with a live store that restarted empty) is removed by the lake's
exact dedup by messageId.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.experiments.assignment import Context, Result, evaluate, sticky_key, suppressed_result
from headwater.experiments.exposure import EXPOSURE_EVENT, dedup_key, exposure_properties
from headwater.experiments.live_sticky import LiveStickyBucketStore, exposure_field
from headwater.experiments.model import Experiment, Status
from headwater.experiments.sticky import StickyKey

ExposureSink = Callable[[list[dict[str, Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Visitor:
    user_id: str | None
    anonymous_id: str | None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def context_attributes(self) -> dict[str, Any]:
        """The visitor's attributes plus `id` (userId, else anonymousId), `userId` and `anonymousId`."""
        out = dict(self.attributes)
        out["id"] = self.user_id or self.anonymous_id
        if self.user_id:
            out["userId"] = self.user_id
        if self.anonymous_id:
            out["anonymousId"] = self.anonymous_id
        return out


@dataclass(frozen=True, slots=True)
class Served:
    experiment: Experiment
    result: Result
    exposure_logged: bool  # this request wrote the user's exposure for this phase

    def to_json(self) -> dict[str, Any]:
        return {
            "experimentKey": self.experiment.key,
            "phase": self.experiment.phase,
            "status": self.experiment.status.value,
            **self.result.to_growthbook(),
            "reason": self.result.reason,
            "exposureLogged": self.exposure_logged,
        }


def exposure_message_id(result: Result) -> str:
    return "hwx-" + hashlib.sha256(dedup_key(result).encode()).hexdigest()[:32]


def exposure_event(exp: Experiment, result: Result, visitor: Visitor) -> dict[str, Any]:
    """Segment's `Experiment Viewed` track event for this assignment."""
    event: dict[str, Any] = {
        "type": "track",
        "event": EXPOSURE_EVENT,
        "messageId": exposure_message_id(result),
        "properties": exposure_properties(exp, result),
        "context": {"library": {"name": "headwater-experiments", "version": "1"}},
    }
    if visitor.user_id:
        event["userId"] = visitor.user_id
    if visitor.anonymous_id:
        event["anonymousId"] = visitor.anonymous_id
    return event


class Assigner:
    def __init__(self, sticky: LiveStickyBucketStore) -> None:
        self.sticky = sticky
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._reads: dict[str, asyncio.Future[dict[str, str]]] = {}
        #: whether an id is a suppressed person's (set by the wiring; docs/privacy.md)
        self.suppressed: Callable[[str], bool] | None = None

    @contextlib.asynccontextmanager
    async def _locked(self, names: Sequence[str]) -> AsyncIterator[None]:
        held: list[str] = []
        try:
            for name in names:  # sorted by the caller: no lock-order inversion
                lock, users = self._locks.get(name) or (asyncio.Lock(), 0)
                self._locks[name] = (lock, users + 1)
                held.append(name)
                await lock.acquire()
            yield
        finally:
            for name in reversed(held):
                lock, users = self._locks[name]
                if lock.locked():
                    lock.release()
                if users <= 1:
                    del self._locks[name]
                else:
                    self._locks[name] = (lock, users - 1)

    async def _shared_read(self, name: str) -> dict[str, str]:
        """One read per user document however many requests want it at the same time."""
        pending = self._reads.get(name)
        if pending is None:
            pending = self._reads[name] = asyncio.ensure_future(self.sticky.adocument(name))
            pending.add_done_callback(lambda done: self._done_read(name, done))
        return dict(await asyncio.shield(pending))

    def _done_read(self, name: str, done: asyncio.Future[dict[str, str]]) -> None:
        self._reads.pop(name, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone (cancelled)

    @staticmethod
    def _evaluate(
        experiments: Sequence[Experiment],
        keys: Mapping[str, StickyKey],
        docs: Mapping[str, dict[str, str]],
        ctx: Context,
        visitor: Visitor,
    ) -> tuple[list[Served], list[dict[str, Any]], dict[str, dict[str, str]]]:
        served: list[Served] = []
        events: list[dict[str, Any]] = []
        writes: dict[str, dict[str, str]] = {}
        for exp in experiments:
            key = keys.get(exp.key)
            doc = docs[key.user_id()] if key is not None else {}
            result = evaluate(exp, ctx, doc.get(key.assignment_id()) if key is not None else None)
            if result.sticky_to_save is not None:
                saved_key, variation = result.sticky_to_save
                writes.setdefault(saved_key.user_id(), {})[saved_key.assignment_id()] = variation
            log_it = key is not None and result.should_log_exposure and exposure_field(key) not in doc
            if log_it and key is not None:
                events.append(exposure_event(exp, result, visitor))
                writes.setdefault(key.user_id(), {})[exposure_field(key)] = "1"
            served.append(Served(exp, result, log_it))
        return served, events, writes

    async def assign(
        self, experiments: Sequence[Experiment], visitor: Visitor, sink: ExposureSink
    ) -> list[Served]:
        """Evaluate each experiment for the visitor; raises what the live store or the sink raise."""
        ctx = Context(attributes=visitor.context_attributes())
        check = self.suppressed
        if check is not None and any(check(i) for i in (visitor.user_id, visitor.anonymous_id) if i):
            return [Served(exp, suppressed_result(exp, ctx), False) for exp in experiments]
        keys: dict[str, StickyKey] = {}
        for exp in experiments:
            if exp.status is Status.RUNNING:
                key = sticky_key(exp, ctx.attributes)
                if key is not None:
                    keys[exp.key] = key
        names = sorted({k.user_id() for k in keys.values()})
        if len(names) == 1:
            docs = {names[0]: await self._shared_read(names[0])}
        else:
            found = await asyncio.gather(*(self._shared_read(name) for name in names))
            docs = dict(zip(names, found, strict=True))
        served, events, writes = self._evaluate(experiments, keys, docs, ctx, visitor)
        if not writes:  # a returning user: nothing to log or save
            return served
        async with self._locked(names):  # decide again from what is stored now
            docs = {name: await self.sticky.adocument(name) for name in names}
            served, events, writes = self._evaluate(experiments, keys, docs, ctx, visitor)
            if events:
                await sink(events)  # durable in the log before any marker says so
            for name, fields in writes.items():
                await self.sticky.awrite(name, fields)
        return served
