"""Enrich API keys are stored as SHA-256 hashes with a hint, shown once at creation: the store's bytes
never hold a key, the endpoint still takes it (and refuses another), lists show hints, a key is
revoked by itself, its name or its hint, and plain keys an earlier version wrote are hashed when the
store opens (SQLite and PostgreSQL), and keep working."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.audiences.definitions import Definitions
from headwater.stores.sql import migrations
from headwater.stores.sql.audiences import AudienceCatalog, key_digest
from headwater.stores.sql.database import open_database
from headwater.stores.sql.ports import KeyNotFoundError
from tests.helpers import cli
from tests.http.asgi import running

PLAIN = "hwrtb_OldPlainKeyWrittenByAnEarlierVer"  # the shape of keys of earlier versions (38 chars)

BID = {
    "id": "req-1",
    "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
    "site": {"page": "https://example.com/"},
    "regs": {"gdpr": 0},
    "device": {"ifa": "ifa-1"},
}


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'realtime.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_url")


def stored_bytes(data_dir: Path) -> bytes:
    """Every byte of the SQLite store: the database, its write-ahead log and shared memory."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("realtime.sqlite3*")))


def stored_rows(url: str) -> list[tuple[Any, ...]]:
    db = open_database(url)
    try:
        with db.tx(write=False) as cur:
            cur.execute("SELECT key, hint, name, revoked_at FROM openrtb_keys ORDER BY name")
            return list(cur.fetchall())
    finally:
        db.close()


def write_plain_key_the_old_way(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store of schema 7 (before hashes) holding a plain key, as an earlier version left it."""
    name = "POSTGRES" if url.startswith("postgresql") else "SQLITE"
    shipped = list(getattr(migrations, name))
    monkeypatch.setattr(migrations, name, [m for m in shipped if m[0] <= 7])
    db = open_database(url)
    try:
        assert db.schema_version() == 7
        with db.tx() as cur:
            cur.execute(
                db.q("INSERT INTO openrtb_keys(key, name, created_at) VALUES ({p},{p},{p})"),
                (PLAIN, "old-exchange", "2026-01-01T00:00:00.000000Z"),
            )
    finally:
        db.close()
    monkeypatch.setattr(migrations, name, shipped)


def test_a_key_is_stored_hashed_shown_once_and_revoked_by_key_name_or_hint(url: str, tmp_path: Path) -> None:
    cat = AudienceCatalog(url)
    try:
        made = [cat.create_key(name) for name in ("dsp-a", "dsp-b", "dsp-c")]
        assert all(k.key.startswith("hwrtb_") and len(k.key) == 38 for k in made)
        assert [(k.digest, k.hint) for k in made] == [(key_digest(k.key), k.key[:10] + "…") for k in made]
        listed = cat.list_keys()
        assert [(k.name, k.hint, k.digest, k.key) for k in listed] == [
            (k.name, k.hint, k.digest, "") for k in made
        ]
        assert Definitions(cat).current().keys == {key_digest(k.key) for k in made}
        if url.startswith("sqlite"):
            raw = stored_bytes(tmp_path / "data")
            assert all(k.key.encode() not in raw for k in made) and key_digest(made[0].key).encode() in raw
        rows = stored_rows(url)
        assert [r[0] for r in rows] == ["sha256:" + k.digest for k in made]
        assert all(k.key not in str(r) for k in made for r in rows)

        assert [k.name for k in cat.revoke_key(made[0].key)] == ["dsp-a"]  # the full key
        assert [k.name for k in cat.revoke_key("dsp-b")] == ["dsp-b"]  # its name
        assert [k.name for k in cat.revoke_key(made[2].hint.rstrip("…"))] == ["dsp-c"]  # its hint
        assert cat.list_keys() == [] and len(cat.list_keys(include_revoked=True)) == 3
        with pytest.raises(KeyNotFoundError):
            cat.revoke_key(made[0].key)  # revoked already
        with pytest.raises(KeyNotFoundError):
            cat.revoke_key("sha256:" + made[0].digest)  # the stored hash is no key
    finally:
        cat.close()


def test_plain_keys_of_an_earlier_version_are_hashed_on_open(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    write_plain_key_the_old_way(url, monkeypatch)
    assert stored_rows(url)[0][:2] == (PLAIN, "")  # migrated to 8, not yet hashed
    cat = AudienceCatalog(url)  # the opening hashes it
    try:
        assert stored_rows(url) == [("sha256:" + key_digest(PLAIN), "hwrtb_OldP…", "old-exchange", None)]
        assert [(k.hint, k.key) for k in cat.list_keys()] == [("hwrtb_OldP…", "")]
        assert Definitions(cat).current().keys == {key_digest(PLAIN)}
        if url.startswith("sqlite"):
            assert PLAIN.encode() not in stored_bytes(tmp_path / "data")  # zeroed, not left in free pages
    finally:
        cat.close()
    again = AudienceCatalog(url)  # idempotent: nothing left to hash
    try:
        assert again._hash_plain_keys() == 0
        assert stored_rows(url) == [("sha256:" + key_digest(PLAIN), "hwrtb_OldP…", "old-exchange", None)]
        assert [k.name for k in again.revoke_key(PLAIN)] == ["old-exchange"]
    finally:
        again.close()


def test_the_endpoint_takes_a_hashed_key_and_an_upgraded_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{(data / 'realtime.sqlite3').resolve()}"
    write_plain_key_the_old_way(url, monkeypatch)

    async def main() -> None:
        async with running(data) as hw:
            cat = AudienceCatalog(url)
            try:
                new = cat.create_key("exchange").key
            finally:
                cat.close()

            async def status(key: str, header: str = "Authorization") -> int:
                value = f"Bearer {key}" if header == "Authorization" else key
                r = await hw.client.post("/openrtb2/enrich", json=BID, headers={header: value})
                return r.status_code

            async def accepted() -> bool:
                return await status(new) == 200

            await hw.until(accepted)  # seen within the refresh
            assert await status(new) == 200 and await status(new, "X-Api-Key") == 200
            assert await status(PLAIN) == 200  # written plain by an earlier version, hashed at start
            assert await status(new[:-1] + ("A" if new[-1] != "A" else "B")) == 401
            assert await status("sha256:" + key_digest(new)) == 401  # the stored hash is no key
            assert (await hw.client.post("/openrtb2/enrich", json=BID)).status_code == 401

    asyncio.run(main())
    assert PLAIN.encode() not in stored_bytes(data)


def test_the_command_line_shows_a_key_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = cli(data, "audiences", "keys", "create", "exchange")
    key = created.stdout.split()[-1]
    assert key.startswith("hwrtb_") and "will not be shown again" in created.stderr
    listed = cli(data, "audiences", "keys", "list").stdout
    assert key not in listed and key[:10] + "…" in listed and "exchange" in listed
    assert key.encode() not in stored_bytes(data)
    revoked = cli(data, "audiences", "keys", "revoke", key).stdout
    assert key not in revoked and "exchange" in revoked
    assert cli(data, "audiences", "keys", "list").stdout == ""
