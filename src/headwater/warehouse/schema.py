"""The warehouse's tables and views: names, columns (in load order) and the SQL of the views.

Columns are only ever appended (an additive migration: ``ensure_table`` adds what a table lacks).
The ``events`` columns follow the brief's schema (id .. sent_at, person_id) and add what the lake's
metrics need to give the same numbers: the lake's ``actor`` (``user_id``, else ``anon:`` + the
anonymous id, junk ids cleaned), ``previous_id``, ``traits``, ``source``, ``bot``, and
``export_hour``, the received hour the row was exported with, and ``export_host``, the host whose
log it came from in a cluster (together, the unit an export replaces).
"""

from __future__ import annotations

from headwater.stores.warehouse.ports import Column, TableSpec

EVENTS = "events"
EVENTS_STAGE = "_hw_events_stage"
HOURLY_STATS = "hourly_stats"
IDENTITIES = "identities"
EVENTS_DEDUPED = "events_deduped"
PERSON_DAYS = "person_days"
DECISIONS = "openrtb_decisions"
DECISIONS_STAGE = "_hw_decisions_stage"

_EVENT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "STRING", "the messageId"),
    ("type", "STRING", "track, page, screen, identify, group or alias"),
    ("event_type", "STRING", "the event name of a track; the type otherwise (the lake's event)"),
    ("tool_id", "STRING", "the feature (tool) an event belongs to"),
    ("user_id", "STRING", "userId as sent"),
    ("anonymous_id", "STRING", "anonymousId as sent"),
    ("previous_id", "STRING", "previousId of an alias"),
    ("actor", "STRING", "userId, else 'anon:' + anonymousId (junk ids such as 'null' cleaned)"),
    ("person_id", "STRING", "the person the actor resolved to when exported (see identities)"),
    ("properties", "JSON", ""),
    ("traits", "JSON", ""),
    ("context", "JSON", ""),
    ("timestamp", "TIMESTAMP", "when it happened (the client's clock, corrected)"),
    ("received_at", "TIMESTAMP", "when Headwater received it"),
    ("sent_at", "TIMESTAMP", "when the client sent it"),
    ("source", "STRING", "the write key's source name"),
    ("bot", "BOOL", "sent by a known bot"),
    ("export_hour", "TIMESTAMP", "the hour of received_at the row was exported with"),
    ("export_host", "STRING", "the cluster host whose log it came from (empty on one host)"),
)


def _columns(json_as: str) -> tuple[Column, ...]:
    out = []
    for name, kind, doc in _EVENT_COLUMNS:
        typ = json_as if kind == "JSON" else kind
        out.append(Column(name, typ, required=name == "id", description=doc))  # type: ignore[arg-type]
    return tuple(out)


EVENTS_SPEC = TableSpec(
    EVENTS,
    _columns("JSON"),
    partition_field="timestamp",
    clustering=("user_id",),
    description="Every event received, one row per event and export hour (events_deduped: one per id).",
)
#: The load target of one hour: JSON as text (parsed by the INSERT into events, which can say why not).
EVENTS_STAGE_SPEC = TableSpec(EVENTS_STAGE, _columns("STRING"), description="Headwater's load staging.")

HOURLY_STATS_SPEC = TableSpec(
    HOURLY_STATS,
    (
        Column("hour", "TIMESTAMP", required=True, description="UTC hour of the events' timestamp"),
        Column("tool_id", "STRING"),
        Column("event_type", "STRING"),
        Column("unique_users", "INT64", description="distinct people (identity merged) that hour"),
        Column("total_events", "INT64", description="events (one per id)"),
    ),
    partition_field="hour",
    description="Exact hourly counts from the log (events_deduped), rewritten with every export.",
)

IDENTITIES_SPEC = TableSpec(
    IDENTITIES,
    (
        Column("key", "STRING", required=True, description="an actor: 'anon:' + anonymousId, or a userId"),
        Column("user_id", "STRING", required=True, description="the person it resolves to"),
    ),
    description="The identity map (the lake's rules), replaced with every sync.",
)

DECISIONS_COLUMNS: tuple[Column, ...] = (
    Column("id", "STRING", required=True, description="request id + imp (unique per decision)"),
    Column("request_id", "STRING"),
    Column("timestamp", "TIMESTAMP", required=True),
    Column("user_found", "BOOL"),
    Column("segments", "STRING", description="segment ids sent, comma-separated"),
    Column("segment_count", "INT64"),
    Column("consent", "STRING", description="allowed | denied | not_applicable"),
    Column(
        "reason",
        "STRING",
        description="the outcome code: enriched, unknown_user, no_segments, or the consent code",
    ),
    Column("latency_us", "INT64", description="time the enrichment took"),
    Column("export_hour", "TIMESTAMP"),
    Column(
        "export_host", "STRING", description="the cluster host whose log it came from (empty on one host)"
    ),
)
DECISIONS_SPEC = TableSpec(
    DECISIONS,
    DECISIONS_COLUMNS,
    partition_field="timestamp",
    description="Each OpenRTB enrichment decision (sampled by HEADWATER_DECISION_SAMPLE).",
)
DECISIONS_STAGE_SPEC = TableSpec(DECISIONS_STAGE, DECISIONS_COLUMNS, description="Headwater's load staging.")

EVENT_COLUMN_NAMES = [c for c, _, _ in _EVENT_COLUMNS]


def events_deduped_sql(events: str) -> str:
    """One row per id: the first received (then the earliest timestamp), as the lake keeps it."""
    return f"""SELECT * FROM {events}
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY received_at, timestamp, export_hour) = 1"""


def deduped_range_sql(events: str, days: tuple[str, str]) -> str:
    """One row per id of the events of UTC dates days[0]..days[1] (partitions pruned, then deduped)."""
    return f"""SELECT * FROM {events} WHERE DATE(timestamp) BETWEEN DATE '{days[0]}' AND DATE '{days[1]}'
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY received_at, timestamp, export_hour) = 1"""


def hourly_stats_sql(deduped: str, identities: str, hours: list[str], days: tuple[str, str]) -> str:
    """hourly_stats rows of the given UTC hours (TIMESTAMP literals), from one row per id."""
    listed = ", ".join(f"TIMESTAMP '{h}'" for h in hours)
    return f"""
SELECT TIMESTAMP_TRUNC(e.timestamp, HOUR) AS hour, e.tool_id, e.event_type,
       COUNT(DISTINCT COALESCE(i.user_id, e.actor)) AS unique_users, COUNT(*) AS total_events
FROM {deduped} e LEFT JOIN {identities} i ON i.key = e.actor
WHERE DATE(e.timestamp) BETWEEN DATE '{days[0]}' AND DATE '{days[1]}'
  AND TIMESTAMP_TRUNC(e.timestamp, HOUR) IN ({listed})
GROUP BY 1, 2, 3"""
