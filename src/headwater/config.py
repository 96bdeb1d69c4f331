"""One typed settings object, read once at start and passed explicitly.

Sources, highest priority first: keyword arguments (CLI flags), ``HEADWATER_*`` environment
variables, the TOML file named by ``HEADWATER_CONFIG`` (default ``./headwater.toml`` when it
exists), then the defaults below.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from headwater.stores.objects.urls import parse_object_url
from headwater.stores.registry import backend_for
from headwater.timezones import is_time_zone
from headwater.urls import mask_url

FsyncPolicy = Literal["always", "interval", "never"]
IpPolicy = Literal["keep", "truncate", "drop"]

_WRITER_RE = re.compile(r"[^A-Za-z0-9_-]+")


def _default_writer_id() -> str:
    return _WRITER_RE.sub("-", os.uname().nodename).strip("-") or "writer"


class Settings(BaseModel):
    """Every setting of Headwater. Environment variable: ``HEADWATER_`` + the upper-case name.

    A plain model: reading the environment and the TOML file happens once, in
    :func:`headwater.settings_loader.load_settings`; the server's processes get the result
    pickled and never import the reader.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    # storage
    data_dir: Path = Field(Path("data"), description="Root of embedded storage: log/, lake/, sqlite files.")
    database_url: str = Field(
        "",
        description="Realtime store URL: sqlite:///path or postgresql://... Empty: sqlite under data_dir.",
    )
    redis_url: str = Field("memory://", description="Live store URL: memory://, redis://, redis+cluster://")
    warehouse_url: str = Field(
        "",
        description="Warehouse the log is exported to every hour: bigquery://PROJECT/DATASET"
        "[?location=EU&endpoint=URL]. Empty: no warehouse (docs/warehouse.md).",
    )
    warehouse_grace_seconds: int = Field(
        120,
        ge=0,
        le=3600,
        description="An hour is exported this long after it closes (events received a little late"
        " by another writer's clock still make it).",
    )
    object_store_url: str = Field(
        "",
        description="Object storage the closed log files are shipped to: gs://BUCKET/PREFIX or"
        " s3://BUCKET/PREFIX. Empty: no shipping (docs/scale-out.md).",
    )
    cluster: bool = Field(
        False,
        description="This host is one of several behind a load balancer: the daily pipeline runs on one"
        " host at a time under a lease and reads every host's shipped log; the lake is mirrored through"
        " the object store. Needs HEADWATER_OBJECT_STORE_URL and a PostgreSQL HEADWATER_DATABASE_URL"
        " (docs/scale-out.md).",
    )
    cluster_lease_seconds: float = Field(
        120.0,
        ge=1.0,
        le=3600.0,
        description="How long a job lease (the pipeline's) lives without its holder renewing it: a host"
        " that dies holds the job this long before another takes it over (docs/scale-out.md).",
    )
    decision_sample: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of OpenRTB enrichment decisions kept in the decision log (1: all, 0: none).",
    )
    writer_id: str = Field(
        default_factory=_default_writer_id,
        description="Name of this host's log writer; worker N of `serve --workers` appends -N.",
    )

    # server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    background_process: bool = Field(
        True,
        description="With several workers, run tailers and schedules in one process of their own.",
    )
    background_nice: int = Field(
        15,
        ge=0,
        le=19,
        description="CPU niceness of the background process's jobs (daily ETL, audience recompute,"
        " dashboard warm-up): the tailers and collection come first under load.",
    )
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of the HTTP workers when a background process runs the tailers:"
        " under a saturating load the tailers keep up first, collection takes the rest"
        " (0: collection first, the tailers fall behind until the load ends).",
    )
    role: Literal["all", "http", "background"] = Field(
        "all", description="Set by the supervisor for each process it starts (not a user setting)."
    )
    admin_token: SecretStr | None = Field(None, description="Bearer token of /api/v1 (generated if unset).")
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token that may read /metrics and nothing else (for Prometheus)."
    )
    timezone: str = Field("UTC", description="IANA time zone of the project's calendar days.")
    access_log: bool = False
    log_level: str = "info"

    # collection limits
    max_event_bytes: int = Field(32 * 1024, ge=256, description="Largest single event (encoded).")
    max_request_bytes: int = Field(500 * 1024, ge=1024, description="Largest request body, decompressed.")
    max_nesting_depth: int = Field(32, ge=2, le=500, description="Deepest nesting of an event's objects.")
    body_timeout_seconds: float = Field(15.0, gt=0, description="Time allowed to receive a whole body.")
    limit_concurrency: int = Field(4096, ge=1, description="Open connections per worker before 503.")
    max_pending_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Unflushed log bytes before 503.")
    min_free_disk_mb: int = Field(64, ge=0, description="Refuse events (503) below this free disk space.")
    future_clamp_hours: float = Field(23.0, gt=0)
    raw_retention_days: int | None = Field(
        None, ge=1, description="Delete raw JSONL loaded into the lake, archived and older than N days."
    )
    # retention of what is kept after loading (docs/privacy.md, "Retention"): None keeps everything
    lake_retention_months: int | None = Field(
        None, ge=1, description="Delete lake events, archives and rollups of months older than N months."
    )
    quarantine_retention_days: int | None = Field(
        None, ge=1, description="Delete quarantine files (rejected events) older than N days."
    )
    event_retention_days: dict[str, int] = Field(
        default_factory=dict,
        description='Per event name, days its events are kept in the lake (JSON: {"Page Viewed": 30}).',
    )

    # connection limits, every route (http/protocol.py; docs/collector.md, "Limits")
    max_header_bytes: int = Field(
        16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request head (request line and headers): 431 beyond.",
    )
    max_headers: int = Field(100, ge=8, le=1000, description="Most header lines in one request: 431 beyond.")
    head_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Time a connection has to send a whole request head, from its opening or from the first"
        " byte of its next request; then it is closed (408 if part of a head came).",
    )
    keepalive_timeout_seconds: float = Field(
        5.0, gt=0, description="An idle keep-alive connection is closed after this long."
    )
    max_connections_per_address: int | None = Field(
        None,
        ge=0,
        description="Open connections one client address (IPv6: its /64) may hold in each worker; more"
        " are answered 503 and closed. Unset: an eighth of limit_concurrency. 0: no cap. Trusted"
        " proxies are exempt.",
    )

    # rate limits, per worker process (http/ratelimit.py; docs/collector.md, "Rate limits")
    collect_rate_per_key: float | None = Field(
        None,
        gt=0,
        description="Events per second one write key may send to each worker (beyond: 429 with"
        " Retry-After, nothing stored). Unset: no quota.",
    )
    collect_burst_per_key: int = Field(
        1000, ge=1, description="Events one write key may send at once, above collect_rate_per_key."
    )
    collect_rate_per_address: float | None = Field(
        None,
        gt=0,
        description="Collection requests per second one client address (IPv6: its /64) may send to"
        " each worker (beyond: 429 with Retry-After). Unset: no quota.",
    )
    collect_burst_per_address: int = Field(
        100, ge=1, description="Requests one address may send at once, above collect_rate_per_address."
    )
    signin_failures_per_minute: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Failed dashboard sign-ins one address may make in a row; then one more every"
        " 60/N seconds (429 with Retry-After meanwhile).",
    )

    # durability
    fsync: FsyncPolicy = Field("always", description="always: a 200 means fsynced to disk.")
    fsync_interval_ms: int = Field(200, ge=1, description="fsync period when fsync = 'interval'.")

    # privacy and HTTP
    ip_policy: IpPolicy = Field("truncate", description="keep | truncate (IPv4 /24, IPv6 /48) | drop.")
    geoip: bool = Field(
        True,
        description="Add context.location (country, region) from the full IP at collection, before the IP"
        " policy, unless the client sent a location (docs/collector.md, Geography). false: no lookup.",
    )
    geoip_database: str = Field(
        "",
        description="A MaxMind DB file giving country and region (GeoLite2-City.mmdb, GeoIP2-City, DB-IP's"
        " .mmdb); checked at start. Empty: the built-in country lookup (no region, no file, no network).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Peers whose X-Forwarded-For is believed (IPs or CIDRs)."
    )
    cors_origins: list[str] = Field(default_factory=lambda: ["*"], description="Origins allowed by CORS.")
    keys_refresh_seconds: float = Field(1.0, gt=0, description="How often write keys are re-read.")

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        if not is_time_zone(value):
            raise ValueError(f"unknown IANA time zone {value!r} (example: Europe/Paris)")
        return value

    @field_validator("writer_id")
    @classmethod
    def _check_writer(cls, value: str) -> str:
        if not value or _WRITER_RE.search(value):
            raise ValueError("writer_id may contain only letters, digits, '-' and '_'")
        return value

    @field_validator("event_retention_days")
    @classmethod
    def _check_event_retention(cls, value: dict[str, int]) -> dict[str, int]:
        for name, days in value.items():
            if not name or not isinstance(days, int) or days < 1:
                raise ValueError(f"event {name!r}: give a whole number of days, 1 or more")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if value:
            backend_for(value, "sql")  # UnknownBackendError (a ValueError) names the schemes
        return value

    @field_validator("warehouse_url")
    @classmethod
    def _check_warehouse(cls, value: str) -> str:
        if value:
            backend_for(value, "warehouse")
        return value

    @field_validator("object_store_url")
    @classmethod
    def _check_object_store(cls, value: str) -> str:
        if value:
            parse_object_url(value)  # a ValueError naming HEADWATER_OBJECT_STORE_URL and what is wrong
        return value

    @field_validator("cluster")
    @classmethod
    def _check_cluster(cls, value: bool, info: ValidationInfo) -> bool:
        if not value:
            return value
        if not info.data.get("object_store_url"):
            raise ValueError(
                "a cluster needs a valid HEADWATER_OBJECT_STORE_URL: the hosts' logs and the lake meet there"
            )
        if not str(info.data.get("database_url") or "").startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "a cluster needs a PostgreSQL HEADWATER_DATABASE_URL shared by every host (the job leases)"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_live(cls, value: str) -> str:
        backend_for(value, "live")
        return value

    @property
    def runs_schedules(self) -> bool:
        """Whether this process runs the once-per-deployment jobs (ETL, nightly recompute)."""
        if self.role != "all":
            return self.role == "background"
        return self.workers == 1 or self.writer_id.endswith("-0")

    @property
    def cluster_host(self) -> str:
        """This host's name in a cluster: its writer id without the suffix of worker 0."""
        return self.writer_id.removesuffix("-0")

    @property
    def host_in_cluster(self) -> str:
        """This host's name when it is part of a cluster, else "" (one host: nothing to tell apart)."""
        return self.cluster_host if self.cluster else ""

    def checkpoint_name(self, tailer: str) -> str:
        """The name a tailer's checkpoint is stored under: one per host in a cluster, whose hosts
        share the realtime and live stores (docs/scale-out.md)."""
        return f"{tailer}@{self.host_in_cluster}" if self.cluster else tailer

    # derived paths
    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'realtime.sqlite3').resolve()}"

    def public_dict(self) -> dict[str, Any]:
        """The effective settings with secrets masked (for `headwater config`)."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif name in ("database_url", "redis_url", "warehouse_url", "object_store_url"):
                value = mask_url(value)
            out[name] = value
        out["effective_database_url"] = mask_url(self.effective_database_url)
        return out
