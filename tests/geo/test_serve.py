"""`headwater serve` with geo: an unusable database stops the start with one line (no traceback);
a running server stores the country (and the region of a City database) of the full address while
the IP policy truncates the stored one; `headwater config` shows the settings."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.geo.databases import write_asn, write_city
from tests.helpers import HEADWATER, Server, cli, create_key, free_port, read_log

PROXY = "127.0.0.1"  # the test client's address: a trusted proxy, so X-Forwarded-For is believed


def _serve(data: Path, database: str) -> subprocess.CompletedProcess[str]:
    env = {
        "HEADWATER_DATA_DIR": str(data),
        "HEADWATER_PORT": str(free_port()),
        "HEADWATER_GEOIP_DATABASE": database,
    }
    return subprocess.run(
        [*HEADWATER, "serve"],
        capture_output=True,
        text=True,
        env={**_base_env(), **env},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}


@pytest.mark.parametrize("kind", ["missing", "garbage", "asn"])
def test_serve_refuses_an_unusable_database_with_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.mmdb"
    if kind == "garbage":
        path.write_bytes(b"\x00" * 4096)
    elif kind == "asn":
        write_asn(path)
    done = _serve(tmp_path / "data", str(path))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: setting 'geoip_database' (env HEADWATER_GEOIP_DATABASE): "), lines
    assert str(path) in lines[0]
    assert not (tmp_path / "data" / "log").exists()  # refused before anything was made


def _send(srv: Server, key: str, events: list[dict[str, object]], forwarded: str | None = None) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    r = httpx.post(f"{srv.url}/v1/batch", json={"batch": events}, auth=(key, ""), headers=headers, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def _logged(data: Path) -> dict[str, dict[str, object]]:
    return {e["messageId"]: e["context"] for e in read_log(data)}


def test_a_server_with_a_city_database_stores_country_and_region(tmp_path: Path) -> None:
    data = tmp_path / "data"
    city = write_city(tmp_path / "GeoLite2-City.mmdb")
    env = {"HEADWATER_GEOIP_DATABASE": str(city), "HEADWATER_TRUSTED_PROXIES": f'["{PROXY}"]'}
    shown = json.loads(cli(data, "config", "--json", env=env).stdout)
    assert shown["geoip"] is True and shown["geoip_database"] == str(city)
    key = create_key(data, env=env)
    with Server(data, env=env) as srv:
        track = {"type": "track", "event": "Clicked", "userId": "u1"}
        _send(srv, key, [{**track, "messageId": "forwarded"}], forwarded="81.2.69.142")
        _send(
            srv,
            key,
            [
                {**track, "messageId": "sdk", "context": {"ip": "211.234.5.6"}},  # a server SDK's
                {
                    **track,
                    "messageId": "own",
                    "context": {"ip": "211.234.5.6", "location": {"country": "JP"}},
                },
                {**track, "messageId": "local"},  # 127.0.0.1: no location
            ],
        )
    logged = _logged(data)
    assert logged["forwarded"]["ip"] == "81.2.69.0"
    assert logged["forwarded"]["location"] == {"country": "GB", "region": "GB-ENG"}
    assert logged["sdk"] == {"ip": "211.234.5.0", "location": {"country": "KR", "region": "KR-11"}}
    assert logged["own"]["location"] == {"country": "JP"}
    assert "location" not in logged["local"]


def test_a_server_without_configuration_stores_the_country(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = create_key(data)
    with Server(data) as srv:
        event = {"type": "page", "anonymousId": "a1", "messageId": "m1", "context": {"ip": "8.8.8.8"}}
        _send(srv, key, [event])
    assert _logged(data)["m1"] == {"ip": "8.8.8.0", "location": {"country": "US"}}
    off = tmp_path / "off"
    key = create_key(off)
    with Server(off, env={"HEADWATER_GEOIP": "false"}) as srv:
        _send(
            srv, key, [{"type": "page", "anonymousId": "a1", "messageId": "m2", "context": {"ip": "8.8.8.8"}}]
        )
    assert _logged(off)["m2"] == {"ip": "8.8.8.0"}
