"""Saved insights and dashboards through the in-process app, over the generated lake
(tests/insights/data.py): /api/v1/insights/saved and /api/v1/dashboards CRUD, a saved insight's
result equal to its endpoint's answer for every kind, every bad input a 400 naming the field,
unknown ids a 404, deleting an insight taking its tiles with it, and who may do what (an analyst
changes, a viewer reads)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from headwater.accounts.roles import Permission
from tests.http.asgi import ADMIN, Running, run

RANGE = {"start": "2026-03-27", "end": "2026-04-01"}
TREND = {
    **RANGE,
    "series": [{"event": "Tool Used", "measure": "users"}, {"event": "Signed Up"}],
    "formula": "A / B",
}
PATHS = {**RANGE, "event": "Signed Up", "steps": 3}
WEB = {**RANGE, "limit": 3}
FUNNEL = {**RANGE, "steps": ["Signed Up", "Tool Used"], "window_days": 7}
RETENTION = {**RANGE, "period": "day", "mode": "on_or_after"}
URL = "/api/v1/insights/saved"
FIELDS = {"id", "name", "kind", "query", "description", "created_at", "updated_at"}


def _copy(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    shutil.copytree(lake[0], tmp_path / "data")


async def bearer(hw: Running, role: str, scopes: set[Permission]) -> dict[str, str]:
    """An API token of a new user with ``role``."""
    assert hw.runtime.accounts is not None
    user, _ = hw.runtime.accounts.invite(f"{role}@example.com", role)
    token = hw.runtime.accounts.create_token(user.id, role, frozenset(scopes))
    return {"Authorization": f"Bearer {token}"}


async def save(hw: Running, name: str, kind: str, query: dict[str, Any], **more: Any) -> dict[str, Any]:
    made = await hw.client.post(URL, json={"name": name, "kind": kind, "query": query, **more}, headers=ADMIN)
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def test_saved_insights(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    _copy(lake, tmp_path)

    async def scenario(hw: Running) -> None:
        c = hw.client
        assert (await c.get(URL, headers=ADMIN)).json() == {"insights": []}
        trend = await save(hw, "Tool users per sign-up", "trend", TREND, description="daily")
        assert set(trend) == FIELDS and trend["query"] == TREND and trend["description"] == "daily"
        assert trend["created_at"] == trend["updated_at"] and len(trend["id"]) == 10
        made = {"trend": trend}
        for kind, query in (("paths", PATHS), ("web", WEB), ("funnel", FUNNEL), ("retention", RETENTION)):
            made[kind] = await save(hw, f"My {kind}", kind, query)
        listed = (await c.get(URL, headers=ADMIN)).json()["insights"]
        assert [i["id"] for i in listed] == [
            made[k]["id"] for k in ("trend", "paths", "web", "funnel", "retention")
        ]
        assert (await c.get(f"{URL}/{trend['id']}", headers=ADMIN)).json() == trend

        # the result is the endpoint's answer, for every kind
        expected = {
            "trend": await c.post("/api/v1/insights/trend", json=TREND, headers=ADMIN),
            "paths": await c.post("/api/v1/insights/paths", json=PATHS, headers=ADMIN),
            "web": await c.post("/api/v1/insights/web", json=WEB, headers=ADMIN),
            "funnel": await c.get(
                "/api/v1/metrics/funnel",
                params={**RANGE, "steps": "Signed Up,Tool Used", "window_days": "7"},
                headers=ADMIN,
            ),
            "retention": await c.get(
                "/api/v1/metrics/retention",
                params={**RANGE, "period": "day", "mode": "on_or_after"},
                headers=ADMIN,
            ),
        }
        for kind, answer in expected.items():
            assert answer.status_code == 200, answer.text
            result = await c.get(f"{URL}/{made[kind]['id']}/result", headers=ADMIN)
            assert result.status_code == 200, result.text
            assert result.json() == answer.json(), kind
        assert expected["trend"].json()["rows"]
        # ... over another range (a dashboard's), the saved query otherwise
        other = await c.get(f"{URL}/{trend['id']}/result?start=2026-03-30&tz=Europe/Paris", headers=ADMIN)
        direct = await c.post(
            "/api/v1/insights/trend",
            json={**TREND, "start": "2026-03-30", "tz": "Europe/Paris"},
            headers=ADMIN,
        )
        assert other.json() == direct.json() and other.json()["start"] == "2026-03-30"

        # a change keeps the fields it does not give
        renamed = await c.put(f"{URL}/{trend['id']}", json={"name": "Renamed"}, headers=ADMIN)
        assert renamed.status_code == 200 and renamed.json()["query"] == TREND
        assert renamed.json()["name"] == "Renamed" and renamed.json()["created_at"] == trend["created_at"]
        weekly = {**TREND, "interval": "week"}
        sent_back = {**renamed.json(), "query": weekly}  # an answer sent back, changed
        changed = await c.put(f"{URL}/{trend['id']}", json=sent_back, headers=ADMIN)
        assert changed.status_code == 200 and changed.json()["query"] == weekly, changed.text
        to_paths = await c.put(
            f"{URL}/{made['web']['id']}", json={"kind": "paths", "query": PATHS}, headers=ADMIN
        )
        assert to_paths.status_code == 200 and to_paths.json()["kind"] == "paths"

        bad: list[tuple[str, str, Any, int, str]] = [
            ("POST", URL, {"kind": "trend", "query": TREND}, 400, "'name'"),
            ("POST", URL, {"name": "  ", "kind": "trend", "query": TREND}, 400, "'name'"),
            ("POST", URL, {"name": "x", "kind": "pie", "query": TREND}, 400, "'kind'"),
            ("POST", URL, {"name": "x", "query": TREND}, 400, "'kind'"),
            ("POST", URL, {"name": "x", "kind": "trend"}, 400, "'query'"),
            ("POST", URL, {"name": "x", "kind": "trend", "query": [1]}, 400, "'query'"),
            (
                "POST",
                URL,
                {"name": "x", "kind": "trend", "query": {**TREND, "series": []}},
                400,
                "'query.series'",
            ),
            (
                "POST",
                URL,
                {"name": "x", "kind": "trend", "query": {**TREND, "series": [{"measure": "most"}]}},
                400,
                "'query.series[0].measure'",
            ),
            (
                "POST",
                URL,
                {"name": "x", "kind": "trend", "query": {**TREND, "start": "soon"}},
                400,
                "'query.start'",
            ),
            (
                "POST",
                URL,
                {"name": "x", "kind": "trend", "query": {**TREND, "colour": 1}},
                400,
                "'query.colour'",
            ),
            (
                "POST",
                URL,
                {
                    "name": "x",
                    "kind": "trend",
                    "query": {**TREND, "breakdown": {"type": "derived", "name": "planet"}},
                },
                400,
                "'query.breakdown.name'",
            ),
            ("POST", URL, {"name": "x", "kind": "paths", "query": RANGE}, 400, "'query.event'"),
            ("POST", URL, {"name": "x", "kind": "web", "query": {**WEB, "limit": 0}}, 400, "'query.limit'"),
            (
                "POST",
                URL,
                {"name": "x", "kind": "funnel", "query": {**FUNNEL, "steps": ["a"]}},
                400,
                "'query.steps'",
            ),
            (
                "POST",
                URL,
                {"name": "x", "kind": "funnel", "query": {**FUNNEL, "steps": [1, 2]}},
                400,
                "'query.steps'",
            ),
            (
                "POST",
                URL,
                {"name": "x", "kind": "funnel", "query": {**FUNNEL, "window_days": 0}},
                400,
                "window_days",
            ),
            (
                "POST",
                URL,
                {"name": "x", "kind": "retention", "query": {**RETENTION, "period": "year"}},
                400,
                "'query.period'",
            ),
            (
                "POST",
                URL,
                {"name": "x", "kind": "retention", "query": {**RETENTION, "steps": "a,b"}},
                400,
                "'query.steps'",
            ),
            ("POST", URL, {"name": "x", "kind": "trend", "query": TREND, "owner": "me"}, 400, "'owner'"),
            (
                "POST",
                URL,
                {"name": "x", "kind": "trend", "query": TREND, "description": 5},
                400,
                "'description'",
            ),
            ("POST", URL, ["not", "an", "object"], 400, "JSON object"),
            ("PUT", f"{URL}/{trend['id']}", {"query": {"start": "2026-03-27"}}, 400, "'query."),
            ("PUT", f"{URL}/{trend['id']}", {"kind": "paths"}, 400, "a paths query"),
            ("PUT", f"{URL}/{trend['id']}", {"id": "another"}, 400, "'id'"),
            ("GET", f"{URL}/ghost", None, 404, "'ghost'"),
            ("PUT", f"{URL}/ghost", {"name": "x"}, 404, "'ghost'"),
            ("DELETE", f"{URL}/ghost", None, 404, "'ghost'"),
            ("GET", f"{URL}/ghost/result", None, 404, "'ghost'"),
            ("GET", f"{URL}/{trend['id']}/result?start=tomorrow", None, 400, "'start'"),
            ("GET", f"{URL}/{trend['id']}/result?tz=Mars/Olympus", None, 400, "'tz'"),
        ]
        for method, url, body, status, named in bad:
            got = await c.request(method, url, json=body, headers=ADMIN)
            assert got.status_code == status, (method, url, body, got.text)
            assert named in got.json()["error"]["message"], (method, url, body, got.text)
        raw = await c.post(URL, content=b"{", headers={**ADMIN, "Content-Type": "application/json"})
        assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
        assert len((await c.get(URL, headers=ADMIN)).json()["insights"]) == 5  # nothing bad was saved

        # an analyst saves and changes; a viewer reads and runs, and may change nothing
        analyst = await bearer(hw, "analyst", {"read", "audiences"})
        viewer = await bearer(hw, "viewer", {"read"})
        mine = await c.post(URL, json={"name": "Mine", "kind": "trend", "query": TREND}, headers=analyst)
        assert mine.status_code == 201, mine.text
        assert (await c.get(URL, headers=viewer)).status_code == 200
        assert (await c.get(f"{URL}/{mine.json()['id']}/result", headers=viewer)).status_code == 200
        for method, url in (
            ("POST", URL),
            ("PUT", f"{URL}/{mine.json()['id']}"),
            ("DELETE", f"{URL}/{mine.json()['id']}"),
        ):
            refused = await c.request(
                method, url, json={"name": "v", "kind": "trend", "query": TREND}, headers=viewer
            )
            assert refused.status_code == 403, (method, refused.text)
        assert (await c.get(URL)).status_code == 401

        gone = await c.delete(f"{URL}/{mine.json()['id']}", headers=analyst)
        assert gone.status_code == 200 and gone.json() == {
            "id": mine.json()["id"],
            "deleted": True,
            "removed_tiles": 0,
            "dashboards": [],
            "removed_alerts": [],
        }
        assert (await c.get(f"{URL}/{mine.json()['id']}", headers=ADMIN)).status_code == 404

    run(tmp_path, scenario)


def test_dashboards(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    _copy(lake, tmp_path)

    async def scenario(hw: Running) -> None:
        c = hw.client
        trend = await save(hw, "Tool users", "trend", TREND)
        funnel = await save(hw, "Sign-up funnel", "funnel", FUNNEL)
        assert (await c.get("/api/v1/dashboards", headers=ADMIN)).json() == {"dashboards": []}
        made = await c.post(
            "/api/v1/dashboards",
            json={
                "name": "Product",
                "tiles": [
                    {"insight": trend["id"], "x": 0, "y": 0, "w": 6, "h": 4},
                    {"insight": funnel["id"], "x": 6, "y": 0, "w": 6, "h": 4},
                    {"insight": trend["id"]},  # the same insight twice; placed below the others
                ],
            },
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        board = made.json()
        assert set(board) >= {"id", "name", "description", "tiles", "created_at", "updated_at"}
        assert [(t["insight"], t["x"], t["y"], t["w"], t["h"]) for t in board["tiles"]] == [
            (trend["id"], 0, 0, 6, 4),
            (funnel["id"], 6, 0, 6, 4),
            (trend["id"], 0, 4, 6, 4),
        ]
        assert [(t["name"], t["kind"]) for t in board["tiles"]][:2] == [
            ("Tool users", "trend"),
            ("Sign-up funnel", "funnel"),
        ]
        assert (await c.get(f"/api/v1/dashboards/{board['id']}", headers=ADMIN)).json() == board
        empty = await c.post("/api/v1/dashboards", json={"name": "Empty"}, headers=ADMIN)
        assert empty.status_code == 201 and empty.json()["tiles"] == []
        listed = (await c.get("/api/v1/dashboards", headers=ADMIN)).json()["dashboards"]
        assert [d["name"] for d in listed] == ["Product", "Empty"]

        # rearranged: the tiles replaced as a whole; a change of name keeps them
        moved = await c.put(
            f"/api/v1/dashboards/{board['id']}",
            json={"tiles": [{"insight": funnel["id"], "x": 0, "y": 0, "w": 12, "h": 6}, *board["tiles"][:1]]},
            headers=ADMIN,
        )
        assert moved.status_code == 200, moved.text
        assert [(t["insight"], t["w"]) for t in moved.json()["tiles"]] == [
            (funnel["id"], 12),
            (trend["id"], 6),
        ]
        renamed = await c.put(f"/api/v1/dashboards/{board['id']}", json={"name": "Growth"}, headers=ADMIN)
        assert renamed.json()["name"] == "Growth" and renamed.json()["tiles"] == moved.json()["tiles"]
        back = await c.put(f"/api/v1/dashboards/{board['id']}", json=renamed.json(), headers=ADMIN)
        assert (
            back.status_code == 200 and back.json()["tiles"] == renamed.json()["tiles"]
        )  # sent back as read

        bad: list[tuple[str, str, Any, int, str]] = [
            ("POST", "/api/v1/dashboards", {"tiles": []}, 400, "'name'"),
            ("POST", "/api/v1/dashboards", {"name": ""}, 400, "'name'"),
            ("POST", "/api/v1/dashboards", {"name": "x", "tiles": {}}, 400, "'tiles'"),
            (
                "POST",
                "/api/v1/dashboards",
                {"name": "x", "tiles": [{"insight": trend["id"]}, {"insight": "nope"}]},
                400,
                "'tiles[1].insight'",
            ),
            ("POST", "/api/v1/dashboards", {"name": "x", "tiles": [{"x": 0}]}, 400, "'tiles[0].insight'"),
            (
                "POST",
                "/api/v1/dashboards",
                {"name": "x", "tiles": [{"insight": trend["id"], "x": -1}]},
                400,
                "'tiles[0].x'",
            ),
            (
                "POST",
                "/api/v1/dashboards",
                {"name": "x", "tiles": [{"insight": trend["id"], "w": 0}]},
                400,
                "'tiles[0].w'",
            ),
            (
                "POST",
                "/api/v1/dashboards",
                {"name": "x", "tiles": [{"insight": trend["id"], "h": 2.5}]},
                400,
                "'tiles[0].h'",
            ),
            (
                "POST",
                "/api/v1/dashboards",
                {"name": "x", "tiles": [{"insight": trend["id"], "z": 1}]},
                400,
                "'tiles[0].z'",
            ),
            ("POST", "/api/v1/dashboards", {"name": "x", "tiles": ["a"]}, 400, "'tiles[0]'"),
            ("POST", "/api/v1/dashboards", {"name": "x", "layout": []}, 400, "'layout'"),
            (
                "PUT",
                f"/api/v1/dashboards/{board['id']}",
                {"tiles": [{"insight": "nope"}]},
                400,
                "'tiles[0].insight'",
            ),
            ("GET", "/api/v1/dashboards/ghost", None, 404, "'ghost'"),
            ("PUT", "/api/v1/dashboards/ghost", {"name": "x"}, 404, "'ghost'"),
            ("DELETE", "/api/v1/dashboards/ghost", None, 404, "'ghost'"),
        ]
        for method, url, body, status, named in bad:
            got = await c.request(method, url, json=body, headers=ADMIN)
            assert got.status_code == status and named in got.json()["error"]["message"], (
                url,
                body,
                got.text,
            )
        assert (await c.get(f"/api/v1/dashboards/{board['id']}", headers=ADMIN)).json()[
            "tiles"
        ] == moved.json()["tiles"]

        # deleting an insight removes its tiles (and says so); the dashboard stays
        gone = await c.delete(f"{URL}/{trend['id']}", headers=ADMIN)
        assert gone.json()["removed_tiles"] == 1 and gone.json()["dashboards"] == [board["id"]]
        after = (await c.get(f"/api/v1/dashboards/{board['id']}", headers=ADMIN)).json()
        assert [t["insight"] for t in after["tiles"]] == [funnel["id"]]
        viewer = await bearer(hw, "viewer", {"read"})
        assert (await c.get("/api/v1/dashboards", headers=viewer)).status_code == 200
        refused = await c.delete(f"/api/v1/dashboards/{board['id']}", headers=viewer)
        assert refused.status_code == 403
        assert (await c.delete(f"/api/v1/dashboards/{board['id']}", headers=ADMIN)).status_code == 204
        assert (await c.get(f"/api/v1/dashboards/{board['id']}", headers=ADMIN)).status_code == 404
        assert (await c.get(f"{URL}/{funnel['id']}", headers=ADMIN)).status_code == 200  # insights are kept

    run(tmp_path, scenario)


def test_tiles_given_no_place_fill_rows_as_save_pins_them() -> None:
    """A list of tiles without x and y fills rows of two (it made one column, the right half of the
    page empty); a tile that does not fit beside the one before, or would cover another, starts a
    row below them all; a tile given y or x only keeps the rules it had."""
    from headwater.insights.saved import parse_tiles

    def places(tiles: list[dict[str, Any]]) -> list[tuple[int, int, int, int]]:
        return [(t.x, t.y, t.w, t.h) for t in parse_tiles(tiles)]

    assert places([{"insight": str(i)} for i in range(5)]) == [
        (0, 0, 6, 4),
        (6, 0, 6, 4),
        (0, 4, 6, 4),
        (6, 4, 6, 4),
        (0, 8, 6, 4),
    ]
    assert places([{"insight": "a", "w": 4}, {"insight": "b", "w": 4, "h": 2}, {"insight": "c", "w": 5}]) == [
        (0, 0, 4, 4),
        (4, 0, 4, 2),
        (0, 4, 5, 4),
    ]
    # beside the tile before would cover a tall tile placed by hand: below them all instead
    tall = {"insight": "t", "x": 6, "y": 0, "w": 6, "h": 8}
    assert places([tall, {"insight": "a", "x": 0, "y": 0}, {"insight": "b"}])[-1] == (0, 8, 6, 4)
    assert places([{"insight": "a"}, {"insight": "b", "x": 3}])[-1] == (3, 4, 6, 4)  # y only: below
    assert places([{"insight": "a"}, {"insight": "b", "y": 1}])[-1] == (0, 1, 6, 4)  # x only: left
