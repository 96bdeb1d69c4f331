"""Bad input that used to be a 500 (or worse, a wrong answer), now a 400 naming the parameter: time
zones Python opens and DuckDB does not know, property names read as JSON paths, days beyond what
datetime holds, JSON nested 10,000 deep, audience ids no URL can reach. In process (tests/http/asgi.py)
and through the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import duckdb
import pytest

from headwater.audiences.definitions import parse_stored
from headwater.batch.etl import run_daily
from headwater.stores.sql.audiences import AudienceCatalog
from headwater.timezones import is_time_zone
from tests.batch.logdata import ev, write_log
from tests.helpers import cli
from tests.http.asgi import ADMIN, Running, run

DAY = "2025-06-10"
KEYS = {"$.x": "dollar", "x": "plain", "a.b": "dotted", "a": {"b": "nested"}, "$[": "bracket", "/p": "slash"}
NOT_ZONES = ["posixrules", "right/UTC", "localtime", "posix/Europe/Paris", "Mars/Olympus", "Europe/Paris "]
DEEP = b"[" * 10_000 + b"]" * 10_000


def logged_day(data: Path, loaded: bool) -> None:
    """One user's day: keys that look like JSON paths in the properties of two steps and in traits."""
    traits = {k: f"t-{v}" if isinstance(v, str) else v for k, v in KEYS.items()}
    events = [
        ev(f"{DAY}T09:00:00.000Z", user="u1", type="identify", traits=traits),
        ev(f"{DAY}T10:00:00.000Z", user="u1", event="Signup", props=KEYS),
        ev(f"{DAY}T11:00:00.000Z", user="u1", event="Buy", props=KEYS),
    ]
    write_log(data, events)
    if loaded:  # the trait rollup then answers, made by the ETL from the same keys
        run_daily(data, date.fromisoformat(DAY), "UTC")


async def metric(hw: Running, name: str, **params: str) -> Any:
    query = {"start": DAY, "end": DAY, **params}
    return await hw.client.get(f"/api/v1/metrics/{name}", params=query, headers=ADMIN)


async def values(hw: Running, **params: str) -> list[Any]:
    r = await metric(hw, "preferences", **params)
    assert r.status_code == 200, r.text
    return [row["value"] for row in r.json()["rows"]]


# -- time zones -------------------------------------------------------------------------------------


def test_every_zone_accepted_is_one_duckdb_knows() -> None:
    con = duckdb.connect()
    known = {row[0] for row in con.execute("SELECT name FROM pg_timezone_names()").fetchall()}
    accepted = {z for z in available_timezones() if is_time_zone(z)}
    assert accepted - known == set()
    assert {"UTC", "Europe/Paris", "America/New_York", "Etc/GMT+12"} <= accepted
    assert not any(is_time_zone(z) for z in [*NOT_ZONES, "", "a\x00b", "../UTC", "/etc/localtime"])


def test_a_zone_duckdb_does_not_know_is_a_400(tmp_path: Path) -> None:
    logged_day(tmp_path / "data", loaded=False)

    async def scenario(hw: Running) -> None:
        for tz in NOT_ZONES:
            r = await metric(hw, "dau", tz=tz)
            assert r.status_code == 400, (tz, r.text)
            assert r.json()["error"]["code"] == "unknown_timezone" and "'tz'" in r.json()["error"]["message"]
        ok = await metric(hw, "dau", tz="Europe/Paris")
        assert ok.status_code == 200 and ok.json()["rows"][0]["value"] == 1

    run(tmp_path, scenario)


# -- property, trait and breakdown names are keys, never JSON paths ---------------------------------


@pytest.mark.parametrize("loaded", [False, True], ids=["log", "lake"])
def test_names_are_keys_never_paths(tmp_path: Path, loaded: bool) -> None:
    logged_day(tmp_path / "data", loaded)

    async def scenario(hw: Running) -> None:
        for key, value in KEYS.items():
            if isinstance(value, str):
                assert await values(hw, property=key) == [value], key
                assert await values(hw, trait=key) == [f"t-{value}"], key
        assert await values(hw, property="$..*") == []  # no such key: not every nested value
        assert await values(hw, trait="$..*") == []
        assert await values(hw, property="b") == []
        funnel = await metric(hw, "funnel", steps="Signup,Buy", breakdown="$.x")
        assert funnel.status_code == 200, funnel.text
        assert {(r["breakdown"], r["step"], r["users"]) for r in funnel.json()["rows"]} == {
            ("dollar", 1, 1),
            ("dollar", 2, 1),
        }
        for name in ("$[", "a.b", "$..*", '"q\\', "~1"):
            r = await metric(hw, "funnel", steps="Signup,Buy", breakdown=name)
            assert r.status_code == 200, (name, r.text)

    run(tmp_path, scenario)


def test_the_etl_reads_trait_keys_that_look_like_paths(tmp_path: Path) -> None:
    """A trait named ``$[`` in the log used to fail the whole day's load."""
    data = tmp_path / "data"
    write_log(data, [ev(f"{DAY}T09:00:00.000Z", user="u1", type="identify", traits={"$[": 1, "": 2})])
    result = run_daily(data, date.fromisoformat(DAY), "UTC")
    assert not result.skipped


# -- days -------------------------------------------------------------------------------------------


def test_days_beyond_what_the_code_holds_are_a_400(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        for start, end, tz, name in [
            ("9999-12-31", "9999-12-31", None, "start"),
            ("0001-01-01", "0001-01-01", "Asia/Tokyo", "start"),
            ("2025-01-01", "9999-12-31", None, "end"),
            ("1969-12-31", "1970-01-02", "Etc/GMT+12", "start"),
        ]:
            params = {"start": start, "end": end, **({"tz": tz} if tz else {})}
            r = await hw.client.get("/api/v1/metrics/dau", params=params, headers=ADMIN)
            assert r.status_code == 400, (params, r.text)
            assert r.json()["error"]["code"] == "bad_date" and f"'{name}'" in r.json()["error"]["message"]
        # the bounds themselves are answered, in the farthest time zones and with the longest windows
        for day in ("1970-01-01", "9997-12-31"):
            for tz in ("Etc/GMT+12", "Pacific/Kiritimati"):
                for name, options in [
                    ("mau", {}),
                    ("funnel", {"steps": "a,b", "window_days": "365", "breakdown": "p"}),
                    ("retention", {"period": "month"}),
                    ("lifecycle", {"period": "week"}),
                ]:
                    params = {"start": day, "end": day, "tz": tz, **options}
                    r = await hw.client.get(f"/api/v1/metrics/{name}", params=params, headers=ADMIN)
                    assert r.status_code == 200, (name, params, r.text)

    run(tmp_path, scenario)


def test_live_hours_beyond_the_days_kept_are_a_400_and_the_year_is_padded(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        for hour in ("0001-01-01T00", "1969-12-31T23", "9998-01-01T00"):
            r = await hw.client.get("/api/v1/live/hourly", params={"hour": hour}, headers=ADMIN)
            assert r.status_code == 400 and "'hour'" in r.json()["error"]["message"], (hour, r.text)
        first = await hw.client.get("/api/v1/live/hourly", params={"hour": "1970-01-01T00"}, headers=ADMIN)
        assert first.status_code == 200 and first.json()["hour"] == "1970-01-01T00", first.text

    run(tmp_path, scenario)


def test_the_cli_says_which_parameter_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()  # (a data directory that is not there is refused first)
    for args, text in [
        (["--start", "9999-12-31", "--end", "9999-12-31"], "'start'"),
        (["--start", "0001-01-01", "--end", "0001-01-01", "--tz", "Asia/Tokyo"], "'start'"),
        (["--start", DAY, "--end", DAY, "--tz", "posixrules"], "'tz'"),
    ]:
        out = cli(tmp_path / "data", "metrics", "dau", *args, check=False)
        assert out.returncode == 2, out.stderr
        assert text in out.stderr and "Traceback" not in out.stderr + out.stdout


# -- JSON nested deeper than any request needs ------------------------------------------------------


def test_deep_json_is_a_400_too_deep(tmp_path: Path) -> None:
    deep_attributes = json.dumps({"userId": "u1", "attributes": {"a": json.loads("[" * 100 + "]" * 100)}})

    async def scenario(hw: Running) -> None:
        catalog = AudienceCatalog(hw.settings.effective_database_url)
        try:
            enrich_key = catalog.create_key("exchange").key
        finally:
            catalog.close()
        write_key = {"X-Write-Key": hw.write_key}
        calls: list[tuple[str, str, bytes, dict[str, str]]] = [
            ("POST", "/v1/assign", DEEP, write_key),
            ("POST", "/v1/assign", DEEP, {}),  # no key: the body could have held it
            ("POST", "/v1/assign", deep_attributes.encode(), write_key),  # below the recursion limit
            ("POST", "/api/v1/experiments", DEEP, ADMIN),
            ("PUT", "/api/v1/experiments/deep", DEEP, ADMIN),
            ("PATCH", "/api/v1/experiments/deep", DEEP, ADMIN),
            ("POST", "/api/v1/experiments/deep/start", DEEP, ADMIN),
            ("POST", "/api/v1/audiences", DEEP, ADMIN),
            ("PUT", "/api/v1/audiences/deep", DEEP, ADMIN),
            ("POST", "/api/v1/dashboard/metrics", DEEP, ADMIN),
        ]
        for method, path, body, headers in calls:
            r = await hw.client.request(
                method, path, content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert r.status_code == 400, (method, path, r.text[:300])
            error = r.json()["error"]
            assert error["code"] == "too_deep" and "64 levels" in error["message"], (path, error)

        async def refused(body: bytes) -> dict[str, Any] | None:  # the key is read twice a second
            r = await hw.client.post(
                "/openrtb2/enrich", content=body, headers={"Authorization": f"Bearer {enrich_key}"}
            )
            return r.json() if r.status_code == 400 else None

        bid = b'{"id": "r", "imp": [{"id": "1", "banner": {"w": 1, "h": 1}, "ext": ' + b"[" * 100 + b"]" * 100
        for body in (DEEP, bid + b"}]}"):
            error = (await hw.until(lambda body=body: refused(body)))["error"]
            assert error["code"] == "too_deep" and "64 levels" in error["message"], error
        # a body of a sensible depth is still read
        ok = await hw.client.post(
            "/v1/assign", json={"userId": "u1", "attributes": {"a": [[1]]}}, headers=write_key
        )
        assert ok.status_code == 200, ok.text

    run(tmp_path, scenario)


# -- audience ids -----------------------------------------------------------------------------------

AUDIENCE = {"name": "Buyers", "rule": {"event": "Order Completed"}}
BAD_IDS = ["a/b", "a\x00b", "a b", ".hidden", "-x", "x" * 65, "é", "a?b", ""]


def test_an_audience_id_no_url_can_reach_is_refused(tmp_path: Path) -> None:
    async def scenario(hw: Running) -> None:
        for audience_id in BAD_IDS:
            r = await hw.client.post("/api/v1/audiences", json={**AUDIENCE, "id": audience_id}, headers=ADMIN)
            assert r.status_code == 400, (audience_id, r.text)
            assert r.json()["error"]["field"] == "id", r.text
        put = await hw.client.put("/api/v1/audiences/a%20b", json=AUDIENCE, headers=ADMIN)
        assert put.status_code == 400 and put.json()["error"]["field"] == "id", put.text
        for audience_id in ("buyers", "vip-2024", "a.b_c-1", "9" * 64):
            r = await hw.client.post("/api/v1/audiences", json={**AUDIENCE, "id": audience_id}, headers=ADMIN)
            assert r.status_code == 201, (audience_id, r.text)
            assert (await hw.client.get(f"/api/v1/audiences/{audience_id}", headers=ADMIN)).status_code == 200

    run(tmp_path, scenario)


def test_the_cli_refuses_them_too_and_stored_ones_stay_served(tmp_path: Path) -> None:
    for audience_id in ("a/b", "a b"):
        out = cli(
            tmp_path / "data", "audiences", "create", json.dumps({**AUDIENCE, "id": audience_id}), check=False
        )
        assert out.returncode != 0 and "id" in out.stderr + out.stdout, out
        assert "Traceback" not in out.stderr
    assert json.loads(cli(tmp_path / "data", "audiences", "list", "--json").stdout) == []
    # an audience stored before ids were checked keeps being served
    assert [a.id for a in parse_stored([{**AUDIENCE, "id": "a b"}])] == ["a b"]
