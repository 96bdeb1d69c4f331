"""Where the people API reads: the lake (through one in-memory DuckDB, opened only when the lake
has files), the log, the realtime store's database and, when it can be reached, the live store.

A :class:`Reading` is one request's (or one command's) view: its connections are opened on first
use and closed together at the end. It is used by one thread at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from headwater.lake.layout import Lake
from headwater.stores.sql.database import SqlDatabase, open_database

NO_EVENTS_HINT = (
    "no events received yet: send one to POST /v1/track with a source's write key"
    " (`headwater keys create NAME` makes one), see docs/collector.md"
)


@dataclass(frozen=True, slots=True)
class Sources:
    """What a reading needs to know: the data directory, the realtime store's URL, and the live
    store's backend (None when this process cannot reach it: ``live_note`` says why)."""

    data_dir: Path
    database_url: str
    live: Any | None = None
    live_note: str | None = None
    migrate: bool = False  # the CLI migrates the SQL store, as its other commands do; the server did

    @property
    def lake_root(self) -> Path:
        return self.data_dir / "lake"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"


class Reading:
    """One reading's connections (see the module doc). Use as a context manager."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.lake = Lake(sources.lake_root)
        self._con: Any = None
        self._db: SqlDatabase | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def has_lake(self) -> bool:
        """Whether the lake holds anything to read (an empty install has no folder at all)."""
        return self.lake.events_dir.is_dir() or self.lake.archive_dir.is_dir()

    @property
    def con(self) -> Any:
        """The DuckDB connection (imported here: an HTTP worker loads DuckDB on its first read)."""
        if self._con is None:
            from headwater.lake.sql import connect

            self._con = connect(self.lake.tmp_dir)
        return self._con

    @property
    def db(self) -> SqlDatabase:
        if self._db is None:
            self._db = open_database(self.sources.database_url, migrate=self.sources.migrate)
        return self._db

    def close(self) -> None:
        try:
            if self._con is not None:
                self._con.close()
        finally:
            self._con = None
            if self._db is not None:
                self._db.close()
                self._db = None
