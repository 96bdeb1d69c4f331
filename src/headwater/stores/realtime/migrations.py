"""Versioned schema migrations, one list per SQL dialect. Append only: never edit a shipped step."""

from __future__ import annotations

from typing import Final

SQLITE: Final[list[tuple[int, str]]] = [
    (
        1,
        """
        CREATE TABLE write_keys (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            allowed_origins TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX write_keys_name ON write_keys(name);
        """,
    ),
]

POSTGRES: Final[list[tuple[int, str]]] = [
    (
        1,
        """
        CREATE TABLE write_keys (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            revoked_at TIMESTAMPTZ,
            allowed_origins TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX write_keys_name ON write_keys(name);
        """,
    ),
]
