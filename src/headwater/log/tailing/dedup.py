"""Exact deduplication by messageId over the last 24 hours of the log, for the realtime tailers.

A client that retries (a timeout, a crash before the answer) sends the same message again with
the same messageId; the log keeps both (DESIGN 1: duplicates are kept, dedup is downstream) and
the batch counts the first only. The realtime and live tailers do the same within a window: an
event whose messageId was received in the last :data:`WINDOW_HOURS` hours (or earlier in the same
batch) is a duplicate and counts nowhere.

The window follows the log, not the wall clock: it ends at the latest ``receivedAt`` seen, so a
replay drops exactly what live tailing dropped. Memory: a fingerprint per message (8 bytes, in a
:class:`FingerprintSet`) plus its hour (8 bytes), ~17 bytes a message kept: 5.7 MB for the
333,000 messages of a day at 10M events a month. A retry received more than 24 hours after the
original is counted again in real time (the batch still drops it); messages without an id are
never duplicates.

:meth:`RecentMessages.check` says which messages of a batch are first seen without remembering
them; :meth:`RecentMessages.commit` remembers them once the batch is applied, so a failed apply
leaves the window as the store is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from headwater.log.tailing.fingerprints import FingerprintSet, Int64Array

WINDOW_HOURS = 24
_HOUR_CHARS = 13  # "YYYY-MM-DDTHH" of a canonical receivedAt


@dataclass(slots=True)
class Checked:
    """What :meth:`RecentMessages.check` found: which messages are first seen, and what to remember."""

    first: list[bool]
    fps: Int64Array  # of the first-seen messages
    hours: list[str]  # the receivedAt hour of each of them


class RecentMessages:
    def __init__(self, window_hours: int = WINDOW_HOURS) -> None:
        self.window_hours = window_hours
        self.seen = FingerprintSet()
        self.by_hour: dict[str, list[Int64Array]] = {}
        self.latest_hour = ""
        self.duplicates = 0  # dropped so far (for the status)

    def __len__(self) -> int:
        return len(self.seen)

    def check(self, ids: Sequence[str], received: Sequence[str | None]) -> Checked:
        n = len(ids)
        if not n:
            return Checked([], np.empty(0, dtype=np.int64), [])
        fps = np.fromiter(map(hash, ids), dtype=np.int64, count=n)
        hour_of = [r[:_HOUR_CHARS] if r else "" for r in received]
        newest = max(hour_of)
        if newest and _hour(newest, "") != newest:  # not all canonical (hand-made lines): check each
            hour_of = [_hour(r, "") for r in received]
            newest = max(hour_of)
        if newest > self.latest_hour:  # the log moved on: messages out of the window go first
            self.latest_hour = newest
            self._expire()
        first = ~self.seen.contains_many(fps)
        values = fps.tolist()
        if len(set(values)) < n:  # a message twice in the batch: the first one counts
            _, at = np.unique(fps, return_index=True)
            once = np.zeros(n, dtype=bool)
            once[at] = True
            first &= once
        if "" in ids:  # no id: never a duplicate, never remembered
            for i, message_id in enumerate(ids):
                if not message_id:
                    first[i] = True
        flags = first.tolist()
        if all(flags) and "" not in ids:
            return Checked(flags, fps, [h or self.latest_hour for h in hour_of])
        keep = [i for i, f in enumerate(flags) if f and ids[i]]
        hours = [hour_of[i] or self.latest_hour for i in keep]
        return Checked(flags, fps[keep], hours)

    def commit(self, checked: Checked) -> None:
        if not len(checked.fps):
            return
        self.seen.add_absent(checked.fps.tolist())
        hours = np.array(checked.hours)
        for hour in set(checked.hours):
            self.by_hour.setdefault(hour, []).append(checked.fps[hours == hour])

    def first_seen(self, ids: Sequence[str], received: Sequence[str | None]) -> list[bool]:
        """check then commit: for a caller that rebuilds the window whenever an apply fails."""
        checked = self.check(ids, received)
        self.commit(checked)
        self.duplicates += checked.first.count(False)
        return checked.first

    def _expire(self) -> None:
        try:
            latest = datetime.strptime(self.latest_hour, "%Y-%m-%dT%H")
        except ValueError:
            return
        horizon = f"{latest - timedelta(hours=self.window_hours):%Y-%m-%dT%H}"
        for hour in [h for h in self.by_hour if h < horizon]:
            for fps in self.by_hour.pop(hour):
                self.seen.discard_all(fps)

    def nbytes(self) -> int:
        return self.seen.nbytes() + sum(a.nbytes for arrays in self.by_hour.values() for a in arrays)


def _hour(received: str | None, fallback: str) -> str:
    if received and len(received) >= _HOUR_CHARS and received[4] == "-" and received[10] == "T":
        hour = received[:_HOUR_CHARS]
        if hour.replace("-", "").replace("T", "").isdigit():
            return hour
    return fallback


def warm(window: RecentMessages, batches: Iterable[tuple[Sequence[str], Sequence[str | None]]]) -> None:
    """Fill a window from the log read up to a checkpoint: (ids, receivedAt) per batch."""
    for ids, received in batches:
        window.commit(window.check(ids, received))
