"""Sessions and daily aggregation rules (DESIGN section 5), on the pure domain functions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from headwater.events.sessions import Session, SessionBook
from headwater.realtime.fold import RealtimeEvent, aggregate, make_event

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)


def ev(user: str | None, at: datetime, anon: str | None = None, etype: str = "track") -> RealtimeEvent:
    return make_event(at, etype, "Clicked", "editor", f"m-{at.isoformat()}-{user}", user, anon)


def spans(book: SessionBook, user: str) -> list[tuple[int, int, int]]:
    """(start minute, last minute, count) of each session, minutes after T0."""
    return [
        (int((s.start - T0).total_seconds() // 60), int((s.last - T0).total_seconds() // 60), s.count)
        for s in book.sessions_of(user)
    ]


def feed(*minutes_after: float) -> SessionBook:
    book = SessionBook()
    for m in minutes_after:
        book.add_event("u", T0 + timedelta(minutes=m), f"m{m}")
    return book


def test_thirty_minutes_of_inactivity_starts_a_new_session() -> None:
    assert spans(feed(0, 30, 60.5), "u") == [(0, 30, 2), (60, 60, 1)]


def test_not_split_at_midnight() -> None:
    assert spans(feed(0, 25, 50, 70), "u") == [(0, 70, 4)]  # 23:00 -> 00:10 next day


def test_a_session_lasts_under_24_hours() -> None:
    times = [i * 20 for i in range(80)]  # every 20 minutes for 26 h 20 min
    result = spans(feed(*times), "u")
    assert [(s, n) for s, _, n in result] == [(0, 72), (1440, 8)]


def test_late_events_join_the_session_they_belong_to() -> None:
    assert spans(feed(100, 120, 90, 10, 20), "u") == [(10, 20, 2), (90, 120, 3)]


def test_session_ids_are_deterministic() -> None:
    a, b = feed(0, 5, 100), feed(0, 5, 100)
    assert [s.session_id for s in a.changed()] == [s.session_id for s in b.changed()]
    assert len({s.session_id for s in a.changed()}) == 2


def test_anonymous_until_identified_then_one_user() -> None:
    events = [
        ev(None, T0, anon="a1"),
        ev(None, T0 + timedelta(minutes=5), anon="a1"),
        ev("alice", T0 + timedelta(minutes=6), anon="a1", etype="identify"),
        ev(None, T0 + timedelta(minutes=7), anon="a1"),
        ev(None, T0 + timedelta(minutes=8), anon="b2"),
    ]
    delta = aggregate(events, {}, [])
    assert delta.links == [("anon:a1", "alice")]
    assert delta.users == {(T0.date(), "alice"), (T0.date(), "anon:b2")}
    by_user = {s.user_id: s.count for s in delta.sessions}
    assert by_user == {"alice": 4, "anon:b2": 1}


def test_days_follow_the_project_time_zone() -> None:
    events = [ev("u", T0), ev("u", T0 + timedelta(hours=2))]  # 23:00 and 01:00 UTC
    assert {k[0] for k in aggregate(events, {}, []).counts} == {date(2026, 11, 25), date(2026, 11, 26)}
    paris = aggregate(events, {}, [], ZoneInfo("Europe/Paris"))  # 00:00 and 02:00 local
    assert {k[0] for k in paris.counts} == {date(2026, 11, 26)}
    tokyo_old = aggregate([ev("u", datetime(1, 1, 1, tzinfo=UTC))], {}, [], ZoneInfo("America/New_York"))
    assert tokyo_old.events == 1


def test_missing_tool_is_the_empty_string_and_junk_users_count_nobody() -> None:
    e = make_event(T0, "track", "Clicked", None, "m", "null", "undefined")
    delta = aggregate([e], {}, [])
    assert delta.counts == {(T0.date(), "", "Clicked"): 1}
    assert delta.users == set() and delta.sessions == []


def test_min_day_skips_older_days_but_keeps_links() -> None:
    events = [ev("alice", T0, anon="a1"), ev(None, T0 + timedelta(hours=2), anon="a1")]
    delta = aggregate(events, {}, [], min_day=date(2026, 11, 26))
    assert delta.events == 1 and delta.links == [("anon:a1", "alice")]
    assert delta.users == {(date(2026, 11, 26), "alice")}


def test_each_event_joins_the_nearest_session_that_fits_as_the_rule_says() -> None:
    """Random out-of-order events against the rule written plainly (Session.fits and .distance):
    the nearest fitting session, ties to the one with the latest activity, then the first known."""
    rnd = random.Random(3)
    book = SessionBook()
    reference: list[Session] = []
    for i in range(3000):
        now = i * 1.5  # a dense stream (sessions reach 24 hours) with late events and exact ties
        late = rnd.choice([rnd.uniform(0, now), float(rnd.randrange(0, int(now) + 1, 30))])
        t = T0 + timedelta(minutes=late if rnd.random() < 0.3 else now)
        best: Session | None = None
        best_d = timedelta(0)
        for s in reference:
            if s.fits(t):
                d = s.distance(t)
                if best is None or d < best_d or (d == best_d and s.last > best.last):
                    best, best_d = s, d
        if best is None:
            reference.append(Session(f"{i}", "u", t, t, 1))
        else:
            best.add(t)
        book.add_event("u", t, f"m{i}")
        assert spans(book, "u") == [
            (int((s.start - T0).total_seconds() // 60), int((s.last - T0).total_seconds() // 60), s.count)
            for s in sorted(reference, key=lambda s: s.start)
        ]
