"""Running a deletion (SUPPRESS_WITH_DELETE, DELETE_ONLY) through every store, resumably.

The steps run in this order, each idempotent, each recorded in the regulation's ``progress`` as it
finishes, so a crash (kill -9 included) resumes at the first unfinished step and a finished step
never runs twice:

0. ``plan``: the hours, tools and events the person was active in, noted before anything is erased
   (privacy/hourly.py: the realtime store's hourly unique users are corrected from it);
1. ``log``: the person's lines in the event log and the quarantine blanked in place (log/erase.py);
   first, so that no reader (the ETL, a tailer catching up, a replay) can bring them back;
   ``hosts`` (a cluster): every other host erased its own log files too (privacy/hosts.py);
2. ``lake``: every Parquet file holding them rewritten (lake/erase.py), under the ETL's lock;
3. ``realtime``: the per-person rows of the realtime store, and the unique counts they made
   (the hourly ones from the plan);
4. ``live``: sticky buckets, audience membership, the id map (the live store);
5. ``warehouse``: DML deletes and the person's hours recomputed (when one is configured);
6. ``records``: a second pass over the realtime and live stores (a tailer's batch read before the
   log step may have landed meanwhile), then the regulation keeps only keyed hashes of the ids.

A step that fails is retried on the runner's next pass, up to :data:`MAX_ATTEMPTS` times; then the
regulation is ``FAILED`` (nothing finished) or ``PARTIAL_SUCCESS``, and keeps the ids so that
``headwater privacy run ID`` can finish it once the cause is fixed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.config import Settings
from headwater.privacy.hosts import WaitingForHosts
from headwater.stores.sql.database import SqlDatabase
from headwater.stores.sql.privacy import SqlPrivacy
from headwater.stores.sql.webhooks import DELETIONS, SqlRegulations

log = logging.getLogger("headwater.privacy")

STEPS = ("plan", "log", "hosts", "lake", "realtime", "live", "warehouse", "records")
MAX_ATTEMPTS = 5
#: the control plane's tables a deletion's own records pass through (vacuumed at the end)
RECORD_TABLES = ("regulations", "regulation_hosts", "suppressions", "cohorts", "audit_log")
#: a deletion starts this long after it was filed: every server has re-read the suppression list
SETTLE_SECONDS = 2.5
#: the pseudo-file of the realtime tailers' checkpoints that a deletion moves (drop_tailer_caches)
FORGET_MARKER = "~privacy-forget"

Progress = Callable[[str, int, int], None]  # (step, done, total)


class Deletion:
    """One process's way of running deletions: the stores it reaches, given by the caller."""

    def __init__(
        self,
        settings: Settings,
        database: SqlDatabase,
        live: Any | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.live = live  # a LiveBackend, or None: opened from the settings when needed
        self.progress = progress
        self.regulations = SqlRegulations(database)

    # -- the job --------------------------------------------------------------------------------
    def run(self, regulation_id: str) -> dict[str, Any]:
        """Run (or resume) one deletion as far as it goes now; the regulation as it then stands."""
        entry = self.regulations.get(regulation_id)
        if entry is None:
            raise KeyError(regulation_id)
        if entry["type"] not in DELETIONS or entry["status"] == "FINISHED":
            return entry
        wait = age(entry["created_at"])
        if wait < SETTLE_SECONDS:
            time.sleep(SETTLE_SECONDS - wait)
        subject = entry["subject"]
        ids = self._expand(entry)
        progress: dict[str, Any] = entry["progress"]
        progress.setdefault("deletion", {})["status"] = "RUNNING"
        progress["deletion"]["ids"] = len(ids)
        self.regulations.update(regulation_id, "RUNNING", progress)
        for step in STEPS:
            state = progress.get(step) or {}
            if state.get("status") in ("FINISHED", "SKIPPED"):
                continue
            started = time.monotonic()
            try:
                figures = self._step(step, ids, regulation_id)
            except WaitingForHosts as exc:  # not a failure: the other hosts erase their files now
                progress[step] = {"status": "WAITING", "waiting_for": exc.hosts}
                self.regulations.update(regulation_id, "RUNNING", progress)
                return self.regulations.get(regulation_id) or entry
            except Exception as exc:
                attempts = int(state.get("attempts", 0)) + 1
                progress[step] = {"status": "FAILED", "attempts": attempts, "error": _first_line(exc)}
                log.warning(
                    "deletion %s: step %s failed (attempt %d): %s", regulation_id, step, attempts, exc
                )
                status = "RUNNING"
                if attempts >= MAX_ATTEMPTS:
                    done = any(
                        (progress.get(s) or {}).get("status") == "FINISHED" for s in STEPS if s != step
                    )
                    status = "PARTIAL_SUCCESS" if done else "FAILED"
                    progress["deletion"]["status"] = status
                self.regulations.update(regulation_id, status, progress)
                return self.regulations.get(regulation_id) or entry
            if figures is None:
                progress[step] = {"status": "SKIPPED", "reason": "not configured"}
            else:
                figures["seconds"] = round(time.monotonic() - started, 3)
                progress[step] = {"status": "FINISHED", **figures}
            if step != "records":
                self.regulations.update(regulation_id, "RUNNING", progress)
        progress["deletion"]["status"] = "FINISHED"
        progress["deletion"]["finished_at"] = _now()
        hashed = {
            k: "hmac:" + SqlPrivacy(self.database).hashed(v) for k, v in subject.items() if k != "linked"
        }
        self._forget_record(regulation_id, progress, hashed, ids)
        return self.regulations.get(regulation_id) or entry

    def ids_of(self, entry: dict[str, Any]) -> list[str]:
        """Every id of the person of a regulation, as the deletion's steps use them, without writing
        the regulation (another host's runner may be writing its progress meanwhile)."""
        subject = entry["subject"]
        ids = set(subject.get("linked", [])) | {v for k, v in subject.items() if k != "linked"}
        return sorted(ids | lake_links(self.settings.data_dir / "lake", ids))

    def erase_log(self, ids: list[str]) -> dict[str, Any]:
        """The person's lines out of this host's log files, and out of every shipped copy."""
        from headwater.log.erase import erase_from_log

        settings = self.settings
        report = erase_from_log(settings.log_dir, ids, progress=self._report("log")).as_dict()
        # the warehouse exporter's cache of identity links read from the log: rebuilt when missing
        (settings.run_dir / "warehouse-links.json").unlink(missing_ok=True)
        if settings.object_store_url:  # the shipped copies too (docs/scale-out.md)
            from headwater.shipping.erase import erase_shipped

            report["shipped"] = erase_shipped(settings, ids)
        return report

    def erase_host_part(self, regulation_id: str, ids: list[str]) -> dict[str, Any]:
        """A cluster host's part of a deletion (privacy/hosts.py): its own log files erased, and
        recorded with the hours of the lines it erased (noted before, for the hourly unique users)."""
        from headwater.privacy.hosts import note_done
        from headwater.privacy.hourly import person_cells

        cells = person_cells(self.settings.log_dir, ids)
        report = self.erase_log(ids)
        note_done(self.regulations, regulation_id, self.settings.cluster_host, report, cells)
        return report

    def _expand(self, entry: dict[str, Any]) -> list[str]:
        """Every id of the person: those linked when it was filed, and the lake's identity map's
        (suppressed too, under the same regulation, when it suppresses)."""
        subject = entry["subject"]
        ids = set(subject.get("linked", [])) | {v for k, v in subject.items() if k != "linked"}
        more = lake_links(self.settings.data_dir / "lake", ids) - ids
        if more:
            ids |= more
            self.regulations.update(
                entry["id"], entry["status"], entry["progress"], subject | {"linked": sorted(ids)}
            )
            if entry["type"] == "SUPPRESS_WITH_DELETE":  # an old device known only to the lake
                SqlPrivacy(self.database).suppress(more, entry["id"])
                time.sleep(SETTLE_SECONDS)  # every process has re-read the list before the log step
        return sorted(ids)

    def _step(self, step: str, ids: list[str], regulation_id: str) -> dict[str, Any] | None:
        settings = self.settings
        if step == "plan":
            from headwater.privacy import hourly

            cells = hourly.plan(settings.run_dir, settings.data_dir, settings.log_dir, regulation_id, ids)
            if settings.cluster:  # kept with the regulation: the realtime step may run on another host
                from headwater.privacy.hosts import PLAN_ROW

                actors = hourly.planned_actors(settings.run_dir, regulation_id)[0]
                noted = {"cells": sorted([*cell, n] for cell, n in actors.items())}
                self.regulations.host_done(regulation_id, PLAN_ROW, noted)
            return {"hourly_cells": cells}
        if step == "log":
            if settings.cluster and settings.cluster_host not in self.regulations.hosts_done(regulation_id):
                return self.erase_host_part(regulation_id, ids)
            return self.erase_log(ids)  # one host, or its runner did this host's part already
        if step == "hosts":
            if not settings.cluster:
                return None
            from headwater.privacy.hosts import hosts_step

            return hosts_step(settings, self.regulations, regulation_id)
        if step == "lake":
            from headwater.insights.cohorts import forget_members
            from headwater.lake.erase import LakeEraseReport, erase_from_lake, forget_cached_answers
            from headwater.lake.layout import Lake

            def erase() -> LakeEraseReport:
                return erase_from_lake(Lake(settings.data_dir / "lake"), ids, progress=self._report("lake"))

            if settings.cluster:  # the lake every host pulls, under the pipeline lease (docs/scale-out.md)
                from headwater.cluster.pipeline import change_lake

                erased = change_lake(settings, erase)
            else:
                erased = erase()
            return erased.as_dict() | {
                "cached_answers_dropped": forget_cached_answers(settings.data_dir),
                "cohort_members_dropped": forget_members(settings.data_dir),  # computed again when used
            }
        if step == "realtime":
            from headwater.privacy import hourly
            from headwater.stores.sql.cohorts import CohortCatalog
            from headwater.stores.sql.database import open_database

            rows = self._forget_realtime(ids)
            with CohortCatalog(settings.effective_database_url) as catalog:
                rows["static_cohort_ids"] = catalog.forget_ids(ids)
            db = open_database(settings.effective_database_url)
            try:
                more: list[tuple[Any, ...]] = []
                if settings.cluster:  # the hours of every host's lines, and the plan's
                    from headwater.privacy.hosts import noted_cells

                    more = noted_cells(self.regulations, regulation_id)
                return {"rows": rows, "hourly": hourly.apply(db, settings.run_dir, regulation_id, more)}
            finally:
                db.close()
        if step == "live":
            from headwater.live.buckets import LIVE_TAILER
            from headwater.log.tailing.rebuild import request_rebuild

            # the live counters keep numbers, not people: they are counted again from the erased log
            request_rebuild(settings.run_dir, LIVE_TAILER, None)
            return {"keys": self._forget_live(ids), "live_counters": "rebuild requested"}
        if step == "warehouse":
            if not settings.warehouse_url:
                return None
            from headwater.privacy.warehouse_erase import erase_from_warehouse

            return erase_from_warehouse(settings.warehouse_url, ids)
        # records: the second pass (see the module's docstring)
        return {"late_rows": self._forget_realtime(ids), "late_keys": self._forget_live(ids)}

    def _forget_realtime(self, ids: Collection[str]) -> dict[str, int]:
        from headwater.stores.sql.realtime import open_realtime_store

        store = open_realtime_store(self.settings.effective_database_url)
        try:
            removed = store.forget(ids)
        finally:
            store.close()
        drop_tailer_caches(self.settings.effective_database_url)
        return removed

    def _forget_live(self, ids: Collection[str]) -> int:
        from headwater.privacy.live_forget import forget_live

        return forget_live(self.settings, self.live, ids)

    def _forget_record(
        self, regulation_id: str, progress: dict[str, Any], hashed: dict[str, str], ids: Collection[str]
    ) -> None:
        """The regulation keeps only hashes from now on; on SQLite the old text is overwritten on disk
        (secure_delete), not left in a free page."""
        if self.database.dialect.name == "sqlite":
            with self.database.connection() as conn:
                conn.execute("PRAGMA secure_delete = ON")
        self.regulations.update(regulation_id, "FINISHED", progress, hashed)
        self._forget_access_requests(regulation_id, ids)
        from headwater.privacy import hourly

        hourly.finish(self.database, self.settings.run_dir, regulation_id)
        audit(self.settings, self.database, regulation_id, progress)
        self._scrub_old_versions()

    def _scrub_old_versions(self) -> None:
        """The regulation's earlier versions (its ids among them) out of the database's files:
        SQLite keeps the old page images in its write-ahead log (and the main file keeps the old
        page) until a checkpoint writes the new ones back, so the log is checkpointed and truncated;
        PostgreSQL keeps dead row versions until a VACUUM frees them (as the realtime step does)."""
        with self.database.connection() as conn:
            if self.database.dialect.name != "sqlite":
                conn.execute(f"VACUUM {', '.join(RECORD_TABLES)}")
                return
            for _ in range(5):  # each attempt waits for readers up to the busy timeout
                if not conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                    return
        log.warning(
            "deletion: readers kept SQLite's write-ahead log from being truncated; its old pages"
            " hold the regulation's ids until the next checkpoint"
        )

    def _forget_access_requests(self, regulation_id: str, erased: Collection[str]) -> None:
        """ACCESS requests keep their subject for the export; once the person is deleted they keep
        hashes too (their export then answers 410): every one naming any id the deletion erased
        (linked through the lake too), not only its subject."""
        entry = self.regulations.get(regulation_id) or {}
        privacy = SqlPrivacy(self.database)
        deleted = {v for v in (entry.get("subject") or {}).values() if isinstance(v, str)}
        deleted |= {"hmac:" + privacy.hashed(i) for i in erased}
        for other in self.regulations.all(100_000):
            subject = other["subject"]
            if other["type"] != "ACCESS" or any(str(v).startswith("hmac:") for v in subject.values()):
                continue
            ids = set(subject.get("linked", [])) | {v for k, v in subject.items() if k != "linked"}
            if {"hmac:" + privacy.hashed(i) for i in ids} & deleted:
                hashed = {k: "hmac:" + privacy.hashed(v) for k, v in subject.items() if k != "linked"}
                self.regulations.update(other["id"], other["status"], other["progress"], hashed)

    def _report(self, step: str) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None
        report = self.progress
        return lambda done, total: report(step, done, total)


def drop_tailer_caches(url: str) -> None:
    """Make every realtime tailer drop what it holds in memory (a person's sessions and links):
    a marker in their stored checkpoints moves, and a tailer trusts its cache only while the stored
    checkpoint is the one it built it at (realtime/target.py). No log file has this name."""
    from headwater.stores.sql.database import open_database

    db = open_database(url)
    try:
        with db.tx() as cur:
            cur.execute("SELECT name FROM tailers")
            for (name,) in cur.fetchall():
                cur.execute(
                    db.q(
                        "INSERT INTO tail_checkpoints(tailer, file, file_offset) VALUES ({p}, {p}, 1)"
                        " ON CONFLICT (tailer, file)"
                        " DO UPDATE SET file_offset = tail_checkpoints.file_offset + 1"
                    ),
                    (name, FORGET_MARKER),
                )
    finally:
        db.close()


def lake_links(lake_dir: Path, ids: Collection[str]) -> set[str]:
    """The ids the lake's identity map links to these, followed to the end (lake/subject.py)."""
    if not ids or not (lake_dir / "identity" / "map.parquet").is_file():
        return set()
    from headwater.lake.erase import linked_ids
    from headwater.lake.layout import Lake

    return linked_ids(Lake(lake_dir), ids)


def audit(settings: Settings, database: SqlDatabase, regulation_id: str, progress: dict[str, Any]) -> None:
    """The deletion in the audit log and the privacy audit file, by regulation id (never an id of the
    person): what each store removed, and when."""
    from headwater.privacy.retention import audit_file
    from headwater.stores.sql.accounts import SqlAccounts

    figures = {k: v for k, v in progress.items() if k != "suppression"}
    SqlAccounts(database).record("privacy", "regulation.deleted", regulation_id, figures)
    audit_file(settings, {"regulation": regulation_id, "progress": figures})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def age(stamp: str) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return SETTLE_SECONDS


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"
