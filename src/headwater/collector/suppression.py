"""Suppressed people, as the collector sees them (docs/privacy.md): the keyed hashes of their ids,
re-read every second, and a check of one event against them. With nobody suppressed the check is
one test of an empty set.

A message is the person's when any id it names is theirs: ``userId``, ``anonymousId`` or an alias's
``previousId`` (an alias from a suppressed id would link a new id to them). The same check serves
every place events re-enter (import, replay, the sticky-bucket restore), with the list read once
by :func:`suppression_list`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from headwater.privacy.keyed import id_hash

if TYPE_CHECKING:
    from headwater.stores.sql.privacy import SqlPrivacy

log = logging.getLogger("headwater.privacy")
REFRESH_SECONDS = 1.0
#: the fields of a message that name a person (the log's, and /api/events' spellings of them)
ID_FIELDS = ("userId", "anonymousId", "previousId", "user_id", "anonymous_id")


def id_text(value: object) -> str:
    """An id as the log keeps it (a number becomes its text, as the normalizer makes it); "" for none."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def names_suppressed(ids: Iterable[object], key: bytes, hashes: frozenset[str]) -> bool:
    """Whether any of these ids (strings or numbers; anything else is no id) is suppressed."""
    if not hashes:
        return False
    for value in ids:
        text = id_text(value)
        if text and id_hash(key, text) in hashes:
            return True
    return False


def message_suppressed(message: dict[str, Any], key: bytes, hashes: frozenset[str]) -> bool:
    """Whether a message (valid or not) names a suppressed id in any of :data:`ID_FIELDS`."""
    return bool(hashes) and names_suppressed((message.get(f) for f in ID_FIELDS), key, hashes)


def suppression_list(url: str) -> tuple[bytes, frozenset[str]]:
    """The installation's hashing key and the suppressed people's id hashes, read once (for the
    commands and processes that do not run :class:`Suppression`: import, replay, sticky restore)."""
    from headwater.stores.sql.database import open_database
    from headwater.stores.sql.privacy import SqlPrivacy

    db = open_database(url)
    try:
        privacy = SqlPrivacy(db)
        return privacy.key(), privacy.suppressed()
    finally:
        db.close()


class SuppressedIds:
    """A suppression list read once, checking many records: each distinct id is hashed once."""

    MEMO = 100_000  # ids remembered (a replay sees the same ids over and over)

    def __init__(self, key: bytes, hashes: frozenset[str]) -> None:
        self.key = key
        self.hashes = hashes
        self._memo: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def hit(self, ids: Iterable[object]) -> bool:
        """Whether any of these ids is suppressed."""
        if not self.hashes:
            return False
        memo = self._memo
        for value in ids:
            text = id_text(value)
            if not text:
                continue
            hit = memo.get(text)
            if hit is None:
                if len(memo) >= self.MEMO:
                    memo.clear()
                hit = memo[text] = id_hash(self.key, text) in self.hashes
            if hit:
                return True
        return False


class Suppression:
    """A Service (runtime.py) and the collector's check."""

    name = "suppression"

    def __init__(self, privacy: SqlPrivacy) -> None:
        self.privacy = privacy
        self.hashes: frozenset[str] = frozenset()
        self._key = b""
        self._task: asyncio.Task[None] | None = None
        self._error = ""

    def load(self) -> None:
        self._key = self.privacy.key()
        self.hashes = self.privacy.suppressed()

    def is_suppressed(self, value: str) -> bool:
        """Whether one id is a suppressed person's."""
        if not self.hashes or not value:
            return False
        return id_hash(self._key, value) in self.hashes

    def hit(self, message: dict[str, Any]) -> bool:
        """Whether the message (as sent: valid or not) names a suppressed id in its userId,
        anonymousId or previousId."""
        return message_suppressed(message, self._key, self.hashes)

    async def start(self) -> None:
        await asyncio.to_thread(self.load)
        self._task = asyncio.create_task(self._loop(), name="suppression-refresh")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await asyncio.to_thread(self.load)
                self._error = ""
            except Exception as exc:  # the store is away: keep the last list, say so once
                if not self._error:
                    log.warning("cannot re-read the suppression list: %s", exc)
                self._error = str(exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def status(self) -> tuple[bool, dict[str, Any]]:
        return True, {"suppressed_ids": len(self.hashes), "error": self._error or None}
