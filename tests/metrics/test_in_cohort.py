"""Every metric with ``in_cohort`` (docs/insights.md, Cohorts) equals the same metric computed over
a data directory holding only the cohort's people's events (the raw lines of those people, written
and loaded alike): the restriction reaches every path a metric reads (events, person days by name,
by hash, the step and session rollups' fallbacks, traits). A cohort of everyone changes nothing; a
real one changes the answers; late_events refuses it; an unknown cohort names the parameter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.etl import run_daily
from headwater.insights.cohorts import Cohorts
from headwater.lake.params import MetricError
from headwater.metrics.registry import run_metric
from headwater.stores.sql.cohorts import CohortCatalog
from tests.batch.logdata import write_log
from tests.helpers import cli
from tests.insights.data import DAYS, build
from tests.insights.reference import resolve

START, END = "2026-03-24", "2026-04-01"
#: a1 was identified as u9: its anonymous events are the cohort's too
COHORT = {"id": "some", "members": ["u3", "a1", "u5", "a2"]}
PEOPLE = {"u3", "u9", "u5", "anon:a2"}
CASES: list[tuple[str, dict[str, Any]]] = [
    ("dau", {}),
    ("wau", {}),
    ("mau", {}),
    ("stickiness", {}),
    ("features", {}),
    ("preferences", {"property": "plan"}),
    ("preferences", {"trait": "plan"}),
    ("sessions", {}),
    ("retention", {"period": "day"}),
    ("retention", {"period": "week", "cohort": "recurring", "start_event": "Signed Up"}),
    ("funnel", {"steps": "Signed Up,Tool Used", "window_days": 3}),
    ("funnel", {"steps": "page,Tool Used", "breakdown": "plan"}),
    ("lifecycle", {"period": "day"}),
]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Cohorts]:
    root = tmp_path_factory.mktemp("in-cohort")
    full = root / "full"
    lines = build(full)
    kept = {e["messageId"] for e in resolve(lines) if e["person"] in PEOPLE}
    only = root / "only"
    write_log(only, [e for e in lines if e["messageId"] in kept])
    for day in DAYS[:-1]:
        run_daily(only, day, "UTC")
    url = f"sqlite:///{root / 'control.db'}"
    with CohortCatalog(url) as catalog:
        catalog.put(COHORT)
        catalog.put({"id": "everyone", "rule": {"event": "No Such Event", "not_within_days": 36500}})
    return full, only, Cohorts(full, url)


def _same(answer: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in answer.items() if k != "in_cohort"}, default=str))


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris"])  # the rollups' paths, and the events'
def test_a_metric_of_a_cohort_is_the_metric_of_its_people(
    dirs: tuple[Path, Path, Cohorts], name: str, options: dict[str, Any], tz: str
) -> None:
    full, only, cohorts = dirs
    got = run_metric(full, "UTC", name, START, END, tz, {**options, "in_cohort": "some"}, cohorts)
    want = run_metric(only, "UTC", name, START, END, tz, options)
    assert _same(got) == _same(want)
    assert got["in_cohort"]["id"] == "some" and got["in_cohort"]["members"] == len(PEOPLE)
    everyone = run_metric(full, "UTC", name, START, END, tz, {**options, "in_cohort": "everyone"}, cohorts)
    plain = run_metric(full, "UTC", name, START, END, tz, options)
    assert _same(everyone) == _same(plain)


def test_the_cohort_changes_the_answers(dirs: tuple[Path, Path, Cohorts]) -> None:
    full, _, cohorts = dirs
    for name in ("dau", "mau", "sessions"):
        some = run_metric(full, "UTC", name, START, END, None, {"in_cohort": "some"}, cohorts)
        plain = run_metric(full, "UTC", name, START, END, None, {})
        assert _same(some)["rows"] != _same(plain)["rows"], name


def test_refusals(dirs: tuple[Path, Path, Cohorts]) -> None:
    full, _, cohorts = dirs
    with pytest.raises(MetricError, match="'in_cohort' does not apply to 'late_events'"):
        run_metric(full, "UTC", "late_events", START, END, None, {"in_cohort": "some"}, cohorts)
    with pytest.raises(MetricError) as unknown:
        run_metric(full, "UTC", "dau", START, END, None, {"in_cohort": "ghost"}, cohorts)
    assert unknown.value.code == "unknown_cohort" and "'in_cohort'" in unknown.value.message


def test_the_cli_and_the_api(dirs: tuple[Path, Path, Cohorts], tmp_path: Path) -> None:
    full, only, _ = dirs
    data = tmp_path / "data"
    shutil.copytree(full, data, ignore=shutil.ignore_patterns("cohorts"))
    assert cli(data, "cohorts", "create", json.dumps(COHORT)).returncode == 0
    shown = cli(data, "metrics", "dau", "--start", START, "--end", END, "--in-cohort", "some", "--json")
    want = run_metric(only, "UTC", "dau", START, END)
    assert json.loads(shown.stdout)["rows"] == _same(want)["rows"]
    ghost = cli(data, "metrics", "dau", "--start", START, "--end", END, "--in-cohort", "ghost", check=False)
    assert ghost.returncode == 2 and "'in_cohort'" in ghost.stderr

    from tests.http.asgi import ADMIN, Running, run

    async def scenario(hw: Running) -> None:
        url = f"/api/v1/metrics/mau?start={START}&end={END}&in_cohort=some"
        answer = await hw.client.get(url, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == _same(run_metric(only, "UTC", "mau", START, END))["rows"]
        bad = await hw.client.get(
            f"/api/v1/metrics/mau?start={START}&end={END}&in_cohort=ghost", headers=ADMIN
        )
        assert bad.status_code == 400 and "'in_cohort'" in bad.json()["error"]["message"]

    run(tmp_path, scenario)
