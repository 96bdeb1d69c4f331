"""Cohorts (issue 19, item 6) against membership counted by hand over the raw log: a rule of the
audience language evaluated per person (merged ids, duplicates once), a rule met by people with no
matching event, a static list resolved through the identity graph; then each used as a filter and a
breakdown of a trend (rows equal the reference's), of paths and of web analytics; refusals name
the field; members follow a changed definition and a deletion."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headwater.insights.cohort_spec import CohortError, parse_cohort
from headwater.insights.cohorts import Cohorts, compute_members, forget_members, refresh_used, stored_members
from headwater.insights.paths import run_paths
from headwater.insights.trend import run_trend
from headwater.insights.web import run_web
from headwater.lake.params import MetricError
from headwater.stores.sql.cohorts import CohortCatalog
from tests.insights.reference import expected, resolve
from tests.insights.test_trend_truth import END, START, TOOL

POWER = {"id": "power", "name": "Power users", "rule": {"event": "Tool Used", "min_count": 10}}
PRO_OR_ANONYMOUS = {
    "id": "pro-or-anonymous",
    "name": "Used a tool on pro three times, or never identified",
    "rule": {
        "any": [
            {
                "event": "Tool Used",
                "where": [{"property": "plan", "op": "eq", "value": "pro"}],
                "min_count": 3,
            },
            {"event": "identify", "not_within_days": 36500},
        ]
    },
}
ANONYMOUS = {"id": "anonymous", "rule": {"event": "identify", "not_within_days": 36500}}
STATIC = {"id": "beta", "name": "Beta", "members": ["a1", "u3", "nobody-at-all"]}


def by_hand(lines: list[dict[str, Any]]) -> dict[str, set[str]]:
    events = [e for e in resolve(lines) if e["person"] is not None]
    people = {e["person"] for e in events}
    tools = Counter(e["person"] for e in events if e["name"] == "Tool Used")
    identified = {e["person"] for e in events if e["name"] == "identify"}
    pro = Counter(
        e["person"]
        for e in events
        if e["name"] == "Tool Used"
        and isinstance(e.get("properties"), dict)
        and e["properties"].get("plan") == "pro"
    )
    return {
        "power": {p for p, n in tools.items() if n >= 10},
        "pro-or-anonymous": {p for p, n in pro.items() if n >= 3} | (people - identified),
        "anonymous": people - identified,
        "beta": {"u9", "u3"} & people,  # a1 was identified as u9; nobody-at-all was never seen
    }


@pytest.fixture(scope="module")
def cohorts(
    lake: tuple[Path, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Cohorts, dict[str, set[str]]]:
    src, lines = lake
    data = tmp_path_factory.mktemp("cohorts") / "data"
    shutil.copytree(src, data)  # members are written under the data directory: not the shared lake's
    url = f"sqlite:///{data / 'control.db'}"
    with CohortCatalog(url) as catalog:
        for definition in (POWER, PRO_OR_ANONYMOUS, ANONYMOUS, STATIC):
            catalog.put(definition)
    return data, Cohorts(data, url), by_hand(lines)


def test_members_equal_the_count_by_hand(
    cohorts: tuple[Path, Cohorts, dict[str, set[str]]], lake: tuple[Path, list[dict[str, Any]]]
) -> None:
    _, resolver, truth = cohorts
    lines = lake[1]
    found = resolver.resolve({cid: "x" for cid in truth})
    for cid, want in truth.items():
        import pyarrow.parquet as pq

        got = set(pq.read_table(found[cid].path).column("person").to_pylist())
        assert got == want, cid
        assert found[cid].count == len(want)
    people = {e["person"] for e in resolve(lines) if e["person"]}
    for cid, members in truth.items():  # each cohort holds some people and leaves some out
        assert members and members < people, cid
    assert len(truth["beta"]) == 2 and len({frozenset(m) for m in truth.values()}) == len(truth)


CASES: dict[str, dict[str, Any]] = {
    "in-power": {
        "series": [TOOL],
        "filters": [{"type": "cohort", "name": "power", "op": "eq", "value": True}],
    },
    "not-in-power": {
        "series": [TOOL, {"event": None, "measure": "events"}],
        "filters": [{"type": "cohort", "name": "power", "op": "neq", "value": True}],
    },
    "eq-false": {
        "series": [{"event": None, "measure": "users"}],
        "filters": [{"type": "cohort", "name": "anonymous", "op": "eq", "value": False}],
        "interval": "range",
    },
    "static-any": {
        "series": [TOOL],
        "filters": [
            {"type": "cohort", "name": "beta", "op": "eq", "value": True},
            {"type": "event", "name": "plan", "op": "eq", "value": "pro"},
        ],
        "filter_match": "any",
    },
    "series-filter": {
        "series": [
            TOOL,
            {**TOOL, "filters": [{"type": "cohort", "name": "pro-or-anonymous", "op": "eq", "value": True}]},
        ],
        "formula": "A - B",
    },
    "breakdown": {
        "series": [TOOL, {"event": None, "measure": "events"}],
        "breakdown": {"type": "cohort", "name": "power"},
        "interval": "range",
    },
    "breakdown-week": {
        "series": [{"event": None, "measure": "users"}],
        "breakdown": {"type": "cohort", "name": "anonymous"},
        "interval": "week",
        "tz": "Europe/Paris",
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_trend_by_cohort_matches_the_count_by_hand(
    cohorts: tuple[Path, Cohorts, dict[str, set[str]]], lake: tuple[Path, list[dict[str, Any]]], case: str
) -> None:
    data, resolver, truth = cohorts
    body = {"start": START, "end": END, **CASES[case]}
    got = run_trend(data, "UTC", body, resolver)
    want = expected(lake[1], body, cohorts=truth)
    assert got["rows"] == want["rows"]
    assert got["breakdown_values"] == want["breakdown_values"]
    assert [r for r in got["rows"] if r["value"]], "a case that matches nothing tests little"
    every = [*body.get("filters", []), *(f for s in body["series"] for f in s.get("filters", []))]
    every += [body["breakdown"]] if "breakdown" in body else []
    named = {f["name"] for f in every if f["type"] == "cohort"}
    assert set(got["cohorts"]) == named
    assert all(c["members"] == len(truth[n]) for n, c in got["cohorts"].items())


def _everyone_and_nobody(data: Path, resolver: Cohorts) -> None:
    with CohortCatalog(resolver.database_url) as catalog:
        catalog.put({"id": "everyone", "rule": {"event": "No Such Event", "not_within_days": 36500}})
        catalog.put({"id": "nobody", "members": ["never-seen-1", "never-seen-2"]})


def test_paths_and_web_with_cohorts(
    cohorts: tuple[Path, Cohorts, dict[str, set[str]]], lake: tuple[Path, list[dict[str, Any]]]
) -> None:
    """A cohort of everyone changes nothing, a cohort of nobody empties the answer, and a real one
    keeps exactly its members: the paths' anchor and web analytics' visitors by hand."""
    data, resolver, truth = cohorts
    _everyone_and_nobody(data, resolver)
    base = {"start": START, "end": END}
    everyone = [{"type": "cohort", "name": "everyone", "op": "eq", "value": True}]
    nobody = [{"type": "cohort", "name": "nobody", "op": "eq", "value": True}]
    power = [{"type": "cohort", "name": "power", "op": "eq", "value": True}]
    in_range = [
        e for e in resolve(lake[1]) if e["person"] and START <= e["at"].date().isoformat() <= END
    ]  # fmt: skip

    paths = {**base, "event": "Tool Used", "steps": 3}
    plain = run_paths(data, "UTC", paths, resolver)
    assert plain["anchor"]["users"] == len({e["person"] for e in in_range if e["name"] == "Tool Used"})
    same = run_paths(data, "UTC", {**paths, "filters": everyone}, resolver)
    assert same["steps"] == plain["steps"] and same["anchor"] == plain["anchor"]
    assert run_paths(data, "UTC", {**paths, "filters": nobody}, resolver)["anchor"]["users"] == 0
    some = run_paths(data, "UTC", {**paths, "filters": power}, resolver)
    want = {e["person"] for e in in_range if e["name"] == "Tool Used" and e["person"] in truth["power"]}
    assert some["anchor"]["users"] == len(want) < plain["anchor"]["users"]
    assert some["cohorts"]["power"]["members"] == len(truth["power"])

    web = run_web(data, "UTC", base, resolver)
    assert web["summary"]["visitors"] == len({e["person"] for e in in_range if e["name"] == "page"})
    same_web = run_web(data, "UTC", {**base, "filters": everyone}, resolver)
    assert same_web["summary"] == web["summary"] and same_web["pages"] == web["pages"]
    empty = run_web(data, "UTC", {**base, "filters": nobody}, resolver)
    assert empty["summary"]["pageviews"] == 0 and empty["summary"]["visitors"] == 0
    part = run_web(data, "UTC", {**base, "filters": power}, resolver)
    pages = [e for e in in_range if e["name"] == "page" and e["person"] in truth["power"]]
    assert part["summary"]["visitors"] == len({e["person"] for e in pages}) < web["summary"]["visitors"]
    assert part["summary"]["pageviews"] == len(pages)


def test_refusals_name_the_field(cohorts: tuple[Path, Cohorts, dict[str, set[str]]]) -> None:
    data, resolver, _ = cohorts
    base = {"start": START, "end": END, "series": [TOOL]}
    cases = [
        ({"filters": [{"type": "cohort", "name": "ghost", "op": "eq", "value": True}]}, "filters[0].name"),
        ({"breakdown": {"type": "cohort", "name": "ghost"}}, "breakdown.name"),
        ({"filters": [{"type": "cohort", "name": "power", "op": "gt", "value": 1}]}, "filters[0].op"),
        ({"filters": [{"type": "cohort", "name": "power", "op": "eq", "value": "yes"}]}, "filters[0].value"),
        (
            {"filters": [{"type": "cohort", "name": "no spaces", "op": "eq", "value": True}]},
            "filters[0].name",
        ),
    ]
    for extra, field in cases:
        with pytest.raises(MetricError) as caught:
            run_trend(data, "UTC", {**base, **extra}, resolver)
        assert repr(field) in caught.value.message and caught.value.status == 400, (
            field,
            caught.value.message,
        )
    with pytest.raises(
        MetricError, match=r"'filters\[0\].name' names a cohort, and cohorts are not available"
    ):
        run_trend(data, "UTC", {**base, "filters": [{"type": "cohort", "name": "power", "op": "eq"}]})


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"id": "x"}, "rule"),
        ({"id": "x", "rule": {"event": "A"}, "members": ["u"]}, "rule"),
        ({"id": "bad id", "members": []}, "id"),
        ({"id": "x", "members": "u1"}, "members"),
        ({"id": "x", "members": ["u1", ""]}, "members[1]"),
        ({"id": "x", "members": ["u"] * 100_001}, "members"),
        (
            {"id": "x", "rule": {"event": "A", "where": [{"property": "p", "op": "like", "value": 1}]}},
            "rule.where[0].op",
        ),
        ({"id": "x", "rule": {"any": []}}, "rule.any"),
        ({"id": "x", "rule": {"event": "A"}, "colour": 1}, "colour"),
        ([], "cohort"),
    ],
)
def test_bad_definitions_name_the_field(definition: Any, field: str) -> None:
    with pytest.raises(CohortError) as caught:
        parse_cohort(definition)
    assert caught.value.field == field, (caught.value.field, str(caught.value))


def test_members_follow_the_definition_and_a_deletion(
    cohorts: tuple[Path, Cohorts, dict[str, set[str]]], lake: tuple[Path, list[dict[str, Any]]]
) -> None:
    data, resolver, truth = cohorts
    with CohortCatalog(resolver.database_url) as catalog:
        catalog.put({"id": "changing", "rule": {"event": "Tool Used", "min_count": 1}})
        first = resolver.resolve({"changing": "x"})["changing"]
        catalog.put({"id": "changing", "rule": {"event": "Tool Used", "min_count": 10}})
        second = resolver.resolve({"changing": "x"})["changing"]
        assert second.digest != first.digest and second.count == len(truth["power"]) < first.count
        assert resolver.resolve({"changing": "x"})["changing"].computed_at == second.computed_at  # kept
        # a deletion: the computed members go, the static lists lose the ids
        assert catalog.forget_ids(["u3", "a1"]) == 2
        beta = catalog.get("beta")
        assert beta is not None and beta.definition["members"] == ["nobody-at-all"]
        catalog.put(STATIC)  # as the other tests expect it
    assert forget_members(data) >= 2 and stored_members(data, "changing") is None
    # evaluated at another moment: the events after it do not count (as the audience engine reads them)
    moment = datetime(2026, 3, 31, 12, tzinfo=UTC)
    old = compute_members(data, parse_cohort(POWER), moment)
    events = [e for e in resolve(lake[1]) if e["person"] and e["name"] == "Tool Used" and e["at"] <= moment]
    want = {p for p, n in Counter(e["person"] for e in events).items() if n >= 10}
    assert old.count == len(want) and 0 < len(want) < len(truth["power"])
    assert old.computed_at == "2026-03-31T12:00:00Z"


def test_the_nightly_refresh_computes_the_cohorts_in_use(
    cohorts: tuple[Path, Cohorts, dict[str, set[str]]],
) -> None:
    data, resolver, truth = cohorts
    with CohortCatalog(resolver.database_url) as catalog:
        catalog.put({"id": "unused", "rule": {"event": "Signed Up"}})
        catalog.put(POWER)
    resolver.resolve({"power": "x"})
    before = stored_members(data, "power")
    assert before is not None
    os.utime(before.path, (0, 0))  # members of long ago
    done = refresh_used(data, resolver.database_url)
    assert "power" in done and "unused" not in done and stored_members(data, "unused") is None
    assert done["power"].count == len(truth["power"])
    assert before.path.stat().st_mtime > 0  # written again
    assert refresh_used(data / "nowhere", resolver.database_url) == {}
