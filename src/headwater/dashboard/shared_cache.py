"""Answers computed by one process, read by the others: the dashboard's cache on disk.

With several workers, the warm-up runs in the background process only (one computation, one
DuckDB in memory, instead of one per worker); it writes each answer here and the HTTP workers
read it on a miss of their in-memory cache. A file per answer under ``data/run/dashboard-cache``,
written atomically: ``{"key", "signature", "stored_at" (wall clock), "body"}``, where the
signature is the JSON of the data state the answer was computed from (metric_batch.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic


def state_text(value: Any) -> str:
    """A query, data signature or version as text (tuples and lists alike, dates as text)."""
    return json.dumps(value, default=str, separators=(",", ":"))


def plain(value: Any) -> Any:
    """``value`` as it comes back from JSON, to compare with what get() returns."""
    return json.loads(state_text(value))


def as_ours(theirs: Any, signature: tuple[Any, Any]) -> tuple[Any, Any]:
    """A stored (lake, log) signature in the reader's terms, so that its own freshness rule applies:
    ``signature`` itself when the data is the same, ``(lake, None)`` when only the log differs,
    ``(None, None)`` (matching nothing) otherwise."""
    if theirs == plain(signature):
        return signature
    if isinstance(theirs, list) and len(theirs) == 2 and theirs[0] == plain(signature[0]):
        return signature[0], None
    return None, None


class SharedAnswers:
    def __init__(self, run_dir: Path, kind: str) -> None:
        self.dir = run_dir / "dashboard-cache"
        self.kind = kind

    def _path(self, key: str) -> Path:
        digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:24]
        return self.dir / f"{self.kind}-{digest}.json"

    def put(self, key: str, signature: Any, body: dict[str, Any]) -> None:
        path = self._path(key)
        record = {"key": key, "signature": signature, "stored_at": time.time(), "body": body}
        with contextlib.suppress(OSError):  # a cache: the reader computes what it cannot find
            write_atomic(path, json.dumps(record, separators=(",", ":"), default=str).encode())

    def get(self, key: str) -> tuple[Any, float, dict[str, Any]] | None:
        """(signature as JSON gave it back, age in seconds, body) of the stored answer, or None."""
        try:
            record = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None  # a hash collision or a foreign file
        age = max(0.0, time.time() - float(record.get("stored_at", 0.0)))
        return record.get("signature"), age, record.get("body") or {}
