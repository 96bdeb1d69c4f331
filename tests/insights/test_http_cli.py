"""POST /api/v1/insights/trend through the in-process app (the same JSON as run_trend, 400 naming
the field for every bad input, never a 500), `headwater insights trend`, and the examples of
docs/insights.md run as printed (the CLI's and the curl bodies)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from headwater.cli.metric_table import figure
from headwater.insights.trend import run_trend
from tests.helpers import ROOT, cli
from tests.http.asgi import ADMIN, Running, run

URL = "/api/v1/insights/trend"
BODY: dict[str, Any] = {
    "start": "2026-03-27",
    "end": "2026-04-01",
    "series": [
        {"event": "Tool Used", "measure": "users"},
        {"event": None, "measure": "sum", "property": "duration_ms"},
    ],
    "filters": [{"type": "event", "name": "plan", "op": "neq", "value": "free"}],
    "breakdown": {"type": "derived", "name": "browser"},
    "limit": 3,
    "formula": "B / A",
    "compare": True,
}
DOCS = ROOT / "docs" / "insights.md"


def _copy(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(lake[0], data)
    return data


BAD: list[tuple[Any, str, str]] = [
    ({**BODY, "start": None}, "bad_field", "'start'"),
    ({k: v for k, v in BODY.items() if k != "start"}, "missing_field", "'start'"),
    ({**BODY, "breakdown": {"type": "derived", "name": "planet"}}, "bad_field", "'breakdown.name'"),
    ({**BODY, "breakdown": {"type": "derived", "name": "city"}}, "bad_field", "'breakdown.name'"),
    (
        {**BODY, "filters": [{"type": "cohort", "name": "x", "op": "eq", "value": 1}]},
        "bad_field",
        "'filters[0].value'",
    ),
    (
        {**BODY, "filters": [{"type": "cohort", "name": "x", "op": "eq", "value": True}]},
        "unknown_cohort",
        "'filters[0].name'",
    ),
    (
        {**BODY, "filters": [{"type": "event", "name": "plan", "op": "like", "value": 1}]},
        "bad_field",
        "'filters[0].op'",
    ),
    (
        {**BODY, "filters": [{"type": "event", "name": "plan", "op": "gt", "value": "x"}]},
        "bad_field",
        "'filters[0].value'",
    ),
    (
        {**BODY, "filters": [{"type": "event", "name": "a\u0000b", "op": "exists"}]},
        "bad_field",
        "'filters[0].name'",
    ),
    ({**BODY, "interval": "hour"}, "bad_field", "'interval'"),
    ({**BODY, "limit": 0}, "bad_field", "'limit'"),
    ({**BODY, "limit": "10"}, "bad_field", "'limit'"),
    ({**BODY, "formula": "A / Z"}, "bad_field", "'formula'"),
    ({**BODY, "formula": "A ** B"}, "bad_field", "'formula'"),
    ({**BODY, "formula": "__import__('os').system('true')"}, "bad_field", "'formula'"),
    ({**BODY, "start": "2026-04-02"}, "start_after_end", "'start'"),
    ({**BODY, "tz": "Nowhere/Land"}, "unknown_timezone", "'tz'"),
    ({**BODY, "series": []}, "bad_field", "'series'"),
    ({**BODY, "series": [{"event": "x", "measure": "sum"}]}, "bad_field", "'series[0].property'"),
    ({**BODY, "series": [{"event": "x", "colour": "red"}]}, "bad_field", "'series[0].colour'"),
    ({**BODY, "extra": 1}, "bad_field", "'extra'"),
    ([BODY], "bad_body", "body"),
]


def test_the_api_answers_what_run_trend_answers_and_names_every_bad_field(
    lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    data = _copy(lake, tmp_path)
    want = json.loads(json.dumps(run_trend(data, "UTC", BODY)))

    async def scenario(hw: Running) -> None:
        c = hw.client
        ok = await c.post(URL, json=BODY, headers=ADMIN)
        assert ok.status_code == 200, ok.text
        assert ok.json() == want
        assert (await c.post(URL, json=BODY)).status_code == 401
        for body, code, field in BAD:
            answer = await c.post(URL, json=body, headers=ADMIN)
            assert answer.status_code == 400, (body, answer.text)
            error = answer.json()["error"]
            assert error["code"] == code and field in error["message"], (body, error)
        raw_cases = [
            (b"{", "invalid_json"),
            (b"", "invalid_json"),
            (b'{"start": "\\ud800"}', "invalid_json"),  # a lone surrogate is no text
            (b"[" * 5000 + b"]" * 5000, "bad_body"),
            (
                b'{"filters": [{"type": "event", "name": "x", "op": "eq", "value": '
                + b"[" * 5000
                + b"]" * 5000
                + b"}]}",
                "too_deep",
            ),
            (
                json.dumps(
                    {**BODY, "filters": [{"type": "event", "name": "x", "op": "eq", "value": [[[[1]]]] * 3}]}
                ).encode(),
                "bad_field",
            ),
        ]
        for raw, code in raw_cases:
            answer = await c.post(URL, content=raw, headers={**ADMIN, "Content-Type": "application/json"})
            assert answer.status_code == 400 and answer.json()["error"]["code"] == code, (
                raw[:40],
                answer.text,
            )
        wrong_type = await c.post(URL, content=b"start=x", headers={**ADMIN, "Content-Type": "text/plain"})
        assert wrong_type.status_code == 415

    run(tmp_path, scenario)


def test_property_names_that_are_not_paths_over_http(
    lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    data = _copy(lake, tmp_path)
    names = ["a.b", "$price", "quo'te\"s", "[0]", "ключ", "$", "$.a", "/x", "~1", "'; DROP TABLE x; --"]
    bodies: list[dict[str, Any]] = [
        {
            "start": "2026-03-27",
            "end": "2026-04-01",
            "interval": "range",
            "series": [{"event": None, "measure": "sum", "property": name}],
            "filters": [{"type": "event", "name": name, "op": "exists"}],
            "breakdown": {"type": "event", "name": name},
        }
        for name in names
    ]
    wants = [json.loads(json.dumps(run_trend(data, "UTC", b))) for b in bodies]

    async def scenario(hw: Running) -> None:
        for body, want in zip(bodies, wants, strict=True):
            answer = await hw.client.post(URL, json=body, headers=ADMIN)
            assert answer.status_code == 200, answer.text
            assert answer.json() == want

    run(tmp_path, scenario)
    # the keys that occur in the data are read; the others answer empty rows
    found = {b["filters"][0]["name"]: bool(w["rows"]) for b, w in zip(bodies, wants, strict=True)}
    assert found == {name: name in ("a.b", "$price", "quo'te\"s", "[0]", "ключ") for name in names}


def test_the_cli_prints_the_api_json_and_a_table(lake: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = lake
    args = ["--start", "2026-03-27", "--end", "2026-04-01", "--event", "Tool Used", "--event", "*"]
    args += ["--measure", "users", "--measure", "sum", "--property", "ignored", "--property", "duration_ms"]
    args += ["--filter", "event:plan!=free", "--breakdown", "derived:browser", "--limit", "3"]
    args += ["--formula", "B / A", "--compare"]
    # --property given for a series measured in users: refused, naming it
    done = cli(data, "insights", "trend", *args, "--json", check=False)
    assert done.returncode == 2 and "'series[0].property'" in done.stderr, done.stderr
    args[args.index("ignored") - 1 : args.index("ignored") + 1] = []
    done = cli(data, "insights", "trend", *args, "--json")
    assert json.loads(done.stdout) == json.loads(json.dumps(run_trend(data, "UTC", BODY)))
    table = cli(data, "insights", "trend", *args).stdout
    assert "previous" in table and "formula" in table and "B / A" in table
    # values as a reader takes them: four significant digits, never the float's seventeen
    fractions = [r["value"] for r in json.loads(done.stdout)["rows"] if isinstance(r["value"], float)]
    fractions = [v for v in fractions if not v.is_integer() and len(repr(v)) > 8]
    assert fractions, "the formula makes fractions"
    for value in fractions:
        assert figure(value) in table and repr(value) not in table, value
    bad = cli(
        data,
        "insights",
        "trend",
        "--start",
        "2026-03-27",
        "--end",
        "2026-04-01",
        "--breakdown",
        "derived:planet",
        check=False,
    )
    assert bad.returncode == 2 and "'breakdown.name'" in bad.stderr
    helped = cli(data, "insights", "trend", "--help").stdout
    assert "contains" in helped and "comma list" in helped


def _examples(prefix: str) -> list[str]:
    text = DOCS.read_text()
    text = text[: text.index("\n## Cohorts\n")]  # run in order by tests/insights/test_cohorts_api.py
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    commands = [c.strip() for block in blocks for c in block.replace("\\\n", " ").split("\n\n")]
    lines = [line.strip() for c in commands for line in c.splitlines()]
    return [line for line in lines if line.startswith(prefix)]


def test_the_docs_cli_examples_run_as_printed(lake: tuple[Path, list[dict[str, Any]]]) -> None:
    data, _ = lake
    examples = _examples("headwater insights trend")
    assert len(examples) >= 5
    for line in examples:
        args = shlex.split(line)[1:]
        done = cli(data, *args, check=False)
        assert done.returncode == 0, (line, done.stderr)
        if "--json" in args:
            assert json.loads(done.stdout)["insight"] == "trend"
        assert done.stdout.strip()


def test_the_docs_curl_bodies_answer(lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    _copy(lake, tmp_path)
    bodies = []
    for line in _examples("curl"):
        args = shlex.split(line)
        assert URL in args[args.index("-X") + 2]
        bodies.append(json.loads(args[args.index("-d") + 1]))
    assert len(bodies) == 3

    async def scenario(hw: Running) -> None:
        for body in bodies:
            answer = await hw.client.post(URL, json=body, headers=ADMIN)
            assert answer.status_code == 200, answer.text
            assert answer.json()["rows"]

    run(tmp_path, scenario)
