"""Crash safety of the event log: `kill -9` under load loses nothing acknowledged, and a torn last
line is cut at restart and kept in quarantine (DESIGN section 3)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.helpers import create_key, read_log


def event(kind: str = "track") -> dict[str, Any]:
    ev: dict[str, Any] = {
        "type": kind,
        "messageId": str(uuid.uuid4()),
        "userId": f"u-{uuid.uuid4().hex[:8]}",
        "properties": {"tool_id": "editor", "payload": "x" * 200},
    }
    if kind == "track":
        ev["event"] = "Tool Used"
    return ev


class Load:
    """Client threads posting batches and single events until stopped or the server is gone.

    Every messageId whose request got a 200 (with all events accepted) is recorded as acknowledged.
    """

    def __init__(self, url: str, write_key: str, threads: int = 6) -> None:
        self.url = url
        self.key = write_key
        self.acked: set[str] = set()
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "load threads did not stop"

    def _run(self, n: int) -> None:
        auth = (self.key, "")
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                shape = (n + i) % 3
                if shape == 0:
                    events = [event() for _ in range(25)]
                    req = ("/v1/batch", {"batch": events, "sentAt": _now()})
                elif shape == 1:
                    events = [event()]
                    req = ("/v1/track", events[0])
                else:
                    events = [event("identify")]
                    req = ("/api/events", events[0])
                try:
                    res = client.post(req[0], json=req[1], auth=auth)
                except httpx.HTTPError:
                    with self._lock:
                        self.errors += 1
                    time.sleep(0.02)
                    continue
                with self._lock:
                    self.statuses[res.status_code] = self.statuses.get(res.status_code, 0) + 1
                    if res.status_code == 200 and res.json().get("accepted") == len(events):
                        self.acked.update(e["messageId"] for e in events)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def torn_tails(log_dir: Path) -> dict[str, tuple[int, bytes]]:
    """File name -> (offset of the torn line, the fragment) for every file not ending in a newline."""
    out = {}
    for path in sorted(log_dir.glob("*.jsonl")):
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            out[path.name] = (keep, data[keep:])
    return out


def every_line_parses(log_dir: Path) -> int:
    n = 0
    for path in sorted(log_dir.glob("*.jsonl")):
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), f"{path.name} ends with a torn line"
        for number, line in enumerate(data.splitlines(), 1):
            try:
                obj = json.loads(line)
            except ValueError:
                pytest.fail(f"{path.name} line {number} is not JSON: {line[:200]!r}")
            assert isinstance(obj, dict), f"{path.name} line {number} is not an object"
            n += 1
    return n


def torn_records(data_dir: Path) -> list[dict[str, Any]]:
    return [r for r in read_log(data_dir, "quarantine") if r.get("code") == "torn_line"]


@pytest.mark.parametrize("workers", [1, 2])
def test_kill9_under_load_keeps_every_acknowledged_event(
    tmp_path: Path, servers: ServerFactory, workers: int
) -> None:
    data_dir = tmp_path / "data"
    log_dir = data_dir / "log"
    key = create_key(data_dir)
    srv = servers(data_dir, workers=workers).start()
    acked: set[str] = set()
    torn_before: dict[tuple[str, int], bytes] = {}
    for _round in range(3):  # kill, recover, kill again: recovery must be repeatable
        load = Load(srv.url, key).start()
        try:
            # let acknowledged events pile up, then kill while requests are in flight
            deadline = time.monotonic() + 15
            while len(load.acked) < 800 and time.monotonic() < deadline:
                time.sleep(0.02)
            srv.kill9()
            time.sleep(0.2)  # the clients meet the dead server for a moment
        finally:
            load.stop()
        assert len(load.acked) >= 300, f"too little load reached the server: {load.statuses}"
        assert set(load.statuses) <= {200}, f"unexpected statuses under load: {load.statuses}"
        acked |= load.acked
        torn_before.update({(name, off): frag for name, (off, frag) in torn_tails(log_dir).items()})

        srv.start()  # same data dir: recovery runs at start
        assert torn_tails(log_dir) == {}, "a torn tail survived the restart"
        every_line_parses(log_dir)

        logged = read_log(data_dir)
        ids = {e["messageId"] for e in logged}
        lost = acked - ids
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged events are not in the log"
        # a crash must not double anything either (no client retried here)
        assert len(ids) == len(logged), "some event is in the log twice"

    # whatever the kills tore is now in quarantine, and the file was cut right there
    torn = {(r["file"], r["offset"]): r["fragment"] for r in torn_records(data_dir)}
    assert set(torn) == set(torn_before)
    for place, fragment in torn_before.items():
        assert torn[place] == fragment.decode("utf-8", "replace")

    # and the restarted server takes new events after what was there
    res = httpx.post(
        srv.url + "/v1/batch", json={"batch": [event() for _ in range(5)]}, auth=(key, ""), timeout=10
    )
    assert res.status_code == 200 and res.json()["accepted"] == 5
    assert len(read_log(data_dir)) == len(logged) + 5


def test_torn_tail_is_cut_and_quarantined(tmp_path: Path, servers: ServerFactory) -> None:
    data_dir = tmp_path / "data"
    log_dir = data_dir / "log"
    key = create_key(data_dir)
    srv = servers(data_dir).start()
    first = [event() for _ in range(10)]
    res = httpx.post(srv.url + "/v1/batch", json={"batch": first}, auth=(key, ""), timeout=10)
    assert res.status_code == 200 and res.json()["accepted"] == 10
    srv.kill9()

    [today_file] = list(log_dir.glob("events-*.t.jsonl"))
    intact_size = today_file.stat().st_size
    half = json.dumps(event())[:70].encode()
    with open(today_file, "ab") as fh:
        fh.write(half)

    # a crash just after midnight leaves yesterday's file torn too
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y%m%d")
    old_file = log_dir / f"events-{yesterday}.t.jsonl"
    old_line = json.dumps(event()).encode() + b"\n"
    old_fragment = b'{"type":"track","messageId":"caf\xc3'  # cut inside a UTF-8 character
    old_file.write_bytes(old_line + old_fragment)

    # a dead writer (no process holds its lock) whose only line was torn on its first write
    dead_file = log_dir / "events-20240101.gone.jsonl"
    dead_file.write_bytes(b'{"type":"identify","use')

    srv.start()
    assert today_file.stat().st_size == intact_size
    assert old_file.read_bytes() == old_line
    assert dead_file.read_bytes() == b""
    every_line_parses(log_dir)

    torn = {r["file"]: r for r in torn_records(data_dir)}
    assert set(torn) == {today_file.name, old_file.name, dead_file.name}
    assert torn[today_file.name]["offset"] == intact_size
    assert torn[today_file.name]["fragment"] == half.decode()
    assert torn[old_file.name]["offset"] == len(old_line)
    assert torn[old_file.name]["fragment"] == old_fragment.decode("utf-8", "replace")
    assert torn[dead_file.name]["offset"] == 0
    for record in torn.values():
        assert record["reason"] and record["receivedAt"]

    # new writes go on right after the cut, and everything acknowledged is still there
    second = [event() for _ in range(3)]
    res = httpx.post(srv.url + "/v1/batch", json={"batch": second}, auth=(key, ""), timeout=10)
    assert res.status_code == 200 and res.json()["accepted"] == 3
    lines = today_file.read_bytes()[intact_size:].splitlines()
    assert [json.loads(line)["messageId"] for line in lines] == [e["messageId"] for e in second]
    ids = [e["messageId"] for e in read_log(data_dir)]
    expected = [e["messageId"] for e in [*first, *second]] + [json.loads(old_line)["messageId"]]
    assert sorted(ids) == sorted(expected)

    # a second restart finds nothing more to cut
    srv.stop()
    srv.start()
    assert len(torn_records(data_dir)) == 3


def test_live_writer_files_are_not_touched(tmp_path: Path, servers: ServerFactory) -> None:
    """Recovery cuts only files of writers that are not running: a live writer's tail is its own."""
    data_dir = tmp_path / "data"
    log_dir = data_dir / "log"
    create_key(data_dir)
    one = servers(data_dir, env={"HEADWATER_WRITER_ID": "one"}).start()
    assert one.proc is not None and one.writer_pids().get("one") == one.proc.pid
    # a file of the live writer "one" that looks torn (e.g. seen mid-write)
    live_file = log_dir / "events-20240101.one.jsonl"
    live_file.write_bytes(b'{"partial": ')
    two = servers(data_dir, env={"HEADWATER_WRITER_ID": "two"}).start()
    assert two.writer_pids().keys() >= {"one", "two"}
    assert live_file.read_bytes() == b'{"partial": '
    assert torn_records(data_dir) == []
