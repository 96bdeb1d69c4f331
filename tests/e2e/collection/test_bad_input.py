"""Every bad input of issue 2 against a real server: a clear answer, nothing accepted lost."""

from __future__ import annotations

import gzip
import json
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Server, cli, read_log


def post(server: Server, path: str, body: Any, key: str | None = None, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", {})
    if key is not None:
        headers.setdefault("X-Write-Key", key)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + path, content=content, headers=headers, timeout=30, **kw)


def ev(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "track",
        "event": "Clicked",
        "userId": "u1",
        "messageId": str(uuid.uuid4()),
    }
    base.update(extra)
    return base


def logged_ids(server: Server) -> set[str]:
    return {e["messageId"] for e in read_log(server.data_dir)}


def quarantined(server: Server) -> list[dict[str, Any]]:
    return read_log(server.data_dir, "quarantine")


def error_of(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert body["success"] is False
    err: dict[str, Any] = body["error"]
    assert err["code"] and err["message"]
    return err


# -- bodies that are not what they should be -----------------------------------------------


def test_body_not_json_is_400_and_kept_in_quarantine(server: Server, write_key: str) -> None:
    resp = post(server, "/v1/batch", b'{"batch": [ this is not json', write_key)
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "invalid_json"
    assert any(q.get("body", "").startswith('{"batch": [ this is') for q in quarantined(server))


def test_body_not_utf8(server: Server, write_key: str) -> None:
    resp = post(server, "/v1/batch", b'{"batch": [{"event": "\xff\xfe"}]}', write_key)
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "not_utf8"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1/batch", [1, 2, 3], "not_a_batch"),
        ("/v1/batch", "just a string", "not_a_batch"),
        ("/v1/batch", {"batch": {"type": "track"}}, "not_a_batch"),
        ("/v1/batch", {"batch": "nope"}, "not_a_batch"),
        ("/v1/batch", {"events": []}, "not_a_batch"),
        ("/v1/track", [ev()], "not_an_event"),
        ("/v1/track", 42, "not_an_event"),
        ("/api/events", "a string", "not_an_event"),
    ],
)
def test_json_that_is_not_an_object_or_a_batch(
    server: Server, write_key: str, path: str, body: Any, code: str
) -> None:
    resp = post(server, path, body, write_key)
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["code"] == code
    assert "batch" in err["message"] or "event" in err["message"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_literals_are_not_json(server: Server, write_key: str, literal: bytes) -> None:
    body = (
        b'{"batch": [{"type": "track", "event": "x", "userId": "u", "properties": {"v": ' + literal + b"}}]}"
    )
    resp = post(server, "/v1/batch", body, write_key)
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "invalid_json"


# -- authentication ---------------------------------------------------------------------------


def test_missing_write_key_is_401(server: Server) -> None:
    resp = post(server, "/v1/batch", {"batch": [ev()]})
    assert resp.status_code == 401
    err = error_of(resp)
    assert err["code"] == "missing_write_key"
    assert "Basic" in err["message"] and "writeKey" in err["message"]


def test_unknown_write_key_is_401(server: Server) -> None:
    for resp in (
        post(server, "/v1/batch", {"batch": [ev()], "writeKey": "hw_nope"}),
        post(server, "/v1/batch", {"batch": [ev()]}, headers={"Authorization": "Basic aHdfbm9wZTo="}),
        post(server, "/v1/batch", {"batch": [ev()]}, "hw_nope"),
    ):
        assert resp.status_code == 401
        assert error_of(resp)["code"] == "unknown_write_key"


def test_key_from_body_basic_auth_or_header(server: Server, write_key: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    r1 = post(server, "/v1/batch", {"batch": [ev(messageId=ids[0])], "writeKey": write_key})
    r2 = httpx.post(server.url + "/v1/batch", json={"batch": [ev(messageId=ids[1])]}, auth=(write_key, ""))
    r3 = post(server, "/v1/batch", {"batch": [ev(messageId=ids[2])]}, write_key)
    assert [r.status_code for r in (r1, r2, r3)] == [200, 200, 200]
    assert set(ids) <= logged_ids(server)


def test_revoked_key_is_refused(server: Server) -> None:
    key = cli(server.data_dir, "keys", "create", "soon-revoked").stdout.strip().splitlines()[-1]
    assert post(server, "/v1/batch", {"batch": [ev()]}, key).status_code == 200
    out = cli(server.data_dir, "keys", "revoke", key)
    assert "revoked" in out.stdout
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        resp = post(server, "/v1/batch", {"batch": [ev()]}, key)
        if resp.status_code == 401:
            break
        time.sleep(0.2)
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "revoked_write_key"


# -- sizes -----------------------------------------------------------------------------------


def test_event_over_32kb_in_a_batch_is_quarantined(server: Server, write_key: str) -> None:
    big = ev(properties={"blob": "x" * 40_000})
    small = ev()
    resp = post(server, "/v1/batch", {"batch": [small, big]}, write_key)
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"index": 1, "code": "event_too_large", "error": body["rejected"][0]["error"]}
    ]
    assert "32768" in body["rejected"][0]["error"]
    assert small["messageId"] in logged_ids(server)
    assert big["messageId"] not in logged_ids(server)
    assert any(q.get("event", {}).get("messageId") == big["messageId"] for q in quarantined(server))


def test_single_event_over_32kb_is_413(server: Server, write_key: str) -> None:
    resp = post(server, "/v1/track", ev(properties={"blob": "x" * 40_000}), write_key)
    assert resp.status_code == 413
    assert error_of(resp)["code"] == "event_too_large"


def test_request_over_500kb_is_413(server: Server, write_key: str) -> None:
    batch = [ev(properties={"blob": "y" * 20_000}) for _ in range(30)]  # ~600 KB
    resp = post(server, "/v1/batch", {"batch": batch}, write_key)
    assert resp.status_code == 413
    assert error_of(resp)["code"] == "body_too_large"
    ids = logged_ids(server)
    assert not any(e["messageId"] in ids for e in batch)


def test_request_over_500kb_without_content_length_is_413(server: Server, write_key: str) -> None:
    chunk = json.dumps(ev(properties={"blob": "z" * 20_000})).encode()

    def body() -> Any:
        yield b'{"batch": ['
        for i in range(30):
            yield (b"," if i else b"") + chunk
        yield b"]}"

    resp = httpx.post(
        server.url + "/v1/batch", content=body(), headers={"X-Write-Key": write_key}, timeout=30
    )
    assert resp.status_code == 413


def test_gzip_bomb_is_413_and_stops_at_the_limit(server: Server, write_key: str) -> None:
    inner = b'{"batch": [' + b" " * (200 * 1024 * 1024) + b"]}"  # 200 MB of spaces
    bomb = gzip.compress(inner, compresslevel=9)
    assert len(bomb) < 500_000
    started = time.monotonic()
    resp = post(server, "/v1/batch", bomb, write_key, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 413
    assert "decompressed" in error_of(resp)["message"]
    assert time.monotonic() - started < 5  # it did not inflate 200 MB
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_gzip_body_whatever_the_content_type(server: Server, write_key: str) -> None:
    e = ev()
    body = gzip.compress(json.dumps({"batch": [e]}).encode())
    resp = post(
        server,
        "/v1/batch",
        body,
        write_key,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200 and resp.json()["accepted"] == 1
    assert e["messageId"] in logged_ids(server)


def test_truncated_gzip_is_400(server: Server, write_key: str) -> None:
    body = gzip.compress(json.dumps({"batch": [ev()]}).encode())[:-12]
    resp = post(server, "/v1/batch", body, write_key, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "bad_gzip"


def test_unsupported_content_encoding_is_415(server: Server, write_key: str) -> None:
    resp = post(server, "/v1/batch", b"\x00\x01", write_key, headers={"Content-Encoding": "br"})
    assert resp.status_code == 415
    assert "gzip" in error_of(resp)["message"]


# -- events that break the rules ---------------------------------------------------------------


def test_mixed_batch_keeps_the_good_and_quarantines_the_bad(server: Server, write_key: str) -> None:
    good1, good2 = ev(), ev(type="identify", traits={"plan": "pro"})
    bad = [
        ev(userId=None),  # no id at all
        ev(type="purchase"),  # unknown type
        ev(timestamp="yesterday at noon"),  # unparseable
        ev(messageId="m" * 101),  # messageId too long
        ev(properties={"a": _nested(50)}),  # nested too deep
        "not an object",
        ev(event=""),  # track without a name
        ev(type="alias", previousId=None),
        ev(properties=[1, 2]),
    ]
    batch = [good1, *bad, good2]
    resp = post(server, "/v1/batch", {"batch": batch}, write_key)
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 2
    codes = {r["index"]: r["code"] for r in body["rejected"]}
    assert codes == {
        1: "missing_id",
        2: "unknown_type",
        3: "bad_timestamp",
        4: "message_id_too_long",
        5: "too_deep",
        6: "not_an_object",
        7: "missing_event",
        8: "missing_previous_id",
        9: "bad_field",
    }
    messages = {r["index"]: r["error"] for r in body["rejected"]}
    assert "userId" in messages[1] and "timestamp" in messages[3] and "messageId" in messages[4]
    assert "properties" in messages[5] and "properties" in messages[9]
    ids = logged_ids(server)
    assert good1["messageId"] in ids and good2["messageId"] in ids
    q = [r for r in quarantined(server) if r.get("source") == "module-source"]
    for index, code in codes.items():
        assert any(r["code"] == code and r["event"] == batch[index] for r in q), code
    # the connection's address is kept under the same IP policy as accepted events (truncate)
    assert {r["ip"] for r in q if "event" in r} == {"127.0.0.0"}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


def test_whole_body_nested_too_deep_is_400(server: Server, write_key: str) -> None:
    body = b'{"batch": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    resp = post(server, "/v1/batch", body, write_key)
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "too_deep"


def test_timestamp_far_in_the_future_is_clamped_and_flagged(server: Server, write_key: str) -> None:
    e = ev(timestamp="2099-01-01T00:00:00Z")
    resp = post(server, "/v1/batch", {"batch": [e]}, write_key)
    assert resp.status_code == 200
    assert resp.json()["warnings"] == [{"index": 0, "flags": ["future_timestamp_clamped"]}]
    stored = next(x for x in read_log(server.data_dir) if x["messageId"] == e["messageId"])
    assert stored["timestamp"] == stored["receivedAt"]
    assert stored["originalTimestamp"] == "2099-01-01T00:00:00Z"
    assert stored["_hw"]["flags"] == ["future_timestamp_clamped"]


def test_single_event_endpoint_answers_400_naming_the_field(server: Server, write_key: str) -> None:
    resp = post(server, "/v1/track", {"event": "x", "userId": "u", "timestamp": "not-a-time"}, write_key)
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["code"] == "bad_timestamp" and "'timestamp'" in err["message"]


def test_ten_thousand_events_in_one_batch(server: Server, write_key: str) -> None:
    # compact, so 10,000 events fit under the 500 KB request limit
    batch = [{"type": "track", "event": "tenk", "userId": f"u{i}"} for i in range(10_000)]
    body = json.dumps({"batch": batch}, separators=(",", ":")).encode()
    assert len(body) < 500 * 1024
    resp = post(server, "/v1/batch", body, write_key)
    assert resp.status_code == 200
    assert resp.json() == {"success": True, "accepted": 10_000, "rejected": []}
    stored = [e for e in read_log(server.data_dir) if e.get("event") == "tenk"]
    assert sorted(e["userId"] for e in stored) == sorted(f"u{i}" for i in range(10_000))
    assert len({e["messageId"] for e in stored}) == 10_000  # each got its own generated messageId


def test_empty_batch(server: Server, write_key: str) -> None:
    resp = post(server, "/v1/batch", {"batch": []}, write_key)
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 0 and body["rejected"] == []
    assert "empty" in body["warnings"][0]["message"]


# -- slow and vanishing clients ------------------------------------------------------------------


def test_slowloris_body_times_out_and_does_not_block_others(server: Server, write_key: str) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Write-Key: " + write_key.encode() + b"\r\nContent-Length: 100000\r\n\r\n"
        )
        started = time.monotonic()
        # meanwhile, an ordinary client is served at once
        e = ev()
        fast = post(server, "/v1/batch", {"batch": [e]}, write_key)
        assert fast.status_code == 200
        assert time.monotonic() - started < 2
        sock.sendall(b'{"batch": [')
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert time.monotonic() - started < 8  # the fixture's body timeout is 3 s
    finally:
        sock.close()


def test_slow_headers_do_not_block_others(server: Server, write_key: str) -> None:
    socks = []
    try:
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
            socks.append(s)
        resp = post(server, "/v1/batch", {"batch": [ev()]}, write_key)
        assert resp.status_code == 200
    finally:
        for s in socks:
            s.close()


def test_client_disconnecting_mid_body(server: Server, write_key: str) -> None:
    marker = f"gone-{uuid.uuid4()}"
    gone_before = disconnects(server)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nX-Write-Key: " + write_key.encode() + b"\r\n"
            b"Content-Length: 5000\r\n\r\n" + json.dumps({"batch": [ev(messageId=marker)]}).encode()[:-3]
        )
        s.close()
    # the server has met all five disconnects (it counts them) before the log is looked at
    deadline = time.monotonic() + 10
    while disconnects(server) < gone_before + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert disconnects(server) == gone_before + 5
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert post(server, "/v1/batch", {"batch": [ev()]}, write_key).status_code == 200
    assert marker not in logged_ids(server)


def disconnects(server: Server) -> float:
    """Requests whose client went away mid-body, as /metrics counts them."""
    text = server.metrics()
    found = re.search(
        r'^headwater_requests_total\{route="batch",status="disconnect"\} ([0-9.e+]+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_wrong_method_is_405(server: Server) -> None:
    resp = httpx.get(server.url + "/v1/batch")
    assert resp.status_code == 405
    assert "POST" in resp.headers["allow"]


# -- the log cannot take the events: 503, never a 200 --------------------------------------------


def _today_file(data_dir: Path, kind: str = "events") -> Path:
    from datetime import UTC, datetime

    return data_dir / "log" / f"{kind}-{datetime.now(UTC):%Y%m%d}.t.jsonl"


def test_disk_full_is_503_then_recovers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "log").mkdir(parents=True)
    target = _today_file(data)
    target.symlink_to("/dev/full")  # every write gets ENOSPC from the kernel
    with Server(data) as srv:
        key = cli(data, "keys", "create", "full").stdout.strip().splitlines()[-1]
        e = ev()
        resp = post(srv, "/v1/batch", {"batch": [e]}, key)
        assert resp.status_code == 503
        err = error_of(resp)
        assert err["code"] == "log_unavailable" and "space" in err["message"].lower()
        assert resp.headers["retry-after"]
        ready = httpx.get(srv.url + "/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "not_ready"}
        target.unlink()
        resp = post(srv, "/v1/batch", {"batch": [e]}, key)
        assert resp.status_code == 200
        assert httpx.get(srv.url + "/readyz").status_code == 200
        assert [x["messageId"] for x in read_log(data)] == [e["messageId"]]


def test_log_not_writable_is_503(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "log").mkdir(parents=True)
    _today_file(data).mkdir()  # where today's file should be, a directory: open() fails
    with Server(data) as srv:
        key = cli(data, "keys", "create", "ro").stdout.strip().splitlines()[-1]
        resp = post(srv, "/v1/batch", {"batch": [ev()]}, key)
        assert resp.status_code == 503
        assert error_of(resp)["code"] == "log_unavailable"
        single = post(srv, "/v1/track", ev(), key)
        assert single.status_code == 503


def test_free_disk_below_the_minimum_is_503(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = Server(data, env={"HEADWATER_MIN_FREE_DISK_MB": str(1 << 40)})
    srv.start(wait_ready=False)
    try:
        _wait_healthy(srv)
        key = cli(data, "keys", "create", "min").stdout.strip().splitlines()[-1]
        resp = post(srv, "/v1/batch", {"batch": [ev()]}, key)
        assert resp.status_code == 503
        assert "free" in error_of(resp)["message"]
        ready = srv.readyz()
        assert ready.status_code == 503 and "minimum" in ready.json()["checks"]["disk"]
        assert read_log(data) == []
    finally:
        srv.stop()


def _wait_healthy(srv: Server) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(srv.url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(srv.stderr())
