"""The warehouse engine answers like the lake: the same log goes through the lake's ETL and the
exporter (into the BigQuery emulator), then every metric the warehouse supports is computed by both
engines and the JSON compared whole (every count, rate, flag and date), plus the CLI flag and the
API parameter.

The log: 20 people over 2026-10-18..11-12 in America/New_York, across the end of summer time
(2026-11-01 06:00Z: that local day lasts 25 hours), events near local midnight on both sides of
it, anonymous visitors who identify later (their earlier events move to the user), an alias, junk
ids, retried messages (the same messageId received again hours later, sometimes another day),
late events, several tools and events, ties at the same microsecond in funnels, and a UTC day
with no data at all (2026-10-27: reported missing). The received days from 11-03 on stay in the
log, not loaded (the lake reads them as it reads today's log, identity links among them); the
exporter exports every hour.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from headwater.batch.etl import run_daily
from headwater.config import Settings
from headwater.lake.params import MetricError
from headwater.metrics.registry import METRICS, run_metric
from headwater.stores.warehouse import open_warehouse
from headwater.warehouse.export import Exporter
from headwater.warehouse.metrics import SUPPORTED, UNSUPPORTED, Cost, run_warehouse_metric
from tests.batch.logdata import ev, write_log
from tests.bq_services import BqEmulator
from tests.helpers import cli
from tests.http.asgi import ADMIN, running

TZ = "America/New_York"
FIRST, LAST = date(2026, 10, 18), date(2026, 11, 12)
GAP = date(2026, 10, 27)  # no event happens or is received on this UTC day
PENDING_FROM = date(2026, 11, 3)  # received days from this one on are not loaded into the lake
STEPS = ("Signed Up", "Project Created", "Teammate Invited")
OTHER = ("Viewed Dashboard", "Exported", "Searched")
TOOLS = ("editor", "export", "billing", None)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _received(moment: datetime, rnd: random.Random) -> datetime:
    """A batching client: events go out at the next 8-hour mark (few export hours), some late."""
    base = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=8 - moment.hour % 8)
    if rnd.random() < 0.04:
        base += timedelta(days=rnd.choice((2, 3)))
    while base.date() == GAP:
        base += timedelta(hours=8)
    return base + timedelta(minutes=rnd.randrange(0, 50))


@dataclass
class Log:
    events: list[dict[str, Any]]
    #: the person each event belongs to (None: nobody), one per messageId, by the rules of DESIGN §5
    truth: dict[str, tuple[str | None, datetime]]


def make_log(seed: int = 7) -> Log:
    rnd = random.Random(seed)
    events: list[dict[str, Any]] = []
    truth: dict[str, tuple[str | None, datetime]] = {}
    counter = iter(range(1, 1_000_000))

    def add(
        moment: datetime,
        person: str | None,
        *,
        user: str | None = None,
        anon: str | None = None,
        event: str | None = None,
        type: str = "track",
        tool: str | None = None,
        props: dict[str, Any] | None = None,
        previous: str | None = None,
    ) -> None:
        if moment.astimezone(UTC).date() == GAP:
            return
        mid = f"m{next(counter)}"
        received = _received(moment.astimezone(UTC), rnd)
        line = ev(
            _stamp(moment),
            user=user,
            anon=anon,
            event=event or rnd.choice(OTHER),
            type=type,
            tool=tool,
            props=props,
            previous=previous,
            mid=mid,
            received=_stamp(received),
        )
        events.append(line)
        truth[mid] = (person, moment.astimezone(UTC))
        if rnd.random() < 0.08:  # a retry of the same message, received hours later
            retry = dict(line, receivedAt=_stamp(received + timedelta(hours=rnd.choice((1, 9, 20, 30)))))
            if date.fromisoformat(retry["receivedAt"][:10]) != GAP:
                events.append(retry)

    zone = ZoneInfo(TZ)
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    for n in range(20):
        person = f"u{n}"
        kind = n % 4  # 0: identified throughout; 1: anonymous, identifies later; 2: never; 3: alias
        joined = days[rnd.randrange(0, 12)]
        identify_day = joined + timedelta(days=rnd.randrange(1, 6))
        if identify_day == GAP:
            identify_day += timedelta(days=1)
        active = sorted({d for d in days if d >= joined and rnd.random() < 0.45} | {joined, identify_day})
        for d in active:
            # near local midnight often; on the day of the identify (at noon), before and after it
            hours = [rnd.choice((0, 0, 1, 9, 13, 18, 23, 23)) for _ in range(rnd.randrange(1, 4))]
            for hour in [9, 15] if d == identify_day else hours:
                local = datetime(
                    d.year, d.month, d.day, hour, rnd.randrange(60), rnd.randrange(60), tzinfo=zone
                )
                before = d < identify_day or (d == identify_day and hour < 12)
                tool = rnd.choice(TOOLS)
                name = rnd.choice(STEPS + OTHER)
                plan = {"plan": rnd.choice(("free", "pro"))} if rnd.random() < 0.7 else None
                props = plan if name == STEPS[0] else None
                if kind == 0:
                    add(local, person, user=person, event=name, tool=tool, props=props)
                elif kind == 1:
                    ids = {"anon": f"a{n}"} if before else {"user": person, "anon": f"a{n}"}
                    add(local, person, event=name, tool=tool, props=props, **ids)
                elif kind == 2:
                    add(local, f"anon:a{n}", anon=f"a{n}", event=name, tool=tool, props=props)
                else:
                    add(
                        local,
                        person,
                        user=f"old{n}" if before else person,
                        event=name,
                        tool=tool,
                        props=props,
                    )
        noon = datetime(identify_day.year, identify_day.month, identify_day.day, 12, tzinfo=zone)
        if kind == 1:
            add(noon, person, type="identify", user=person, anon=f"a{n}")
        if kind == 3:
            add(noon, person, type="alias", user=person, previous=f"old{n}")
    # funnel ties (f1, f2): the three steps at the same microsecond, logged in other orders than the
    # steps'; the 3-day window's edge (funnel 3 days): f3's step 3 exactly on it (counts), f4's 1 ms
    # after it (does not); both start in the 25-hour local day
    tie = datetime(2026, 10, 31, 22, 30, tzinfo=zone)  # 02:30Z on 11-01, before the change
    for who, order in (("f1", (2, 1, 0)), ("f2", (1, 0, 2))):
        for i in order:
            add(tie, who, user=who, event=STEPS[i], tool="editor", props={"plan": "pro"} if i == 0 else None)
    edge = datetime(2026, 11, 1, 0, 30, tzinfo=zone).astimezone(UTC)  # 3 days = 72 hours, not wall time
    for who, after in (("f3", timedelta(0)), ("f4", timedelta(milliseconds=1))):
        add(edge, who, user=who, event=STEPS[0], props={"plan": "free"})
        add(edge + timedelta(hours=2), who, user=who, event=STEPS[1])
        add(edge + timedelta(days=3) + after, who, user=who, event=STEPS[2])
    # a retry whose corrected timestamp moved by 5 hours (another UTC date): the first received copy
    # (local 10-23) is the one kept, so s1 is not active on 10-24 even in a range that starts then
    first = ev("2026-10-23T23:30:00.000Z", user="s1", mid="skewed", received="2026-10-24T00:10:00.000Z")
    events.append(first)
    events.append(dict(first, timestamp="2026-10-24T04:30:00.000Z", receivedAt="2026-10-24T05:10:00.000Z"))
    truth["skewed"] = ("s1", datetime(2026, 10, 23, 23, 30, tzinfo=UTC))
    # junk ids: a visitor never identified (anon:a90) and an event of nobody at all
    add(datetime(2026, 11, 2, 9, tzinfo=zone), "anon:a90", user="undefined", anon="a90", tool="editor")
    add(datetime(2026, 11, 2, 10, tzinfo=zone), None, anon="0", tool="editor")
    # the collector appends in the order it receives (the exporter relies on it to find an hour)
    events.sort(key=lambda e: e["receivedAt"])
    return Log(events, truth)


@dataclass
class Built:
    data_dir: Path
    url: str
    log: Log


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, bq_emulator: BqEmulator) -> Iterator[Built]:
    data_dir = tmp_path_factory.mktemp("engines") / "data"
    log = make_log()
    received = write_log(data_dir, log.events)
    assert GAP not in received
    for day in received:
        if day < PENDING_FROM:
            run_daily(data_dir, day, TZ)
    url = bq_emulator.url(f"t_engines_{random.Random().getrandbits(40):010x}")
    warehouse = open_warehouse(url)
    exporter = Exporter(Settings(data_dir=data_dir, warehouse_url=url, timezone=TZ), warehouse)
    try:
        exporter.init()
        report = exporter.sync(include_current=True)
        assert (report.rows, report.rejected) == (len(log.events), 0)  # every line, retries included
    finally:
        exporter.close()
        warehouse.close()
    yield Built(data_dir, url, log)


def warehouse_answer(
    built: Built, name: str, start: str, end: str, tz: str | None, options: dict[str, Any]
) -> Any:
    warehouse = open_warehouse(built.url)
    try:
        cost = Cost()
        out = run_warehouse_metric(warehouse, TZ, name, start, end, tz, options, cost)
        assert cost.queries >= 1 and cost.bytes_processed == 0  # the emulator bills nothing
        return out
    finally:
        warehouse.close()


CASES: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
    ("dau", "2026-10-19", "2026-11-12", None, {}),
    ("dau", "2026-10-24", "2026-11-03", None, {}),
    ("dau", "2026-10-24", "2026-11-03", "Europe/Paris", {}),  # Paris leaves summer time on 10-25
    ("wau", "2026-10-19", "2026-11-12", None, {}),
    ("mau", "2026-10-19", "2026-11-12", None, {}),
    ("features", "2026-10-25", "2026-11-08", None, {}),
    ("retention", "2026-10-20", "2026-11-06", None, {"period": "day"}),
    ("retention", "2026-10-20", "2026-11-06", None, {"period": "day", "mode": "on_or_after"}),
    ("retention", "2026-10-19", "2026-11-12", None, {"period": "week"}),
    ("retention", "2026-10-19", "2026-11-12", None, {"period": "week", "mode": "on_or_after"}),
    ("retention", "2026-10-20", "2026-11-06", None, {"cohort": "recurring"}),
    ("retention", "2026-10-20", "2026-11-10", None, {"start_event": "Signed Up", "return_event": "Exported"}),
    ("funnel", "2026-10-20", "2026-11-05", None, {"steps": "Signed Up,Project Created"}),
    ("funnel", "2026-10-20", "2026-11-05", None, {"steps": ",".join(STEPS), "window_days": "3"}),
    ("funnel", "2026-10-18", "2026-11-12", None, {"steps": ",".join(STEPS), "breakdown": "plan"}),
    ("lifecycle", "2026-10-20", "2026-11-12", None, {"period": "day"}),
    ("lifecycle", "2026-10-19", "2026-11-12", None, {"period": "week"}),
    ("lifecycle", "2026-10-01", "2026-11-30", None, {"period": "month"}),
]


@pytest.mark.parametrize(
    ("name", "start", "end", "tz", "options"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_both_engines_give_the_same_json(
    built: Built, name: str, start: str, end: str, tz: str | None, options: dict[str, Any]
) -> None:
    lake = run_metric(built.data_dir, TZ, name, start, end, tz, options)
    wh = warehouse_answer(built, name, start, end, tz, options)
    assert wh == lake
    # the answers say something: non-zero counts somewhere (a comparison of empties proves nothing)
    assert any(v for v in _numbers(lake["rows"]) if v), lake


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def _expected_dau(log: Log, first: date, last: date) -> dict[str, int]:
    """DAU from the generator's ground truth: one copy per message, its person, its New York day."""
    zone = ZoneInfo(TZ)
    people: dict[date, set[str]] = {}
    for person, moment in log.truth.values():
        day = moment.astimezone(zone).date()
        if person is not None and first <= day <= last:
            people.setdefault(day, set()).add(person)
    return {d.isoformat(): len(p) for d, p in people.items()}


def test_the_data_exercises_what_it_should(built: Built) -> None:
    """Both engines also agree with the generator's ground truth, and the data has what makes
    the comparison mean something: duplicate rows in the warehouse, the missing day, DST."""
    warehouse = open_warehouse(built.url)
    try:
        dup = warehouse.query(
            f"SELECT COUNT(*) - COUNT(DISTINCT id) AS n FROM {warehouse.table('events')}"
        ).rows[0]["n"]
        assert dup > 5  # retried messages are stored twice by the export; the metrics dedup them
        links = warehouse.query(f"SELECT COUNT(*) AS n FROM {warehouse.table('identities')}").rows[0]["n"]
        assert links >= 4
    finally:
        warehouse.close()
    out = warehouse_answer(built, "dau", "2026-10-19", "2026-11-12", None, {})
    rows = {r["date"]: r for r in out["rows"]}
    assert rows[GAP.isoformat()] == {"date": GAP.isoformat(), "value": None, "missing": True}
    expected = _expected_dau(built.log, date(2026, 10, 19), date(2026, 11, 12))
    got = {d: r["value"] for d, r in rows.items() if not r["missing"]}
    assert got == {d: expected.get(d, 0) for d in got}
    assert got["2026-11-01"] > 0  # the 25-hour day


def test_options_match_the_lake_registry() -> None:
    assert set(SUPPORTED) | set(UNSUPPORTED) == set(METRICS)
    assert not set(SUPPORTED) & set(UNSUPPORTED)
    for name, metric in SUPPORTED.items():
        assert metric.options == METRICS[name].options, name


def test_bad_input_is_refused_like_the_lake(built: Built) -> None:
    cases: list[tuple[str, str, str, dict[str, Any], int, str]] = [
        ("dau", "2026-11-02", "2026-11-01", {}, 400, "start_after_end"),
        ("nope", "2026-11-01", "2026-11-02", {}, 404, "unknown_metric"),
        ("sessions", "2026-11-01", "2026-11-02", {}, 400, "unsupported_metric"),
        ("dau", "2026-11-01", "2026-11-02", {"period": "week"}, 400, "unknown_parameter"),
        ("retention", "2026-11-01", "2026-11-02", {"mode": "sometimes"}, 400, "bad_parameter"),
        ("funnel", "2026-11-01", "2026-11-02", {"steps": "Signed Up"}, 400, "bad_parameter"),
        ("funnel", "2026-11-01", "2026-11-02", {"steps": "A,B", "breakdown": "it's"}, 400, "bad_parameter"),
    ]
    for name, start, end, options, status, code in cases:
        with pytest.raises(MetricError) as caught:
            warehouse_answer(built, name, start, end, None, options)
        assert (caught.value.status, caught.value.code) == (status, code), caught.value.message
        if name == "sessions":
            assert "sessions" in caught.value.message and "engine=lake" in caught.value.message


def test_cli_engine_flag(built: Built) -> None:
    args = ("metrics", "funnel", "--start", "2026-10-20", "--end", "2026-11-05", "--steps", ",".join(STEPS))
    env = {"HEADWATER_TIMEZONE": TZ, "HEADWATER_WAREHOUSE_URL": built.url}
    lake = json.loads(cli(built.data_dir, *args, "--json", env=env).stdout)
    wh = json.loads(cli(built.data_dir, *args, "--json", "--engine", "warehouse", env=env).stdout)
    assert wh == lake and lake["rows"][0]["users"] > 0
    table = cli(built.data_dir, *args, "--engine", "warehouse", env=env).stdout
    assert "warehouse: 1 queries, 0 bytes processed" in table
    unset = cli(
        built.data_dir,
        *args,
        "--engine",
        "warehouse",
        env={"HEADWATER_TIMEZONE": TZ, "HEADWATER_WAREHOUSE_URL": ""},
        check=False,
    )
    assert unset.returncode == 2 and "HEADWATER_WAREHOUSE_URL" in unset.stderr, unset.stderr
    bad = cli(built.data_dir, *args, "--engine", "spark", env=env, check=False)
    assert bad.returncode == 2 and "--engine" in bad.stderr, bad.stderr
    lake_only = cli(
        built.data_dir,
        "metrics",
        "sessions",
        "--start",
        "2026-11-01",
        "--end",
        "2026-11-02",
        "--engine",
        "warehouse",
        env=env,
        check=False,
    )
    assert lake_only.returncode == 2 and "sessions" in lake_only.stderr, lake_only.stderr


def test_api_engine_parameter(built: Built, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(built.data_dir, data_dir)  # the server's own copy: its scheduler may load the log
    query = "start=2026-10-19&end=2026-11-12"

    async def scenario() -> None:
        async with running(data_dir, timezone=TZ, warehouse_url=built.url) as hw:
            for path in (f"/api/v1/metrics/mau?{query}", f"/api/v1/metrics/retention?{query}&period=week"):
                lake = await hw.client.get(path, headers=ADMIN)
                wh = await hw.client.get(path + "&engine=warehouse", headers=ADMIN)
                assert lake.status_code == wh.status_code == 200, wh.text
                assert wh.json() == lake.json()
                assert wh.headers["X-Warehouse-Bytes-Processed"] == "0"
                assert int(wh.headers["X-Warehouse-Queries"]) >= 1
            bad = await hw.client.get(f"/api/v1/metrics/dau?{query}&engine=spark", headers=ADMIN)
            assert bad.status_code == 400 and "'engine'" in bad.json()["error"]["message"], bad.text
            for name in UNSUPPORTED:
                r = await hw.client.get(f"/api/v1/metrics/{name}?{query}&engine=warehouse", headers=ADMIN)
                assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_metric", r.text
                assert name in r.json()["error"]["message"]
            denied = await hw.client.get(f"/api/v1/metrics/dau?{query}&engine=warehouse")
            assert denied.status_code == 401
        async with running(tmp_path / "bare", timezone=TZ) as hw:
            r = await hw.client.get(f"/api/v1/metrics/dau?{query}&engine=warehouse", headers=ADMIN)
            assert r.status_code == 409 and "HEADWATER_WAREHOUSE_URL" in r.json()["error"]["message"], r.text

    asyncio.run(scenario())
