"""A property named in a warehouse metric (a funnel's breakdown) is a key, never a path."""

from __future__ import annotations

import pytest

from headwater.lake.params import MetricError
from headwater.stores.warehouse import open_warehouse
from headwater.warehouse.metrics.scope import json_path

DOC = '{"a.b": 1, "a": {"b": 2}, "$.x": 3, "a b": 4, "plan": 5}'


@pytest.mark.parametrize(("key", "value"), [("a.b", "1"), ("$.x", "3"), ("a b", "4"), ("plan", "5")])
def test_keys_are_read_as_named(key: str, value: str, bq_emulator: object, warehouse_url: str) -> None:
    wh = open_warehouse(warehouse_url)
    try:
        sql = f"SELECT JSON_VALUE(PARSE_JSON('{DOC}'), {json_path(key, 'breakdown')}) AS v"
        assert wh.query(sql).rows == [{"v": value}]
    finally:
        wh.close()


@pytest.mark.parametrize("key", ["it's", 'say "x"', "back\\slash", "nul\x00"])
def test_keys_that_cannot_be_quoted_are_refused_naming_the_parameter(key: str) -> None:
    with pytest.raises(MetricError, match="'breakdown'"):
        json_path(key, "breakdown")
