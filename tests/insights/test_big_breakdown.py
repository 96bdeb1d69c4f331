"""A breakdown over 100,000 distinct values: the top N and one $other group, in bounded memory
(DuckDB under its memory limit; only the kept values reach Python), the users of $other counted
as distinct people, not summed over its 99,998 values."""

from __future__ import annotations

import json
import tracemalloc
from datetime import date
from pathlib import Path

from headwater.batch.etl import run_daily
from headwater.insights.trend import run_trend

DISTINCT = 100_000
USERS = 50


def _write(data: Path) -> None:
    """Day 1 (loaded): 100,000 events of 50 users, each with a value of its own; day 2 (the log
    only): "hot" for 30 users and "warm" for 20, twice each."""
    log = data / "log"
    log.mkdir(parents=True)
    for day, lines in (("2026-05-01", range(DISTINCT)), ("2026-05-02", range(100))):
        with open(log / f"events-{day.replace('-', '')}.t.jsonl", "w") as fh:
            for i in lines:
                if day == "2026-05-01":
                    user, value = f"u{i % USERS}", f"v{i:06d}"
                else:
                    user, value = f"u{i % 50}", "hot" if i % 50 < 30 else "warm"
                event = {
                    "type": "track",
                    "event": "Searched",
                    "messageId": f"{day}-{i}",
                    "userId": user,
                    "timestamp": f"{day}T12:00:00.000Z",
                    "receivedAt": f"{day}T12:00:00.000Z",
                    "properties": {"q": value},
                    "context": {},
                    "_hw": {"source": "t", "event_type": "Searched", "bot": False},
                }
                fh.write(json.dumps(event) + "\n")
    run_daily(data, date(2026, 5, 1), "UTC")


def test_a_hundred_thousand_values_keep_the_top_and_one_other(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _write(data)
    body = {
        "start": "2026-05-01",
        "end": "2026-05-02",
        "interval": "range",
        "series": [{"event": "Searched", "measure": "users"}, {"event": "Searched", "measure": "events"}],
        "breakdown": {"type": "event", "name": "q"},
        "limit": 2,
    }
    tracemalloc.start()
    try:
        out = run_trend(data, "UTC", body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, peak  # Python never holds the 100,000 values
    assert out["breakdown_values"] == ["hot", "warm", "$other"]
    got = {(r["series"], r["breakdown"]): r["value"] for r in out["rows"]}
    assert got == {
        ("A", "hot"): 30,
        ("B", "hot"): 60,
        ("A", "warm"): 20,
        ("B", "warm"): 40,
        ("A", "$other"): USERS,  # distinct people of the 100,000 values: not a sum of 100,000 ones
        ("B", "$other"): DISTINCT,
    }
    by_day = run_trend(data, "UTC", {**body, "interval": "day", "limit": 100})
    assert len(by_day["breakdown_values"]) == 101 and by_day["breakdown_values"][-1] == "$other"
    other = {
        r["date"]: r["value"] for r in by_day["rows"] if r["breakdown"] == "$other" and r["series"] == "A"
    }
    assert other == {"2026-05-01": USERS, "2026-05-02": 0}
