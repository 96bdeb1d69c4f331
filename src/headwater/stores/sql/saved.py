"""Saved insights and dashboards (docs/dashboard.md, "Saved insights, dashboards, alerts"), kept
with the control plane (migration 13 of the realtime store, SQLite or PostgreSQL): they move with
``headwater db copy`` and are in its backups. A saved insight's query is stored as the JSON the API
was given; a dashboard's tiles are rows, in their order. Deleting an insight deletes its tiles
and its alerts (with their history) in the same transaction.

What a definition may hold is checked before it gets here (headwater.insights.saved); whether the
insights a dashboard names exist is checked here, inside the transaction that writes it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.stores.sql.catalog import SqlCatalog
from headwater.stores.sql.definitions import now_text

_P = "{p}"  # the dialect's placeholder, filled in by SqlDatabase.q
_INSIGHT_COLUMNS = "id, name, kind, query, description, created_at, updated_at"


def new_id() -> str:
    """A short random id (10 hex digits), the same shape for every kind of saved object."""
    return secrets.token_hex(5)


def marks(n: int) -> str:
    """``({p},{p},...)``: the placeholders of an INSERT of ``n`` columns."""
    return "(" + ",".join([_P] * n) + ")"


def compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class UnknownInsight(LookupError):
    """A dashboard's tile (``index``) or an alert (``index`` None) names no saved insight."""

    def __init__(self, insight_id: str, index: int | None = None) -> None:
        super().__init__(insight_id)
        self.insight_id = insight_id
        self.index = index


@dataclass(frozen=True, slots=True)
class SavedInsight:
    id: str
    name: str
    kind: str
    query: dict[str, Any]
    description: str
    created_at: str
    updated_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "query": self.query,
            "description": self.description,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Tile:
    insight: str
    x: int
    y: int
    w: int
    h: int
    name: str = ""  # the insight's, for the answers
    kind: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "insight": self.insight,
            "x": self.x,
            "y": self.y,
            "w": self.w,
            "h": self.h,
            "name": self.name,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class Dashboard:
    id: str
    name: str
    description: str
    created_at: str
    updated_at: str
    tiles: tuple[Tile, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "tiles": [t.as_json() for t in self.tiles],
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Removed:
    """What deleting an insight took with it."""

    tiles: int = 0
    dashboards: tuple[str, ...] = ()  # the dashboards that lost a tile
    alerts: tuple[str, ...] = field(default=())


def _insight(row: Sequence[Any]) -> SavedInsight:
    return SavedInsight(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])


class SavedCatalog(SqlCatalog):
    """Thread-safe (one connection behind a lock); open one per use or keep one per process. With
    ``db`` it works on that database and leaves it open."""

    # -- saved insights ----------------------------------------------------------------------

    def insights(self) -> list[SavedInsight]:
        rows = self._all(f"SELECT {_INSIGHT_COLUMNS} FROM saved_insights ORDER BY created_at, id")
        return [_insight(r) for r in rows]

    def insight(self, insight_id: str) -> SavedInsight | None:
        rows = self._all(f"SELECT {_INSIGHT_COLUMNS} FROM saved_insights WHERE id = {_P}", (insight_id,))
        return _insight(rows[0]) if rows else None

    def create_insight(
        self, name: str, kind: str, query: dict[str, Any], description: str = ""
    ) -> SavedInsight:
        stamp = now_text()
        with self.db.tx() as cur:
            insight_id = self._free_id(cur, "saved_insights")
            cur.execute(
                self.db.q(f"INSERT INTO saved_insights ({_INSIGHT_COLUMNS}) VALUES {marks(7)}"),
                (insight_id, name, kind, compact(query), description, stamp, stamp),
            )
        return SavedInsight(insight_id, name, kind, query, description, stamp, stamp)

    def update_insight(
        self, insight_id: str, name: str, kind: str, query: dict[str, Any], description: str
    ) -> SavedInsight | None:
        stamp = now_text()
        with self.db.tx() as cur:
            cur.execute(self.db.q(f"SELECT created_at FROM saved_insights WHERE id = {_P}"), (insight_id,))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                self.db.q(
                    f"UPDATE saved_insights SET name = {_P}, kind = {_P}, query = {_P}, description = {_P},"
                    f" updated_at = {_P} WHERE id = {_P}"
                ),
                (name, kind, compact(query), description, stamp, insight_id),
            )
        return SavedInsight(insight_id, name, kind, query, description, str(row[0]), stamp)

    def delete_insight(self, insight_id: str) -> Removed | None:
        """Delete an insight, its tiles and its alerts (their history too); None when there is none."""
        with self.db.tx() as cur:
            cur.execute(self.db.q(f"DELETE FROM saved_insights WHERE id = {_P}"), (insight_id,))
            if not cur.rowcount:
                return None
            cur.execute(
                self.db.q(f"SELECT DISTINCT dashboard_id FROM dashboard_tiles WHERE insight_id = {_P}"),
                (insight_id,),
            )
            dashboards = tuple(sorted(str(r[0]) for r in cur.fetchall()))
            cur.execute(self.db.q(f"DELETE FROM dashboard_tiles WHERE insight_id = {_P}"), (insight_id,))
            tiles = int(cur.rowcount)
            cur.execute(self.db.q(f"SELECT id FROM alerts WHERE insight_id = {_P}"), (insight_id,))
            alerts = tuple(sorted(str(r[0]) for r in cur.fetchall()))
            for alert_id in alerts:
                cur.execute(self.db.q(f"DELETE FROM alert_events WHERE alert_id = {_P}"), (alert_id,))
            cur.execute(self.db.q(f"DELETE FROM alerts WHERE insight_id = {_P}"), (insight_id,))
            stamp = now_text()
            for dashboard_id in dashboards:
                self._renumber(cur, dashboard_id)
                cur.execute(
                    self.db.q(f"UPDATE dashboards SET updated_at = {_P} WHERE id = {_P}"),
                    (stamp, dashboard_id),
                )
        return Removed(tiles, dashboards, alerts)

    def _free_id(self, cur: Any, table: str) -> str:
        while True:
            candidate = new_id()
            cur.execute(self.db.q(f"SELECT 1 FROM {table} WHERE id = {_P}"), (candidate,))
            if cur.fetchone() is None:
                return candidate

    # -- dashboards -------------------------------------------------------------------------

    def dashboards(self) -> list[Dashboard]:
        rows = self._all(
            "SELECT id, name, description, created_at, updated_at FROM dashboards ORDER BY created_at, id"
        )
        tiles = self._tiles(None)
        return [Dashboard(r[0], r[1], r[2], r[3], r[4], tuple(tiles.get(r[0], ()))) for r in rows]

    def dashboard(self, dashboard_id: str) -> Dashboard | None:
        rows = self._all(
            f"SELECT id, name, description, created_at, updated_at FROM dashboards WHERE id = {_P}",
            (dashboard_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Dashboard(r[0], r[1], r[2], r[3], r[4], tuple(self._tiles(dashboard_id).get(dashboard_id, ())))

    def _tiles(self, dashboard_id: str | None) -> dict[str, list[Tile]]:
        sql = (
            "SELECT t.dashboard_id, t.insight_id, t.x, t.y, t.w, t.h, i.name, i.kind FROM dashboard_tiles t"
            " JOIN saved_insights i ON i.id = t.insight_id"
        )
        args: tuple[str, ...] = ()
        if dashboard_id is not None:
            sql += f" WHERE t.dashboard_id = {_P}"
            args = (dashboard_id,)
        out: dict[str, list[Tile]] = {}
        for row in self._all(sql + " ORDER BY t.dashboard_id, t.position", args):
            out.setdefault(row[0], []).append(
                Tile(row[1], int(row[2]), int(row[3]), int(row[4]), int(row[5]), row[6], row[7])
            )
        return out

    def create_dashboard(self, name: str, description: str, tiles: Sequence[Any]) -> Dashboard:
        """``tiles``: objects with insight, x, y, w, h. UnknownInsight (with the tile's index) when one
        names no saved insight."""
        stamp = now_text()
        with self.db.tx() as cur:
            dashboard_id = self._free_id(cur, "dashboards")
            cur.execute(
                self.db.q(
                    "INSERT INTO dashboards (id, name, description, created_at, updated_at)"
                    f" VALUES {marks(5)}"
                ),
                (dashboard_id, name, description, stamp, stamp),
            )
            self._put_tiles(cur, dashboard_id, tiles)
        found = self.dashboard(dashboard_id)
        assert found is not None
        return found

    def update_dashboard(
        self, dashboard_id: str, name: str, description: str, tiles: Sequence[Any]
    ) -> Dashboard | None:
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    f"UPDATE dashboards SET name = {_P}, description = {_P}, updated_at = {_P}"
                    f" WHERE id = {_P}"
                ),
                (name, description, now_text(), dashboard_id),
            )
            if not cur.rowcount:
                return None
            cur.execute(self.db.q(f"DELETE FROM dashboard_tiles WHERE dashboard_id = {_P}"), (dashboard_id,))
            self._put_tiles(cur, dashboard_id, tiles)
        return self.dashboard(dashboard_id)

    def delete_dashboard(self, dashboard_id: str) -> bool:
        with self.db.tx() as cur:
            cur.execute(self.db.q(f"DELETE FROM dashboards WHERE id = {_P}"), (dashboard_id,))
            if not cur.rowcount:
                return False
            cur.execute(self.db.q(f"DELETE FROM dashboard_tiles WHERE dashboard_id = {_P}"), (dashboard_id,))
        return True

    def _put_tiles(self, cur: Any, dashboard_id: str, tiles: Sequence[Any]) -> None:
        wanted = sorted({t.insight for t in tiles})
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            cur.execute(
                self.db.q(f"SELECT id FROM saved_insights WHERE id IN {marks(len(chunk))}"), tuple(chunk)
            )
            known.update(str(r[0]) for r in cur.fetchall())
        for i, tile in enumerate(tiles):
            if tile.insight not in known:
                raise UnknownInsight(tile.insight, i)
        insert = self.db.q(
            f"INSERT INTO dashboard_tiles (dashboard_id, position, insight_id, x, y, w, h) VALUES {marks(7)}"
        )
        rows = [(dashboard_id, i, t.insight, t.x, t.y, t.w, t.h) for i, t in enumerate(tiles)]
        if rows:
            cur.executemany(insert, rows)

    def _renumber(self, cur: Any, dashboard_id: str) -> None:
        """Positions 0..n-1 again after tiles were removed (the order kept)."""
        cur.execute(
            self.db.q(f"SELECT position FROM dashboard_tiles WHERE dashboard_id = {_P} ORDER BY position"),
            (dashboard_id,),
        )
        for new, (old,) in enumerate(list(cur.fetchall())):
            if new != old:
                cur.execute(
                    self.db.q(
                        f"UPDATE dashboard_tiles SET position = {_P}"
                        f" WHERE dashboard_id = {_P} AND position = {_P}"
                    ),
                    (new, dashboard_id, old),
                )
