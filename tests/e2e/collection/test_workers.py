"""`serve --workers 3`: each worker writes its own files, concurrent clients never see a line lost,
doubled, torn or interleaved, /metrics adds up every worker, a killed worker comes back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ServerFactory
from tests.helpers import Server, create_key, read_log

DAY = "[0-9]" * 8


def event(n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Tool Used",
        "messageId": str(uuid.uuid4()),
        "userId": f"u-{n % 97}",
        "properties": {"tool_id": f"tool-{n % 7}", "n": n, "text": "é" * (n % 50)},
    }


def request_for(n: int) -> tuple[str, Any, list[dict[str, Any]]]:
    """(path, body, events) in turn: a batch, a single /v1/track, an /api/events array."""
    shape = n % 3
    if shape == 0:
        events = [event(n * 100 + i) for i in range(10)]
        return "/v1/batch", {"batch": events, "sentAt": datetime.now(UTC).isoformat()}, events
    if shape == 1:
        one = event(n)
        return "/v1/track", one, [one]
    events = [event(n * 100 + i) for i in range(3)]
    return "/api/events", events, events


def check_lines(data_dir: Path) -> Counter[str]:
    """Every line of every file parses on its own (nothing torn or interleaved); writer -> lines."""
    per_writer: Counter[str] = Counter()
    for path in sorted((data_dir / "log").glob("*.jsonl")):
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), f"{path.name} ends mid-line"
        for number, line in enumerate(data.splitlines(), 1):
            try:
                obj = json.loads(line)
            except ValueError:
                pytest.fail(f"{path.name} line {number} is not one JSON object: {line[:300]!r}")
            assert isinstance(obj, dict) and ("messageId" in obj or "code" in obj)
            per_writer[path.name.split(".")[1]] += 1
    return per_writer


def metric_total(srv: Server, name: str, **labels: str) -> float:
    text = srv.metrics()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_many_clients_three_workers(tmp_path: Path, servers: ServerFactory) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "busy")
    srv = servers(data_dir, workers=3).start()
    acked: list[str] = []
    statuses: Counter[int] = Counter()

    async def client_task(task: int, requests: int) -> None:
        n = task * 1000
        for _ in range(requests // 10):
            # a fresh connection now and then, so the kernel spreads them over the workers
            async with httpx.AsyncClient(base_url=srv.url, auth=(key, ""), timeout=20) as client:
                for _ in range(10):
                    n += 1
                    path, body, events = request_for(n)
                    res = await client.post(path, json=body)
                    statuses[res.status_code] += 1
                    if res.status_code == 200:
                        assert res.json()["accepted"] == len(events), res.text
                        acked.extend(e["messageId"] for e in events)

    async def run() -> None:
        await asyncio.wait_for(asyncio.gather(*(client_task(t, 30) for t in range(32))), timeout=50)

    asyncio.run(run())
    assert statuses == {200: 32 * 30}, statuses
    assert len(acked) == len(set(acked)) >= 4000

    # every acknowledged event exactly once, nothing else
    logged = Counter(e["messageId"] for e in read_log(data_dir))
    assert set(logged) == set(acked)
    assert max(logged.values()) == 1, "an event is in the log twice"
    assert read_log(data_dir, "quarantine") == []

    # each worker wrote its own file, nobody else wrote any
    per_writer = check_lines(data_dir)
    assert set(per_writer) == {"t-0", "t-1", "t-2"}, per_writer
    for writer in ("t-0", "t-1", "t-2"):
        assert len(list((data_dir / "log").glob(f"events-{DAY}.{writer}.jsonl"))) == 1
    assert sum(per_writer.values()) == len(acked)

    # /metrics (answered by any one worker) adds up all three
    for _ in range(3):
        assert metric_total(srv, "headwater_events_accepted_total", source="busy") == len(acked)
    requests = metric_total(srv, "headwater_requests_total", status="200")
    assert requests == 32 * 30
    # the log's bytes are counted by every worker: their sum is the files' size
    size = sum(p.stat().st_size for p in (data_dir / "log").glob("events-*.jsonl"))
    assert metric_total(srv, "headwater_log_bytes_total", kind="events") == size


class Load:
    """Threads posting small batches on fresh connections; records when each 200 came back."""

    def __init__(self, url: str, key: str, threads: int = 4) -> None:
        self.url, self.key, self.threads = url, key, threads
        self.acked: list[str] = []
        self.ok_times: list[float] = []
        self.failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(20)
        assert not any(t.is_alive() for t in self._threads)

    def _run(self, i: int) -> None:
        n = i * 1_000_000
        while not self._stop.is_set():
            n += 1
            events = [event(n * 10 + k) for k in range(5)]
            try:
                # Connection: close, so that every request is a new accept on some worker
                res = httpx.post(
                    self.url + "/v1/batch",
                    json={"batch": events},
                    auth=(self.key, ""),
                    headers={"connection": "close"},
                    timeout=10,
                )
            except httpx.HTTPError:
                with self._lock:
                    self.failures += 1
                time.sleep(0.01)
                continue
            with self._lock:
                if res.status_code == 200:
                    self.acked.extend(e["messageId"] for e in events)
                    self.ok_times.append(time.monotonic())
                else:
                    self.failures += 1


def test_killed_worker_is_restarted_while_others_answer(tmp_path: Path, servers: ServerFactory) -> None:
    data_dir = tmp_path / "data"
    log_dir = data_dir / "log"
    key = create_key(data_dir, "kill")
    srv = servers(data_dir, workers=3).start()
    before = srv.writer_pids()
    # three HTTP workers, and the background process of tailers and schedules
    assert set(before) == {"t-0", "t-1", "t-2", "t-bg"}
    victim = before["t-1"]

    load = Load(srv.url, key).start()
    try:
        deadline = time.monotonic() + 20
        while len(load.acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(load.acked) >= 300, "no load got through before the kill"
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        # the supervisor brings t-1 back as a new process; the other two never stop answering
        deadline = time.monotonic() + 20
        while srv.writer_pids().get("t-1") in (None, victim):
            assert time.monotonic() < deadline, f"t-1 not restarted: {srv.stderr()[-2000:]}"
            assert srv.proc is not None and srv.proc.poll() is None, "the supervisor died"
            time.sleep(0.02)
        back_at = time.monotonic()
        new_pid = srv.writer_pids()["t-1"]
        assert srv.writer_pids()["t-0"] == before["t-0"] and srv.writer_pids()["t-2"] == before["t-2"]

        # the new t-1 takes requests and writes to t-1's file again
        t1_files = list(log_dir.glob(f"events-{DAY}.t-1.jsonl"))
        assert len(t1_files) == 1
        size_at_restart = t1_files[0].stat().st_size
        deadline = time.monotonic() + 20
        while t1_files[0].stat().st_size == size_at_restart:
            assert time.monotonic() < deadline, "the restarted worker t-1 never wrote"
            time.sleep(0.05)
    finally:
        load.stop()

    answered_meanwhile = [t for t in load.ok_times if killed_at < t < back_at]
    assert answered_meanwhile, "nobody answered while t-1 was down"
    # only what was in flight on t-1 failed: each load thread has at most one request out
    assert load.failures <= load.threads, f"{load.failures} requests failed around the kill"
    assert f"worker 1 exited with -{int(signal.SIGKILL)}" in srv.stderr()
    assert new_pid != victim

    # nothing acknowledged is lost or doubled, no line is torn (a torn t-1 tail was cut at restart)
    check_lines(data_dir)
    logged = Counter(e["messageId"] for e in read_log(data_dir))
    missing = [m for m in load.acked if m not in logged]
    assert not missing, f"{len(missing)} acknowledged events are not in the log"
    assert max(logged.values()) == 1
    quarantined = read_log(data_dir, "quarantine")
    assert all(r["code"] == "torn_line" and r["file"].endswith(".t-1.jsonl") for r in quarantined)

    # the counters of the dead worker still count: acked <= counted <= logged
    counted = metric_total(srv, "headwater_events_accepted_total", source="kill")
    assert len(load.acked) <= counted <= sum(logged.values())


@pytest.mark.parametrize("workers", [1, 3])
def test_second_server_with_same_writer_id_fails_clearly(
    tmp_path: Path, servers: ServerFactory, workers: int
) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir)
    first = servers(data_dir, workers=workers).start()
    holders = first.writer_pids()

    second = servers(data_dir, workers=workers)
    with pytest.raises(RuntimeError, match="server exited with 2"):
        second.start(timeout=30)
    writer = "t" if workers == 1 else "t-0"
    message = (
        f"error: another Headwater process is already writing the log as writer '{writer}' in "
        f"{data_dir / 'log'}. Stop it, or give this one its own HEADWATER_WRITER_ID."
    )
    assert message in second.stderr().replace("\n", " ").replace("  ", " "), second.stderr()
    assert "Traceback" not in second.stderr()

    # the first server is untouched: same lock holders, still taking events
    assert first.writer_pids() == holders
    res = httpx.post(first.url + "/v1/track", json=event(1), auth=(key, ""), timeout=10)
    assert res.status_code == 200
    # nothing of the second one is left listening
    with pytest.raises(httpx.ConnectError):
        httpx.get(second.url + "/healthz", timeout=2)

    # another writer id on the same data dir is fine
    other = servers(data_dir, workers=workers, env={"HEADWATER_WRITER_ID": "other"}).start()
    assert httpx.get(other.url + "/readyz", timeout=10).status_code == 200
