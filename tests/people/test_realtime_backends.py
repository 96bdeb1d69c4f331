"""What the people pages read of the realtime store (identity links, sessions, active users), the
same on SQLite and PostgreSQL: a person merged by today's link only, their session, a search by
the start of an id over the days the lake does not hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.people.person import resolve_person
from headwater.people.profile import profile
from headwater.people.search import search
from headwater.people.sources import Reading, Sources
from headwater.stores.sql.database import open_database


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'realtime.sqlite3'}"
    else:
        yield str(request.getfixturevalue("pg_url"))


def test_links_sessions_and_active_users(url: str, tmp_path: Path) -> None:
    today = datetime.now(UTC).date().isoformat()
    db = open_database(url)
    try:
        with db.tx() as cur:
            cur.execute(
                db.q("INSERT INTO identities (source, user_id) VALUES ({p}, {p})"), ("anon:a-9'ü", "u-9")
            )
            for user in ("u-9", "x-1", "x-2"):
                cur.execute(db.q("INSERT INTO daily_users (date, user_id) VALUES ({p}, {p})"), (today, user))
            cur.execute(
                db.q(
                    "INSERT INTO user_sessions (session_id, user_id, start_time, last_activity, events_count)"
                    " VALUES ({p}, {p}, {p}, {p}, {p})"
                ),
                ("s-1", "u-9", f"{today}T08:00:00.000Z", f"{today}T08:20:00.000Z", 3),
            )
    finally:
        db.close()
    with Reading(Sources(tmp_path / "data", url)) as reading:
        person = resolve_person(reading, "a-9'ü")
        assert person.ids == {"a-9'ü", "u-9"} and person.user_id == "u-9"
        body = profile(reading, "a-9'ü")
        assert body is not None and body["user_id"] == "u-9" and body["events"] == 0
        assert body["ids"] == [{"id": "a-9'ü", "kind": "anonymousId"}, {"id": "u-9", "kind": "userId"}]
        (session,) = body["sessions"]["recent"]
        assert session == {
            "start": f"{today}T08:00:00.000Z",
            "end": f"{today}T08:20:00.000Z",
            "events": 3,
            "session_id": "s-1",
            "stored": "realtime",
        }
        assert profile(reading, "nobody") is None
        found = search(reading, "x-")
        assert [p["id"] for p in found["people"]] == ["x-1", "x-2"] and found["truncated"] is False
        assert [p["id"] for p in search(reading, "x-", limit=1)["people"]] == ["x-1"]
        assert search(reading, "_")["people"] == [] and search(reading, "%")["people"] == []
