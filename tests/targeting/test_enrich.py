"""Enrichment: our entries in, our earlier entries replaced, nothing else changed (property-based)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.targeting.enrich import (
    IdentityKey,
    Segment,
    data_entries,
    enrich,
    identity_candidates,
    is_ours,
)

P = "headwater.example"


def test_user_is_created_last_when_absent() -> None:
    request = {"id": "r", "imp": [], "ext": {"x": 1}}
    enriched = enrich(request, [Segment("1", 4)], P)
    assert list(enriched) == ["id", "imp", "ext", "user"]
    assert enriched["user"] == {"data": [{"name": P, "segment": [{"id": "1"}], "ext": {"segtax": 4}}]}
    assert "user" not in request


def test_replaces_only_our_earlier_entries_in_place() -> None:
    theirs_a = {"name": "other.example", "segment": [{"id": "9"}], "ext": {"segtax": 4}}
    theirs_b = {"id": "12341318394918", "name": "auto intenders"}  # legacy shape of the spec example
    ours_old = {"name": P, "segment": [{"id": "old"}]}
    request = {"id": "r", "user": {"id": "u", "data": [theirs_a, ours_old, theirs_b, ours_old], "yob": 1}}
    enriched = enrich(request, [Segment("new")], P)
    assert enriched["user"]["data"] == [theirs_a, {"name": P, "segment": [{"id": "new"}]}, theirs_b]
    assert list(enriched["user"]) == ["id", "data", "yob"]
    assert request["user"]["data"][1] is ours_old


def test_no_segments_leaves_the_request_as_it_is() -> None:
    request = {"id": "r", "user": {"data": [{"name": P, "segment": [{"id": "old"}]}]}}
    assert enrich(request, [], P) is request


def test_entries_group_by_taxonomy_and_ids_are_strings() -> None:
    segments = [Segment("1", 4), Segment("p1"), Segment("2", 4), Segment("1", 4), Segment("x", 600)]
    assert data_entries(segments, P) == [
        {"name": P, "segment": [{"id": "1"}, {"id": "2"}], "ext": {"segtax": 4}},
        {"name": P, "segment": [{"id": "p1"}]},
        {"name": P, "segment": [{"id": "x"}], "ext": {"segtax": 600}},
    ]


def test_identity_candidates_in_priority_order() -> None:
    request = {
        "user": {
            "eids": [
                {"source": "a.com", "uids": [{"id": "e1"}, {"id": ""}, {"id": "e2"}]},
                {"uids": [{"id": "e3"}]},
            ],
            "buyeruid": "b",
            "id": "u",
            "ext": {"eids": [{"source": "c.com", "uids": [{"id": "e4"}]}]},
        },
        "device": {"ifa": "i"},
    }
    assert identity_candidates(request) == [
        IdentityKey("user.id", "u"),
        IdentityKey("user.buyeruid", "b"),
        IdentityKey("device.ifa", "i"),
        IdentityKey("eid", "e1", "a.com"),
        IdentityKey("eid", "e2", "a.com"),
        IdentityKey("eid", "e3", None),
        IdentityKey("eid", "e4", "c.com"),
    ]


def test_blank_and_zeroed_ids_are_skipped() -> None:
    request = {
        "user": {"id": "", "buyeruid": None},
        "device": {"ifa": "00000000-0000-0000-0000-000000000000"},
    }
    assert identity_candidates(request) == []
    assert identity_candidates({"user": "x", "device": 3}) == []


json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
data_entry = st.one_of(
    st.fixed_dictionaries(
        {"name": st.sampled_from([P, "other.example", "x"])}, optional={"segment": json_value}
    ),
    st.dictionaries(st.text(max_size=6), json_value, max_size=3),
)
user = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=5),
        "data": st.lists(data_entry, max_size=5),
        "ext": json_value,
        "yob": json_value,
    },
)
request_strategy = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=5)},
    optional={"user": user | st.none(), "ext": json_value, "imp": json_value},
).flatmap(
    lambda base: st.dictionaries(
        st.text(max_size=6).filter(lambda k: k != "user"), json_value, max_size=3
    ).map(lambda extra: extra | base)
)
segments = st.lists(
    st.builds(Segment, st.text(min_size=1, max_size=6), st.sampled_from([None, 4, 600])),
    min_size=1,
    max_size=5,
)


def _strip_ours(request: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    result = dict(request)
    new_user = dict(result["user"])
    new_user["data"] = [d for d in new_user["data"] if not is_ours(d, P)]
    if not isinstance(original.get("user"), dict):  # absent, or null: created for our entry
        if "user" in original:
            result["user"] = original["user"]
        else:
            del result["user"]
        return result
    if "data" not in original["user"]:
        del new_user["data"]
    result["user"] = new_user
    return result


@settings(max_examples=150, deadline=None)
@given(request_strategy, segments)
def test_enrichment_changes_nothing_but_our_entry(request: dict[str, Any], segs: list[Segment]) -> None:
    pristine = copy.deepcopy(request)
    enriched = enrich(request, segs, P)
    assert request == pristine
    assert [d for d in enriched["user"]["data"] if is_ours(d, P)] == data_entries(segs, P)
    original_without_ours = copy.deepcopy(pristine)
    if isinstance(original_without_ours.get("user"), dict) and "data" in original_without_ours["user"]:
        original_without_ours["user"]["data"] = [
            d for d in original_without_ours["user"]["data"] if not is_ours(d, P)
        ]
    assert json.dumps(_strip_ours(enriched, pristine)) == json.dumps(original_without_ours)
    assert enrich(enriched, segs, P) == enriched, "enriching twice changes nothing more"
