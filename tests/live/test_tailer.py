"""The live tailer over real log files into memory://, a real Redis and a real Redis Cluster."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater.live import queries
from headwater.live.fold import LiveEvent
from headwater.live.target import LIVE_TAILER, LiveTarget, rebuild_offsets
from headwater.log.merged_read import read_merged
from headwater.log.tailing.batch import CheckpointConflictError
from headwater.log.tailing.tailer import Tailer
from headwater.stores.live.ports import Counters
from tests.live.logdata import append, line, log_path
from tests.redis_services import (
    RedisClusterNodes,
    RedisServer,
    counters_at,
    drop_namespace,
    unique_namespace,
    wait_until,
)

NOW = datetime.now(UTC).replace(second=30, microsecond=0)


@pytest.fixture(params=["memory", "redis", "cluster"])
def store(request: pytest.FixtureRequest) -> Iterator[Counters]:
    namespace = unique_namespace()
    urls: list[str] = []
    if request.param == "memory":
        url = f"memory://?namespace={namespace}"
    elif request.param == "redis":
        url = f"{request.getfixturevalue('shared_redis')}?namespace={namespace}"
        urls = [url]
    else:
        cluster: RedisClusterNodes = request.getfixturevalue("redis_cluster")
        url = f"{cluster.url}?namespace={namespace}"
        urls = [f"{n.url}?namespace={namespace}" for n in cluster.nodes]
    s = counters_at(url)
    yield s
    s.close()
    for u in urls:
        drop_namespace(u, namespace)


def tail(store: Counters, log_dir: Path, max_lines: int = 10_000) -> Tailer[LiveEvent]:
    tailer = Tailer(LIVE_TAILER, log_dir, LiveTarget(store, log_dir), LiveEvent, max_lines=max_lines)
    tailer.run(threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=3)
    return tailer


def write_sample(log_dir: Path) -> None:
    """u1..u3 on editor and u2, u4 on viewer, within the last hour; one anonymous event."""
    path = log_path(log_dir, NOW)
    t = NOW - timedelta(minutes=3)
    append(
        path,
        line("u1", t, "editor"),
        line("u1", t, "editor"),
        line("u2", t, "editor", "Saved"),
        line("u3", NOW - timedelta(minutes=40), "editor"),
        line("u2", NOW, "viewer"),
        line("u4", NOW, "viewer"),
        line(None, NOW, None, "Opened", anon="a1"),
    )


def test_counts_match_the_log(store: Counters, tmp_path: Path) -> None:
    write_sample(tmp_path)
    tail(store, tmp_path)
    assert queries.active_users(store, "5m", NOW)["active_users"] == 4  # u1 u2 u4 anon:a1
    assert queries.active_users(store, "1h", NOW)["active_users"] == 5
    assert queries.active_users(store, "24h", NOW)["active_users"] == 5
    day = NOW.date()
    today = queries.today(store, day, "UTC", NOW)
    if (NOW - timedelta(minutes=40)).date() == day:
        assert today["events"] == 7 and today["active_users"] == 5
        by_tool = {t["tool_id"]: (t["events"], t["unique_users"]) for t in today["tools"]}
        assert by_tool == {"editor": (4, 3), "viewer": (2, 2), None: (1, 1)}
    hour = queries.hourly(store, NOW.replace(minute=0, second=0))
    expected_now = [ln for ln in (3, 40, 0) if (NOW - timedelta(minutes=ln)).hour == NOW.hour]
    assert hour["events"] >= 3 and len(expected_now) >= 1
    rows = {(r["tool_id"], r["event_type"]): (r["events"], r["unique_users"]) for r in hour["rows"]}
    assert rows[("viewer", "Clicked")] == (2, 2)


def test_a_restarted_tailer_never_double_counts(store: Counters, tmp_path: Path) -> None:
    path = log_path(tmp_path, NOW)
    append(path, *[line(f"u{i}", NOW, "editor") for i in range(50)])
    first = Tailer(LIVE_TAILER, tmp_path, LiveTarget(store, tmp_path), LiveEvent, max_lines=7)
    for _ in range(3):
        first.step()  # 21 lines applied, then the process "dies"
    append(path, *[line(f"u{i}", NOW, "editor") for i in range(50, 60)])
    tail(store, tmp_path, max_lines=7)  # a new process, a new target: resumes from the stored checkpoint
    today = queries.today(store, NOW.date(), "UTC", NOW)
    assert today["events"] == 60 and today["active_users"] == 60
    cp = store.load_checkpoint(LIVE_TAILER)
    assert cp is not None and cp.offsets[path.name] == path.stat().st_size


def test_a_batch_applied_elsewhere_is_refused(store: Counters, tmp_path: Path) -> None:
    path = log_path(tmp_path, NOW)
    append(path, *[line(f"u{i}", NOW) for i in range(5)])
    a, b = LiveTarget(store, tmp_path), LiveTarget(store, tmp_path)
    base = a.load_checkpoint(LIVE_TAILER)
    assert b.load_checkpoint(LIVE_TAILER) == base
    merged = read_merged(tmp_path, base)
    from headwater.log.tailing.batch import TailBatch
    from headwater.log.tailing.decode import decode_lines

    records, _, _ = decode_lines(merged.lines, LiveEvent)
    batch = TailBatch(LIVE_TAILER, dict(base), records, [(ln.file, ln.offset) for ln in merged.lines])
    a.apply(batch, merged.checkpoint)
    with pytest.raises(CheckpointConflictError):
        b.apply(batch, merged.checkpoint)
    assert queries.today(store, NOW.date(), "UTC", NOW)["events"] == 5


def test_a_new_store_rebuilds_only_the_retention_window(store: Counters, tmp_path: Path) -> None:
    old = log_path(tmp_path, NOW - timedelta(days=5))
    append(old, *[line(f"old{i}", NOW - timedelta(days=5)) for i in range(3)])
    write_sample(tmp_path)
    assert rebuild_offsets(tmp_path, NOW) == {old.name: old.stat().st_size}
    tail(store, tmp_path)
    cp = store.load_checkpoint(LIVE_TAILER)
    assert cp is not None and cp.offsets[old.name] == old.stat().st_size
    assert queries.active_users(store, "24h", NOW)["active_users"] == 5


def test_events_older_than_the_retention_are_skipped(store: Counters, tmp_path: Path) -> None:
    path = log_path(tmp_path, NOW)
    append(path, line("late", NOW - timedelta(hours=50)), line("u1", NOW))
    tail(store, tmp_path)
    assert queries.today(store, NOW.date(), "UTC", NOW)["events"] == 1


def test_redis_down_pauses_the_tailer_which_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", args=("--appendonly", "yes", "--appendfsync", "always")).start()
    store = counters_at(server.url)
    log_dir = tmp_path / "log"
    path = log_path(log_dir, NOW)
    append(path, *[line(f"u{i}", NOW) for i in range(10)])
    target = LiveTarget(store, log_dir)
    tailer = Tailer(LIVE_TAILER, log_dir, target, LiveEvent)
    stop = threading.Event()
    thread = threading.Thread(target=tailer.run, args=(stop,), kwargs={"idle": 0.02, "max_backoff": 0.2})
    thread.start()
    try:
        wait_until(lambda: tailer.status.applied_events == 10)
        server.stop()
        append(path, *[line(f"u{i}", NOW) for i in range(10, 25)])
        wait_until(lambda: tailer.status.state == "retrying")
        assert "unavailable" in (tailer.status.last_error or "")
        server.start()  # same port, data back from its append-only file
        wait_until(lambda: store.load_checkpoint(LIVE_TAILER) is not None and tailer.status.lag_bytes == 0)
        wait_until(lambda: queries.today(store, NOW.date(), "UTC", NOW)["events"] == 25)
        assert target.rebuilds == 1  # only the first start, never a second rebuild
        assert queries.today(store, NOW.date(), "UTC", NOW)["active_users"] == 25
    finally:
        stop.set()
        thread.join(10)
        store.close()
        server.stop()


def test_redis_restarted_empty_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()  # no persistence
    store = counters_at(server.url)
    log_dir = tmp_path / "log"
    path = log_path(log_dir, NOW)
    append(path, *[line(f"u{i}", NOW) for i in range(10)])
    target = LiveTarget(store, log_dir)
    tailer = Tailer(LIVE_TAILER, log_dir, target, LiveEvent)
    stop = threading.Event()
    thread = threading.Thread(target=tailer.run, args=(stop,), kwargs={"idle": 0.02, "max_backoff": 0.2})
    thread.start()
    try:
        wait_until(lambda: tailer.status.applied_events == 10)
        server.stop()
        server.start()  # empty
        # a new file: its base offset 0 matches the emptied store, only the epoch tells the difference
        append(log_path(log_dir, NOW, writer="w2"), *[line(f"u{i}", NOW) for i in range(10, 12)])
        wait_until(lambda: queries.today(store, NOW.date(), "UTC", NOW)["events"] == 12)
        assert target.rebuilds == 2
        assert queries.active_users(store, "5m", NOW)["active_users"] == 12
    finally:
        stop.set()
        thread.join(10)
        store.close()
        server.stop()


def test_background_commits_keep_checkpoint_order_and_recover_from_a_reset(
    store: Counters, tmp_path: Path
) -> None:
    """Every batch committed in the background (pipeline_min_lines=1) while the next is read; a
    reset of the store between batches makes the commit in flight fail, and the tailer rebuilds."""
    path = log_path(tmp_path, NOW)
    append(path, *[line(f"u{i}", NOW, "editor") for i in range(40)])
    target = LiveTarget(store, tmp_path, pipeline_min_lines=1)
    tailer = Tailer(LIVE_TAILER, tmp_path, target, LiveEvent, max_lines=7)
    tailer.run(threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=3)
    target.flush()
    assert queries.today(store, NOW.date(), "UTC", NOW)["events"] == 40
    cp = store.load_checkpoint(LIVE_TAILER)
    assert cp is not None and cp.offsets[path.name] == path.stat().st_size
    append(path, *[line(f"v{i}", NOW, "editor") for i in range(20)])
    tailer.step()  # 7 lines in flight ...
    store.reset(LIVE_TAILER)  # ... while the store is reset: the next batch must not build on it
    tailer.run(threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=5)
    target.flush()
    today = queries.today(store, NOW.date(), "UTC", NOW)
    assert today["events"] == 60 and today["active_users"] == 60
    target.close()


def test_every_count_is_exact_at_a_hundred_thousand_users(store: Counters, tmp_path: Path) -> None:
    """No HyperLogLog: 100,000 users in a minute (and half of them again in the next) count exactly
    in every window, hour, day, tool and event type, whatever the batches."""
    path = log_path(tmp_path, NOW)
    t = NOW - timedelta(minutes=1)
    append(path, *[line(f"u{i}", t, "editor") for i in range(100_000)])
    tail(store, tmp_path, max_lines=30_000)
    append(path, *[line(f"u{i}", NOW, "viewer", "Saved") for i in range(50_000, 150_000)])
    tail(store, tmp_path, max_lines=7_000)
    assert queries.active_users(store, "5m", NOW)["active_users"] == 150_000
    assert queries.active_users(store, "24h", NOW)["active_users"] == 150_000
    if t.hour == NOW.hour:
        hour = queries.hourly(store, NOW)
        assert hour["unique_users"] == 150_000 and hour["events"] == 200_000
        rows = {(r["tool_id"], r["event_type"]): r["unique_users"] for r in hour["rows"]}
        assert rows == {("editor", "Clicked"): 100_000, ("viewer", "Saved"): 100_000}
    if t.date() == NOW.date():
        today = queries.today(store, NOW.date(), "UTC", NOW)
        assert today["active_users"] == 150_000
        assert {x["tool_id"]: x["unique_users"] for x in today["tools"]} == {
            "editor": 100_000,
            "viewer": 100_000,
        }


def test_a_retry_counts_once_even_across_a_restart(store: Counters, tmp_path: Path) -> None:
    """The same messageId again (a client's retry), in the same batch, a later one, after the
    tailer restarted (its window rebuilt from the log), up to 24 hours later: counted once."""
    path = log_path(tmp_path, NOW)
    t = NOW - timedelta(minutes=2)
    append(path, line("u1", t, mid="retry-1"), line("u1", t, mid="retry-1"), line("u2", t, mid="m2"))
    tail(store, tmp_path)
    append(
        path, line("u1", t, mid="retry-1", received=NOW), line("u3", t, mid="retry-1")
    )  # another user, same id
    tail(store, tmp_path)  # a new target: the window is rebuilt from the log first
    append(path, line("u2", t, mid="m2", received=NOW), line("u4", t, mid="m4"))
    tail(store, tmp_path)
    today = queries.today(store, t.date(), "UTC", NOW)
    assert today["events"] == 3 and today["active_users"] == 3  # u1, u2, u4; never u3's "retry"
    assert queries.hourly(store, t)["events"] == 3


def test_an_anonymous_id_linked_to_a_user_counts_once(store: Counters, tmp_path: Path) -> None:
    """Browsing anonymously, then identified: one person in every live count (as in the batch),
    with the link seen in the same batch, a later one, or known to the realtime store before the
    log the tailer reads (the lookup)."""
    path = log_path(tmp_path, NOW)
    t = NOW - timedelta(minutes=3)
    append(
        path,
        line(None, t, "editor", anon="a1"),
        line(None, t, "viewer", anon="a1"),
        line(None, t, "editor", anon="a2"),
        line(None, t, "editor", anon="a3"),  # linked long ago: the realtime store knows it
    )
    known = {"anon:a3": "old-user"}
    asked: list[str] = []

    def lookup(keys: list[str]) -> dict[str, str]:
        asked.extend(keys)
        return {k: known[k] for k in keys if k in known}

    def run() -> None:
        target = LiveTarget(store, tmp_path, lookup=lookup)
        Tailer(LIVE_TAILER, tmp_path, target, LiveEvent).run(
            threading.Event(), until_caught_up=True, max_backoff=0.05, max_failures=3
        )

    run()
    assert queries.active_users(store, "5m", NOW)["active_users"] == 3  # a1, a2, old-user
    append(path, line("u1", NOW, "editor", anon="a1"), line("u2", NOW, "viewer", anon="a2", kind="identify"))
    append(path, line("old-user", NOW, "editor"))
    run()  # after a restart: the state is rebuilt from the log, links and all
    assert queries.active_users(store, "5m", NOW)["active_users"] == 3  # u1, u2, old-user
    if t.date() == NOW.date():
        today = queries.today(store, NOW.date(), "UTC", NOW)
        assert today["active_users"] == 3
        assert {x["tool_id"]: x["unique_users"] for x in today["tools"]} == {"editor": 3, "viewer": 2}
    if t.hour == NOW.hour:
        rows = {
            (r["tool_id"], r["event_type"]): r["unique_users"] for r in queries.hourly(store, NOW)["rows"]
        }
        assert rows[("editor", "Clicked")] == 3
    assert "anon:a3" in asked and asked.count("anon:a3") <= 2  # once per state (two states: two runs)


def test_events_stamped_ahead_count_as_active_when_received(store: Counters, tmp_path: Path) -> None:
    path = log_path(tmp_path, NOW)
    append(path, line("skewed", NOW + timedelta(hours=2), received=NOW - timedelta(minutes=1)))
    tail(store, tmp_path)
    assert queries.active_users(store, "5m", NOW)["active_users"] == 1
