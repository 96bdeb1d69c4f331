"""Connection, head and body limits against a real server (security issue, items 1-3): idle and slow
clients are cut at a deadline, one address cannot hold the connection budget, oversized heads are
431 without being buffered, and a body is never read before its credential is checked nor beyond
its route's limit or deadline. Other clients' /healthz stays fast throughout."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Server, create_key

HEAD_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
KEEPALIVE = 1.0
CONCURRENCY = 400  # one address's default share is an eighth: 50
SHARE = CONCURRENCY // 8
TOKEN = "limits-admin-token-0123456789abcdef"
HOG = "127.0.0.3"  # the address that takes its whole share (Linux routes 127/8 to lo)
OTHER = "127.0.0.2"  # another client, which must still be served


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("limits") / "data",
        env={
            "HEADWATER_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
            "HEADWATER_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
            "HEADWATER_KEEPALIVE_TIMEOUT_SECONDS": str(KEEPALIVE),
            "HEADWATER_LIMIT_CONCURRENCY": str(CONCURRENCY),
            "HEADWATER_ADMIN_TOKEN": TOKEN,
        },
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(srv: Server) -> str:
    return create_key(srv.data_dir, "limits")


def connect(srv: Server, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", srv.port))
    return sock


def answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """What the server sends until it closes the connection (or ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        data += b"<reset>"
    return data


def head_of(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The status line and headers of the first answer (not waiting for the connection to close)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def healthz_seconds(srv: Server, source: str = OTHER) -> float:
    started = time.monotonic()
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10) as client:
        assert client.get(srv.url + "/healthz").status_code == 200
    return time.monotonic() - started


def rss_mb(srv: Server) -> float:
    assert srv.proc is not None  # one worker: `headwater serve` execs into it, same pid
    for line in Path(f"/proc/{srv.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send what the server takes; it may stop reading and close once it has answered."""
    with contextlib.suppress(OSError):
        sock.sendall(data)


# -- item 1: idle connections and one address's share ----------------------------------------------


def test_a_connection_that_sends_nothing_is_closed_at_the_head_deadline(srv: Server) -> None:
    sock = connect(srv)
    started = time.monotonic()
    assert answer(sock, timeout=10) == b""  # closed without a word
    assert HEAD_TIMEOUT - 0.2 < time.monotonic() - started < HEAD_TIMEOUT + 2
    sock.close()


def test_an_unfinished_head_is_408_at_the_deadline(srv: Server) -> None:
    sock = connect(srv)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never ends its headers
    started = time.monotonic()
    got = answer(sock, timeout=10)
    assert got.startswith(b"HTTP/1.1 408"), got[:200]
    assert b"head_timeout" in got
    assert time.monotonic() - started < HEAD_TIMEOUT + 2
    sock.close()


def test_an_idle_keep_alive_connection_is_closed(srv: Server) -> None:
    sock = connect(srv)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head_of(sock).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    assert b"HTTP" not in answer(sock, timeout=10)
    assert time.monotonic() - started < KEEPALIVE + 2
    sock.close()


def test_one_address_cannot_take_more_than_its_share(srv: Server) -> None:
    held = [connect(srv, HOG) for _ in range(SHARE)]
    try:
        time.sleep(0.2)  # the server has accepted them
        extra = [connect(srv, HOG) for _ in range(10)]
        for sock in extra:  # refused at once, by name
            got = answer(sock, timeout=3)
            assert got.startswith(b"HTTP/1.1 503"), got[:200]
            assert b"too_many_connections" in got
            sock.close()
        assert healthz_seconds(srv, OTHER) < 0.5  # another address is served at once
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5  # the share is back once they are gone
    while True:
        try:
            assert healthz_seconds(srv, HOG) < 0.5
            break
        except (AssertionError, httpx.HTTPError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- item 2: heads -------------------------------------------------------------------------------


def test_a_header_over_the_limit_and_too_many_headers_are_431(srv: Server) -> None:
    ok = httpx.get(srv.url + "/healthz", headers={"X-Big": "a" * 8000})
    assert ok.status_code == 200
    big = httpx.get(srv.url + "/healthz", headers={"X-Big": "a" * 20000})
    assert big.status_code == 431
    assert big.json()["error"]["code"] == "headers_too_large"
    many = httpx.get(srv.url + "/healthz", headers={f"X-H{i}": "v" for i in range(120)})
    assert many.status_code == 431
    assert many.json()["error"]["code"] == "too_many_headers"
    assert httpx.get(srv.url + "/healthz").status_code == 200


def test_unfinished_huge_heads_are_refused_without_being_held(srv: Server) -> None:
    before = rss_mb(srv)
    socks = [connect(srv) for _ in range(20)]
    value = b"a" * (4 << 20)  # 4 MB of one header's value each, never ended
    for sock in socks:
        send_quietly(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + value)
    try:
        for sock in socks:
            got = head_of(sock)
            assert got.startswith(b"HTTP/1.1 431"), got[:200]
        assert rss_mb(srv) - before < 30  # 80 MB were sent: none of it kept
        assert healthz_seconds(srv) < 0.5
    finally:
        for sock in socks:
            sock.close()


# -- item 3: bodies ------------------------------------------------------------------------------


DECLARED = 100 << 20  # 100 MB declared, a little sent


@pytest.mark.parametrize(
    ("path", "credential"),
    [
        ("/v1/assign", b"X-Write-Key: hw_wrong_key"),
        ("/v1/batch", b"X-Write-Key: hw_wrong_key"),
        ("/api/v1/experiments", b"Authorization: Bearer wrong-token"),
        ("/openrtb2/enrich", b"X-Api-Key: wrong-key"),
    ],
)
def test_a_wrong_credential_is_401_before_the_body_is_read(srv: Server, path: str, credential: bytes) -> None:
    before = rss_mb(srv)
    sock = connect(srv)
    started = time.monotonic()
    sock.sendall(
        b"POST "
        + path.encode()
        + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + credential
        + b'\r\nContent-Length: %d\r\n\r\n{"userId": "' % DECLARED
    )
    got = head_of(sock)
    assert got.startswith(b"HTTP/1.1 401"), got[:300]
    assert time.monotonic() - started < 0.5  # not waiting for 100 MB
    send_quietly(sock, b"a" * (8 << 20))  # what still comes is dropped, not kept
    ended = time.monotonic()
    assert b"HTTP/1.1" not in answer(sock, timeout=10)  # then the connection ends: no next request
    assert time.monotonic() - ended < 4
    sock.close()
    assert rss_mb(srv) - before < 20
    assert httpx.get(srv.url + "/healthz").status_code == 200


def test_a_body_declared_over_the_route_limit_is_413_naming_it(srv: Server, key: str) -> None:
    sock = connect(srv)
    sock.sendall(
        b"POST /v1/assign HTTP/1.1\r\nHost: x\r\nX-Write-Key: "
        + key.encode()
        + b"\r\nContent-Length: %d\r\n\r\n{" % DECLARED
    )
    got = answer(sock)
    assert got.startswith(b"HTTP/1.1 413"), got[:300]
    assert b"65536" in got and b"body_too_large" in got
    sock.close()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/assign", "X-Write-Key: {key}"),
        ("/v1/batch", "X-Write-Key: {key}"),
        ("/api/v1/experiments", "Authorization: Bearer " + TOKEN + "\r\nContent-Type: application/json"),
        ("/dashboard/login", "Content-Type: application/x-www-form-urlencoded"),
    ],
)
def test_a_body_shorter_than_declared_is_408_after_the_deadline(
    srv: Server, key: str, path: str, headers: str
) -> None:
    sock = connect(srv)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers.format(key=key)}\r\nContent-Length: 1000\r\n\r\n"
    sock.sendall(head.encode() + b"token=1")  # 7 of the 1000 bytes
    started = time.monotonic()
    got = answer(sock, timeout=10)
    assert got.startswith(b"HTTP/1.1 408"), got[:300]
    assert BODY_TIMEOUT - 0.2 < time.monotonic() - started < BODY_TIMEOUT + 2.5  # and closed
    sock.close()


def test_login_with_200_mb_is_413_at_once(srv: Server) -> None:
    sock = connect(srv)
    started = time.monotonic()
    sock.sendall(
        b"POST /dashboard/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
        b"\r\nContent-Length: %d\r\n\r\ntoken=" % (200 << 20)
    )
    got = head_of(sock)
    assert got.startswith(b"HTTP/1.1 413"), got[:300]
    assert time.monotonic() - started < 0.5
    sock.close()

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused at the 4 KiB limit, as it streams
        for _ in range(3200):
            yield b"a" * 65536

    started = time.monotonic()
    streamed = httpx.post(
        srv.url + "/dashboard/login",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert streamed.status_code == 413
    assert "4096" in streamed.json()["error"]["message"]
    assert time.monotonic() - started < 5


def test_healthz_stays_fast_while_big_bodies_and_heads_are_refused(srv: Server) -> None:
    stop = threading.Event()

    def attack(path: str, credential: bytes) -> None:
        while not stop.is_set():
            sock = connect(srv, HOG)
            send_quietly(
                sock,
                b"POST "
                + path.encode()
                + b" HTTP/1.1\r\nHost: x\r\n"
                + credential
                + b"\r\nContent-Length: %d\r\n\r\n" % DECLARED
                + b"a" * (16 << 20),
            )
            sock.close()
            sock = connect(srv, HOG)
            send_quietly(sock, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (4 << 20))
            sock.close()

    calm = sorted(healthz_seconds(srv) for _ in range(15))  # this machine's speed now, as a reference
    attackers = [
        threading.Thread(target=attack, args=("/v1/assign", b"X-Write-Key: hw_wrong")),
        threading.Thread(target=attack, args=("/v1/assign", b"X-Write-Key: hw_wrong")),
        threading.Thread(target=attack, args=("/v1/assign", b"X-Write-Key: hw_wrong")),
        threading.Thread(target=attack, args=("/dashboard/login", b"X-Form: 1")),
    ]
    for thread in attackers:
        thread.start()
    try:
        time.sleep(0.3)
        during = sorted(healthz_seconds(srv) for _ in range(15))
    finally:
        stop.set()
        for thread in attackers:
            thread.join(30)
    # the typical answer stays within a few times the calm one (a busy machine slows both), and
    # none waits for an attacker's body: that would take seconds
    assert during[7] < max(0.25, 5 * calm[7]), (calm, during)
    assert during[-1] < 2.0, (calm, during)
