"""Deletions on a real server under load (issue 17): two regulations for the same person at once
(by their userId and by their device's anonymousId) while clients keep sending; both finish, the
second finding nothing left, no acknowledged event of anyone else is lost, the tailers keep up,
and nothing of the person is left in the log. And a person with 100,000 events over a year."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.batch.logdata import ev, write_log
from tests.helpers import Server, cli, create_key, read_log
from tests.privacy.proof import ids_in_files

PERSON, DEVICE = "load-person-1", "load-device-1"


class Load(threading.Thread):
    """Batches of other people's events, as fast as the server answers; the acknowledged ids."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.stop = threading.Event()
        self.acked: set[str] = set()
        self.errors: list[str] = []

    def run(self) -> None:
        n = itertools.count()
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                batch = [
                    {
                        "type": "track",
                        "event": "Loaded",
                        "userId": f"other-{next(n) % 40}",
                        "messageId": str(uuid.uuid4()),
                    }
                    for _ in range(50)
                ]
                r = client.post("/v1/batch", json={"batch": batch}, headers={"X-Write-Key": self.key})
                if r.status_code == 200:
                    self.acked.update(e["messageId"] for e in batch)
                elif r.status_code != 503:
                    self.errors.append(r.text)


def file(srv: Server, kind: str, subject: dict[str, str]) -> str:
    r = httpx.post(
        srv.url + "/api/v1/regulations", json={"type": kind, "subject": subject}, headers=srv.admin_headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def wait_finished(srv: Server, rid: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown: dict[str, Any] = httpx.get(
            f"{srv.url}/api/v1/regulations/{rid}", headers=srv.admin_headers
        ).json()
        if shown["status"] not in ("INITIALIZED", "RUNNING"):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{rid} did not finish: {shown}")


def test_two_deletions_at_once_under_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = create_key(data, "load")
    with Server(data) as srv:
        mine = [
            {"type": "identify", "userId": PERSON, "anonymousId": DEVICE, "messageId": str(uuid.uuid4())},
            *(
                {"type": "track", "event": "Mine", "userId": PERSON, "messageId": str(uuid.uuid4())}
                for _ in range(30)
            ),
            *(
                {"type": "track", "event": "Mine", "anonymousId": DEVICE, "messageId": str(uuid.uuid4())}
                for _ in range(30)
            ),
        ]
        r = httpx.post(srv.url + "/v1/batch", json={"batch": mine}, headers={"X-Write-Key": key})
        assert r.status_code == 200
        deadline = time.monotonic() + 30
        while srv.checks()["tailer_realtime"]["state"] != "caught_up" and time.monotonic() < deadline:
            time.sleep(0.1)
        load = Load(srv.url, key)
        load.start()
        time.sleep(1.0)
        first = file(srv, "SUPPRESS_WITH_DELETE", {"userId": PERSON})
        second = file(srv, "DELETE_ONLY", {"anonymousId": DEVICE})
        done = [wait_finished(srv, rid) for rid in (first, second)]
        time.sleep(1.0)
        load.stop.set()
        load.join()
        assert not load.errors, load.errors[:3]
        assert [d["status"] for d in done] == ["FINISHED", "FINISHED"], done
        assert done[0]["progress"]["log"]["lines_erased"] == 61, done[0]
        assert done[1]["progress"]["log"]["lines_erased"] == 0, done[1]  # nothing left for the second
        stored = {e["messageId"] for e in read_log(data)}
        assert load.acked and load.acked <= stored, len(load.acked - stored)  # no acknowledged event lost
        assert ids_in_files(data / "log", [PERSON, DEVICE]) == {}
        deadline = time.monotonic() + 60
        while srv.checks()["tailer_realtime"]["state"] != "caught_up" and time.monotonic() < deadline:
            time.sleep(0.2)
        today = datetime.now(UTC).date().isoformat()
        daily = httpx.get(
            f"{srv.url}/api/v1/realtime/daily", params={"date": today}, headers=srv.admin_headers
        ).json()
        assert daily["unique_users"] == 40, daily  # the 40 others; the person no longer counted
        assert srv.checks()["tailer_realtime"]["last_error"] is None


def test_a_person_with_100000_events_over_a_year(tmp_path: Path) -> None:
    data = tmp_path / "data"
    today = datetime.now(UTC).date()
    start = today - timedelta(days=365)
    events = []
    for i in range(100_000):
        moment = datetime.combine(start, datetime.min.time(), UTC) + timedelta(seconds=i * 315)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        events.append(ev(stamp, user=PERSON, event="Heavy"))
        if i % 10 == 0:
            events.append(ev(stamp, user=f"light-{i % 7}", event="Light"))
    write_log(data, events)
    started = time.monotonic()
    out = cli(data, "privacy", "delete", PERSON, "--json", check=False)
    seconds = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert '"lines_erased": 100000' in out.stdout, out.stdout[:500]
    assert ids_in_files(data / "log", [PERSON]) == {}
    assert sum(1 for e in read_log(data)) == 10_000  # the others' lines all there
    assert seconds < 120, seconds
