"""The audience admin API and CLI: CRUD, errors naming the field, admin token, segments debugging."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.audiences.harness import ADMIN, Harness
from tests.helpers import cli

NEW = {
    "id": "readers",
    "name": "Readers",
    "rule": {"event": "Article Viewed", "min_count": 3, "within_days": 7},
}


@pytest.fixture(scope="module")
def hw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("admin") / "data").start()
    yield harness
    harness.stop()


def api(hw: Harness, method: str, path: str, body: object = None) -> httpx.Response:
    content = None if body is None else json.dumps(body).encode()
    headers = ADMIN if body is None else {**ADMIN, "Content-Type": "application/json"}
    return httpx.request(
        method, f"{hw.url}/api/v1/audiences{path}", content=content, headers=headers, timeout=10
    )


def test_crud(hw: Harness) -> None:
    assert [a["id"] for a in api(hw, "GET", "").json()["audiences"]] == ["buyers", "internal", "loyal"]
    created = api(hw, "POST", "", NEW)
    assert created.status_code == 201 and created.json()["rule"] == NEW["rule"]
    assert api(hw, "POST", "", NEW).status_code == 409
    got = api(hw, "GET", "/readers").json()
    assert got["name"] == "Readers" and got["live_size"] == 0 and got["sizes"] == []
    changed = api(hw, "PUT", "/readers", {**NEW, "name": "Avid readers", "sendable_to_buyers": True})
    assert changed.status_code == 200 and changed.json()["created_at"] == got["created_at"]
    assert api(hw, "GET", "/readers").json()["name"] == "Avid readers"
    assert api(hw, "PUT", "/other", {**NEW, "id": "other"}).status_code == 201
    assert api(hw, "DELETE", "/other").status_code == 204
    assert api(hw, "DELETE", "/other").status_code == 404
    assert api(hw, "GET", "/other").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "rule": {"event": "e"}}, "id"),
        ({"id": "x", "name": "x"}, "rule"),
        ({"id": "x", "name": "x", "rule": {"event": "e", "within_days": 0}}, "rule.within_days"),
        (
            {
                "id": "x",
                "name": "x",
                "rule": {"all": [{"event": "e", "where": [{"property": "p", "op": "gt"}]}]},
            },
            "rule.all[0].where[0].value",
        ),
        ({"id": "x", "name": "x", "taxonomy_id": "abc", "rule": {"event": "e"}}, "taxonomy_id"),
        ("not an object", "audience"),
    ],
)
def test_invalid_definitions_name_the_field(hw: Harness, body: object, field: str) -> None:
    r = api(hw, "POST", "", body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_audience" and error["field"] == field and field in error["message"]
    assert (
        api(hw, "PUT", "/x", {"id": "y", "name": "n", "rule": {"event": "e"}}).json()["error"]["field"]
        == "id"
    )


def test_admin_token_required(hw: Harness) -> None:
    assert httpx.get(f"{hw.url}/api/v1/audiences").status_code == 401
    assert httpx.get(f"{hw.url}/v1/users/u/segments").status_code == 401
    assert httpx.get(f"{hw.url}/v1/users/nobody/segments", headers=ADMIN).status_code == 404


def test_cli(hw: Harness, tmp_path: Path) -> None:
    run = lambda *args: cli(hw.data_dir, "audiences", *args, env=hw.env, check=False)  # noqa: E731
    file = tmp_path / "audiences.json"
    file.write_text(json.dumps({"audiences": [{**NEW, "id": "from-file"}, {**NEW, "id": "from-file-2"}]}))
    assert run("load", str(file)).stdout.splitlines() == [
        "created audience from-file",
        "created audience from-file-2",
    ]
    assert "from-file\tprivate\tfrom-file\tReaders" in run("list").stdout
    assert json.loads(run("show", "from-file").stdout)["rule"] == NEW["rule"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**NEW, "id": "ok"}, {**NEW, "id": "bad", "rule": {"event": ""}}]))
    out = run("load", str(bad))
    assert out.returncode == 1 and "audiences[1].rule.event" in out.stderr
    assert run("show", "ok").returncode == 1  # nothing of a bad file is stored
    assert run("create", json.dumps(NEW)).returncode == 1  # exists (created through the API)
    assert run("delete", "from-file-2").stdout.strip() == "deleted audience from-file-2"
    assert run("delete", "from-file-2").returncode == 1
    assert run("settings", "lookup_timeout_ms", "abc").returncode == 1
    assert "provider\theadwater.example" in run("settings").stdout
    assert run("recompute").returncode == 1  # memory:// lives in the server: the CLI says so
