"""A person's rows out of the warehouse (BigQuery), by DML: cheaper than reloading the partitions
their events are in, and exact. ``hourly_stats`` keeps a distinct-people count per hour, so the
hours the person was active in are recomputed from what remains. (The export's rejected rows, kept
in the SQL store, go with the realtime store's rows: stores/sql/forget.py.)

BigQuery keeps deleted rows readable through time travel for the dataset's window (7 days unless
set lower, down to 2) and then in fail-safe storage for 7 more days: docs/privacy.md says so.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import Any

from headwater.stores.warehouse import open_warehouse
from headwater.warehouse import schema

ANON = "anon:"


def erase_from_warehouse(url: str, ids: Collection[str]) -> dict[str, Any]:
    """Delete the person's events and identity rows, recompute their hours' stats; the figures."""
    people = sorted(ids)
    actors = people + [ANON + i for i in people]
    wh = open_warehouse(url)
    try:
        events, stats, identities = (
            wh.table(n) for n in (schema.EVENTS, schema.HOURLY_STATS, schema.IDENTITIES)
        )
        person = "(user_id IN UNNEST(@ids) OR anonymous_id IN UNNEST(@ids) OR previous_id IN UNNEST(@ids)"
        person += " OR actor IN UNNEST(@actors) OR person_id IN UNNEST(@ids))"
        params: dict[str, Any] = {"ids": people, "actors": actors}
        found = wh.query(
            f"SELECT FORMAT_TIMESTAMP('%Y-%m-%d %H:00:00', TIMESTAMP_TRUNC(timestamp, HOUR)) AS hour,"
            f" COUNT(*) AS n FROM {events} WHERE {person} GROUP BY 1",
            params=params,
        ).rows
        hours = sorted(str(r["hour"]) for r in found)
        rows = sum(int(r["n"]) for r in found)
        if rows:
            wh.query(f"DELETE FROM {events} WHERE {person}", params=params)
        linked = wh.query(
            f"SELECT COUNT(*) AS n FROM {identities} WHERE key IN UNNEST(@actors) OR user_id IN UNNEST(@ids)",
            params=params,
        ).rows
        identity_rows = int(linked[0]["n"]) if linked else 0
        if identity_rows:
            wh.query(
                f"DELETE FROM {identities} WHERE key IN UNNEST(@actors) OR user_id IN UNNEST(@ids)",
                params=params,
            )
        # the export's staging table holds the last hour it loaded (all columns as text) until the
        # next load replaces it: the person's rows there go too (an export between its load and
        # its insert then inserts the others' rows only)
        stage = wh.table(schema.EVENTS_STAGE)
        wh.ensure_table(schema.EVENTS_STAGE_SPEC)
        in_stage = wh.query(f"SELECT COUNT(*) AS n FROM {stage} WHERE {person}", params=params).rows
        staged = int(in_stage[0]["n"]) if in_stage else 0
        if staged:
            wh.query(f"DELETE FROM {stage} WHERE {person}", params=params)
        if hours:
            days = (hours[0][:10], hours[-1][:10])
            listed = ", ".join(f"TIMESTAMP '{h}'" for h in hours)
            deduped = f"({schema.deduped_range_sql(events, days)})"
            wh.run_script(
                ";\n".join(
                    [
                        "BEGIN TRANSACTION",
                        f"DELETE FROM {stats} WHERE hour IN ({listed})"
                        f" AND DATE(hour) BETWEEN DATE '{days[0]}' AND DATE '{days[1]}'",
                        f"INSERT INTO {stats} (hour, tool_id, event_type, unique_users, total_events) "
                        + schema.hourly_stats_sql(deduped, identities, hours, days),
                        "COMMIT TRANSACTION",
                    ]
                )
                + ";",
                job_id=f"hw_privacy_stats_{secrets.token_hex(6)}",
                labels={"headwater": "privacy"},
            )
    finally:
        wh.close()
    return {"events": rows, "identities": identity_rows, "staged": staged, "hours_recomputed": len(hours)}
