"""Definitions: validation names the bad field; TOML, YAML and JSON files load alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.experiments import ExperimentInvalid, MetricKind, Status, parse_experiment
from headwater.experiments.loading import load_experiments

GOOD: dict[str, Any] = {"key": "exp-1", "variations": [0, 1], "status": "running"}


def problems(**changes: Any) -> dict[str, str]:
    data = {**GOOD, **changes}
    with pytest.raises(ExperimentInvalid) as e:
        parse_experiment(data)
    return {p.field: p.message for p in e.value.problems}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weights": [0.5, 0.4]}, "weights"),
        ({"weights": [1.2, -0.2]}, "weights[1]"),
        ({"weights": [0.5, 0.25, 0.25]}, "weights"),
        ({"coverage": 1.5}, "coverage"),
        ({"coverage": -0.1}, "coverage"),
        ({"status": "paused"}, "status"),
        ({"meta": [{"key": "a"}, {"key": "a"}]}, "meta[1].key"),
        ({"variations": [0]}, "variations"),
        ({"key": ""}, "key"),
        ({"key": "has space"}, "key"),
        ({"hashVersion": 3}, "hashVersion"),
        ({"namespace": ["ns", 0.5, 0.2]}, "namespace"),
        ({"force": 2}, "force"),
        ({"colour": "red"}, "colour"),
        (
            {"metrics": {"primary": {"key": "rev", "kind": "sum", "event": "Order Completed"}}},
            "metrics.primary.property",
        ),
        (
            {"metrics": {"secondary": [{"key": "x", "kind": "ratio", "event": "E"}]}},
            "metrics.secondary[0].kind",
        ),
    ],
)
def test_bad_field_is_named(changes: dict[str, Any], field: str) -> None:
    assert field in problems(**changes)


def test_all_problems_are_reported_at_once() -> None:
    found = problems(coverage=2, status="x", weights=[0.9, 0.9])
    assert {"coverage", "status", "weights"} <= set(found)
    assert "must sum to 1" in found["weights"]


def test_defaults() -> None:
    exp = parse_experiment({"key": "e", "variations": ["a", "b"]})
    assert exp.status is Status.DRAFT and exp.hash_version == 2 and exp.coverage == 1.0
    assert exp.hash_attribute == "id" and exp.phase == "0" and exp.variation_keys() == ["0", "1"]


def test_weights_rounded_to_four_decimals_are_accepted() -> None:
    exp = parse_experiment({**GOOD, "variations": [0, 1, 2], "weights": [0.3333, 0.3333, 0.3333]})
    assert exp.weights == (0.3333, 0.3333, 0.3333)


TOML = """
[[experiments]]
key = "checkout-button"
name = "Checkout button"
variations = ["blue", "green"]
weights = [0.5, 0.5]
status = "running"
meta = [{ key = "control", name = "Blue" }, { key = "green", name = "Green" }]

[experiments.metrics]
primary = { key = "purchase", kind = "conversion", event = "Order Completed", window_days = 7 }
guardrail = [{ key = "errors", kind = "count", event = "Error", inverse = true }]

[[experiments]]
key = "pricing"
variations = [0, 1, 2]
namespace = ["pricing", 0, 0.5]
condition = { country = { "$in" = ["FR", "DE"] } }
"""


def test_load_toml_yaml_json_alike(tmp_path: Path) -> None:
    (tmp_path / "e.toml").write_text(TOML)
    from_toml = load_experiments(tmp_path / "e.toml")
    data = {"experiments": [_plain(e) for e in _toml_dicts()]}
    (tmp_path / "e.json").write_text(json.dumps(data))
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(data))
    assert load_experiments(tmp_path / "e.json") == from_toml == load_experiments(tmp_path / "e.yaml")
    first = from_toml[0]
    assert first.metrics.primary is not None and first.metrics.primary.kind is MetricKind.CONVERSION
    assert first.metrics.guardrail[0].inverse and first.variation_name(1) == "Green"
    assert from_toml[1].condition == {"country": {"$in": ["FR", "DE"]}}


def _toml_dicts() -> list[dict[str, Any]]:
    import tomllib

    return list(tomllib.loads(TOML)["experiments"])


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d))


def test_single_experiment_file_and_errors_name_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(GOOD))
    assert [e.key for e in load_experiments(tmp_path / "one.json")] == ["exp-1"]
    (tmp_path / "bad.toml").write_text(TOML.replace("weights = [0.5, 0.5]", "weights = [0.5, 0.6]"))
    with pytest.raises(ExperimentInvalid) as e:
        load_experiments(tmp_path / "bad.toml")
    assert [p.field for p in e.value.problems] == ["bad.toml: experiments[0].weights"]
    (tmp_path / "dup.json").write_text(json.dumps({"experiments": [GOOD, GOOD]}))
    with pytest.raises(ExperimentInvalid, match="duplicate experiment key 'exp-1'"):
        load_experiments(tmp_path / "dup.json")
    (tmp_path / "broken.toml").write_text("key = ")
    with pytest.raises(ExperimentInvalid, match="not valid TOML"):
        load_experiments(tmp_path / "broken.toml")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ExperimentInvalid, match="unknown file type"):
        load_experiments(tmp_path / "x.txt")
