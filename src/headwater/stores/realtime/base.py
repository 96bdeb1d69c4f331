"""The realtime store's interface and its opener by URL scheme."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from headwater.config import mask_url


class StoreUnavailableError(RuntimeError):
    """The store cannot be reached or opened; the message names the (masked) URL."""


class KeyNotFoundError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class WriteKey:
    key: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_write_key() -> str:
    return "hw_" + secrets.token_urlsafe(24)


def utcnow() -> datetime:
    return datetime.now(UTC)


class RealtimeStore(Protocol):
    url: str

    def upgrade(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        ...

    def schema_version(self) -> int: ...

    def create_key(self, name: str, allowed_origins: tuple[str, ...] = ()) -> WriteKey: ...

    def list_keys(self, include_revoked: bool = False) -> list[WriteKey]: ...

    def revoke_key(self, key_or_name: str) -> list[WriteKey]:
        """Revoke a key (by key, or every active key of a source name); KeyNotFoundError if none."""
        ...

    def close(self) -> None: ...


def open_realtime_store(url: str, migrate: bool = True) -> RealtimeStore:
    """Open the store named by ``url`` (sqlite:///path, postgresql://...)."""
    scheme = urlsplit(url).scheme
    store: RealtimeStore
    if scheme == "sqlite":
        from headwater.stores.realtime.sqlite import SqliteRealtimeStore

        store = SqliteRealtimeStore(url)
    elif scheme in ("postgresql", "postgres"):
        try:
            from headwater.stores.realtime.postgres import PostgresRealtimeStore
        except ImportError as exc:  # pragma: no cover - depends on installed extras
            raise StoreUnavailableError(
                "PostgreSQL support is not installed: pip install 'headwater[postgres]'"
            ) from exc
        store = PostgresRealtimeStore(url)
    else:
        raise StoreUnavailableError(
            f"unsupported realtime store URL {mask_url(url)!r}: use sqlite:///path or postgresql://"
        )
    if migrate:
        store.upgrade()
    return store
