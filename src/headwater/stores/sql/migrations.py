"""Versioned schema migrations, one list per SQL dialect. Append only: never edit a shipped step."""

from __future__ import annotations

from typing import Final

from headwater.stores.sql.migrations_shared import (
    ACCOUNTS,
    AUDIT_LOG,
    COHORTS,
    ENRICH_KEY_HINTS,
    JOB_LEASES,
    PRIVACY,
    REALTIME_SEEN,
    REGULATION_HOSTS,
    SAVED,
    WEBHOOKS,
)

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
    (
        2,
        # realtime aggregates fed by the "realtime" tailer (docs/realtime.md). Timestamps are UTC
        # text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is time order).
        """
        CREATE TABLE daily_stats (
            date TEXT NOT NULL,
            tool_id TEXT NOT NULL DEFAULT '',
            event_type TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (date, tool_id, event_type)
        ) WITHOUT ROWID;
        CREATE TABLE daily_users (
            date TEXT NOT NULL,
            user_id TEXT NOT NULL,
            PRIMARY KEY (date, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX daily_users_user ON daily_users(user_id);
        CREATE TABLE user_sessions (
            session_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            start_time TEXT NOT NULL,
            last_activity TEXT NOT NULL,
            events_count INTEGER NOT NULL
        );
        CREATE INDEX user_sessions_user ON user_sessions(user_id, last_activity);
        CREATE INDEX user_sessions_last ON user_sessions(last_activity);
        CREATE TABLE identities (
            source TEXT PRIMARY KEY,
            user_id TEXT NOT NULL
        );
        CREATE INDEX identities_user ON identities(user_id);
        CREATE TABLE tailers (name TEXT PRIMARY KEY);
        CREATE TABLE tail_checkpoints (
            tailer TEXT NOT NULL,
            file TEXT NOT NULL,
            file_offset INTEGER NOT NULL,
            PRIMARY KEY (tailer, file)
        );
        CREATE TABLE tail_quarantine (
            tailer TEXT NOT NULL,
            file TEXT NOT NULL,
            file_offset INTEGER NOT NULL,
            reason TEXT NOT NULL,
            fragment TEXT NOT NULL,
            quarantined_at TEXT NOT NULL,
            PRIMARY KEY (tailer, file, file_offset)
        );
        """,
    ),
    (
        3,
        # hourly_stats (docs/live.md): each complete UTC hour copied from the live store, so it
        # survives a Redis restart. hour is 'YYYY-MM-DDTHH:00:00Z'; tool_id '' when the events had
        # none. Unique users are per row and never summed. hourly_rollups records every hour
        # written (an hour without events has no rows but is still written).
        """
        CREATE TABLE hourly_stats (
            hour TEXT NOT NULL,
            tool_id TEXT NOT NULL DEFAULT '',
            event_type TEXT NOT NULL,
            unique_users INTEGER NOT NULL,
            total_events INTEGER NOT NULL,
            PRIMARY KEY (hour, tool_id, event_type)
        ) WITHOUT ROWID;
        CREATE TABLE hourly_rollups (
            hour TEXT PRIMARY KEY,
            total_events INTEGER NOT NULL,
            unique_users INTEGER NOT NULL,
            written_at TEXT NOT NULL
        );
        """,
    ),
    (
        4,
        # experiments (docs/experiments.md): the definition as JSON (GrowthBook field names, status
        # and phase included) and each phase's start and stop, which bound the results.
        """
        CREATE TABLE experiments (
            key TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE experiment_phases (
            experiment_key TEXT NOT NULL,
            phase TEXT NOT NULL,
            seed TEXT NOT NULL,
            started_at TEXT NOT NULL,
            stopped_at TEXT,
            PRIMARY KEY (experiment_key, phase)
        );
        """,
    ),
    (
        5,
        # audiences and OpenRTB enrichment (docs/targeting.md): definitions as JSON, sizes over time
        # (source 'live' or 'nightly'), the enrich endpoint's API keys and its settings.
        """
        CREATE TABLE audiences (
            id TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE audience_sizes (
            audience_id TEXT NOT NULL,
            measured_at TEXT NOT NULL,
            source TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (audience_id, measured_at, source)
        );
        CREATE TABLE openrtb_keys (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE TABLE targeting_settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
    (
        6,
        # the warehouse export's ledger (docs/warehouse.md): one row per exported hour and table kind
        # ('events' or 'decisions'); hours and times as UTC text 'YYYY-MM-DDTHH:MM:SSZ'. state is
        # 'loading' from before the load job until the transaction that applies it has committed,
        # then 'done'. first_day..last_day: the dates of the rows the hour has ever put into the
        # table (the delete of a re-export must reach them all). Rejects: rows the warehouse
        # cannot store, with the reason.
        """
        CREATE TABLE warehouse_exports (
            kind TEXT NOT NULL,
            hour TEXT NOT NULL,
            state TEXT NOT NULL,
            rows_loaded BIGINT NOT NULL DEFAULT 0,
            rows_rejected BIGINT NOT NULL DEFAULT 0,
            first_day TEXT,
            last_day TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            error TEXT,
            PRIMARY KEY (kind, hour)
        );
        CREATE TABLE warehouse_rejects (
            kind TEXT NOT NULL,
            hour TEXT NOT NULL,
            id TEXT NOT NULL,
            reason TEXT NOT NULL,
            line TEXT NOT NULL,
            rejected_at TEXT NOT NULL,
            PRIMARY KEY (kind, hour, id)
        );
        """,
    ),
    (
        7,
        # accounts (docs/security.md): users with a role (owner, admin, analyst, viewer) and an Argon2id
        # password hash (NULL until their invitation is accepted); invitations, sessions and API tokens
        # keep only the SHA-256 of their random secret; the audit log of every change to keys,
        # experiments, audiences, accounts and regulations. Times are fixed-width UTC text.
        ACCOUNTS + AUDIT_LOG.format(id="INTEGER PRIMARY KEY AUTOINCREMENT"),
    ),
    (
        8,
        # the enrich endpoint's API keys are kept as SHA-256 hashes ('sha256:<hex>' in key) with a
        # hint (the key's first characters) to tell them apart; plain keys of earlier versions are
        # hashed when the catalog opens (stores/sql/audiences.py).
        ENRICH_KEY_HINTS,
    ),
    (
        9,
        # Segment webhook sources: the shared secret of HMAC signatures is kept as given (the HMAC
        # needs it; the file is 0600), the per-source token as its SHA-256. Regulations: requests to
        # delete or suppress a person's data, by id (subject: JSON), with their status and progress.
        WEBHOOKS,
    ),
    (
        10,
        # suppression (docs/privacy.md): keyed hashes (HMAC-SHA256 under a per-installation key kept
        # in privacy_settings) of every id of a suppressed person, by regulation; never the ids
        PRIVACY,
    ),
    (11, COHORTS),  # saved groups of people for the insights (docs/insights.md)
    (12, JOB_LEASES),  # each scheduled job on one host at a time (docs/scale-out.md)
    (13, SAVED),  # saved insights, dashboards and alerts (docs/dashboard.md)
    (14, REALTIME_SEEN.format(ts="TEXT")),  # a cluster's realtime dedup (docs/scale-out.md)
    (15, REGULATION_HOSTS),  # each cluster host's part of a deletion (docs/scale-out.md)
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
    (
        2,
        # realtime aggregates fed by the "realtime" tailer (docs/realtime.md)
        """
        CREATE TABLE daily_stats (
            date DATE NOT NULL,
            tool_id TEXT NOT NULL DEFAULT '',
            event_type TEXT NOT NULL,
            count BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (date, tool_id, event_type)
        );
        CREATE TABLE daily_users (
            date DATE NOT NULL,
            user_id TEXT NOT NULL,
            PRIMARY KEY (date, user_id)
        );
        CREATE INDEX daily_users_user ON daily_users(user_id);
        CREATE TABLE user_sessions (
            session_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            start_time TIMESTAMPTZ NOT NULL,
            last_activity TIMESTAMPTZ NOT NULL,
            events_count BIGINT NOT NULL
        );
        CREATE INDEX user_sessions_user ON user_sessions(user_id, last_activity);
        CREATE INDEX user_sessions_last ON user_sessions(last_activity);
        CREATE TABLE identities (
            source TEXT PRIMARY KEY,
            user_id TEXT NOT NULL
        );
        CREATE INDEX identities_user ON identities(user_id);
        CREATE TABLE tailers (name TEXT PRIMARY KEY);
        CREATE TABLE tail_checkpoints (
            tailer TEXT NOT NULL,
            file TEXT NOT NULL,
            file_offset BIGINT NOT NULL,
            PRIMARY KEY (tailer, file)
        );
        CREATE TABLE tail_quarantine (
            tailer TEXT NOT NULL,
            file TEXT NOT NULL,
            file_offset BIGINT NOT NULL,
            reason TEXT NOT NULL,
            fragment TEXT NOT NULL,
            quarantined_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (tailer, file, file_offset)
        );
        """,
    ),
    (
        3,
        # hourly_stats (docs/live.md): each complete UTC hour copied from the live store, so it
        # survives a Redis restart. hour is the hour's start; tool_id '' when the events had
        # none. Unique users are per row and never summed. hourly_rollups records every hour
        # written (an hour without events has no rows but is still written).
        """
        CREATE TABLE hourly_stats (
            hour TIMESTAMPTZ NOT NULL,
            tool_id TEXT NOT NULL DEFAULT '',
            event_type TEXT NOT NULL,
            unique_users BIGINT NOT NULL,
            total_events BIGINT NOT NULL,
            PRIMARY KEY (hour, tool_id, event_type)
        );
        CREATE TABLE hourly_rollups (
            hour TIMESTAMPTZ PRIMARY KEY,
            total_events BIGINT NOT NULL,
            unique_users BIGINT NOT NULL,
            written_at TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    (
        4,
        # experiments (docs/experiments.md): the definition as JSON (GrowthBook field names, status
        # and phase included) and each phase's start and stop, which bound the results.
        """
        CREATE TABLE experiments (
            key TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE experiment_phases (
            experiment_key TEXT NOT NULL,
            phase TEXT NOT NULL,
            seed TEXT NOT NULL,
            started_at TEXT NOT NULL,
            stopped_at TEXT,
            PRIMARY KEY (experiment_key, phase)
        );
        """,
    ),
    (
        5,
        # audiences and OpenRTB enrichment (docs/targeting.md): definitions as JSON, sizes over time
        # (source 'live' or 'nightly'), the enrich endpoint's API keys and its settings.
        """
        CREATE TABLE audiences (
            id TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE audience_sizes (
            audience_id TEXT NOT NULL,
            measured_at TEXT NOT NULL,
            source TEXT NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (audience_id, measured_at, source)
        );
        CREATE TABLE openrtb_keys (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE TABLE targeting_settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
    (
        6,
        # the warehouse export's ledger (docs/warehouse.md): one row per exported hour and table kind
        # ('events' or 'decisions'); hours and times as UTC text 'YYYY-MM-DDTHH:MM:SSZ'. state is
        # 'loading' from before the load job until the transaction that applies it has committed,
        # then 'done'. first_day..last_day: the dates of the rows the hour has ever put into the
        # table (the delete of a re-export must reach them all). Rejects: rows the warehouse
        # cannot store, with the reason.
        """
        CREATE TABLE warehouse_exports (
            kind TEXT NOT NULL,
            hour TEXT NOT NULL,
            state TEXT NOT NULL,
            rows_loaded BIGINT NOT NULL DEFAULT 0,
            rows_rejected BIGINT NOT NULL DEFAULT 0,
            first_day TEXT,
            last_day TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            error TEXT,
            PRIMARY KEY (kind, hour)
        );
        CREATE TABLE warehouse_rejects (
            kind TEXT NOT NULL,
            hour TEXT NOT NULL,
            id TEXT NOT NULL,
            reason TEXT NOT NULL,
            line TEXT NOT NULL,
            rejected_at TEXT NOT NULL,
            PRIMARY KEY (kind, hour, id)
        );
        """,
    ),
    (7, ACCOUNTS + AUDIT_LOG.format(id="BIGSERIAL PRIMARY KEY")),  # as SQLite's 7
    (8, ENRICH_KEY_HINTS),  # as SQLite's 8
    (9, WEBHOOKS),  # as SQLite's 9
    (10, PRIVACY),  # as SQLite's 10
    (11, COHORTS),  # as SQLite's 11
    (12, JOB_LEASES),  # as SQLite's 12
    (13, SAVED),  # as SQLite's 13
    (14, REALTIME_SEEN.format(ts="TIMESTAMPTZ")),  # as SQLite's 14
    (15, REGULATION_HOSTS),  # as SQLite's 15
]
