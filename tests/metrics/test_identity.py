"""The pure identity rules (headwater.events.identity)."""

from __future__ import annotations

from headwater.events.identity import Link, actor_key, clean_id, is_junk, links_from_event, resolve


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
