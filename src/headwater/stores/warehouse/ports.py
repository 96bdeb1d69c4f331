"""The warehouse port: what the exporter and the warehouse metrics need of an analytical store.

One implementation today (BigQuery, :mod:`headwater.stores.warehouse.bigquery`); the port keeps the
exporter free of Google's client, and the contract suite (tests/warehouse) runs against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

ColumnType = Literal["STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "JSON"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table as Headwater wants it. Columns are only ever added at the end (additive migrations):
    Parquet loads match columns by position on the emulator, and by name on BigQuery."""

    name: str
    columns: tuple[Column, ...]
    partition_field: str | None = None  # DAY partitions of this TIMESTAMP or DATE column
    clustering: tuple[str, ...] = ()
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(slots=True)
class QueryResult:
    rows: list[dict[str, Any]]
    #: bytes the query read (billed); None where the store does not say (the emulator says 0)
    bytes_processed: int | None = None
    cache_hit: bool = False
    job_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


class WarehouseError(Exception):
    """The warehouse refused or failed; the message says what to do."""


class WarehouseUnreachableError(WarehouseError):
    """No answer (network, timeout, 5xx): worth retrying later."""


class WarehouseMissingError(WarehouseError):
    """The dataset (or project) does not exist, or these credentials may not see it."""


class JobFailedError(WarehouseError):
    """A load or query job ran and failed (schema mismatch, bad SQL): retrying alone will not help."""


class Warehouse(Protocol):
    """An analytical store of tables in one dataset."""

    #: the URL with secrets masked, for messages
    display: str

    def ensure_dataset(self, location: str | None = None) -> bool:
        """Create the dataset if missing; True when it was created."""
        ...

    def check(self) -> None:
        """Raise WarehouseMissingError or WarehouseUnreachableError when the dataset cannot be used."""
        ...

    def ensure_table(self, spec: TableSpec) -> None:
        """Create the table if missing, else add the columns it lacks (at the end)."""
        ...

    def ensure_view(self, name: str, sql: str) -> None: ...

    def table(self, name: str) -> str:
        """The table's name as SQL (quoted, fully qualified)."""
        ...

    def load_parquet(
        self, table: str, path: Path, *, job_id: str, labels: dict[str, str], replace: bool
    ) -> int:
        """Load a Parquet file into a table with a load job; returns the rows loaded."""
        ...

    def run_script(self, sql: str, *, job_id: str, labels: dict[str, str]) -> None:
        """Run statements (a multi-statement transaction) as one job, waiting for it."""
        ...

    def query(
        self, sql: str, *, labels: dict[str, str] | None = None, params: dict[str, Any] | None = None
    ) -> QueryResult: ...

    def drop_table(self, name: str) -> None: ...

    def close(self) -> None: ...
