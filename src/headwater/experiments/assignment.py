"""Which variation a user gets: GrowthBook's `run` rules, step for step, with sticky bucketing.

`evaluate` is pure: give it the sticky assignment already read (or None) and it answers a Result,
whose `sticky_to_save` says what to write back. `run` and `run_async` do that read and write through a
StickyBucketStore. Not supported from GrowthBook's rules (no feature flags or browser here):
prerequisite `parentConditions`, `include` callbacks, `groups`, URL targeting and redirects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from headwater.experiments.conditions import eval_condition
from headwater.experiments.hashing import choose_variation, gb_hash, get_bucket_ranges, in_namespace
from headwater.experiments.model import Experiment, Status
from headwater.experiments.sticky import AsyncStickyBucketStore, StickyBucketStore, StickyKey


@dataclass(frozen=True, slots=True)
class Context:
    attributes: Mapping[str, Any] = field(default_factory=dict)
    forced_variations: Mapping[str, int] = field(default_factory=dict)
    saved_groups: Mapping[str, Any] = field(default_factory=dict)
    qa_mode: bool = False
    enabled: bool = True
    url: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    """GrowthBook's experiment result fields, plus why a user is out (`reason`) and what to save."""

    in_experiment: bool
    variation_id: int
    key: str
    value: Any
    name: str
    hash_attribute: str
    hash_value: str
    hash_used: bool
    bucket: float | None
    sticky_bucket_used: bool
    passthrough: bool
    experiment_key: str
    phase: str
    reason: str  # "assigned", "sticky", "forced", or why the user gets the control unflagged
    sticky_to_save: tuple[StickyKey, str] | None = None

    @property
    def should_log_exposure(self) -> bool:
        """GrowthBook's tracking rule: a hashed (not forced) enrolment that is not a passthrough."""
        return self.in_experiment and self.hash_used and not self.passthrough

    def to_growthbook(self) -> dict[str, Any]:
        return {
            "inExperiment": self.in_experiment,
            "variationId": self.variation_id,
            "key": self.key,
            "value": self.value,
            "name": self.name,
            "hashAttribute": self.hash_attribute,
            "hashValue": self.hash_value,
            "hashUsed": self.hash_used,
            "bucket": self.bucket,
            "stickyBucketUsed": self.sticky_bucket_used,
            "passthrough": self.passthrough,
        }


def hash_value_of(value: Any) -> str:
    """An attribute as the string GrowthBook's JavaScript SDK hashes (falsy values give "")."""
    if value is None or value is False or value == "" or (isinstance(value, int | float) and value == 0):
        return ""
    if value is True:
        return "true"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def hash_attribute_of(exp: Experiment, attributes: Mapping[str, Any]) -> tuple[str, str]:
    attr = exp.hash_attribute or "id"
    value = hash_value_of(attributes.get(attr))
    if not value and exp.fallback_attribute:
        fallback = hash_value_of(attributes.get(exp.fallback_attribute))
        if fallback:
            return exp.fallback_attribute, fallback
    return attr, value


def query_string_override(key: str, url: str, num_variations: int) -> int | None:
    """GrowthBook's `?<experiment key>=<index>` override, or None."""
    if not url:
        return None
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if name == key:
            if value.isdigit() and int(value) < num_variations:
                return int(value)
            return None
    return None


def _result(
    exp: Experiment,
    ctx: Context,
    variation: int = -1,
    *,
    reason: str,
    hash_used: bool = False,
    bucket: float | None = None,
    sticky: bool = False,
) -> Result:
    in_exp = 0 <= variation < len(exp.variations)
    if not in_exp:
        variation = 0
    attr, value = hash_attribute_of(exp, ctx.attributes)
    meta = exp.meta[variation] if exp.meta is not None and variation < len(exp.meta) else None
    return Result(
        in_experiment=in_exp,
        variation_id=variation,
        key=exp.variation_key(variation),
        value=exp.variations[variation] if exp.variations else None,
        name=exp.variation_name(variation),
        hash_attribute=attr,
        hash_value=value,
        hash_used=hash_used,
        bucket=bucket,
        sticky_bucket_used=sticky,
        passthrough=bool(meta and meta.passthrough),
        experiment_key=exp.key,
        phase=exp.phase,
        reason=reason if in_exp or reason != "assigned" else "not_in_coverage",
    )


def _filtered_out(exp: Experiment, ctx: Context) -> bool:
    for f in exp.filters or ():
        probe = Experiment(key=exp.key, variations=(), hash_attribute=f.attribute or exp.hash_attribute)
        _, value = hash_attribute_of(probe, ctx.attributes)
        if not value:
            return True
        n = gb_hash(f.seed, value, f.hash_version)
        if n is None or not any(lo <= n < hi for lo, hi in f.ranges):
            return True
    return False


def suppressed_result(exp: Experiment, ctx: Context) -> Result:
    """A suppressed person (docs/privacy.md): the control, not in the experiment, nothing to log."""
    return _result(exp, ctx, reason="suppressed")


def sticky_key(exp: Experiment, attributes: Mapping[str, Any]) -> StickyKey | None:
    attr, value = hash_attribute_of(exp, attributes)
    return StickyKey(attr, value, exp.key, exp.phase) if value else None


def evaluate(exp: Experiment, ctx: Context, sticky_variation: str | None = None) -> Result:
    """GrowthBook's run steps 1-13 for one experiment; `sticky_variation` is the saved variation key."""
    n_var = len(exp.variations)
    if n_var < 2:
        return _result(exp, ctx, reason="too_few_variations")
    if not ctx.enabled:
        return _result(exp, ctx, reason="disabled")
    qs = query_string_override(exp.key, ctx.url, n_var)
    if qs is not None:
        return _result(exp, ctx, qs, reason="forced")
    forced = ctx.forced_variations.get(exp.key)
    if forced is not None:
        return _result(exp, ctx, forced, reason="forced")
    if exp.status is Status.DRAFT:
        return _result(exp, ctx, reason="not_running")
    attr, value = hash_attribute_of(exp, ctx.attributes)
    if not value:
        return _result(exp, ctx, reason="no_hash_value")

    assigned = -1
    sticky_found = False
    if sticky_variation is not None:
        index = exp.index_of_key(sticky_variation)
        if index is not None:
            assigned, sticky_found = index, True
    if not sticky_found:
        if exp.filters:
            if _filtered_out(exp, ctx):
                return _result(exp, ctx, reason="filtered_out")
        elif exp.namespace is not None and not in_namespace(value, exp.namespace.as_tuple()):
            return _result(exp, ctx, reason="not_in_namespace")
        if exp.condition is not None and not eval_condition(ctx.attributes, exp.condition, ctx.saved_groups):
            return _result(exp, ctx, reason="targeting")

    n = gb_hash(exp.hash_seed, value, exp.hash_version)
    if n is None:
        return _result(exp, ctx, reason="bad_hash_version")
    if not sticky_found:
        ranges = exp.ranges or get_bucket_ranges(n_var, exp.coverage, exp.weights)
        assigned = choose_variation(n, ranges)
    if assigned < 0:
        return _result(exp, ctx, reason="not_in_coverage")
    if exp.force is not None:
        return _result(exp, ctx, exp.force, reason="forced")
    if ctx.qa_mode:
        return _result(exp, ctx, reason="qa_mode")
    if exp.status is Status.STOPPED:
        return _result(exp, ctx, reason="stopped")
    result = _result(
        exp,
        ctx,
        assigned,
        reason="sticky" if sticky_found else "assigned",
        hash_used=True,
        bucket=n,
        sticky=sticky_found,
    )
    if sticky_found:
        return result
    return replace(result, sticky_to_save=(StickyKey(attr, value, exp.key, exp.phase), result.key))


def run(exp: Experiment, ctx: Context, store: StickyBucketStore | None = None) -> Result:
    """Assign with sticky bucketing through `store` (read first, save a new assignment)."""
    saved = None
    if store is not None:
        key = sticky_key(exp, ctx.attributes)
        saved = store.get(key) if key is not None else None
    result = evaluate(exp, ctx, saved)
    if store is not None and result.sticky_to_save is not None:
        store.save(*result.sticky_to_save)
    return result


async def run_async(exp: Experiment, ctx: Context, store: AsyncStickyBucketStore | None = None) -> Result:
    saved = None
    if store is not None:
        key = sticky_key(exp, ctx.attributes)
        saved = await store.get(key) if key is not None else None
    result = evaluate(exp, ctx, saved)
    if store is not None and result.sticky_to_save is not None:
        await store.save(*result.sticky_to_save)
    return result
