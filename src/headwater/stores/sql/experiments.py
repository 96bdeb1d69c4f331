"""Experiment definitions and their phases, in the realtime store (tables of migration 4).

A definition is kept as the JSON the admin gave (GrowthBook field names, with ``status`` and
``phase``), validated by the caller. Each phase has a row with its seed and when it started and
stopped, which bound the results. Like the audience catalog, this catalog opens its own database
handle from the store's URL: it never shares a connection with the realtime tailer. SQL is written
once, with ``{p}`` placeholders (stores.sql.dialect).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.stores.sql.database import SqlDatabase, open_database


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ExperimentExistsError(KeyError):
    pass


class ExperimentNotFoundError(KeyError):
    pass


@dataclass(frozen=True, slots=True)
class Phase:
    phase: str
    seed: str
    started_at: str
    stopped_at: str | None


@dataclass(frozen=True, slots=True)
class StoredExperiment:
    key: str
    definition: dict[str, Any]
    created_at: str
    updated_at: str

    @property
    def status(self) -> str:
        return str(self.definition.get("status", "draft"))

    @property
    def phase(self) -> str:
        return str(self.definition.get("phase", "0"))


def _dump(definition: dict[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class ExperimentCatalog:
    """The experiment side of the realtime store; thread-safe (one connection behind a lock)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db: SqlDatabase = open_database(url)

    def close(self) -> None:
        self.db.close()

    def _q(self, cur: Any, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur.execute(self.db.q(sql), tuple(args))
        return list(cur.fetchall()) if cur.description else []

    # -- reading ------------------------------------------------------------------------------
    def all(self) -> list[StoredExperiment]:
        with self.db.tx(write=False) as cur:
            rows = self._q(
                cur, "SELECT key, definition, created_at, updated_at FROM experiments ORDER BY key"
            )
        return [StoredExperiment(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]

    def get(self, key: str) -> StoredExperiment | None:
        with self.db.tx(write=False) as cur:
            return self._get(cur, key)

    def _get(self, cur: Any, key: str) -> StoredExperiment | None:
        rows = self._q(
            cur, "SELECT key, definition, created_at, updated_at FROM experiments WHERE key = {p}", (key,)
        )
        return StoredExperiment(rows[0][0], json.loads(rows[0][1]), rows[0][2], rows[0][3]) if rows else None

    def phases(self, key: str) -> list[Phase]:
        with self.db.tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT phase, seed, started_at, stopped_at FROM experiment_phases "
                "WHERE experiment_key = {p} ORDER BY started_at",
                (key,),
            )
        return [Phase(*r) for r in rows]

    # -- writing ------------------------------------------------------------------------------
    def create(self, definition: dict[str, Any]) -> StoredExperiment:
        """Insert a validated definition; ExperimentExistsError when the key is taken."""
        key = str(definition["key"])
        now = now_text()
        with self.db.tx() as cur:
            if self._get(cur, key) is not None:
                raise ExperimentExistsError(key)
            self._q(
                cur,
                "INSERT INTO experiments(key, definition, created_at, updated_at)"
                " VALUES ({p}, {p}, {p}, {p})",
                (key, _dump(definition), now, now),
            )
            self._track_phase(cur, definition, now)
            found = self._get(cur, key)
        assert found is not None
        return found

    def update(self, key: str, definition: dict[str, Any]) -> StoredExperiment:
        """Replace a definition (same key); a running experiment whose phase changed starts it."""
        now = now_text()
        with self.db.tx() as cur:
            old = self._get(cur, key)
            if old is None:
                raise ExperimentNotFoundError(key)
            self._q(
                cur,
                "UPDATE experiments SET definition = {p}, updated_at = {p} WHERE key = {p}",
                (_dump(definition), now, key),
            )
            new_phase = str(definition.get("phase", "0"))
            if old.status == "running" and (old.phase != new_phase or definition.get("status") != "running"):
                self._q(
                    cur,
                    "UPDATE experiment_phases SET stopped_at = {p} "
                    "WHERE experiment_key = {p} AND phase = {p} AND stopped_at IS NULL",
                    (now, key, old.phase),
                )
            self._track_phase(cur, definition, now)
            found = self._get(cur, key)
        assert found is not None
        return found

    def _track_phase(self, cur: Any, definition: dict[str, Any], now: str) -> None:
        """A running definition has an open row for its phase (created, or re-opened on resume)."""
        if definition.get("status") != "running":
            return
        key, phase = str(definition["key"]), str(definition.get("phase", "0"))
        seed = str(definition.get("seed") or key)
        rows = self._q(
            cur,
            "SELECT stopped_at FROM experiment_phases WHERE experiment_key = {p} AND phase = {p}",
            (key, phase),
        )
        if not rows:
            self._q(
                cur,
                "INSERT INTO experiment_phases(experiment_key, phase, seed, started_at)"
                " VALUES ({p}, {p}, {p}, {p})",
                (key, phase, seed, now),
            )
        elif rows[0][0] is not None:
            self._q(
                cur,
                "UPDATE experiment_phases SET stopped_at = NULL WHERE experiment_key = {p} AND phase = {p}",
                (key, phase),
            )

    def set_phase_start(self, key: str, phase: str, started_at: datetime) -> None:
        """Move when a phase started (history loaded afterwards, as the demo's, is then in its results)."""
        with self.db.tx() as cur:
            self._q(
                cur,
                "UPDATE experiment_phases SET started_at = {p} WHERE experiment_key = {p} AND phase = {p}",
                (started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), key, phase),
            )

    def delete_all(self) -> None:
        """Tests and benchmarks only: forget every experiment and phase."""
        with self.db.tx() as cur:
            self._q(cur, "DELETE FROM experiment_phases")
            self._q(cur, "DELETE FROM experiments")
