"""The issue's bad input, each through the real HTTP server (and the CLI where it has a say)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from headwater.experiments import Context, evaluate, parse_experiment
from headwater.experiments.hashing import fnv1a32_code_points
from tests.e2e.experiments.conftest import Api, exposures
from tests.helpers import cli


def base(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "variations": ["a", "b"], "status": "running", **extra}


def error_of(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == code, err
    assert err["message"]
    return err


def test_unknown_experiment_is_404(api: Api) -> None:
    error_of(api.assign("no-such-experiment", userId="u1"), 404, "unknown_experiment")
    error_of(api.admin("GET", "/no-such-experiment"), 404, "unknown_experiment")
    error_of(api.admin("POST", "/no-such-experiment/start"), 404, "unknown_experiment")
    error_of(api.admin("GET", "/no-such-experiment/results"), 404, "unknown_experiment")


@pytest.mark.parametrize("status", ["draft", "stopped"])
def test_not_running_gets_the_control_flagged_and_logs_nothing(api: Api, status: str) -> None:
    """A stopped experiment answers the control; a draft is not there for a write key (404, as for
    a key that does not exist: a write key is public)."""
    key = f"idle-{status}"
    api.create(base(key, status=status, meta=[{"key": "ctl"}, {"key": "new"}]))
    for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
        r = api.assign(key, userId=user)
        if status == "draft":
            error_of(r, 404, "unknown_experiment")
            continue
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["inExperiment"], body["key"], body["variationId"]) == (False, "ctl", 0)
        assert body["reason"] == "stopped"
        assert body["exposureLogged"] is False
    assert not exposures(api.server.data_dir, key)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"weights": [0.5, 0.6]}, "weights"),
        ({"weights": [1.5, -0.5]}, "weights[1]"),
        ({"weights": [0.5]}, "weights"),
        ({"coverage": 1.2}, "coverage"),
        ({"coverage": -0.1}, "coverage"),
        ({"meta": [{"key": "same"}, {"key": "same"}]}, "meta[1].key"),
        ({"variations": ["only"]}, "variations"),
        ({"status": "paused"}, "status"),
        ({"hashVersion": 3}, "hashVersion"),
        ({"colour": "red"}, "colour"),
        ({"metrics": {"primary": {"key": "m", "kind": "sum", "event": "E"}}}, "metrics.primary.property"),
    ],
)
def test_invalid_definitions_name_the_field(api: Api, extra: dict[str, Any], field: str) -> None:
    r = api.admin("POST", "", json=base("bad-def", **extra))
    err = error_of(r, 400, "invalid_experiment")
    assert field in [p["field"] for p in err["problems"]], err
    assert field in err["message"]
    error_of(api.admin("GET", "/bad-def"), 404, "unknown_experiment")  # nothing stored


def test_updates_are_validated_and_the_key_cannot_change(api: Api) -> None:
    api.create(base("upd"))
    err = error_of(api.admin("PATCH", "/upd", json={"weights": [0.7, 0.7]}), 400, "invalid_experiment")
    assert err["field"] == "weights"
    error_of(api.admin("PUT", "/upd", json=base("other")), 400, "invalid_experiment")
    error_of(api.admin("POST", "", json=base("upd")), 409, "experiment_exists")
    json_body = {"Content-Type": "application/json"}
    error_of(api.admin("POST", "", content=b"{not json", headers=json_body), 400, "invalid_json")
    error_of(api.admin("POST", "", content=b"{not json"), 415, "unsupported_media_type")
    assert api.admin("GET", "/upd").json()["definition"]["variations"] == ["a", "b"]


def test_admin_token_and_write_key_are_required(api: Api) -> None:
    error_of(api.http.get("/api/v1/experiments"), 401, "unauthorized")
    r = api.http.get("/v1/experiments/upd/assignment", params={"userId": "u1"})
    error_of(r, 401, "missing_write_key")
    r = api.http.get(
        "/v1/experiments/upd/assignment", params={"userId": "u1"}, headers={"X-Write-Key": "hw_nope"}
    )
    error_of(r, 401, "unknown_write_key")


def test_empty_user_id_is_refused(api: Api) -> None:
    api.create(base("ids"))
    for params in ({}, {"userId": ""}, {"userId": "   "}, {"anonymousId": ""}):
        error_of(api.assign("ids", **params), 400, "missing_user_id")
    r = api.http.post("/v1/assign", json={"userId": ""}, headers={"X-Write-Key": api.write_key})
    error_of(r, 400, "missing_user_id")
    r = api.http.post(
        "/v1/assign", json={"userId": "u1", "attributes": [1]}, headers={"X-Write-Key": api.write_key}
    )
    error_of(r, 400, "invalid_parameter")
    assert not exposures(api.server.data_dir, "ids")


def test_emoji_ids_hash_like_the_javascript_sdk(api: Api) -> None:
    """UTF-16 code units (JavaScript SDK), documented in docs/experiments.md."""
    definition = base("emoji", meta=[{"key": "a"}, {"key": "b"}])
    api.create(definition)
    exp = parse_experiment(definition)
    users = [f"user-{i}-\U0001f600\U0001f680" for i in range(40)]
    differs = 0
    for user in users:
        served = api.variation("emoji", user)
        expected = evaluate(exp, Context(attributes={"id": user}))
        assert served == expected.key, user
        # the Python SDK's code-point hash would put some of these users elsewhere
        n = (fnv1a32_code_points(str(fnv1a32_code_points("emoji" + user))) % 10000) / 10000
        differs += (0 if n < 0.5 else 1) != expected.variation_id
    assert differs > 0


def test_results_of_a_variant_without_users_and_a_metric_that_never_happened(api: Api) -> None:
    metrics = {"primary": {"key": "never", "kind": "conversion", "event": "Never Happens"}}
    api.create(base("lonely", weights=[1.0, 0.0], meta=[{"key": "c"}, {"key": "t"}], metrics=metrics))
    for i in range(5):
        assert api.variation("lonely", f"u{i}") == "c"
    r = api.admin("GET", "/lonely/results")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["exposure"]["users"] == {"c": 5, "t": 0}
    (metric,) = body["metrics"]
    control, treatment = metric["variants"]
    assert (control["n"], control["conversions"], control["sum_squares"]) == (5, 0, 0)
    assert treatment["n"] == 0 and "no users" in treatment["note"]
    (comparison,) = metric["comparisons"]
    assert comparison["error"] == "NO_UNITS_IN_VARIATION"
    assert any("'t' has no exposed users" in w for w in body["warnings"])


def test_cli_refuses_bad_files_naming_the_field(api: Api, tmp_path: Any) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('key = "cli-bad"\nvariations = ["a", "b"]\nweights = [0.2, 0.2]\ncoverage = 2\n')
    out = cli(api.server.data_dir, "experiments", "load", str(path), check=False)
    assert out.returncode == 2
    assert "weights" in out.stderr and "coverage" in out.stderr
    out = cli(api.server.data_dir, "experiments", "show", "cli-missing", check=False)
    assert out.returncode == 1 and "no experiment" in out.stderr
