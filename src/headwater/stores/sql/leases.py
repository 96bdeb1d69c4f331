"""Job leases (docs/scale-out.md): each scheduled job (the daily pipeline, the alert checks ...)
runs on one host at a time. A lease is a row of ``job_leases`` in the control plane (PostgreSQL
when several hosts share it; SQLite on one host, where it costs nothing), taken for a time to live
and renewed by its holder's heartbeat; a holder that dies stops renewing, and once the lease has
expired any host takes it over. Every time is the database's own clock, so hosts whose clocks
disagree still agree on who holds a lease. ``generation`` grows at every takeover: a holder that
lost its lease (paused longer than the time to live) finds another generation at its next renewal
and stops."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headwater.stores.sql.catalog import SqlCatalog
from headwater.stores.sql.database import SqlDatabase

#: the database's clock in milliseconds since the epoch, per dialect
NOW_MS = {
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    "postgresql": "CAST(extract(epoch from clock_timestamp()) * 1000 AS BIGINT)",
}


@dataclass(frozen=True, slots=True)
class Lease:
    job: str
    holder: str
    generation: int
    acquired_ms: int
    renewed_ms: int
    expires_ms: int
    released_ms: int | None
    now_ms: int  # the database's clock when the row was read
    info: dict[str, Any] | None = None  # what the holder says of itself (a host's writers, lags)

    @property
    def held(self) -> bool:
        return self.released_ms is None and self.expires_ms > self.now_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "holder": self.holder if self.held else None,
            "last_holder": self.holder,
            "generation": self.generation,
            "held": self.held,
            "acquired_ms": self.acquired_ms,
            "renewed_ms": self.renewed_ms,
            "expires_in_s": round(max(0, self.expires_ms - self.now_ms) / 1000, 1) if self.held else 0,
            "released_ms": self.released_ms,
            "info": self.info,
        }


class LeaseStore(SqlCatalog):
    """Thread-safe (one connection behind a lock)."""

    def __init__(self, url: str | None = None, db: SqlDatabase | None = None) -> None:
        super().__init__(url, db)
        self.now = NOW_MS[self.db.dialect.name]

    def acquire(
        self, job: str, holder: str, ttl_s: float, info: dict[str, Any] | None = None
    ) -> Lease | None:
        """The lease when ``holder`` holds it now (taken, taken over after it expired or was
        released, or renewed because it held it already); None while another holds it."""
        ttl = int(ttl_s * 1000)
        now = self.now
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    f"""INSERT INTO job_leases
                        (job, holder, generation, acquired_ms, renewed_ms, expires_ms, released_ms, info)
                    VALUES ({{p}}, {{p}}, 1, {now}, {now}, {now} + {{p}}, NULL, {{p}})
                    ON CONFLICT (job) DO UPDATE SET
                        generation = CASE WHEN job_leases.holder = excluded.holder
                            AND job_leases.released_ms IS NULL AND job_leases.expires_ms > {now}
                            THEN job_leases.generation ELSE job_leases.generation + 1 END,
                        acquired_ms = CASE WHEN job_leases.holder = excluded.holder
                            AND job_leases.released_ms IS NULL AND job_leases.expires_ms > {now}
                            THEN job_leases.acquired_ms ELSE {now} END,
                        holder = excluded.holder, renewed_ms = {now}, expires_ms = {now} + {{p}},
                        released_ms = NULL, info = excluded.info
                    WHERE job_leases.holder = excluded.holder OR job_leases.released_ms IS NOT NULL
                        OR job_leases.expires_ms <= {now}"""
                ),
                (job, holder, ttl, None if info is None else json.dumps(info, sort_keys=True), ttl),
            )
            lease = self._read(cur, job)
        return lease if lease is not None and lease.holder == holder and lease.held else None

    def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        """Extend a held lease; None when it was lost (expired and taken over, or released)."""
        now = self.now
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    f"""UPDATE job_leases SET renewed_ms = {now}, expires_ms = {now} + {{p}}
                    WHERE job = {{p}} AND holder = {{p}} AND generation = {{p}}
                        AND released_ms IS NULL AND expires_ms > {now}"""
                ),
                (int(ttl_s * 1000), lease.job, lease.holder, lease.generation),
            )
            found = self._read(cur, lease.job)
        ok = found is not None and found.holder == lease.holder and found.generation == lease.generation
        return found if ok and found is not None and found.held else None

    def release(self, lease: Lease) -> bool:
        """Give the lease up at once (a drain, the end of a run); False if it was no longer held."""
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    f"""UPDATE job_leases SET released_ms = {self.now}
                    WHERE job = {{p}} AND holder = {{p}} AND generation = {{p}} AND released_ms IS NULL"""
                ),
                (lease.job, lease.holder, lease.generation),
            )
            return bool(cur.rowcount)

    def release_all(self, holder: str) -> list[str]:
        """Every lease ``holder`` holds, released (a host leaving the cluster): the jobs. A holder
        ending in ``@`` names every process of a host (``writer@`` + node and pid)."""

        def mine(h: str) -> bool:
            return h.startswith(holder) if holder.endswith("@") else h == holder

        held = [lease for lease in self.list() if mine(lease.holder) and lease.held]
        return [lease.job for lease in held if self.release(lease)]

    def list(self) -> list[Lease]:
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q(
                    f"SELECT job, holder, generation, acquired_ms, renewed_ms, expires_ms, released_ms,"
                    f" {self.now}, info FROM job_leases ORDER BY job"
                )
            )
            return [_lease(r) for r in cur.fetchall()]

    def _read(self, cur: Any, job: str) -> Lease | None:
        cur.execute(
            self.db.q(
                f"SELECT job, holder, generation, acquired_ms, renewed_ms, expires_ms, released_ms,"
                f" {self.now}, info FROM job_leases WHERE job = {{p}}"
            ),
            (job,),
        )
        row = cur.fetchone()
        return _lease(row) if row else None


def _lease(r: Sequence[Any]) -> Lease:
    return Lease(
        str(r[0]),
        str(r[1]),
        int(r[2]),
        int(r[3]),
        int(r[4]),
        int(r[5]),
        None if r[6] is None else int(r[6]),
        int(r[7]),
        json.loads(r[8]) if r[8] else None,
    )
