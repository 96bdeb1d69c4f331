"""The realtime store (SQLite embedded, PostgreSQL in production)."""

from headwater.stores.realtime.base import RealtimeStore, StoreUnavailableError, WriteKey, open_realtime_store

__all__ = ["RealtimeStore", "StoreUnavailableError", "WriteKey", "open_realtime_store"]
