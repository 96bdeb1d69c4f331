"""A small hand-written event set whose metrics are derived by hand in the tests' comments.

Times are UTC. Europe/Paris is UTC+1 until 2026-03-29 01:00Z, then UTC+2 (summer time): the local
day 2026-03-29 lasts 23 hours, from 2026-03-28T23:00Z to 2026-03-29T22:00Z.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from headwater.batch.etl import run_daily
from tests.batch.logdata import ev, write_log

PARIS = "Europe/Paris"


def active_events() -> list[dict[str, object]]:
    return [
        # received 03-27: an anonymous visitor who identifies later (03-30) as u5
        ev("2026-03-27T10:00:00.000Z", anon="a5"),
        # junk userId: the visitor anon:a6 (never identified) counts as one user
        ev("2026-03-27T11:00:00.000Z", user="undefined", anon="a6"),
        # junk anonymousId: plain user u7
        ev("2026-03-27T12:00:00.000Z", user="u7", anon="null"),
        # two people identified on a device whose anonymousId is junk: never merged
        ev("2026-03-27T13:00:00.000Z", type="identify", user="u8", anon="anonymous", traits={"plan": "pro"}),
        ev("2026-03-27T14:00:00.000Z", type="identify", user="u9", anon="anonymous", traits={"plan": "free"}),
        # only a junk id: not a user at all
        ev("2026-03-27T14:30:00.000Z", anon="0"),
        # received 03-28 (UTC): u1 late evening in Paris (23:30 local on 03-28)
        ev("2026-03-28T22:30:00.000Z", user="u1", mid="dup-1"),
        # u2 at 00:30 Paris on 03-29 (winter time still), UTC day 03-28
        ev("2026-03-28T23:30:00.000Z", user="u2"),
        # received 03-29: the retry of u1's event (same messageId) -> deduplicated
        ev("2026-03-28T22:30:00.000Z", user="u1", mid="dup-1", received="2026-03-29T00:05:00.000Z"),
        # a late event of 03-27 arriving on 03-29: counts on 03-27
        ev("2026-03-27T15:00:00.000Z", user="u10", received="2026-03-29T08:00:00.000Z"),
        # u3 at 23:30 Paris summer time on 03-29; u4 at 00:30 Paris on 03-30 (UTC day 03-29)
        ev("2026-03-29T21:30:00.000Z", user="u3"),
        ev("2026-03-29T22:30:00.000Z", user="u4"),
        # received 03-30: a5 identifies as u5
        ev("2026-03-30T10:00:00.000Z", type="identify", user="u5", anon="a5"),
    ]


def build(data_dir: Path, events: list[dict[str, object]], etl_days: int, project_tz: str = PARIS) -> None:
    """Write the log, then load the first `etl_days` received days into the lake (the rest stays in the
    log, read by the metrics as today's data)."""
    days: list[date] = write_log(data_dir, events)
    for day in days[:etl_days]:
        run_daily(data_dir, day, project_tz)
