"""Deletions on a real server under load (issue 17): two regulations for the same person at once
(by their userId and by their device's anonymousId) while clients keep sending; both finish, the
second finding nothing left, no acknowledged event of anyone else is lost, the tailers keep up,
and nothing of the person is left in the log. And a person with 100,000 events over a year."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from headwater.batch.etl import run_daily
from headwater.lake.erase import PAUSE_ENV
from tests.batch.logdata import ev, write_log
from tests.helpers import HEADWATER, Server, cli, create_key, read_log
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


OTHERS = [f"etl-other-{i}" for i in range(12)]
OTHER_DEVICE = "etl-other-device"  # etl-other-0's device: one person with them


def closed_days(data: Path) -> tuple[list[date], list[int]]:
    """Four closed received days of the person (a device, then identified) and twelve others; the
    first three loaded into the lake, the last left for the ETL. The others' DAU, counted by hand."""
    today = datetime.now(UTC).date()
    events, dau = [], []
    for back in (4, 3, 2, 1):
        day = today - timedelta(days=back)
        at, later = f"{day:%Y-%m-%d}T08:00:00.000Z", f"{day:%Y-%m-%d}T09:30:00.000Z"
        events += [
            ev(at, anon=DEVICE, event="Opened"),
            ev(later, user=PERSON, anon=DEVICE, type="identify", traits={"plan": "pro"}),
            ev(later, user=PERSON, event="Saved"),
            ev(at, anon=OTHER_DEVICE, event="Opened"),
            ev(later, user=OTHERS[0], anon=OTHER_DEVICE, type="identify"),
        ]
        active = [u for i, u in enumerate(OTHERS) if i == 0 or (i + back) % 3]
        events += [ev(later, user=u, event="Saved") for u in active[1:]]
        dau.append(len(active))
    days = write_log(data, events)
    for day in days[:-1]:
        run_daily(data, day, "UTC")
    return days, dau


class Queries(threading.Thread):
    """The DAU of the closed days, asked again and again while the deletion runs: each answer."""

    def __init__(self, srv: Server, days: list[date]) -> None:
        super().__init__(daemon=True)
        self.srv, self.days = srv, days
        self.stop = threading.Event()
        self.answers: list[tuple[int, list[int]]] = []
        self.failures: list[str] = []  # the body of every answer that was not a 200

    def run(self) -> None:
        params = {"start": str(self.days[0]), "end": str(self.days[-1]), "tz": "UTC"}
        with httpx.Client(base_url=self.srv.url, timeout=30, headers=self.srv.admin_headers) as client:
            while not self.stop.is_set():
                r = client.get("/api/v1/metrics/dau", params=params)
                values = [row["value"] for row in r.json()["rows"]] if r.status_code == 200 else []
                self.answers.append((r.status_code, values))
                if r.status_code != 200:
                    self.failures.append(f"{r.status_code}: {r.text[:2000]}")
                time.sleep(0.05)


def test_etl_and_metrics_overlap_the_lake_step_under_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    days, dau = closed_days(data)
    key = create_key(data, "load")
    with Server(data, env={PAUSE_ENV: "0.25"}) as srv:  # the lake step swaps a file each 0.25 s
        deadline = time.monotonic() + 30
        while srv.checks()["tailer_realtime"]["state"] != "caught_up" and time.monotonic() < deadline:
            time.sleep(0.1)
        load, queries = Load(srv.url, key), Queries(srv, days)
        load.start()
        queries.start()
        rid = file(srv, "SUPPRESS_WITH_DELETE", {"anonymousId": DEVICE})

        def progress() -> dict[str, Any]:
            shown = httpx.get(f"{srv.url}/api/v1/regulations/{rid}", headers=srv.admin_headers).json()
            return dict(shown["progress"])

        deadline = time.monotonic() + 60
        while progress().get("log", {}).get("status") != "FINISHED" and time.monotonic() < deadline:
            time.sleep(0.05)
        etl = subprocess.Popen(  # the last closed day's ETL, while the lake is being rewritten
            [*HEADWATER, "etl", "daily", "--date", str(days[-1]), "--json"],
            env={**os.environ, "HEADWATER_DATA_DIR": str(data)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert progress().get("lake", {}).get("status") != "FINISHED", "the lake step was over already"
        done = wait_finished(srv, rid, timeout=120)
        out, errors = etl.communicate(timeout=60)
        queries.stop.set()
        queries.join()
        time.sleep(0.5)
        load.stop.set()
        load.join()
        assert done["status"] == "FINISHED" and done["progress"]["lake"]["rows_removed"] > 0, done
        assert etl.returncode == 0, errors.decode()
        loaded = json.loads(out)["loaded"]
        yesterday = [e for e in read_log(data) if e["receivedAt"][:10] == str(days[-1])]
        assert loaded[0]["rows_out"] == len(yesterday)  # the day loaded from the erased log
        # every answer during the deletion counted the others, with or without the person
        assert queries.answers and not load.errors, (queries.answers[:3], load.errors[:3])
        assert not queries.failures, (queries.failures[:3], srv.stderr(this_run=True)[-4000:])
        assert any(values != dau for _, values in queries.answers)  # asked before the person was gone
        for _, values in queries.answers:  # day by day: a day's files are old or new, never a part
            assert {v - n for v, n in zip(values, dau, strict=True)} <= {0, 1}, (values, dau)
        # afterwards: the others' DAU is the count by hand, the person is nowhere
        final = httpx.get(
            f"{srv.url}/api/v1/metrics/dau",
            params={"start": str(days[0]), "end": str(days[-1]), "tz": "UTC"},
            headers=srv.admin_headers,
        ).json()
        assert [r["value"] for r in final["rows"]] == dau, (final, dau)
        stored = {e["messageId"] for e in read_log(data)}
        assert load.acked and load.acked <= stored, len(load.acked - stored)  # tailers kept up, no loss
        deadline = time.monotonic() + 60
        while srv.checks()["tailer_realtime"]["state"] != "caught_up" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert srv.checks()["tailer_realtime"]["last_error"] is None
        assert ids_in_files(data, [PERSON, DEVICE]) == {}
        assert ids_in_files(data / "lake", [OTHERS[0], OTHER_DEVICE, OTHERS[-1]])
