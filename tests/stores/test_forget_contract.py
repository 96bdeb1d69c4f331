"""One contract for RealtimeStore.forget (GDPR deletion), SQLite and PostgreSQL: two people and a
crowd written through the real tailer (fold, write_delta, quarantine), the warehouse ledger and the
hourly rollup store; one person forgotten; then every row of every table is read back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from headwater.log.tailing.batch import TailBatch, TailReject
from headwater.log.tailing.tailer import Tailer
from headwater.realtime.rows import LoggedEvent
from headwater.realtime.target import RealtimeTarget
from headwater.stores.sql.forget import FORGET_TABLES
from headwater.stores.sql.hourly import HourlyRow, HourlyStatsStore
from headwater.stores.sql.ports import RealtimeStore
from headwater.stores.sql.realtime import open_realtime_store
from headwater.stores.sql.sqlite import sqlite_path
from headwater.stores.sql.warehouse_ledger import WarehouseLedger
from tests.realtime.logdata import T0, append, event, log_file, minutes

# ids with letters no hex digest (message ids, session ids, hashes) can contain
ALICE = "alice-Kq7zmx"
ALICE_DEVICE = "dev-Pw9kqz"
ALICE_OLD = "old-alice-Rx8m"
ALICE_IDS = (ALICE, ALICE_DEVICE, ALICE_OLD)
BOB = "bob-Vz3kqw"
BOB_DEVICE = "dev-Mk2xrq"
DAY1 = T0 - timedelta(days=1)  # a closed day
CROWD = 300  # other users, so every table spans several pages


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rt.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[RealtimeStore]:
    s = open_realtime_store(url)
    yield s
    s.close()


def person(user: str, device: str, old: str | None) -> list[dict[str, Any]]:
    """Anonymous first, then identified (the link moves the rows); an older user id aliased away."""
    out = [event(None, anon=device, at=DAY1), event(None, anon=device, at=DAY1 + minutes(3))]
    if old is not None:
        out += [event(old, at=DAY1 + minutes(5)), event(old, at=DAY1 + minutes(90), tool="export")]
    out.append(event(user, anon=device, etype="identify", at=DAY1 + minutes(100)))
    if old is not None:
        out.append(event(user, etype="alias", previousId=old, at=DAY1 + minutes(101)))
    out += [event(user, at=T0 + minutes(m), anon=device if m > 30 else None) for m in (0, 10, 45, 200)]
    return out


def populate(url: str, store: RealtimeStore, log_dir: Path) -> None:
    for day in (DAY1, T0):
        crowd = [event(f"n{i}", anon=f"nd{i}", at=day + minutes(i % 50)) for i in range(CROWD)]
        append(log_file(log_dir, day=day), *crowd)
    append(
        log_file(log_dir, day=DAY1), *person(ALICE, ALICE_DEVICE, ALICE_OLD), *person(BOB, BOB_DEVICE, None)
    )
    append(
        log_file(log_dir, day=T0),
        '{"type":"track","userId":"' + ALICE + '", this is not json',
        '{"anonymousId":"' + ALICE_DEVICE + '","traits":{"note":"called \\"' + ALICE_OLD + '\\""} oops',
        '{"type":"track","userId":"' + BOB + '", nor this',
        '{"type":"track","userId":"null", nobody',
    )
    tailer = Tailer("realtime", log_dir, RealtimeTarget(store), LoggedEvent, max_lines=97)
    tailer.run(threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=20)
    ledger = WarehouseLedger(url)
    line = json.dumps({"userId": ALICE, "event": "Clicked", "properties": {"size": "x" * 300}})
    ledger.reject(
        "events", "2026-11-25T09", [("m1", "row too big", line), ("m2", "bad", f'{{"userId":"{BOB}"}}')]
    )
    ledger.close()
    hourly = HourlyStatsStore(url)
    hourly.write_hour(T0, 2 * CROWD, CROWD + 2, [HourlyRow("editor", "Clicked", CROWD + 2, 2 * CROWD)])
    hourly.close()


def tables(store: RealtimeStore) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table (SELECT *), each value as text, sorted."""
    db = store.db  # type: ignore[attr-defined]
    with db.tx(write=False) as cur:
        if db.dialect.name == "sqlite":
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        else:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        names = sorted(str(r[0]) for r in cur.fetchall())
        out = {}
        for name in names:
            cur.execute(f"SELECT * FROM {name}")
            out[name] = sorted(tuple(str(v) for v in row) for row in cur.fetchall())
    return out


def holds(row: tuple[str, ...], ids: tuple[str, ...]) -> bool:
    return any(i in value for value in row for i in ids)


def test_forget_removes_every_row_of_one_person_and_nothing_else(
    url: str, store: RealtimeStore, tmp_path: Path
) -> None:
    populate(url, store, tmp_path / "log")
    before = tables(store)
    assert sum(holds(r, ALICE_IDS) for rows in before.values() for r in rows) >= 10
    held = {t for t, rows in before.items() if any(holds(r, ALICE_IDS) for r in rows)}
    assert held == set(FORGET_TABLES)  # the population reached every table forget knows
    users = {d: store.daily(d.date()).unique_users for d in (DAY1, T0)}
    events = {d: store.daily(d.date()).events for d in (DAY1, T0)}
    total, sessions = store.sessions(limit=10_000)
    alice_sessions = sum(s.user_id == ALICE for s in sessions)
    assert alice_sessions >= 3  # her anonymous, old-id and own sessions, all hers now

    removed = store.forget(ALICE_IDS)

    assert set(removed) == set(FORGET_TABLES)
    after = tables(store)
    for name, rows in before.items():
        assert after[name] == [r for r in rows if not holds(r, ALICE_IDS)], name
    assert removed == {
        t: sum(holds(r, ALICE_IDS) for r in before[t]) - sum(holds(r, ALICE_IDS) for r in after[t])
        for t in FORGET_TABLES
    }
    assert {d: store.daily(d.date()).unique_users for d in (DAY1, T0)} == {d: n - 1 for d, n in users.items()}
    assert {d: store.daily(d.date()).events for d in (DAY1, T0)} == events  # events counts keep theirs
    assert store.sessions(limit=10_000)[0] == total - alice_sessions
    assert any(holds(r, (BOB, BOB_DEVICE)) for rows in after.values() for r in rows)
    assert store.forget(ALICE_IDS) == dict.fromkeys(FORGET_TABLES, 0)
    assert tables(store) == after

    if url.startswith("sqlite"):  # the file itself: what secure_delete and the WAL truncation are for
        with store.db.connection() as conn:  # type: ignore[attr-defined]
            assert conn.execute("PRAGMA secure_delete").fetchone() == (1,)  # not left to the build
        path = sqlite_path(url)
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        data = path.read_bytes()
        assert BOB.encode() in data
        for i in ALICE_IDS:
            assert i.encode() not in data, i


def test_linked_ids_go_with_the_person(url: str, store: RealtimeStore, tmp_path: Path) -> None:
    """Given only the userId, the ids the stored links tie to it (her device, her old id) go too."""
    populate(url, store, tmp_path / "log")
    store.forget([ALICE])
    assert not any(holds(r, ALICE_IDS) for rows in tables(store).values() for r in rows)
    assert store.forget(ALICE_IDS) == dict.fromkeys(FORGET_TABLES, 0)


def _reject(store: RealtimeStore, *fragments: str) -> None:
    recs = [msgspec.json.decode(msgspec.json.encode(event("u9")), type=LoggedEvent)]
    batch = TailBatch("realtime", {}, recs, [("f", 0)])
    batch.rejects += [TailReject("f", i + 1, "not valid JSON", text) for i, text in enumerate(fragments)]
    RealtimeTarget(store).apply(batch, {"f": len(fragments) + 1})


def test_rejected_lines_go_when_they_hold_an_id_as_a_whole_token(store: RealtimeStore) -> None:
    odd = 'o"brien/Kq\u00e9'
    gone = [
        '{"userId":"' + ALICE + '" oops',
        "userId=" + ALICE + "&x=1",
        '{"userId":' + json.dumps(odd) + " oops",
        '{"userId":' + json.dumps(odd, ensure_ascii=False) + " oops",
        '{"userId":"' + json.dumps(odd)[1:-1].replace("/", "\\/") + '" oops',
    ]
    kept = [
        '{"userId":"' + ALICE + '0" oops',
        '{"userId":"x' + ALICE + '" oops',
        '{"userId":"' + ALICE + '-2" oops',
        '{"userId":"null","anonymousId":"0" oops',
    ]
    _reject(store, *gone, *kept)
    removed = store.forget([ALICE, odd, "null", "0", "anon:undefined"])
    assert removed["tail_quarantine"] == len(gone)
    assert sorted(r.fragment for r in store.quarantined("realtime")) == sorted(kept)
    assert store.forget([ALICE, odd]) == dict.fromkeys(FORGET_TABLES, 0)


def test_junk_ids_are_nobody_s(store: RealtimeStore) -> None:
    """``null``, ``0``, ``anonymous`` ... are shared by everyone who sent them: never forgotten."""
    apply_events = [event("u1", anon="undefined"), event(None, anon="a1"), event("0", anon="a2")]
    recs = [msgspec.json.decode(msgspec.json.encode(e), type=LoggedEvent) for e in apply_events]
    RealtimeTarget(store).apply(TailBatch("realtime", {}, recs, [("f", i) for i in range(3)]), {"f": 3})
    before = tables(store)
    assert store.forget(["undefined", "0", "null", "", "anon:anonymous"]) == dict.fromkeys(FORGET_TABLES, 0)
    assert tables(store) == before
    assert store.daily(T0.date()).unique_users == 3  # u1, anon:a1, anon:a2


def test_an_id_with_nul_is_found_as_stored(store: RealtimeStore) -> None:
    """NUL is stored as U+FFFD (PostgreSQL text holds none): the caller's id still finds it."""
    recs = [
        msgspec.json.decode(msgspec.json.encode(e), type=LoggedEvent)
        for e in (event("u\x00x", anon="d\x00v"), event("u2"))
    ]
    batch = TailBatch("realtime", {}, recs, [("f", 0), ("f", 1)])
    batch.rejects.append(TailReject("f", 2, "not valid JSON", '{"userId":"u\\u0000x" oops'))
    RealtimeTarget(store).apply(batch, {"f": 3})
    removed = store.forget(["u\x00x", "d\x00v"])
    assert removed["daily_users"] == 1 and removed["identities"] == 1 and removed["tail_quarantine"] == 1
    assert store.daily(T0.date()).unique_users == 1
    assert [s.user_id for s in store.sessions()[1]] == ["u2"]
