"""The fields of a log line that the tailers read, decoded once per batch for every tailer.

The realtime, live and audiences tailers of a process read the same batches (see
``BatchTurns``); decoding each line once into one record type for all three, instead of once per
tailer into a type of its own, took a fifth off the background process's CPU under load.
``properties``, ``traits`` and ``context`` stay undecoded (``msgspec.Raw``, a slice of the line):
only the audiences tailer looks into them, and only when it must. Every other field of a line is
skipped unparsed.
"""

from __future__ import annotations

import msgspec


class LogHw(msgspec.Struct, gc=False):
    """What the collector added under ``_hw``."""

    event_type: str | None = None
    tool_id: str | int | float | None = None


class LogRecord(msgspec.Struct, gc=False, frozen=True):
    """One log line as the tailers see it (frozen: the tailers of a process share each record)."""

    type: str = ""
    event: str | None = None
    messageId: str = ""
    userId: str | int | float | None = None
    anonymousId: str | int | float | None = None
    previousId: str | int | float | None = None
    timestamp: str | None = None
    receivedAt: str | None = None
    properties: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty when absent
    traits: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    context: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    hw: LogHw = msgspec.field(name="_hw", default_factory=LogHw)
