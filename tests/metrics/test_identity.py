"""The pure identity rules (headwater.events.identity)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from headwater.events.identity import Link, actor_key, clean_id, is_junk, links_from_event, resolve
from headwater.lake.layout import Lake
from headwater.lake.rollups.identity import rebuild_identity_map
from headwater.lake.sql import connect


def test_junk_ids() -> None:
    for junk in (None, "", " ", "null", "NULL", "undefined", "anonymous", "0", " none ", False):
        assert is_junk(junk), junk
    assert clean_id("u1") == "u1" and clean_id(0) is None and clean_id(7) == "7"
    assert actor_key("undefined", "a1") == "anon:a1"
    assert actor_key("u1", "a1") == "u1"
    assert actor_key("null", "0") is None


def test_first_link_wins_and_junk_never_merges() -> None:
    links = [
        *links_from_event("2026-01-01T10:00:00Z", "identify", "u1", "a1", None),
        *links_from_event("2026-01-02T10:00:00Z", "identify", "u2", "a1", None),  # shared device later
        *links_from_event("2026-01-01T11:00:00Z", "identify", "u8", "anonymous", None),
        *links_from_event("2026-01-01T12:00:00Z", "identify", "u9", "anonymous", None),
    ]
    assert resolve(links) == {"anon:a1": "u1"}


def test_alias_chains_and_cycles() -> None:
    links = [
        Link("1", "anon:a1", "u1"),
        *links_from_event("2", "alias", "u2", None, "u1"),  # u1 renamed u2
        *links_from_event("3", "alias", "u1", None, "u2"),  # would close a cycle: ignored
    ]
    mapping = resolve(links)
    assert mapping["anon:a1"] == "u2" and mapping["u1"] == "u2"
    assert "u2" not in mapping
    # applied on top of an existing map: earlier links keep priority
    assert resolve([Link("9", "anon:a1", "u7")], mapping)["anon:a1"] == "u2"


def test_sql_fast_path_matches_the_pure_rules(tmp_path: Path) -> None:
    """Many anonymous ids, some shared by several users, links out of order: the ETL's SQL map equals
    resolve() (and with a user-to-user alias it falls back to resolve() itself)."""
    rng = random.Random(7)
    links = [
        Link(
            f"2026-01-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00.000000Z",
            f"anon:a{rng.randrange(300)}",
            f"u{rng.randrange(200)}",
        )
        for _ in range(1000)
    ]
    for extra in ([], [Link("2026-01-15T00:00:00.000000Z", "u1", "u2")]):
        lake = Lake(tmp_path / f"lake{len(extra)}")
        lake.links_dir.mkdir(parents=True)
        con = connect()
        con.execute('CREATE TABLE l (ts VARCHAR, source VARCHAR, "user" VARCHAR)')
        con.executemany("INSERT INTO l VALUES (?, ?, ?)", [(x.ts, x.source, x.user) for x in links + extra])
        con.execute(f"COPY l TO '{lake.links_file(date(2026, 1, 1))}' (FORMAT parquet)")
        rebuild_identity_map(con, lake)
        got = dict(con.execute(f"SELECT key, user_id FROM '{lake.identity_map}'").fetchall())
        assert got == resolve(links + extra)
        con.close()
