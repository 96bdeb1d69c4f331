"""Cohort definitions (docs/insights.md): saved groups of people, kept with the control plane
(migration 11 of the realtime store, SQLite or PostgreSQL). The definition is stored as the JSON
the API was given; its members are computed from the lake (headwater.insights.cohorts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headwater.stores.sql.catalog import SqlCatalog
from headwater.stores.sql.definitions import put_definition


@dataclass(frozen=True, slots=True)
class StoredCohort:
    id: str
    definition: dict[str, Any]
    created_at: str
    updated_at: str


class CohortCatalog(SqlCatalog):
    """Thread-safe (one connection behind a lock); open one per use or keep one per process."""

    def list(self) -> list[StoredCohort]:
        rows = self._all("SELECT id, definition, created_at, updated_at FROM cohorts ORDER BY id")
        return [StoredCohort(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]

    def get(self, cohort_id: str) -> StoredCohort | None:
        rows = self._all(
            "SELECT id, definition, created_at, updated_at FROM cohorts WHERE id = {p}", (cohort_id,)
        )
        return StoredCohort(rows[0][0], json.loads(rows[0][1]), rows[0][2], rows[0][3]) if rows else None

    def put(self, definition: dict[str, Any], create_only: bool = False) -> tuple[StoredCohort, bool]:
        """Insert or replace (by id): (the stored cohort, whether it was created). With ``create_only``
        an existing id raises KeyError."""
        created_at, updated_at, created = put_definition(self.db, "cohorts", definition, create_only)
        return StoredCohort(str(definition["id"]), definition, created_at, updated_at), created

    def delete(self, cohort_id: str) -> bool:
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM cohorts WHERE id = {p}"), (cohort_id,))
            return bool(cur.rowcount)

    def forget_ids(self, ids: Sequence[str] | set[str]) -> int:
        """Drop ``ids`` from every static cohort's list (a deletion, docs/privacy.md): how many removed."""
        gone = set(ids)
        removed = 0
        for stored in self.list():
            members = stored.definition.get("members")
            if not isinstance(members, list) or not gone.intersection(members):
                continue
            kept = [m for m in members if m not in gone]
            removed += len(members) - len(kept)
            self.put({**stored.definition, "members": kept})
        return removed
