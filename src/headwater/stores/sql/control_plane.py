"""The control plane: what a user made and cannot rebuild from the log (write keys and their
revocations, experiments and their phases, audiences and their sizes over time, the enrichment's
API keys and settings, accounts, their API tokens and the audit log, cohorts, saved insights,
dashboards, alerts and their history; sessions are not moved: users sign in again), and moving it
from one SQL store to another, whole or not at all.

Everything else in the realtime store (aggregates, checkpoints) is derived from the log and is
rebuilt there by the tailers; the control plane is copied. A copy runs in one transaction of the
target (PostgreSQL: under an advisory lock; SQLite: BEGIN IMMEDIATE), so a copy killed half way
leaves nothing, and two processes copying at once copy once: the second finds the same rows and
has nothing to do. A target that already holds a different control plane is refused, naming
what differs; then the copy is read back and compared with the source before it is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from headwater.stores.sql.database import SqlDatabase

#: advisory lock of PostgreSQL serializing control-plane copies across processes (and hosts)
_COPY_LOCK = 0x4857_0002


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    timestamps: tuple[str, ...] = ()  # TIMESTAMPTZ on PostgreSQL, ISO text on SQLite
    label: str = ""

    def key_of(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[self.columns.index(k)] for k in self.key)


TABLES: tuple[Table, ...] = (
    Table(
        "write_keys",
        ("key", "name", "created_at", "revoked_at", "allowed_origins"),
        ("key",),
        ("created_at", "revoked_at"),
        "write key",
    ),
    Table("experiments", ("key", "definition", "created_at", "updated_at"), ("key",), label="experiment"),
    Table(
        "experiment_phases",
        ("experiment_key", "phase", "seed", "started_at", "stopped_at"),
        ("experiment_key", "phase"),
        label="experiment phase",
    ),
    Table("audiences", ("id", "definition", "created_at", "updated_at"), ("id",), label="audience"),
    Table(
        "audience_sizes",
        ("audience_id", "measured_at", "source", "size"),
        ("audience_id", "measured_at", "source"),
        label="audience size",
    ),
    Table(  # key: 'sha256:<hex>' (plain in a store an earlier version wrote, hashed when opened)
        "openrtb_keys", ("key", "hint", "name", "created_at", "revoked_at"), ("key",), label="enrich key"
    ),
    Table("targeting_settings", ("name", "value"), ("name",), label="enrichment setting"),
    Table(
        "users",
        ("id", "email", "name", "role", "password_hash", "created_at", "disabled_at"),
        ("id",),
        label="user",
    ),
    Table(
        "invitations",
        ("token_hash", "user_id", "created_at", "expires_at", "used_at"),
        ("token_hash",),
        label="invitation",
    ),
    Table(
        "api_tokens",
        ("token_hash", "hint", "user_id", "name", "scopes", "created_at", "last_used_at", "revoked_at"),
        ("token_hash",),
        label="API token",
    ),
    Table("audit_log", ("id", "at", "actor", "action", "target", "detail"), ("id",), label="audit entry"),
    Table(
        "webhook_sources",
        ("name", "write_key", "secret", "token_hash", "created_at", "updated_at"),
        ("name",),
        label="webhook source",
    ),
    Table(
        "regulations",
        ("id", "type", "subject", "status", "origin", "created_at", "updated_at", "progress"),
        ("id",),
        label="regulation",
    ),
    Table(
        "suppressions",
        ("id_hash", "regulation_id", "created_at"),
        ("id_hash", "regulation_id"),
        label="suppressed id",
    ),
    Table("privacy_settings", ("name", "value"), ("name",), label="privacy setting"),
    Table("cohorts", ("id", "definition", "created_at", "updated_at"), ("id",), label="cohort"),
    Table(
        "saved_insights",
        ("id", "name", "kind", "query", "description", "created_at", "updated_at"),
        ("id",),
        label="saved insight",
    ),
    Table(
        "dashboards", ("id", "name", "description", "created_at", "updated_at"), ("id",), label="dashboard"
    ),
    Table(
        "dashboard_tiles",
        ("dashboard_id", "position", "insight_id", "x", "y", "w", "h"),
        ("dashboard_id", "position"),
        label="dashboard tile",
    ),
    Table(
        "alerts",
        (
            "id",
            "name",
            "insight_id",
            "condition",
            "series",
            "webhook_url",
            "every",
            "created_at",
            "updated_at",
            "state",
            "notified",
            "last_check",
            "last_checked_at",
            "next_check_at",
        ),
        ("id",),
        label="alert",
    ),
    Table(
        "alert_events",
        (
            "id",
            "alert_id",
            "at",
            "state",
            "previous_state",
            "notification",
            "delivered",
            "error",
            "evaluation",
        ),
        ("id",),
        label="alert event",
    ),
)


class ControlPlaneConflict(RuntimeError):
    """The target holds a control plane of its own; the message names what differs."""


@dataclass
class ControlPlane:
    """Every row of every control-plane table, as plain values (timestamps as UTC datetimes)."""

    rows: dict[str, set[tuple[Any, ...]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.rows.values())

    def counts(self) -> dict[str, int]:
        return {t.name: len(self.rows.get(t.name, ())) for t in TABLES}

    def summary(self) -> str:
        parts = [
            f"{n} {t.label}{'' if n == 1 else 's'}" for t in TABLES if (n := len(self.rows.get(t.name, ())))
        ]
        return ", ".join(parts) or "nothing"


def _plain(table: Table, row: Iterable[Any]) -> tuple[Any, ...]:
    out = []
    for column, value in zip(table.columns, row, strict=True):
        if column in table.timestamps and value is not None:
            value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            value = value.astimezone(UTC)
        elif isinstance(value, memoryview | bytes):
            value = bytes(value).decode()
        out.append(value)
    return tuple(out)


def _read(cur: Any, db: SqlDatabase) -> ControlPlane:
    found = ControlPlane()
    for table in TABLES:
        cur.execute(db.q(f"SELECT {', '.join(table.columns)} FROM {table.name}"))
        found.rows[table.name] = {_plain(table, r) for r in cur.fetchall()}
    return found


def read_control_plane(db: SqlDatabase) -> ControlPlane:
    with db.tx(write=False) as cur:
        return _read(cur, db)


def differences(source: ControlPlane, target: ControlPlane, limit: int = 10) -> list[str]:
    """What differs, one line each, named by table label and key (at most ``limit`` lines)."""
    out: list[str] = []
    for table in TABLES:
        ours = {table.key_of(r): r for r in source.rows.get(table.name, ())}
        theirs = {table.key_of(r): r for r in target.rows.get(table.name, ())}
        for key in sorted(set(ours) | set(theirs), key=repr):
            name = "/".join(str(k) for k in key)
            if key not in theirs:
                out.append(f"{table.label} {name!r} is only in the source")
            elif key not in ours:
                out.append(f"{table.label} {name!r} is only in the target")
            elif ours[key] != theirs[key]:
                out.append(f"{table.label} {name!r} differs")
    if len(out) > limit:
        out = [*out[:limit], f"... and {len(out) - limit} more"]
    return out


@dataclass(frozen=True, slots=True)
class CopyReport:
    copied: bool  # False: the target held this very control plane already
    counts: dict[str, int]
    summary: str
    replaced: tuple[str, ...] = ()  # what differed in the target a --replace overwrote


def copy_control_plane(source: SqlDatabase, target: SqlDatabase, replace: bool = False) -> CopyReport:
    """Copy the source's control plane into the target, in one transaction, then verify it.

    ControlPlaneConflict when the target holds a different control plane (nothing is written),
    unless ``replace``: then the target's is replaced (the way back to a store that holds an
    older copy; its aggregates are kept and its tailer catches up from its own checkpoint)."""
    wanted = read_control_plane(source)
    copied = False
    replaced: list[str] = []
    with target.tx() as cur:
        if target.dialect.name == "postgresql":
            cur.execute(target.q("SELECT pg_advisory_xact_lock({p})"), (_COPY_LOCK,))
        present = _read(cur, target)
        if not present.empty and present.rows != wanted.rows:
            if not replace:
                lines = differences(wanted, present)
                raise ControlPlaneConflict("the target holds a different control plane: " + "; ".join(lines))
            replaced = differences(wanted, present)
            for table in reversed(TABLES):
                cur.execute(f"DELETE FROM {table.name}")
            present = ControlPlane()
        if present.empty and not wanted.empty:
            for table in TABLES:
                rows = wanted.rows.get(table.name)
                if not rows:
                    continue
                marks = ", ".join("{p}" for _ in table.columns)
                insert = target.q(f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})")
                cur.executemany(insert, [_bound(table, target, row) for row in sorted(rows, key=repr)])
            if target.dialect.name == "postgresql":  # ids copied as they were: the sequence follows
                cur.execute(
                    "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), MAX(id)) FROM audit_log"
                    " HAVING MAX(id) IS NOT NULL"
                )
            copied = True
    stored = read_control_plane(target)
    if stored.rows != wanted.rows:
        raise RuntimeError(
            "the control plane read back from the target differs from the source: "
            + "; ".join(differences(wanted, stored))
        )
    return CopyReport(copied, wanted.counts(), wanted.summary(), tuple(replaced))


def _bound(table: Table, db: SqlDatabase, row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        db.dialect.timestamp(v) if c in table.timestamps and v is not None else v
        for c, v in zip(table.columns, row, strict=True)
    )


EMBEDDED_FILE = "realtime.sqlite3"


def adopt_embedded(data_dir: Any, target_url: str) -> CopyReport | None:
    """On a start against another store than the embedded one: when the data directory's embedded
    store holds a control plane and the target holds none (its first start), copy it over and
    return the CopyReport. None when there was nothing to adopt: no embedded store, an empty one,
    or a target that has one already (it has grown past the embedded copy, the usual case).

    ControlPlaneConflict when the target has its own control plane yet lacks write keys the
    embedded store holds: clients sending them would get 401. The caller decides (``serve`` says
    so, naming them, and goes on with the target's, which is the configured one)."""
    from pathlib import Path

    from headwater.stores.sql.database import open_database

    embedded = Path(data_dir) / EMBEDDED_FILE
    embedded_url = f"sqlite:///{embedded.resolve()}"
    if not embedded.exists() or target_url == embedded_url:
        return None
    source = open_database(embedded_url)  # an older embedded schema is brought up to date first
    try:
        ours = read_control_plane(source)
        if ours.empty:
            return None
        target = open_database(target_url)
        try:
            theirs = read_control_plane(target)
            if theirs.empty:
                report = copy_control_plane(source, target)  # under the copy lock: one process copies
                return report if report.copied else None
        finally:
            target.close()
    finally:
        source.close()
    missing = sorted(_write_keys(ours) - _write_keys(theirs))
    if missing:
        names = ", ".join(repr(k[:12] + "...") for k in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ControlPlaneConflict(f"write keys of the embedded store are not in the target: {names}{more}")
    return None


def _write_keys(plane: ControlPlane) -> set[str]:
    return {str(row[0]) for row in plane.rows.get("write_keys", ())}
