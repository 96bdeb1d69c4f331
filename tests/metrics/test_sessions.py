"""Sessions: 30 minutes of inactivity or 24 hours make a new session; never split at midnight.

Events (UTC), and the sessions derived by hand:
- u1 05-10 23:50, 23:55, 05-11 00:10, 00:20: one session across midnight, 1800 s, day 05-10 (UTC).
- u1 05-11 01:00 (40 min gap: new), 01:30 (exactly 30 min: same): 1800 s.
- u2 05-11 10:00, sent twice (same messageId): one event, 0 s.
- u3 every 20 minutes from 05-11 12:00 to 05-12 13:00: gaps never exceed 30 min, but the event
  of 05-12 12:00 is 24 h after the start: session A 05-11 12:00..05-12 11:40 (85200 s, 72 events),
  session B 05-12 12:00..13:00 (3600 s, 4 events).
- anonymous a4 at 05-11 15:00, identify u4 (a4) at 15:10: one session of u4, 600 s.
UTC: 05-10: 1 session (1800). 05-11: u1 1800, u2 0, u3 85200, u4 600 -> 4 sessions, 4 users,
  median (600+1800)/2 = 1200, p90 (linear) = 1800 + 0.7 * (85200 - 1800) = 60180. 05-12: 1 (3600).
Europe/Paris (UTC+2): u1's first session starts 01:50 local on 05-11, so 05-10 has no session
  (its log exists: 0, not missing); 05-11: 5 sessions of 4 users, durations 0, 600, 1800, 1800,
  85200: median 1800, p90 = 1800 + 0.6 * 83400 = 51840.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from headwater.events.sessions import split_sessions
from headwater.lake.layout import Lake
from headwater.lake.params import make_range
from headwater.lake.rollups.common import received_rows_sql
from headwater.lake.rollups.sessions import write_sessions
from headwater.lake.scope import Scope
from headwater.lake.sql import connect
from headwater.metrics import sessions
from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev
from tests.metrics.dataset import build


def _events() -> list[dict[str, object]]:
    out = [ev(f"2026-05-10T23:{m}:00.000Z", user="u1") for m in ("50", "55")]
    out += [ev(f"2026-05-11T{t}:00.000Z", user="u1") for t in ("00:10", "00:20", "01:00", "01:30")]
    out += [ev("2026-05-11T10:00:00.000Z", user="u2", mid="same")] * 2
    start = datetime(2026, 5, 11, 12, tzinfo=UTC)
    for i in range(76):  # 12:00 .. next day 13:00, every 20 minutes
        t = start + timedelta(minutes=20 * i)
        out.append(ev(t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), user="u3"))
    out.append(ev("2026-05-11T15:00:00.000Z", anon="a4"))
    out.append(ev("2026-05-11T15:10:00.000Z", type="identify", user="u4", anon="a4"))
    return out


@pytest.fixture(scope="module", params=[0, 3], ids=["log-only", "loaded"])
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sessions")
    build(d, _events(), etl_days=request.param, project_tz="UTC")
    return d


def by_date(out: dict[str, object]) -> dict[str, dict[str, object]]:
    rows = out["rows"]
    assert isinstance(rows, list)
    return {r["date"]: r for r in rows}


def test_sessions_utc(data: Path) -> None:
    rows = by_date(run_metric(data, "UTC", "sessions", "2026-05-10", "2026-05-12"))
    assert rows["2026-05-10"]["sessions"] == 1 and rows["2026-05-10"]["median_seconds"] == 1800
    day = rows["2026-05-11"]
    assert (day["sessions"], day["users"], day["median_seconds"], day["p90_seconds"]) == (4, 4, 1200, 60180)
    assert rows["2026-05-12"]["sessions"] == 1 and rows["2026-05-12"]["median_seconds"] == 3600


def test_sessions_paris(data: Path) -> None:
    rows = by_date(run_metric(data, "UTC", "sessions", "2026-05-10", "2026-05-11", tz="Europe/Paris"))
    assert rows["2026-05-10"]["sessions"] == 0 and rows["2026-05-10"]["missing"] is False
    day = rows["2026-05-11"]
    assert (day["sessions"], day["users"], day["median_seconds"], day["p90_seconds"]) == (5, 4, 1800, 51840)


def test_split_rule() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(minutes=m) for m in (0, 30, 61, 61 + 30)]
    # 0 and 30 (exactly 30 min) together; 61 is 31 min later: new session
    assert [(s - t0, n) for s, _, n in split_sessions(times)] == [
        (timedelta(0), 2),
        (timedelta(minutes=61), 2),
    ]


def _random_events(seed: int) -> list[dict[str, object]]:
    """People browsing anonymously then identified, bursts of events minutes apart, quiet hours,
    a few chains over 24 hours, late arrivals (received the next day) and retried messages."""
    rnd = random.Random(seed)
    out: list[dict[str, object]] = []
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    for k in range(25):
        t = t0 + timedelta(minutes=rnd.randrange(3 * 24 * 60))
        for _ in range(rnd.randrange(5, 60)):
            t += timedelta(minutes=rnd.choice([1, 5, 20, 30, 31, 45, 240]))
            who: dict[str, str] = {"anon": f"a{k}"} if rnd.random() < 0.3 else {"user": f"p{k % 18}"}
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            late = None
            if rnd.random() < 0.1:
                late = (t + timedelta(days=1)).strftime("%Y-%m-%dT08:00:00.000Z")
            e = ev(stamp, received=late, **who)  # type: ignore[arg-type]
            out.append(e)
            if rnd.random() < 0.05:
                out.append({**e, "receivedAt": (t + timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")})
        if k % 3 == 0:
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            out.append(ev(stamp, type="identify", user=f"p{k % 18}", anon=f"a{k}"))
    for i in range(90):  # one chain every 25 minutes for 37.5 hours: cut at 24 hours
        out.append(ev((t0 + timedelta(minutes=25 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"), user="chain"))
    return out


@pytest.mark.parametrize("etl_days", [2, 99], ids=["part-loaded", "loaded"])
def test_session_rollup_agrees_with_the_events(tmp_path: Path, etl_days: int) -> None:
    """The metric merges the ETL's per-actor runs (and today's log) into sessions; without the
    rollup it reads the events: the same rows either way."""
    build(tmp_path, _random_events(11), etl_days=etl_days, project_tz="UTC")
    answers = []
    for rollup in (True, False):
        if not rollup:
            for path in (tmp_path / "lake" / "sessions").glob("*.parquet"):
                path.unlink()
        rng = make_range("2026-06-01", "2026-06-06", "UTC", "UTC")
        with Scope(tmp_path, rng) as scope:
            assert (scope.session_runs(rng.start, rng.end) is not None) == rollup
            sessions._build(scope)  # the chain is a run of over 24 hours, cut from its events
            long = "SELECT count(*) FROM gap_sessions WHERE end_ts - start_ts > INTERVAL 30 HOUR"
            assert scope.sql(long)[0][0]
        answers.append(run_metric(tmp_path, "UTC", "sessions", "2026-06-01", "2026-06-06")["rows"])
    assert answers[0] == answers[1]
    assert sum(r["sessions"] or 0 for r in answers[0]) > 20


def test_session_rollup_in_chunks_of_actors_is_the_same(tmp_path: Path) -> None:
    """The ETL computes the runs a bounded number of events at a time, actors split by hash: the
    file holds the same runs as in one go."""
    build(tmp_path, _random_events(3), etl_days=99, project_tz="UTC")
    lake = Lake(tmp_path / "lake")
    recv = date(2026, 6, 2)
    con = connect(None)
    try:
        read = f"SELECT * FROM read_parquet('{lake.sessions_file(recv)}') ORDER BY ALL"
        whole = con.execute(read).fetchall()
        write_sessions(con, lake, recv, received_rows_sql(lake, recv), chunk_rows=40)
        chunked = con.execute(read).fetchall()
    finally:
        con.close()
    assert len(whole) > 20 and chunked == whole
