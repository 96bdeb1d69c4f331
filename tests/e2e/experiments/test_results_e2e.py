"""End to end: define, assign over HTTP, convert through the collector, `etl daily`, then results
(API and CLI) against sums and lifts computed by hand from what was sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from scipy.stats import chi2

from tests.e2e.experiments.conftest import Api
from tests.helpers import cli

KEY = "checkout"
DEFINITION: dict[str, Any] = {
    "key": KEY,
    "name": "Checkout button",
    "variations": ["blue", "green"],
    "meta": [{"key": "blue"}, {"key": "green"}],
    "status": "running",
    "metrics": {
        "primary": {
            "key": "buy",
            "kind": "conversion",
            "event": "Order Completed",
            "window_days": 7,
            "cuped": False,
        },
        "secondary": [{"key": "revenue", "kind": "sum", "event": "Order Completed", "property": "revenue"}],
        "guardrail": [{"key": "errors", "kind": "count", "event": "Crash", "inverse": True}],
    },
}


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def send(api: Api, batch: list[dict[str, Any]]) -> None:
    r = api.http.post("/v1/batch", json={"batch": batch}, headers={"X-Write-Key": api.write_key})
    assert r.status_code == 200 and r.json()["accepted"] == len(batch), r.text


def test_results_match_a_hand_computation(api: Api) -> None:
    api.create(DEFINITION)
    now = datetime.now(UTC)
    users = [f"buyer-{i}" for i in range(60)]
    # a visitor assigned anonymously who signs up later: their purchase counts for their exposure
    r = api.assign(KEY, anonymousId="anon-x")
    anon_variation = r.json()["key"]
    variation = {u: api.variation(KEY, u) for u in users}
    assert all(v is not None for v in variation.values())

    batch: list[dict[str, Any]] = []
    post: dict[str, float] = {}  # revenue after exposure, per user
    pre: dict[str, float] = {}  # revenue in the 14 days before exposure (CUPED covariate)
    for i, u in enumerate(users):
        if i % 3 == 0:
            batch.append(
                {"type": "track", "userId": u, "event": "Order Completed", "properties": {"revenue": i}}
            )
            post[u] = float(i)
        if i % 5 == 0:  # an order two days before exposure: pre-period only
            batch.append(
                {
                    "type": "track",
                    "userId": u,
                    "event": "Order Completed",
                    "properties": {"revenue": 2 * i + 1},
                    "timestamp": ts(now - timedelta(days=2)),
                }
            )
            pre[u] = float(2 * i + 1)
    batch.append({"type": "identify", "userId": "signed-up", "anonymousId": "anon-x"})
    batch.append(
        {"type": "track", "userId": "signed-up", "event": "Order Completed", "properties": {"revenue": 7}}
    )
    post["signed-up"] = 7.0
    variation["signed-up"] = anon_variation
    send(api, batch)

    out = cli(api.server.data_dir, "etl", "daily", "--date", now.strftime("%Y-%m-%d"), check=False)
    assert out.returncode == 0, out.stderr
    send(
        api, [{"type": "track", "userId": users[1], "event": "Order Completed", "properties": {"revenue": 5}}]
    )
    post[users[1]] = 5.0  # after the ETL: read from today's log, not the lake

    r = api.admin("GET", f"/{KEY}/results", params={"correction": "none"})
    assert r.status_code == 200, r.text
    body = r.json()

    expected: dict[str, dict[str, float]] = {}
    for v in ("blue", "green"):
        members = [u for u, x in variation.items() if x == v]
        values = [post.get(u, 0.0) for u in members]
        pres = [pre.get(u, 0.0) for u in members]
        expected[v] = {
            "n": len(members),
            "conversions": sum(1 for u in members if u in post),
            "sum": sum(values),
            "sum_squares": sum(x * x for x in values),
            "pre_sum": sum(pres),
            "products": sum(a * b for a, b in zip(values, pres, strict=True)),
        }
    assert body["exposure"]["users"] == {v: expected[v]["n"] for v in expected}

    buy, revenue, errors = body["metrics"]
    assert (buy["key"], buy["role"], revenue["role"], errors["role"]) == (
        "buy",
        "primary",
        "secondary",
        "guardrail",
    )
    for row in buy["variants"]:
        e = expected[row["variation"]]
        assert (row["n"], row["conversions"], row["sum_squares"]) == (
            e["n"],
            e["conversions"],
            e["conversions"],
        )
    for row in revenue["variants"]:
        e = expected[row["variation"]]
        assert (row["n"], row["sum"], row["sum_squares"]) == (e["n"], e["sum"], e["sum_squares"])
        assert (row["pre"]["sum"], row["pre"]["sum_of_products"]) == (e["pre_sum"], e["products"])
    for row in errors["variants"]:  # an event that never happened: zeros, no crash
        assert (row["sum"], row["sum_squares"], row["mean"]) == (0, 0, 0)

    cr = {v: expected[v]["conversions"] / expected[v]["n"] for v in expected}
    rel, absolute = buy["comparisons"][0]["frequentist"]
    assert rel["difference"] == "relative" and absolute["difference"] == "absolute"
    assert abs(rel["expected"] - (cr["green"] / cr["blue"] - 1)) < 1e-9
    assert abs(absolute["expected"] - (cr["green"] - cr["blue"])) < 1e-9
    n = [expected["blue"]["n"], expected["green"]["n"]]
    stat = sum((x - sum(n) / 2) ** 2 / (sum(n) / 2) for x in n)
    assert abs(body["srm"]["p_value"] - float(chi2.sf(stat, 1))) < 1e-9
    assert 0 <= buy["comparisons"][0]["bayesian"][0]["chance_to_win"] <= 1

    out = cli(api.server.data_dir, "experiments", "results", KEY, "--correction", "none", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["metrics"] == body["metrics"]
