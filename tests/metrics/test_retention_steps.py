"""Retention with a named start or return event reads that event from the ETL's (event, actor_hash,
ts) rollup (people as hashes, the other side from the hashed person-day rollup) instead of every
event since the data's start: the same answers as the events read, on data with merged ids, late
events, duplicates and a week still in the log."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.etl import run_daily
from headwater.lake.params import make_range
from headwater.lake.scope import Scope
from headwater.metrics.registry import run_metric
from tests.batch.logdata import write_log
from tests.metrics.dataset import PARIS
from tests.metrics.test_person_days_compact import _random_events

OPTIONS: list[dict[str, str]] = [
    {"period": "day", "start_event": "Signup"},
    {"period": "week", "start_event": "Signup", "mode": "on_or_after"},
    {"period": "week", "start_event": "Signup", "return_event": "Clicked"},
    {"period": "day", "return_event": "Clicked", "cohort": "recurring"},
    {"period": "month", "start_event": "Clicked", "return_event": "Clicked"},
    {"period": "week", "start_event": "Never Sent"},
]
ZONES = [PARIS, "UTC", "Asia/Seoul"]  # the rollups' zone and two others


def _answers(data: Path) -> list[dict[str, Any]]:
    return [
        run_metric(data, PARIS, "retention", "2026-02-02", "2026-03-14", tz, opts)
        for tz in ZONES
        for opts in OPTIONS
    ]


def _step_people(data: Path) -> str | None:
    with Scope(data, make_range("2026-02-02", "2026-03-14", None, PARIS)) as scope:
        return scope.step_people(None, None, "Signup")


@pytest.mark.parametrize("etl_days", [35, 42])
def test_named_events_from_the_step_rollup_agree_with_the_events(tmp_path: Path, etl_days: int) -> None:
    data = tmp_path / "data"
    days = write_log(data, _random_events(etl_days))
    for day in days[:etl_days]:
        run_daily(data, day, PARIS)
    events_read = tmp_path / "old"
    shutil.copytree(data, events_read)
    shutil.rmtree(events_read / "lake" / "event_people")  # a lake without the rollup reads the events
    assert _step_people(data) is not None  # the rollup's path is the one tested
    assert _step_people(events_read) is None
    fast, slow = _answers(data), _answers(events_read)
    assert fast == slow
    assert sum(r["users"] for a in fast for r in a["average"]) > 0
    assert any(a["rows"] for a in fast[: len(OPTIONS) - 1])
