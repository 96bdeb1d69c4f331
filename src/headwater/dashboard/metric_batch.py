"""Many metric queries in one call, for the dashboard's first load.

The page asks for every panel's metrics at once; queries over the same days share one
:class:`~headwater.lake.scope.Scope` (one DuckDB connection, today's log and the identity map
read once) and the groups run in parallel threads. Each answer is exactly what
``GET /api/v1/metrics/NAME`` answers for the same parameters: the same metric functions, given
the same validated range and options.

Answers are cached per process (:class:`MetricCache`): an entry is used while the lake and today's
log are unchanged; for a range that ends before today, only late events could change it, so it is
also used for up to STALE_SECONDS after the log grew. Every answer is also written to disk
(shared_cache.py), where the other processes of the server find what the warm-up computed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.dashboard.shared_cache import SharedAnswers, as_ours, state_text
from headwater.lake.params import MetricError, make_range, today_in
from headwater.log.files import list_log_files

if TYPE_CHECKING:
    from headwater.lake.scope import Scope

# the metric functions (and numpy, DuckDB with them) are imported when a query is computed, not
# when the server starts: a worker answering from the cache never loads them.

MAX_QUERIES = 40
STALE_SECONDS = 60.0
MAX_ENTRIES = 512


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    start: str
    end: str
    tz: str | None
    options: tuple[tuple[str, str], ...] = ()


def parse_queries(body: Any) -> list[Query]:
    """``{"queries": [{"name", "start", "end", "tz"?, "options"?: {...}}]}``; MetricError if malformed."""
    items = body.get("queries") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUERIES:
        raise MetricError("bad_parameter", f"'queries' must be a list of 1 to {MAX_QUERIES} queries")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MetricError("bad_parameter", f"queries[{i}] is not an object")
        fields = {k: item.get(k) for k in ("name", "start", "end")}
        for key, value in fields.items():
            if not isinstance(value, str) or not value:
                raise MetricError("bad_parameter", f"queries[{i}].{key} must be a non-empty string")
        tz = item.get("tz")
        options = item.get("options") or {}
        if tz is not None and not isinstance(tz, str):
            raise MetricError("bad_parameter", f"queries[{i}].tz must be a string")
        if not isinstance(options, dict) or not all(isinstance(v, str | int) for v in options.values()):
            raise MetricError("bad_parameter", f"queries[{i}].options must map names to strings")
        opts = tuple(sorted((str(k), str(v)) for k, v in options.items() if v not in (None, "")))
        out.append(Query(str(fields["name"]), str(fields["start"]), str(fields["end"]), tz or None, opts))
    return out


def run_in_scope(scope: Scope, query: Query) -> dict[str, Any]:
    """What ``run_metric`` answers, computed in an open scope over the query's range."""
    from headwater.metrics.registry import compute

    return compute(scope, query.name, dict(query.options))


def error_answer(exc: MetricError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message}, "status": exc.status}


@dataclass
class _Entry:
    signature: tuple[Any, Any]
    stored_at: float
    body: dict[str, Any]


class MetricCache:
    """Answers by query, valid while the data they were computed from is unchanged."""

    def __init__(self, data_dir: Path, project_tz: str) -> None:
        self.data_dir = data_dir
        self.project_tz = project_tz
        self._entries: OrderedDict[Query, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._running: dict[Query, threading.Event] = {}
        self.shared = SharedAnswers(data_dir / "run", "metric")
        self.hits = self.misses = 0

    def signature(self) -> tuple[Any, Any]:
        """(lake state, state of the log files that can still grow): cheap stats, no reads."""
        lake = []
        manifests = self.data_dir / "lake" / "_etl"
        if manifests.is_dir():
            for path in manifests.iterdir():
                st = path.stat()
                lake.append((path.name, st.st_mtime_ns, st.st_size))
        recent = datetime.now(UTC).date() - timedelta(days=1)
        logs = [
            (lf.name, lf.path.stat().st_size)
            for lf in list_log_files(self.data_dir / "log", "events")
            if lf.day >= recent
        ]
        return tuple(sorted(lake)), tuple(logs)

    def _ends_before_today(self, query: Query) -> bool:
        try:
            return date.fromisoformat(query.end) < today_in(query.tz or self.project_tz)
        except (ValueError, KeyError):
            return False

    def _fresh(self, entry: _Entry, query: Query, signature: tuple[Any, Any]) -> bool:
        return entry.signature == signature or (
            entry.signature[0] == signature[0]
            and time.monotonic() - entry.stored_at < STALE_SECONDS
            and self._ends_before_today(query)
        )

    def _entry(self, query: Query, signature: tuple[Any, Any]) -> _Entry | None:
        """The in-memory entry; if it is missing or not fresh, the one on disk when it is fresher."""
        with self._lock:
            entry = self._entries.get(query)
        if entry is not None and self._fresh(entry, query, signature):
            return entry
        stored = self.shared.get(state_text(query))
        if stored is None:
            return entry
        theirs, age, body = stored
        disk = _Entry(as_ours(theirs, signature), time.monotonic() - age, body)
        if not self._fresh(disk, query, signature):
            return entry  # older data than ours: not worth reading in
        with self._lock:
            self._entries[query] = disk
            self._entries.move_to_end(query)
        return disk

    def state(self, query: Query, signature: tuple[Any, Any]) -> str:
        """Whether get() answers the query ("fresh"), the answer is from older data ("stale"),
        or there is none ("missing")."""
        entry = self._entry(query, signature)
        if entry is None:
            return "missing"
        return "fresh" if self._fresh(entry, query, signature) else "stale"

    def get(self, query: Query, signature: tuple[Any, Any]) -> dict[str, Any] | None:
        entry = self._entry(query, signature)
        if entry is None or not self._fresh(entry, query, signature):
            return None
        with self._lock:
            if query in self._entries:
                self._entries.move_to_end(query)
            self.hits += 1
        return entry.body

    def put(self, query: Query, signature: tuple[Any, Any], body: dict[str, Any]) -> None:
        with self._lock:
            self._entries[query] = _Entry(signature, time.monotonic(), body)
            self._entries.move_to_end(query)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        self.shared.put(state_text(query), signature, body)

    def claim(self, queries: list[Query]) -> tuple[list[Query], list[threading.Event]]:
        """The queries this caller computes (marked running), and the events of those another
        thread is computing right now (wait for them, then read the cache)."""
        mine, theirs = [], []
        with self._lock:
            for q in queries:
                running = self._running.get(q)
                if running is None:
                    self._running[q] = threading.Event()
                    mine.append(q)
                else:
                    theirs.append(running)
        return mine, theirs

    def release(self, queries: list[Query]) -> None:
        with self._lock:
            for q in queries:
                event = self._running.pop(q, None)
                if event is not None:
                    event.set()


def run_group(cache: MetricCache, queries: list[Query]) -> dict[Query, dict[str, Any]]:
    """Answer queries that share (start, end, tz): from the cache, else in one scope."""
    answers: dict[Query, dict[str, Any]] = {}
    signature = cache.signature()
    todo = []
    for q in queries:
        cached = cache.get(q, signature)
        if cached is not None:
            answers[q] = cached
        else:
            todo.append(q)
    if not todo:
        return answers
    mine, theirs = cache.claim(todo)
    try:
        if mine:
            cache.misses += len(mine)
            first = mine[0]
            try:
                rng = make_range(first.start, first.end, first.tz, cache.project_tz)
            except MetricError as exc:
                return {**answers, **{q: error_answer(exc) for q in todo}}
            from headwater.lake.scope import Scope
            from headwater.lake.swapped import read_again, read_failed

            def answer() -> None:
                with Scope(cache.data_dir, rng) as scope:
                    for q in mine:
                        if q in answers:  # answered by an earlier run (read_again)
                            continue
                        try:
                            body = run_in_scope(scope, q)
                        except MetricError as exc:
                            if read_failed(exc):
                                raise  # run again over a fresh view of the lake
                            answers[q] = error_answer(exc)
                            continue
                        cache.put(q, signature, body)
                        answers[q] = body

            try:
                read_again(answer)
            except MetricError as exc:  # a file read failed on every run
                answers.update({q: error_answer(exc) for q in mine if q not in answers})
    finally:
        cache.release(mine)
    for event in theirs:
        event.wait(120)
    for q in todo:
        if q not in answers:
            answers[q] = cache.get(q, cache.signature()) or run_group(cache, [q])[q]
    return answers


def groups(queries: list[Query]) -> list[list[Query]]:
    by_range: dict[tuple[str, str, str | None], list[Query]] = {}
    for q in dict.fromkeys(queries):  # unique, in order
        by_range.setdefault((q.start, q.end, q.tz), []).append(q)
    return list(by_range.values())
