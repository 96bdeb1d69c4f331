"""The event log: append-only JSON Lines files, the single source of truth."""
