"""BigQuery through Google's official client (``google-cloud-bigquery``, the ``bigquery`` extra).

``bigquery://PROJECT/DATASET[?location=EU&endpoint=http://host:port]``. Credentials are found the
way Google's libraries find them (application default credentials, GOOGLE_APPLICATION_CREDENTIALS);
with ``endpoint=`` (an emulator) anonymous credentials are used. Every call has a deadline, so an
unreachable warehouse is an error in seconds, not a hang; errors become the port's exceptions.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from headwater.stores.warehouse.ports import (
    JobFailedError,
    QueryResult,
    TableSpec,
    WarehouseError,
    WarehouseMissingError,
    WarehouseUnreachableError,
)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")
_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
#: seconds a single API call may take, and all its retries together
CALL_TIMEOUT = 10.0
#: seconds a job (a load, a transaction) may run before the exporter gives up waiting
JOB_TIMEOUT = 600.0


def parse_url(url: str) -> tuple[str, str, str | None, str | None]:
    """(project, dataset, location, endpoint) of a ``bigquery://`` URL; ValueError naming the part."""
    parts = urlsplit(url)
    if parts.scheme != "bigquery":
        raise ValueError(f"not a bigquery:// URL: {url!r}")
    project = parts.netloc
    dataset = parts.path.strip("/")
    if not _NAME.match(project or ""):
        raise ValueError("bigquery:// URL needs a project: bigquery://PROJECT/DATASET")
    if not _DATASET.match(dataset or ""):
        raise ValueError(
            "bigquery:// URL needs a dataset of letters, digits and underscores: bigquery://PROJECT/DATASET"
        )
    query = parse_qs(parts.query)
    unknown = set(query) - {"location", "endpoint"}
    if unknown:
        raise ValueError(f"unknown bigquery:// parameter {sorted(unknown)[0]!r}: use location= or endpoint=")
    location = query.get("location", [None])[0]
    endpoint = query.get("endpoint", [None])[0]
    return project, dataset, location, endpoint


def open_url(url: str) -> BigQueryWarehouse:
    return BigQueryWarehouse(url)


class BigQueryWarehouse:
    """One dataset of one project."""

    def __init__(self, url: str) -> None:
        try:
            self.project, self.dataset, self.location, self.endpoint = parse_url(url)
        except ValueError as exc:
            raise WarehouseError(str(exc)) from None
        from google.api_core import exceptions as gexc  # ImportError: open_warehouse names the extra
        from google.api_core.client_options import ClientOptions
        from google.api_core.retry import Retry
        from google.cloud import bigquery

        self._bq = bigquery
        self._gexc = gexc
        options = ClientOptions(api_endpoint=self.endpoint) if self.endpoint else None
        credentials = None
        if self.endpoint:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        try:
            self.client = bigquery.Client(
                project=self.project, credentials=credentials, client_options=options, location=self.location
            )
        except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and kin
            raise WarehouseMissingError(
                f"no credentials for BigQuery ({exc}): run `gcloud auth application-default login` or set"
                " GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
            ) from None
        self._retry = Retry(deadline=CALL_TIMEOUT, initial=0.5, maximum=5.0)
        self.display = f"bigquery://{self.project}/{self.dataset}" + (
            f" via {self.endpoint}" if self.endpoint else ""
        )

    # -- errors ---------------------------------------------------------------------------------

    def _map(self, exc: BaseException, what: str) -> WarehouseError:
        g = self._gexc
        if isinstance(exc, WarehouseError):
            return exc
        if isinstance(exc, g.NotFound):
            return WarehouseMissingError(
                f"{what}: {self.display} not found ({_first_line(exc)}): create it with"
                " `headwater warehouse init` or check the project and dataset names"
            )
        if isinstance(exc, g.Forbidden | g.Unauthorized):
            return WarehouseMissingError(
                f"{what}: {self.display} refused these credentials ({_first_line(exc)}): grant the"
                " account BigQuery Data Editor and Job User on the dataset and project"
            )
        if isinstance(exc, g.BadRequest | g.Conflict):
            return JobFailedError(f"{what}: {_first_line(exc)}")
        code = getattr(exc, "code", None)
        if isinstance(exc, g.GoogleAPICallError) and isinstance(code, int) and code < 500:
            return JobFailedError(f"{what}: {_first_line(exc)}")
        return WarehouseUnreachableError(f"{what}: {self.display} did not answer ({_first_line(exc)})")

    # -- the port -------------------------------------------------------------------------------

    def table(self, name: str) -> str:
        return f"`{self.project}.{self.dataset}.{name}`"

    def _ref(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"

    def ensure_dataset(self, location: str | None = None) -> bool:
        dataset = self._bq.Dataset(f"{self.project}.{self.dataset}")
        dataset.location = location or self.location or "US"
        try:
            self.client.get_dataset(dataset.reference, retry=self._retry, timeout=CALL_TIMEOUT)
            return False
        except self._gexc.NotFound:
            pass
        except Exception as exc:
            raise self._map(exc, "looking up the dataset") from None
        try:
            self.client.create_dataset(dataset, exists_ok=True, retry=self._retry, timeout=CALL_TIMEOUT)
        except Exception as exc:
            raise self._map(exc, "creating the dataset") from None
        return True

    def check(self) -> None:
        try:
            self.client.get_dataset(f"{self.project}.{self.dataset}", retry=self._retry, timeout=CALL_TIMEOUT)
        except Exception as exc:
            raise self._map(exc, "opening the dataset") from None

    def _schema(self, spec: TableSpec) -> list[Any]:
        return [
            self._bq.SchemaField(
                c.name, c.type, mode="REQUIRED" if c.required else "NULLABLE", description=c.description
            )
            for c in spec.columns
        ]

    def ensure_table(self, spec: TableSpec) -> None:
        ref = self._ref(spec.name)
        try:
            existing = self.client.get_table(ref, retry=self._retry, timeout=CALL_TIMEOUT)
        except self._gexc.NotFound:
            existing = None
        except Exception as exc:
            raise self._map(exc, f"looking up table {spec.name}") from None
        if existing is None:
            table = self._bq.Table(ref, schema=self._schema(spec))
            if spec.partition_field:
                table.time_partitioning = self._bq.TimePartitioning(
                    type_=self._bq.TimePartitioningType.DAY, field=spec.partition_field
                )
            if spec.clustering:
                table.clustering_fields = list(spec.clustering)
            table.description = spec.description
            try:
                self.client.create_table(table, exists_ok=True, retry=self._retry, timeout=CALL_TIMEOUT)
            except Exception as exc:
                raise self._map(exc, f"creating table {spec.name}") from None
            return
        have = {f.name for f in existing.schema}
        missing = [c for c in spec.columns if c.name not in have]
        if not missing:
            return
        # Additive migration. BigQuery needs only the metadata update; the emulator keeps metadata and
        # storage apart and needs the DDL too (both are harmless where the other already took effect).
        for column in missing:
            ddl = f"ADD COLUMN IF NOT EXISTS {column.name} {column.type}"
            with contextlib.suppress(WarehouseError):
                self.query(f"ALTER TABLE {self.table(spec.name)} {ddl}")
        try:
            fresh = self.client.get_table(ref, retry=self._retry, timeout=CALL_TIMEOUT)
            names = {f.name for f in fresh.schema}
            added = [f for f in self._schema(spec) if f.name not in names]
            if added:
                fresh.schema = list(fresh.schema) + [
                    self._bq.SchemaField(f.name, f.field_type, mode="NULLABLE", description=f.description)
                    for f in added
                ]
                self.client.update_table(fresh, ["schema"], retry=self._retry, timeout=CALL_TIMEOUT)
        except Exception as exc:
            raise self._map(exc, f"adding columns to {spec.name}") from None

    def ensure_view(self, name: str, sql: str) -> None:
        try:
            self.query(f"CREATE OR REPLACE VIEW {self.table(name)} AS {sql}")
        except WarehouseError as exc:
            raise JobFailedError(f"creating view {name}: {exc}") from None

    def load_parquet(
        self, table: str, path: Path, *, job_id: str, labels: dict[str, str], replace: bool
    ) -> int:
        bq = self._bq
        config = bq.LoadJobConfig(
            source_format=bq.SourceFormat.PARQUET,
            write_disposition=bq.WriteDisposition.WRITE_TRUNCATE
            if replace
            else bq.WriteDisposition.WRITE_APPEND,
            labels=labels,
        )
        try:
            with path.open("rb") as source:
                job = self.client.load_table_from_file(
                    source, self._ref(table), job_id=job_id, job_config=config, timeout=JOB_TIMEOUT
                )
            job.result(timeout=JOB_TIMEOUT, retry=self._retry)
        except self._gexc.Conflict:
            # a job of this id ran before (a retry after a crash): its table content is not trusted,
            # load again under a fresh id (correctness never rests on job ids)
            return self.load_parquet(
                table, path, job_id=f"{job_id}_r{_suffix()}", labels=labels, replace=replace
            )
        except Exception as exc:
            raise self._map(exc, f"loading {path.name} into {table}") from None
        # the rows of the file, not the job's output_rows (the emulator reports the table's size there)
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)

    def run_script(self, sql: str, *, job_id: str, labels: dict[str, str]) -> None:
        config = self._bq.QueryJobConfig(labels=labels)
        try:
            job = self.client.query(
                sql, job_config=config, job_id=job_id, timeout=CALL_TIMEOUT, job_retry=None
            )
            job.result(timeout=JOB_TIMEOUT, retry=self._retry)
        except self._gexc.Conflict:
            self.run_script(sql, job_id=f"{job_id}_r{_suffix()}", labels=labels)
        except Exception as exc:
            raise self._map(exc, "running the script (the export transaction)") from None

    def query(
        self, sql: str, *, labels: dict[str, str] | None = None, params: dict[str, Any] | None = None
    ) -> QueryResult:
        bq = self._bq
        config = bq.QueryJobConfig(labels=labels or {})
        if params:
            config.query_parameters = [_param(bq, k, v) for k, v in params.items()]
        try:
            job = self.client.query(sql, job_config=config, timeout=CALL_TIMEOUT)
            rows = [dict(r.items()) for r in job.result(timeout=JOB_TIMEOUT, retry=self._retry)]
        except Exception as exc:
            raise self._map(exc, "query") from None
        return QueryResult(
            rows,
            bytes_processed=job.total_bytes_processed,
            cache_hit=bool(job.cache_hit),
            job_id=job.job_id,
            labels=dict(labels or {}),
        )

    def drop_table(self, name: str) -> None:
        try:
            self.client.delete_table(
                self._ref(name), not_found_ok=True, retry=self._retry, timeout=CALL_TIMEOUT
            )
        except Exception as exc:
            raise self._map(exc, f"dropping {name}") from None

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def _param(bq: Any, name: str, value: Any) -> Any:
    from datetime import date, datetime

    if isinstance(value, list | tuple):
        kind = "INT64" if value and isinstance(value[0], int) else "STRING"
        return bq.ArrayQueryParameter(name, kind, list(value))
    kind = (
        "BOOL"
        if isinstance(value, bool)
        else "INT64"
        if isinstance(value, int)
        else "FLOAT64"
        if isinstance(value, float)
        else "TIMESTAMP"
        if isinstance(value, datetime)
        else "DATE"
        if isinstance(value, date)
        else "STRING"
    )
    return bq.ScalarQueryParameter(name, kind, value)


def _suffix() -> str:
    import secrets

    return secrets.token_hex(4)


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else type(exc).__name__
