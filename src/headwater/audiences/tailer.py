"""The "audiences" tailer's target: logged events -> id map, stamps and membership in the live store.

For each batch: the ids it reveals are mapped to their user, the stamps of matching events are
added (keyed by message id, so applying a batch twice changes nothing), then every user the batch
touched is evaluated against every audience and its membership set to the result. The checkpoint
is the live store's own (``load_checkpoint`` / ``apply`` with an empty delta, under an epoch, as
the live tailer's): it is committed after the idempotent writes, so a crash in between replays the
batch harmlessly. A store with no checkpoint (new, or emptied) is rebuilt from every log file.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from headwater.audiences.definitions import Definitions
from headwater.audiences.state import AudienceState
from headwater.events.identity import ANON_PREFIX, clean_id
from headwater.events.timestamps import parse_timestamp
from headwater.log.record import LogRecord
from headwater.log.tailing.batch import CheckpointConflictError, TailBatch
from headwater.stores.live.ports import Counters, LiveConflictError, LiveDelta, Membership, Stamps
from headwater.targeting.membership import CompiledAudiences, event_name

log = logging.getLogger("headwater.audiences")

AUDIENCES_TAILER = "audiences"
#: identify traits read as advertising ids / buyer uids / eid values of the user (strings, or a
#: list of strings or of {"id": ...} under "eids").
ID_TRAITS = ("advertisingId", "buyeruid", "ifa", "idfa", "gaid", "eids")


#: The fields of a log line the audiences tailer reads: the record every tailer of a process
#: shares. ``properties``, ``traits`` and ``context`` stay undecoded (msgspec.Raw: a slice of the
#: line) until needed: properties only for events some audience condition is about, traits only on
#: identify, and of the context only ``device.advertisingId``. Decoding them all for every event was
#: most of this tailer's time and memory.
AudienceEvent = LogRecord


class _Device(msgspec.Struct, gc=False):
    advertisingId: Any = None


class _Context(msgspec.Struct, gc=False):
    device: _Device | None = None


_any = msgspec.json.Decoder()
_context = msgspec.json.Decoder(_Context)


def raw_object(raw: msgspec.Raw) -> dict[str, Any]:
    """A Raw field as a dict ({} when absent or not an object)."""
    if not raw:
        return {}
    value = _any.decode(raw)
    return value if isinstance(value, dict) else {}


def advertising_id(raw: msgspec.Raw) -> object:
    """context.device.advertisingId, reading nothing else of the context."""
    if not raw:
        return None
    try:
        ctx = _context.decode(raw)
    except msgspec.ValidationError:  # a context (or device) that is not an object
        return None
    return None if ctx.device is None else ctx.device.advertisingId


def actor(ev: AudienceEvent) -> str | None:
    user = clean_id(ev.userId)
    if user is not None:
        return user
    anon = clean_id(ev.anonymousId)
    return None if anon is None else ANON_PREFIX + anon


def ids_of(ev: AudienceEvent) -> list[str]:
    """The ad ids an event ties to its user: context.device.advertisingId, identify traits."""
    found: list[object] = [advertising_id(ev.context)]
    if ev.type == "identify" and ev.traits:
        traits = raw_object(ev.traits)
        for name in ID_TRAITS:
            value = traits.get(name)
            items = value if isinstance(value, list) else [value]
            found.extend(v.get("id") if isinstance(v, dict) else v for v in items)
    return [v for v in found if isinstance(v, str) and v.strip()]


class Folded:
    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.stamps: dict[str, Stamps] = {}
        self.users: set[str] = set()


def fold(events: Iterable[AudienceEvent], compiled: CompiledAudiences) -> Folded:
    out = Folded()
    for ev in events:
        user = actor(ev)
        if user is None or not ev.messageId:
            continue
        moment = parse_timestamp(ev.timestamp) if ev.timestamp else None
        if moment is None:  # the lake drops it too
            continue
        out.users.add(user)
        out.ids[user] = user
        for value in ids_of(ev):
            out.ids[value] = user
        name = event_name(ev.type, ev.event, ev.hw.event_type)
        if name not in compiled.by_event:  # no condition is about this event: its properties wait
            continue
        for cond in compiled.matching(name, raw_object(ev.properties)):
            ms = int(moment.timestamp() * 1000)
            out.stamps.setdefault(user, {}).setdefault(cond.key, {})[ev.messageId] = ms
    return out


def reconcile_users(
    membership: Membership, compiled: CompiledAudiences, users: list[str], now: datetime
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Set each user's membership to its evaluation at ``now``; (added, removed) by audience."""
    conds = list(compiled.conditions)
    stamps = membership.stamps_of(users, conds) if conds else {u: {} for u in users}
    have = membership.memberships(users)
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    for user in users:
        exact = compiled.members(stamps.get(user, {}), now)
        current = have.get(user, set())
        for aid in exact - current:
            added.setdefault(aid, []).append(user)
        for aid in current - exact:
            removed.setdefault(aid, []).append(user)
    for aid, members in added.items():
        membership.add_members(aid, members)
    for aid, members in removed.items():
        membership.remove_members(aid, members)
    return added, removed


class AudienceTarget:
    """The audiences tailer's target; its checkpoint is kept with the live counters' (an empty delta)."""

    def __init__(self, state: AudienceState, checkpoints: Counters, definitions: Definitions) -> None:
        self.state = state
        self.store = checkpoints
        self.definitions = definitions
        self.epoch: str | None = None

    def load_checkpoint(self, name: str) -> dict[str, int]:
        membership = self.state.membership
        if not membership.format_current():  # keys of an older layout (or none yet): rebuild
            membership.reset()
            self.store.forget_checkpoint(name)
            membership.mark_format()
        cp = self.store.load_checkpoint(name)
        if cp is None:
            cp = self.store.init_checkpoint(name, {}, secrets.token_hex(8))
            log.warning(
                "live store %s has no %r checkpoint: audiences rebuild from the log", self.store.url, name
            )
        self.epoch = cp.epoch
        return cp.offsets

    def apply(self, batch: TailBatch[AudienceEvent], new_checkpoint: dict[str, int]) -> None:
        if self.epoch is None:
            raise CheckpointConflictError("the audiences checkpoint was not loaded")
        compiled = self.definitions.current().compiled
        folded = fold(batch.records, compiled)
        if folded.ids:
            self.state.ids.map_ids(folded.ids)
        if folded.stamps:
            keep = {c.key: c.keep for c in compiled.conditions.values()}
            self.state.membership.add_stamps(folded.stamps, keep)
        if folded.users:
            reconcile_users(self.state.membership, compiled, sorted(folded.users), datetime.now(UTC))
        changes = batch.changed_files(new_checkpoint)
        base = {f: batch.base_checkpoint.get(f, 0) for f in changes}
        try:
            self.store.apply(batch.tailer, self.epoch, base, changes, LiveDelta())
        except LiveConflictError as exc:
            self.epoch = None
            raise CheckpointConflictError(f"tailer {batch.tailer!r}: {exc}") from None
