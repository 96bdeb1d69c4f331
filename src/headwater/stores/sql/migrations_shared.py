"""The SQL of migrations 7 and later, the same in both dialects (the lists, with what each step is
for, are in migrations.py)."""

from __future__ import annotations

from typing import Final

#: migrations 7 and 8 of both dialects (docs in the SQLite list)
ACCOUNTS: Final = """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL,
            password_hash TEXT,
            created_at TEXT NOT NULL,
            disabled_at TEXT
        );
        CREATE TABLE invitations (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE TABLE api_tokens (
            token_hash TEXT PRIMARY KEY,
            hint TEXT NOT NULL,
            user_id TEXT NOT NULL,
            name TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
"""
AUDIT_LOG: Final = """
        CREATE TABLE audit_log (
            id {id},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{{}}'
        );
"""
ENRICH_KEY_HINTS: Final = "ALTER TABLE openrtb_keys ADD COLUMN hint TEXT NOT NULL DEFAULT '';"
#: migration 9 of both dialects: Segment webhook sources (docs/segment.md) and the regulations
#: (deletion and suppression requests, docs/privacy.md) they and the API file
WEBHOOKS: Final = """
        CREATE TABLE webhook_sources (
            name TEXT PRIMARY KEY,
            write_key TEXT NOT NULL,
            secret TEXT,
            token_hash TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE regulations (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            subject TEXT NOT NULL,
            status TEXT NOT NULL,
            origin TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            progress TEXT NOT NULL DEFAULT '{}'
        );
"""
#: migration 10 of both dialects: suppression (docs/privacy.md), by keyed hashes only
PRIVACY: Final = """
        CREATE TABLE suppressions (
            id_hash TEXT NOT NULL,
            regulation_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (id_hash, regulation_id)
        );
        CREATE TABLE privacy_settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
"""
#: migration 11 of both dialects: cohorts (docs/insights.md), saved groups of people for the
#: insights' filters and breakdowns; ``definition`` is the JSON the API was given
COHORTS: Final = """
        CREATE TABLE cohorts (
            id TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
"""

#: 12: job leases (docs/scale-out.md): each scheduled job runs on one host at a time. Times are
#: milliseconds since the epoch read from the database's own clock, so hosts' clocks never disagree.
JOB_LEASES: Final = """
CREATE TABLE job_leases (
    job TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    generation BIGINT NOT NULL,
    acquired_ms BIGINT NOT NULL,
    renewed_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    released_ms BIGINT,
    info TEXT
);
"""

#: 13: saved insights, dashboards and alerts (docs/dashboard.md, "Saved insights, dashboards,
#: alerts"). ``query``, ``condition`` and ``last_check`` are JSON text; a dashboard's tiles are rows
#: (deleting an insight deletes its tiles); an alert's check state (``state``: NULL until its first
#: check, ``notified``: the state its webhook last received) lives on its row, its history in
#: ``alert_events`` (state changes and webhook deliveries, failed ones with their error).
SAVED: Final = """
        CREATE TABLE saved_insights (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            query TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE dashboards (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE dashboard_tiles (
            dashboard_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            insight_id TEXT NOT NULL,
            x INTEGER NOT NULL,
            y INTEGER NOT NULL,
            w INTEGER NOT NULL,
            h INTEGER NOT NULL,
            PRIMARY KEY (dashboard_id, position)
        );
        CREATE INDEX dashboard_tiles_insight ON dashboard_tiles(insight_id);
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            insight_id TEXT NOT NULL,
            condition TEXT NOT NULL,
            series INTEGER NOT NULL DEFAULT 0,
            webhook_url TEXT NOT NULL,
            every TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            state TEXT,
            notified TEXT NOT NULL DEFAULT 'ok',
            last_check TEXT,
            last_checked_at TEXT,
            next_check_at TEXT
        );
        CREATE INDEX alerts_insight ON alerts(insight_id);
        CREATE TABLE alert_events (
            id TEXT PRIMARY KEY,
            alert_id TEXT NOT NULL,
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            previous_state TEXT,
            notification TEXT,
            delivered INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            evaluation TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX alert_events_alert ON alert_events(alert_id, at);
"""

#: 14: the messages the realtime tailers of a cluster's hosts applied in the last 24 hours, so a
#: retry received by another host counts once (docs/scale-out.md); ``{ts}``: the dialect's time type
REALTIME_SEEN: Final = """
        CREATE TABLE realtime_seen (
            message_id TEXT PRIMARY KEY,
            received_at {ts} NOT NULL
        );
        CREATE INDEX realtime_seen_received ON realtime_seen(received_at);
"""

#: 15: each cluster host's own part of a deletion (docs/scale-out.md, "Deletions in a cluster"): the
#: regulation's log step on that host's disk, done; by regulation id and host, never a person's id
REGULATION_HOSTS: Final = """
        CREATE TABLE regulation_hosts (
            regulation_id TEXT NOT NULL,
            host TEXT NOT NULL,
            detail TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            PRIMARY KEY (regulation_id, host)
        );
"""
