"""Sticky bucketing: the first variation a user got in an experiment phase is kept for good.

A store keeps, per user (hash attribute + value) and experiment key + phase, the variation key served.
The live store (memory, Redis, Redis Cluster) implements `StickyBucketStore` (or the async twin); the
assignment rules only need `get` and `save`. Keys embed the phase, so starting a new phase
re-randomizes everybody, while raising coverage or changing weights within a phase moves nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StickyKey:
    hash_attribute: str
    hash_value: str
    experiment_key: str
    phase: str

    def user_id(self) -> str:
        """GrowthBook's sticky document id: `attributeName||attributeValue`."""
        return f"{self.hash_attribute}||{self.hash_value}"

    def assignment_id(self) -> str:
        """GrowthBook's assignment key inside that document: `experimentKey__phase`."""
        return f"{self.experiment_key}__{self.phase}"


class StickyBucketStore(Protocol):
    def get(self, key: StickyKey) -> str | None:
        """The variation key saved for this user in this experiment phase, or None."""
        ...

    def save(self, key: StickyKey, variation_key: str) -> None:
        """Record the assignment. Implementations may keep the first value (set-if-absent)."""
        ...


class AsyncStickyBucketStore(Protocol):
    async def get(self, key: StickyKey) -> str | None: ...

    async def save(self, key: StickyKey, variation_key: str) -> None: ...


class InMemoryStickyBucketStore:
    """A dict-backed store for tests and single-process use; `saves` counts writes."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], dict[str, str]] = {}
        self.saves = 0

    def get(self, key: StickyKey) -> str | None:
        doc = self._data.get((key.hash_attribute, key.hash_value))
        return None if doc is None else doc.get(key.assignment_id())

    def save(self, key: StickyKey, variation_key: str) -> None:
        self.saves += 1
        self._data.setdefault((key.hash_attribute, key.hash_value), {})[key.assignment_id()] = variation_key

    def document(self, hash_attribute: str, hash_value: str) -> dict[str, str]:
        """All of a user's assignments, shaped like GrowthBook's `assignments` map."""
        return dict(self._data.get((hash_attribute, hash_value), {}))

    def __len__(self) -> int:
        return sum(len(d) for d in self._data.values())
