"""The collector's body parsing under fuzzing (issue 18): whatever bytes a client sends, the answer is
an acceptance whose stored lines read back, or a refusal that says what is wrong (the event's field
by name) — never an exception of another kind, never a 500.

Three layers: one message through the normalizer (events/normalize.py: EventError or an event that
encodes and decodes back to itself); whole bodies through the collector's ASGI app in this process
(http/collect.py with the real ingestor, the log writers replaced by buffers); and ~200 bodies
against a real server, which must stay healthy. Arbitrary bytes, arbitrary JSON, and near-valid
Segment batches: random types in the known fields, deep nesting, invalid UTF-8, NaN, duplicate
keys, long strings, numbers out of range, timestamps from year 0 to 10000 and past the offsets.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from headwater.collector.ingest import Ingestor
from headwater.config import Settings
from headwater.events.errors import EventError
from headwater.events.model import EVENT_TYPES, HW
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.events.timestamps import parse_timestamp
from headwater.http.collect import BATCH_ROUTES, SINGLE_ROUTES, CollectorApp
from headwater.stores.sql.ports import WriteKey
from tests.helpers import Server

KEY = "hw_fuzz_write_key"
#: codes whose message is about the whole event or body, not one field of it
WHOLE = {"not_an_object", "event_too_large"}
FIELD = re.compile(r"'[^']+'")  # a field named in a message: 'userId', 'properties' ...
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same bodies on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# -- strategies -------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
OFFSETS = [
    timezone(timedelta(hours=h, minutes=m)) for h, m in [(0, 0), (14, 0), (-12, 0), (5, 30), (-23, -59)]
]
EDGE_TIMESTAMPS = [
    "0000-01-01T00:00:00Z",  # year 0 and year 10000: no such datetime
    "10000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # a datetime, but not in UTC
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z",  # the bounds themselves, which a clock-skew correction pushes past
    "9999-12-31T23:59:59.999Z",
    "2026-02-30T00:00:00Z",
    "2026-01-05T10:00:00.1234567890123Z",
    "2026-01-05T25:00:00Z",
    "2026-01-05",
    "1767607200",
    "",
]
ends_of_time = st.datetimes(max_value=datetime(1, 1, 2)) | st.datetimes(min_value=datetime(9999, 12, 30))
timestamps = st.one_of(
    st.sampled_from(EDGE_TIMESTAMPS),
    ends_of_time.map(datetime.isoformat),
    st.builds(datetime.isoformat, ends_of_time.map(lambda d: d.replace(tzinfo=None)), st.just("T")).map(
        lambda text: text + "+14:00" if text.startswith("0001") else text + "-12:00"
    ),
    st.datetimes(timezones=st.sampled_from(OFFSETS)).map(datetime.isoformat),
    st.text(max_size=70),
    scalars,
)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return {"deep": value}


objects = (
    st.dictionaries(st.text(max_size=10), json_values, max_size=5) | st.integers(0, 70).map(nested) | scalars
)
ids = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just("u" * 1025),  # one over MAX_ID_LENGTH
    json_values,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from([*sorted(EVENT_TYPES), "bogus", "", "Track"]) | json_values,
        "event": st.text(max_size=20) | st.just("E" * 600) | json_values,
        "userId": ids,
        "anonymousId": ids,
        "previousId": ids,
        "groupId": ids,
        "messageId": st.text(max_size=20) | st.just("m" * 101) | json_values,
        "timestamp": timestamps,
        "originalTimestamp": timestamps,
        "sentAt": timestamps,
        "properties": objects,
        "traits": objects,
        "context": objects | st.fixed_dictionaries({"ip": ids, "userAgent": ids}),
        "integrations": objects,
        "event_type": st.text(max_size=10),  # /api/events' snake_case
        "user_id": ids,
        "tool_id": ids,
    },
)
batches = st.fixed_dictionaries(
    {"batch": st.lists(messages, max_size=4) | json_values},
    optional={"sentAt": timestamps, "context": objects, "writeKey": ids},
)


@st.composite
def mangled(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> bytes:
    """A document as JSON text, then maybe broken the ways clients and attackers break it."""
    text = json.dumps(draw(documents), ensure_ascii=draw(st.booleans()))
    how = draw(
        st.sampled_from(["plain", "plain", "duplicate", "nan", "huge", "utf8", "truncate", "deep", "gzip"])
    )
    if how == "duplicate" and text.startswith("{"):  # the same key twice: the last one wins
        text = '{"type": "track", "userId": "dup", "batch": [],' + text[1:] if len(text) > 2 else text
    elif how == "nan":
        text = re.sub(r"(?<=: )(\d+)", draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])), text, count=1)
    elif how == "huge":
        text = re.sub(r"(?<=: )(\d+)", draw(st.sampled_from(["1e400", "-1e400", "9" * 400])), text, count=1)
    elif how == "deep":
        depth = draw(st.integers(60, 5000))
        text = text.replace("{", '{"x": ' + "[" * depth + "]" * depth + ",", 1)
    raw = text.encode()
    if how == "utf8":  # invalid UTF-8 (a lone byte, a surrogate, an overlong form) somewhere
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"])) + raw[at:]
    elif how == "truncate":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif how == "gzip":
        raw = gzip.compress(raw)
    return raw


# -- one message through the normalizer -------------------------------------------------------------


def _check_refusal(exc: EventError) -> None:
    assert exc.code and exc.message, exc
    assert exc.code in WHOLE or FIELD.search(exc.message), f"the message names no field: {exc}"


def _check_event(ev: dict[str, Any]) -> None:
    line = msgspec.json.encode(ev)
    back = msgspec.json.decode(line)
    assert back == ev and msgspec.json.encode(back) == line  # the stored line reads back as it was
    assert back["type"] in EVENT_TYPES and isinstance(back["messageId"], str) and HW in back
    assert back.get("userId") or back.get("anonymousId")
    assert parse_timestamp(back["timestamp"]) is not None, back["timestamp"]


@FUZZ
@given(
    raw=messages | json_values,
    sent_at=st.none() | st.datetimes(min_value=datetime(1, 1, 2), timezones=st.just(UTC)),
    path_type=st.none() | st.sampled_from(sorted(EVENT_TYPES)),
    api_format=st.booleans(),
)
def test_the_normalizer_accepts_or_names_the_field(
    raw: Any, sent_at: datetime | None, path_type: str | None, api_format: bool
) -> None:
    raw = msgspec.json.decode(json.dumps(raw))  # what the collector has: decoded JSON
    req = RequestInfo(
        received_at=datetime.now(UTC),
        source="fuzz",
        sent_at=sent_at,
        path_type=path_type,
        api_format=api_format,
    )
    try:
        ev = Normalizer().normalize(raw, req)
    except EventError as exc:
        _check_refusal(exc)
        return
    _check_event(ev)


# -- whole bodies through the collector's app, in this process --------------------------------------


class Buffer:
    """A log writer that keeps what is appended."""

    def __init__(self) -> None:
        self.data = bytearray()

    async def append(self, day: Any, data: bytes) -> None:
        self.data += data


class Keys:
    async def lookup(self, key: str) -> WriteKey | None:
        return WriteKey(KEY, "fuzz", datetime.now(UTC)) if key == KEY else None

    def is_revoked(self, key: str) -> bool:
        return False


class Collector:
    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings(data_dir=data_dir, max_request_bytes=256 * 1024)
        self.events, self.quarantine = Buffer(), Buffer()
        ingestor = Ingestor(Normalizer(), self.events, self.quarantine, self.settings.max_event_bytes)  # type: ignore[arg-type]
        self.app = CollectorApp(self.settings, ingestor, Keys())  # type: ignore[arg-type]
        self.loop = asyncio.new_event_loop()

    def post(self, path: str, body: bytes, encoding: str = "") -> tuple[int, dict[str, Any]]:
        headers = [(b"x-write-key", KEY.encode()), (b"content-length", str(len(body)).encode())]
        if encoding:
            headers.append((b"content-encoding", encoding.encode()))
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": headers,
            "client": ("10.1.2.3", 5000),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(self.app(scope, receive, send))
        return sent[0]["status"], msgspec.json.decode(sent[1]["body"])

    def check(self, path: str, body: bytes) -> None:
        encoding = "gzip" if body[:2] == b"\x1f\x8b" else ""
        stored = len(self.events.data)
        status, answer = self.post(path, body, encoding)
        assert status in (200, 400, 413), (status, answer, body[:300])
        new_lines = bytes(self.events.data[stored:]).splitlines()
        if status == 200:
            assert answer["success"] is True and answer["accepted"] == len(new_lines), answer
        else:
            assert answer["success"] is False and answer["error"]["code"] and answer["error"]["message"]
            assert not new_lines
        for rejected in answer.get("rejected", []):
            assert rejected["code"] != "unencodable", rejected  # the safety net caught a normalizer bug
            _check_refusal(EventError(rejected["code"], rejected["error"]))
        for line in new_lines:
            _check_event(msgspec.json.decode(line))

    def close(self) -> None:
        self.loop.close()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    found = Collector(tmp_path_factory.mktemp("collector") / "data")
    yield found
    found.close()


@FUZZ
@given(body=st.binary(max_size=2000), path=st.sampled_from(["/v1/batch", "/v1/track", "/api/events"]))
def test_arbitrary_bytes(collector: Collector, body: bytes, path: str) -> None:
    collector.check(path, body)


@FUZZ
@given(body=mangled(json_values), path=st.sampled_from(["/v1/batch", "/v1/identify", "/api/events"]))
def test_arbitrary_json(collector: Collector, body: bytes, path: str) -> None:
    collector.check(path, body)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_near_valid_segment_bodies(collector: Collector, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from([*BATCH_ROUTES, *SINGLE_ROUTES, "/api/events"]))
    if path in BATCH_ROUTES:
        document = batches
    elif path == "/api/events":
        document = messages | st.lists(messages, max_size=4)
    else:
        document = messages
    collector.check(path, data.draw(mangled(document)))


# -- against a real server ---------------------------------------------------------------------------


def test_a_real_server_answers_every_body_and_stays_healthy(server: Server, write_key: str) -> None:
    headers = {"X-Write-Key": write_key, "Content-Type": "application/json"}

    @settings(FUZZ, max_examples=200, phases=[Phase.explicit, Phase.generate])  # no shrinking: slow here
    @given(body=mangled(batches))
    def post(body: bytes) -> None:
        gzipped = {"Content-Encoding": "gzip"} if body[:2] == b"\x1f\x8b" else {}
        r = httpx.post(server.url + "/v1/batch", content=body, headers={**headers, **gzipped}, timeout=30)
        assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:500], body[:300])
        if r.status_code != 200:
            answer = r.json()
            assert answer["success"] is False and answer["error"]["code"] and answer["error"]["message"]

    post()
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    # what was accepted also went through every tailer (realtime, live, audiences) without failing
    # one: an event time they cannot handle used to stop the realtime aggregates for good
    deadline = time.monotonic() + 30
    while True:
        ready = server.readyz()
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
        tailers = {
            name: c for name, c in ready.json()["checks"].items() if isinstance(c, dict) and "state" in c
        }
        settled = [
            c["state"] == "caught_up" and not c["lag_events"] and not c["last_error"]
            for c in tailers.values()
        ]
        if tailers and all(settled):
            break
        assert time.monotonic() < deadline, f"a tailer did not catch up, or failed: {tailers}"
        time.sleep(0.2)
    assert "Traceback" not in server.stderr(), server.stderr()[-3000:]
