"""One contract for every realtime store (SQLite and PostgreSQL), through the real tailer target."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from headwater.log.tailing.batch import CheckpointConflictError, TailBatch, TailReject
from headwater.realtime.rows import LoggedEvent
from headwater.realtime.target import RealtimeTarget
from headwater.stores.sql.keys import SqlWriteKeys
from headwater.stores.sql.migrations import POSTGRES, SQLITE
from headwater.stores.sql.ports import DailyRow, KeyNotFoundError, RealtimeStore
from headwater.stores.sql.realtime import open_realtime_store
from tests.realtime.logdata import T0, event, minutes

DAY = T0.date()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RealtimeStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rt.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = open_realtime_store(url)
    yield s
    s.close()


def batch(
    *events: dict[str, object], base: dict[str, int] | None = None, file: str = "f"
) -> TailBatch[LoggedEvent]:
    recs = [msgspec.json.decode(msgspec.json.encode(e), type=LoggedEvent) for e in events]
    start = (base or {}).get(file, 0)
    return TailBatch("realtime", dict(base or {}), recs, [(file, start + i) for i in range(len(recs))])


def apply(store: RealtimeStore, *events: dict[str, object]) -> None:
    base = store.load_checkpoint("realtime")
    new = {"f": base.get("f", 0) + len(events)}
    RealtimeTarget(store).apply(batch(*events, base=base), new)


def test_migrations_are_versioned_and_idempotent(store: RealtimeStore) -> None:
    migrations = POSTGRES if store.url.startswith("postgresql") else SQLITE
    db = store.db  # type: ignore[attr-defined]
    assert db.schema_version() == max(v for v, _ in migrations)  # others add versions: not a constant
    assert db.upgrade() == []


def test_write_keys_still_work(store: RealtimeStore) -> None:
    keys = SqlWriteKeys(store.db)  # type: ignore[attr-defined]
    wk = keys.create_key("app", ("https://shop.example",))
    assert [(k.key, k.allowed_origins) for k in keys.list_keys()] == [(wk.key, ("https://shop.example",))]
    assert keys.revoke_key("app")[0].revoked_at is not None
    assert keys.list_keys() == []
    assert [k.key for k in keys.list_keys(include_revoked=True)] == [wk.key]
    with pytest.raises(KeyNotFoundError):
        keys.revoke_key("app")


def test_counts_users_and_checkpoint_in_one_apply(store: RealtimeStore) -> None:
    apply(store, event("u1"), event("u2", tool=None), event("u1", name="Saved"), event("u1"))
    totals = store.daily(DAY)
    assert [(r.tool_id, r.event_type, r.count) for r in totals.rows] == [
        ("", "Clicked", 1),
        ("editor", "Clicked", 2),
        ("editor", "Saved", 1),
    ]
    assert totals.unique_users == 2
    assert store.load_checkpoint("realtime") == {"f": 4}
    apply(store, event("u3"))
    assert store.daily(DAY).events == 5
    assert store.daily(DAY).unique_users == 3
    assert store.daily(DAY + timedelta(days=1)).events == 0


def test_failed_transaction_leaves_nothing(store: RealtimeStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
        tx.save_checkpoint("realtime", {"f": 10})
        tx.quarantine("realtime", [TailReject("f", 3, "bad", "x")])
        raise RuntimeError("boom")
    assert store.load_checkpoint("realtime") == {}
    assert store.quarantined("realtime") == []


def test_a_batch_applied_twice_is_refused(store: RealtimeStore) -> None:
    target = RealtimeTarget(store)
    b = batch(event("u1"), event("u2"))
    target.apply(b, {"f": 2})
    with pytest.raises(CheckpointConflictError):
        target.apply(batch(event("u1"), event("u2")), {"f": 2})
    assert store.daily(DAY).events == 2


def test_identified_anonymous_history_merges(store: RealtimeStore) -> None:
    apply(store, event(None, anon="a1"), event(None, anon="a1", at=T0 + minutes(5)))
    assert store.daily(DAY).unique_users == 1
    assert [s.user_id for s in store.sessions()[1]] == ["anon:a1"]
    apply(store, event("alice", anon="a1", etype="identify", at=T0 + minutes(10)))
    apply(store, event(None, anon="a1", at=T0 + minutes(12)))
    assert store.daily(DAY).unique_users == 1
    total, sessions = store.sessions()
    assert total == 1
    assert (sessions[0].user_id, sessions[0].count) == ("alice", 4)
    assert sessions[0].start == T0 and sessions[0].last == T0 + minutes(12)


def test_junk_ids_never_merge(store: RealtimeStore) -> None:
    apply(store, event("alice", anon="undefined"), event("bob", anon="undefined"), event("null", anon="a9"))
    assert store.daily(DAY).unique_users == 3  # alice, bob, anon:a9


def test_sessions_and_active_query(store: RealtimeStore) -> None:
    apply(store, event("u1", at=T0), event("u1", at=T0 + minutes(29)), event("u1", at=T0 + minutes(60)))
    total, sessions = store.sessions()
    assert total == 2
    assert sorted(s.count for s in sessions) == [1, 2]
    active_total, active = store.sessions(active_at=T0 + minutes(70))
    assert active_total == 1 and active[0].last == T0 + minutes(60)
    assert store.sessions(active_at=T0 + minutes(100))[0] == 0


def test_quarantine_keeps_position(store: RealtimeStore) -> None:
    b = batch(event("u1"))
    b.rejects.append(TailReject("f", 1, "not valid JSON", "{oops"))
    RealtimeTarget(store).apply(b, {"f": 2})
    assert store.quarantined("realtime") == [TailReject("f", 1, "not valid JSON", "{oops")]


def test_reset_everything_or_from_a_day(store: RealtimeStore) -> None:
    day2 = T0 + timedelta(days=1)
    apply(store, event("u1"), event("u2", at=day2))
    store.reset_realtime("realtime", from_day=day2.date(), since=day2.replace(hour=0), files=["f"])
    assert store.daily(DAY).events == 1
    assert store.daily(day2.date()).events == 0
    assert store.load_checkpoint("realtime") == {}
    store.reset_realtime("realtime")
    assert store.daily(DAY).events == 0
    assert store.sessions()[0] == 0


def test_odd_values_are_stored(store: RealtimeStore) -> None:
    apply(
        store,
        event("u\x00x", tool="t" * 5000, name="N" * 600),
        event("u2", at=T0.replace(year=2009)),
        event("u3", tool=12),
    )
    assert store.daily(date(2009, 11, 25)).events == 1
    rows = store.daily(DAY).rows
    assert {r.tool_id for r in rows} == {"t" * 200, "12"}
    assert {len(r.event_type) for r in rows} == {200, 7}


def _snapshot(
    store: RealtimeStore,
) -> tuple[list[DailyRow], int, list[tuple[str, str, datetime, datetime, int]]]:
    sessions = sorted(
        (s.session_id, s.user_id, s.start, s.last, s.count) for s in store.sessions(limit=10_000)[1]
    )
    return store.daily(DAY).rows, store.daily(DAY).unique_users, sessions


def _traffic() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(60):
        at = T0 + minutes(i * 7 % 50 + (40 if i > 40 else 0))
        if i % 11 == 3:
            out.append(event(f"user{i % 5}", anon=f"a{i % 4}", etype="identify", at=at))
        elif i % 3 == 0:
            out.append(event(None, anon=f"a{i % 4}", at=at))
        else:
            out.append(event(f"user{i % 5}", anon=f"a{i % 4}" if i % 2 else None, at=at))
    out.append(event("user9", etype="alias", previousId="user1", at=T0 + minutes(95)))
    return out


def test_the_cache_gives_the_numbers_of_a_fresh_target_at_every_batch(store: RealtimeStore) -> None:
    """One target keeps its cache across batches; a fresh target per batch reads everything back
    from the store: the stored numbers are the same (the cache is only an optimization)."""
    traffic = _traffic()
    cached = RealtimeTarget(store)
    base: dict[str, int] = {}
    for i in range(0, len(traffic), 7):
        cached.apply(batch(*traffic[i : i + 7], base=base), {"f": i + len(traffic[i : i + 7])})
        base = {"f": i + len(traffic[i : i + 7])}
    assert cached.state is not None and cached.cache_drops == 0
    with_cache = _snapshot(store)
    store.reset_realtime("realtime")
    base = {}
    for i in range(0, len(traffic), 7):
        RealtimeTarget(store).apply(batch(*traffic[i : i + 7], base=base), {"f": i + len(traffic[i : i + 7])})
        base = {"f": i + len(traffic[i : i + 7])}
    assert _snapshot(store) == with_cache
    assert with_cache[1] < 10  # the links merged anonymous ids into users


def test_the_cache_is_dropped_when_another_process_moved_the_checkpoint(store: RealtimeStore) -> None:
    mine, other = RealtimeTarget(store), RealtimeTarget(store)
    mine.apply(batch(event(None, anon="a1"), file="f"), {"f": 1})
    assert mine.state is not None and "anon:a1" in mine.state.checked
    # another process links a1 to alice (a file of its own), unknown to mine's cache
    other.apply(
        batch(event("alice", anon="a1", etype="identify", at=T0 + minutes(1)), base={"f": 1}, file="g"),
        {"f": 1, "g": 1},
    )
    mine.apply(batch(event(None, anon="a1", at=T0 + minutes(2)), base={"f": 1}, file="f"), {"f": 2})
    assert mine.cache_drops == 1
    total, sessions = store.sessions()
    assert total == 1 and (sessions[0].user_id, sessions[0].count) == ("alice", 3)
    assert store.daily(DAY).unique_users == 1


def test_a_conflict_or_a_failure_drops_the_cache(store: RealtimeStore) -> None:
    target = RealtimeTarget(store)
    target.apply(batch(event("u1")), {"f": 1})
    assert target.state is not None
    with pytest.raises(CheckpointConflictError):
        target.apply(batch(event("u1")), {"f": 1})
    assert target.state is None  # rebuilt from the store on the next apply
    target.apply(batch(event("u1", at=T0 + minutes(1)), base={"f": 1}), {"f": 2})
    assert store.daily(DAY).events == 2 and store.sessions()[1][0].count == 2
