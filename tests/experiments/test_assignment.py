"""Assignment beyond the conformance cases: sticky buckets, status, coverage, phases, odd ids."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

from headwater.experiments import (
    Context,
    InMemoryStickyBucketStore,
    Status,
    StickyKey,
    evaluate,
    parse_experiment,
    run,
    run_async,
)
from headwater.experiments.exposure import EXPOSURE_EVENT, dedup_key, exposure_properties
from headwater.experiments.hashing import fnv1a32, fnv1a32_code_points, gb_hash

EXP = parse_experiment(
    {
        "key": "checkout-button",
        "name": "Checkout button",
        "variations": ["blue", "green"],
        "meta": [{"key": "control", "name": "Blue"}, {"key": "green", "name": "Green"}],
        "coverage": 0.5,
        "status": "running",
    }
)
USERS = [f"user-{i}" for i in range(2000)]


def ctx(uid: str, **attrs: object) -> Context:
    return Context(attributes={"id": uid, **attrs})


def test_headwater_definitions_default_to_hash_v2() -> None:
    assert EXP.hash_version == 2
    r = evaluate(EXP, ctx("user-1"))
    assert r.bucket == gb_hash("checkout-button", "user-1", 2)


def test_split_follows_weights_and_coverage() -> None:
    counts = Counter(evaluate(EXP, ctx(u)).reason for u in USERS)
    assert 900 < counts["assigned"] < 1100  # coverage 0.5
    variants = Counter(evaluate(EXP, ctx(u)).key for u in USERS if evaluate(EXP, ctx(u)).in_experiment)
    assert abs(variants["control"] - variants["green"]) < 150


def test_raising_coverage_never_moves_an_assigned_user_even_without_sticky_store() -> None:
    wider = replace(EXP, coverage=1.0)
    for u in USERS:
        before = evaluate(EXP, ctx(u))
        if before.in_experiment:
            assert evaluate(wider, ctx(u)).key == before.key


def test_changing_weights_moves_nobody_with_sticky_buckets() -> None:
    store = InMemoryStickyBucketStore()
    first = {u: run(EXP, ctx(u), store) for u in USERS}
    skewed = replace(EXP, weights=(0.1, 0.9), coverage=1.0)
    moved_without = sum(
        1 for u in USERS if first[u].in_experiment and evaluate(skewed, ctx(u)).key != first[u].key
    )
    assert moved_without > 100  # the store is what protects them
    saves = store.saves
    for u in USERS:
        again = run(skewed, ctx(u), store)
        if first[u].in_experiment:
            assert again.key == first[u].key and again.sticky_bucket_used and again.reason == "sticky"
    assert store.saves - saves == sum(1 for u in USERS if not first[u].in_experiment)


def test_new_phase_rerandomizes() -> None:
    store = InMemoryStickyBucketStore()
    full = replace(EXP, coverage=1.0)
    first = {u: run(full, ctx(u), store).key for u in USERS}
    phase2 = replace(full, phase="1", seed="checkout-button-phase-1")
    second = {u: run(phase2, ctx(u), store) for u in USERS}
    assert not any(r.sticky_bucket_used for r in second.values())
    assert sum(first[u] != second[u].key for u in USERS) > 600
    assert store.get(StickyKey("id", "user-1", "checkout-button", "0")) == first["user-1"]
    assert store.document("id", "user-1").keys() == {"checkout-button__0", "checkout-button__1"}


def test_removed_variation_in_sticky_store_is_rebucketed() -> None:
    store = InMemoryStickyBucketStore()
    store.save(StickyKey("id", "u1", EXP.key, "0"), "deleted-variant")
    r = run(replace(EXP, coverage=1.0), ctx("u1"), store)
    assert r.in_experiment and not r.sticky_bucket_used


def test_not_running_gives_control_flagged_without_exposure() -> None:
    for status in (Status.DRAFT, Status.STOPPED):
        r = evaluate(replace(EXP, status=status, coverage=1.0), ctx("user-7"))
        assert (r.in_experiment, r.variation_id, r.key, r.should_log_exposure) == (False, 0, "control", False)
        assert r.reason in ("not_running", "stopped") and r.sticky_to_save is None


def test_empty_or_missing_id_is_not_enrolled() -> None:
    for attrs in ({"id": ""}, {"id": None}, {}):
        r = evaluate(EXP, Context(attributes=attrs))
        assert not r.in_experiment and r.reason == "no_hash_value"


def test_emoji_ids_hash_as_javascript_utf16() -> None:
    emoji = "user-\U0001f600"
    assert fnv1a32(emoji) != fnv1a32_code_points(emoji)
    # UTF-16 code units, as JavaScript's charCodeAt: the emoji is the surrogate pair D83D DE00
    assert fnv1a32(emoji) == fnv1a32_code_points("user-\ud83d\ude00")
    assert fnv1a32("café") == fnv1a32_code_points("café")  # BMP text hashes alike in every SDK
    r = evaluate(replace(EXP, coverage=1.0), ctx(emoji))
    assert r.in_experiment and r.hash_value == emoji


def test_targeting_condition_on_attributes() -> None:
    targeted = replace(EXP, coverage=1.0, condition={"country": {"$in": ["FR", "DE"]}, "plan": "pro"})
    assert evaluate(targeted, ctx("u1", country="FR", plan="pro")).in_experiment
    out = evaluate(targeted, ctx("u1", country="US", plan="pro"))
    assert not out.in_experiment and out.reason == "targeting"


def test_forced_variations_and_force_field() -> None:
    full = replace(EXP, coverage=1.0)
    r = evaluate(full, Context(attributes={"id": "u"}, forced_variations={EXP.key: 1}))
    assert r.key == "green" and r.in_experiment and not r.should_log_exposure
    r = evaluate(replace(full, force=0), ctx("u"))
    assert r.variation_id == 0 and r.reason == "forced"


def test_growthbook_result_fields() -> None:
    r = evaluate(replace(EXP, coverage=1.0), ctx("user-3"))
    d = r.to_growthbook()
    fields = [
        "inExperiment",
        "variationId",
        "key",
        "value",
        "hashAttribute",
        "hashValue",
        "bucket",
        "stickyBucketUsed",
    ]
    assert set(d) >= set(fields)
    assert d["hashAttribute"] == "id" and d["hashValue"] == "user-3"


def test_fallback_attribute_for_anonymous_users() -> None:
    exp = replace(EXP, coverage=1.0, hash_attribute="userId", fallback_attribute="anonymousId")
    r = evaluate(exp, Context(attributes={"anonymousId": "anon-1"}))
    assert r.in_experiment and (r.hash_attribute, r.hash_value) == ("anonymousId", "anon-1")


def test_exposure_event_properties() -> None:
    r = evaluate(replace(EXP, coverage=1.0), ctx("user-3"))
    props = exposure_properties(EXP, r)
    assert EXPOSURE_EVENT == "Experiment Viewed"
    assert props["experiment_id"] == "checkout-button" and props["experiment_name"] == "Checkout button"
    assert props["variation_id"] == r.key and props["variation_name"] in ("Blue", "Green")
    assert (props["hash_attribute"], props["hash_value"], props["experiment_phase"]) == ("id", "user-3", "0")
    assert dedup_key(r) == "checkout-button__0|id||user-3"


class _AsyncStore:
    def __init__(self) -> None:
        self.inner = InMemoryStickyBucketStore()

    async def get(self, key: StickyKey) -> str | None:
        return self.inner.get(key)

    async def save(self, key: StickyKey, variation_key: str) -> None:
        self.inner.save(key, variation_key)


def test_async_store_interface() -> None:
    store = _AsyncStore()
    full = replace(EXP, coverage=1.0)
    first = asyncio.run(run_async(full, ctx("u9"), store))
    again = asyncio.run(run_async(replace(full, weights=(0.01, 0.99)), ctx("u9"), store))
    assert again.key == first.key and again.sticky_bucket_used and len(store.inner) == 1
