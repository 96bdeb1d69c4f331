"""Sticky bucketing and exposure logging through the real server: in memory:// and in a real Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from headwater.experiments import Context, evaluate, parse_experiment
from tests.e2e.experiments.conftest import Api, exposures, start_server
from tests.helpers import create_key, read_log
from tests.redis_services import RedisServer

USERS = [f"user-{i}" for i in range(120)]


def definition(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "variations": ["blue", "green"],
        "meta": [{"key": "blue"}, {"key": "green"}],
        "weights": [0.5, 0.5],
        "coverage": 0.5,
        "status": "running",
    }


def serve_all(api: Api, key: str) -> dict[str, str | None]:
    return {u: api.variation(key, u) for u in USERS}


def moved_without_sticky(key: str, current: dict[str, Any], before: dict[str, str | None]) -> int:
    """How many assigned users the changed definition would move if nothing were sticky."""
    exp = parse_experiment(current)
    return sum(
        1
        for u, v in before.items()
        if v is not None and evaluate(exp, Context(attributes={"id": u})).key != v
    )


def test_changes_never_move_assigned_users_and_a_new_phase_re_randomizes(api: Api) -> None:
    key = "sticky-mem"
    api.create(definition(key))
    first = serve_all(api, key)
    assigned = {u: v for u, v in first.items() if v is not None}
    assert 30 < len(assigned) < 90  # coverage 0.5

    r = api.admin("PATCH", f"/{key}", json={"weights": [0.1, 0.9], "coverage": 1.0})
    assert r.status_code == 200, r.text
    assert moved_without_sticky(key, r.json()["definition"], first) > 5  # the test can fail
    second = serve_all(api, key)
    assert {u: second[u] for u in assigned} == assigned
    assert all(v is not None for v in second.values())  # coverage raised: everybody is in now

    r = api.admin("POST", f"/{key}/start", json={"newPhase": True})
    assert r.status_code == 200, r.text
    assert r.json()["phase"] == "1"
    assert [p["phase"] for p in r.json()["phases"]] == ["0", "1"]
    third = serve_all(api, key)
    moved = sum(1 for u in USERS if third[u] != second[u])
    assert moved > 20  # re-randomized: independent split with the new seed and weights 0.1 / 0.9
    assert serve_all(api, key) == third  # and sticky again within the phase

    counts = exposures(api.server.data_dir, key)
    assert set(counts.values()) == {1}  # one event per user and phase, however often served
    phase0 = {(u, v) for (u, phase, v) in counts if phase == "0"}
    phase1 = {(u, v) for (u, phase, v) in counts if phase == "1"}
    assert phase0 == {(u, second[u]) for u in USERS}  # first serve in coverage, plus the newly covered
    assert phase1 == {(u, third[u]) for u in USERS}


def test_exposure_event_follows_the_segment_spec(api: Api) -> None:
    key = "spec"
    api.create(
        {
            **definition(key),
            "coverage": 1.0,
            "name": "Spec test",
            "meta": [{"key": "blue", "name": "Blue button"}, {"key": "green", "name": "Green button"}],
        }
    )
    r = api.assign(key, userId="spec-user", anonymousId="anon-9", plan="pro")
    assert r.status_code == 200 and r.json()["exposureLogged"] is True
    (event,) = [e for e in read_log(api.server.data_dir) if e.get("userId") == "spec-user"]
    assert event["type"] == "track" and event["event"] == "Experiment Viewed"
    assert event["anonymousId"] == "anon-9"
    props = event["properties"]
    assert props["experiment_id"] == key and props["experiment_name"] == "Spec test"
    assert props["variation_id"] == r.json()["key"]
    assert props["variation_name"] == {"blue": "Blue button", "green": "Green button"}[r.json()["key"]]
    assert event["_hw"]["source"] == "exp-source"  # normalized like any collected event


def test_assign_all_running_experiments_with_attributes_and_cors(api: Api) -> None:
    api.create({**definition("fr-only"), "coverage": 1.0, "condition": {"country": "FR"}})
    headers = {"X-Write-Key": api.write_key, "Origin": "https://shop.example"}
    body = {"userId": "multi-1", "attributes": {"country": "DE"}}
    r = api.http.post("/v1/assign", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    by_key = {a["experimentKey"]: a for a in r.json()["assignments"]}
    assert by_key["fr-only"]["inExperiment"] is False and by_key["fr-only"]["reason"] == "targeting"
    assert "sticky-mem" in by_key and all(a["status"] == "running" for a in by_key.values())
    r = api.http.post("/v1/assign", json={**body, "attributes": {"country": "FR"}}, headers=headers)
    assert {a["experimentKey"]: a for a in r.json()["assignments"]}["fr-only"]["inExperiment"] is True
    preflight = api.http.options(
        "/v1/experiments/fr-only/assignment",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"


def test_redis_sticky_buckets_survive_a_restart_and_a_weight_change(
    tmp_path: Path, private_redis: RedisServer
) -> None:
    data = tmp_path / "data"
    env = {"HEADWATER_REDIS_URL": private_redis.url}
    server = start_server(data, env)
    try:
        api = Api(server, create_key(data, "redis-source"))
        api.create({**definition("sticky-redis"), "coverage": 1.0})
        first = serve_all(api, "sticky-redis")
        api.close()
    finally:
        server.stop()
    client = redis.Redis(host="127.0.0.1", port=private_redis.port, decode_responses=True)
    doc = client.hgetall("hw:sticky:{id||user-0}")
    client.close()
    assert doc == {"sticky-redis__0": first["user-0"], "x:sticky-redis__0": "1"}

    server = start_server(data, env)  # a new process: nothing in memory, the buckets are in Redis
    try:
        api = Api(server, api.write_key)
        r = api.admin("PATCH", "/sticky-redis", json={"weights": [0.95, 0.05]})
        assert moved_without_sticky("sticky-redis", r.json()["definition"], first) > 20
        assert serve_all(api, "sticky-redis") == first
        r = api.assign("sticky-redis", userId="user-1")
        assert r.json()["stickyBucketUsed"] is True and r.json()["exposureLogged"] is False
        api.close()
    finally:
        server.stop()
    assert set(exposures(data, "sticky-redis").values()) == {1}
