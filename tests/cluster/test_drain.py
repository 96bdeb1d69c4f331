"""A real server in a cluster (PostgreSQL for the leases, a GCS emulator for the logs and the lake):
it announces itself, `headwater cluster drain` stops its collection with 503 `draining`, makes
/readyz not ready, ships today's file too and releases its leases; `join` brings it back."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.config import Settings
from headwater.shipping.manifest import Manifest
from headwater.shipping.parts import download
from headwater.stores.objects import open_object_store
from tests.helpers import Server, cli, create_key
from tests.object_stores import StoreServer


def _status(data: Path, env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cli(data, "cluster", "status", "--json", env=env).stdout)
    return out


def _send(srv: Server, key: str) -> httpx.Response:
    event = {"type": "track", "event": "Clicked", "userId": "u1", "messageId": str(uuid.uuid4())}
    return httpx.post(srv.url + "/v1/batch", json={"batch": [event]}, headers={"X-Write-Key": key})


def test_drain_and_join(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    env = {
        "HEADWATER_CLUSTER": "1",
        "HEADWATER_OBJECT_STORE_URL": bucket,
        "HEADWATER_DATABASE_URL": pg_url,
        "HEADWATER_WRITER_ID": "host-a",
    }
    data = tmp_path / "data"
    key = create_key(data, "web", env=env)
    with Server(data, env=env) as srv:
        assert _send(srv, key).status_code == 200
        deadline = time.monotonic() + 30
        while not (hosts := _status(data, env)["hosts"]) and time.monotonic() < deadline:
            time.sleep(0.3)  # the scheduler's first turn announces the host
        assert [(h["host"], h["state"]) for h in hosts] == [("host-a", "alive")], hosts
        assert hosts[0].get("writers") == ["host-a"], hosts
        assert "tailer_realtime" in hosts[0]["tailers"], hosts  # the server's tailers, with their lag

        drained = json.loads(cli(data, "cluster", "drain", "--json", env=env).stdout)
        today = time.strftime("%Y%m%d", time.gmtime())
        assert drained["errors"] == {}, drained
        refused = _send(srv, key)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "draining", refused.text
        assert refused.headers["retry-after"] == "5"
        ready = srv.readyz()
        assert ready.status_code == 503
        assert "draining" in srv.checks()["cluster"]
        assert [h["state"] for h in _status(data, env)["hosts"]] == ["left"]
        # what was acknowledged before the drain is in the bucket, byte for byte: today's file in
        # hourly parts (docs/scale-out.md), the last one shipped by the drain without waiting for
        # the hour to close (unless the first turn's part held everything already)
        local = data / "log" / f"events-{today}.host-a.jsonl"
        store = open_object_store(bucket)
        parts = [o for o in store.list("log/events/") if f"events-{today}.host-a.jsonl.part-" in o.key]
        assert parts and sum(o.size for o in parts) == local.stat().st_size, parts
        assert all(p.rsplit("/", 1)[-1] in drained["shipped"] for p in [o.key for o in parts][1:])
        fetched = tmp_path / "fetched"
        entries = Manifest(store, Settings(data_dir=tmp_path / "reader")).load().entries
        download(store, entries[local.name], fetched)
        assert fetched.read_bytes() == local.read_bytes()
        store.close()

        out = cli(data, "cluster", "join", env=env).stdout
        assert "Joined" in out
        deadline = time.monotonic() + 5
        while (answer := _send(srv, key)).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer.status_code == 200 and srv.readyz().status_code == 200
        assert [h["state"] for h in _status(data, env)["hosts"]] == ["alive"]


def test_cluster_commands_refuse_a_host_outside_a_cluster(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "keys", "create", "web")
    out = cli(data, "cluster", "status", check=False)
    assert (
        out.returncode == 2 and "not part of a cluster" in out.stderr and "HEADWATER_CLUSTER=1" in out.stderr
    )


def test_a_cluster_setting_without_its_stores_is_refused(tmp_path: Path) -> None:
    out = cli(tmp_path / "data", "config", env={"HEADWATER_CLUSTER": "1"}, check=False)
    assert out.returncode == 2 and "HEADWATER_OBJECT_STORE_URL" in out.stderr, out.stderr
    out = cli(
        tmp_path / "data",
        "config",
        env={"HEADWATER_CLUSTER": "1", "HEADWATER_OBJECT_STORE_URL": "gs://my-bucket/p"},
        check=False,
    )
    assert out.returncode == 2 and "PostgreSQL HEADWATER_DATABASE_URL" in out.stderr, out.stderr


def test_the_lake_commands_of_a_cluster_host_go_through_the_lease(tmp_path: Path) -> None:
    env = {
        "HEADWATER_CLUSTER": "1",
        "HEADWATER_OBJECT_STORE_URL": "gs://my-bucket/p",
        "HEADWATER_DATABASE_URL": "postgresql://db/headwater",
    }
    out = cli(tmp_path / "data", "etl", "daily", "--date", "2026-12-01", env=env, check=False)
    assert out.returncode == 2 and "headwater cluster turn" in out.stderr, out.stderr
