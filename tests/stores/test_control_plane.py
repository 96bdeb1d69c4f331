"""The control plane moves between SQL stores whole or not at all: SQLite -> PostgreSQL and back,
refused (naming the differences) into a store that holds another one, once when two processes copy
at once, nothing when the copy is killed half way, and from an embedded store of an older schema."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from headwater.accounts.secrets import hash_password, verify_password
from headwater.stores.sql import migrations
from headwater.stores.sql.accounts import SqlAccounts
from headwater.stores.sql.audiences import AudienceCatalog
from headwater.stores.sql.control_plane import (
    ControlPlaneConflict,
    adopt_embedded,
    copy_control_plane,
    read_control_plane,
)
from headwater.stores.sql.database import open_database
from headwater.stores.sql.experiments import ExperimentCatalog
from headwater.stores.sql.keys import SqlWriteKeys
from tests.helpers import ROOT, cli


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def fill(url: str) -> dict[str, str]:
    """A control plane of every kind: keys (one revoked), an experiment in a phase, an audience
    with sizes, an enrich key and a setting, a user with a password and an API token, an invited
    one, and the audit log. Returns the keys and the token made."""
    db = open_database(url)
    keys = SqlWriteKeys(db)
    kept = keys.create_key("ios", ("https://app.example",)).key
    gone = keys.create_key("old").key
    keys.revoke_key("old")
    accounts = SqlAccounts(db)
    _, invitation = accounts.invite("ann@example.com", "admin")
    accounts.accept(invitation, hash_password("a long enough password"))
    accounts.invite("bo@example.com", "viewer")
    api_token = accounts.create_token(
        accounts.require_user("ann@example.com").id, "grafana", frozenset({"read"})
    )
    accounts.record("cli:root", "user.invite", "ann@example.com", {"role": "admin"})
    db.close()
    exps = ExperimentCatalog(url)
    exps.create({"key": "checkout", "variations": [0, 1], "status": "running"})
    exps.close()
    auds = AudienceCatalog(url)
    auds.put_audience({"id": "buyers", "name": "Buyers", "rule": {"event": "Order"}})
    auds.record_sizes({"buyers": 12}, "nightly", "2026-12-01T00:40:00.000000Z")
    enrich = auds.create_key("exchange").key
    auds.set_setting("provider", "example.com")
    auds.close()
    return {"kept": kept, "gone": gone, "enrich": enrich, "api_token": api_token}


def accounts_work(url: str, made: dict[str, str]) -> None:
    """The copied accounts sign in and authenticate, and the audit log takes new entries."""
    db = open_database(url)
    try:
        accounts = SqlAccounts(db)
        ann = accounts.require_user("ann@example.com")
        assert verify_password(ann.password_hash, "a long enough password") and ann.role == "admin"
        assert accounts.require_user("bo@example.com").password_hash is None  # still invited
        found = accounts.token(made["api_token"])
        assert found is not None and found[0].user_id == ann.id and found[0].scopes == ("read",)
        accounts.record("cli:root", "user.role", "bo@example.com")
        assert [e["action"] for e in accounts.audit()] == ["user.role", "user.invite"]
    finally:
        db.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    url = sqlite_url(tmp_path / "realtime.sqlite3")
    yield url, fill(url)


def test_sqlite_to_postgres_and_back(
    embedded: tuple[str, dict[str, str]], pg_url: str, tmp_path: Path
) -> None:
    source_url, made = embedded
    source, target = open_database(source_url), open_database(pg_url)
    try:
        report = copy_control_plane(source, target)
        assert report.copied and report.counts["write_keys"] == 2 and report.counts["experiment_phases"] == 1
        assert "2 write keys" in report.summary and "1 enrich key" in report.summary
        assert read_control_plane(target).rows == read_control_plane(source).rows
        keys = {k.key: k for k in SqlWriteKeys(target).list_keys(include_revoked=True)}
        assert keys[made["kept"]].active and not keys[made["gone"]].active
        assert keys[made["kept"]].allowed_origins == ("https://app.example",)
        again = copy_control_plane(source, target)  # the same rows: nothing to do
        assert not again.copied
        assert "2 users" in report.summary and "1 API token" in report.summary
    finally:
        source.close()
    accounts_work(pg_url, made)
    back = open_database(sqlite_url(tmp_path / "shrunk.sqlite3"))  # the way back, for a user who shrinks
    try:
        assert copy_control_plane(target, back).copied
        assert read_control_plane(back).rows == read_control_plane(target).rows
        exp = ExperimentCatalog(sqlite_url(tmp_path / "shrunk.sqlite3"))
        assert [p.phase for p in exp.phases("checkout")] == ["0"]
        exp.close()
        db = open_database(sqlite_url(tmp_path / "shrunk.sqlite3"))
        assert len(SqlAccounts(db).audit()) == 2  # the entry written on PostgreSQL came back too
        db.close()
    finally:
        back.close()
        target.close()


def test_a_target_with_another_control_plane_is_refused_and_untouched(
    embedded: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    source_url, made = embedded
    other_url = sqlite_url(tmp_path / "other.sqlite3")
    other = open_database(other_url)
    mine = SqlWriteKeys(other).create_key("web").key
    before = read_control_plane(other)
    source = open_database(source_url)
    try:
        with pytest.raises(ControlPlaneConflict) as info:
            copy_control_plane(source, other)
        message = str(info.value)
        assert f"write key {made['kept']!r} is only in the source" in message
        assert f"write key {mine!r} is only in the target" in message
        assert read_control_plane(other).rows == before.rows
    finally:
        source.close()
        other.close()


def test_two_processes_copying_at_once_copy_once(embedded: tuple[str, dict[str, str]], pg_url: str) -> None:
    source_url, _ = embedded
    errors: list[BaseException] = []
    reports: list[bool] = []

    def copy() -> None:
        source, target = open_database(source_url), open_database(pg_url)
        try:
            reports.append(copy_control_plane(source, target).copied)
        except BaseException as exc:
            errors.append(exc)
        finally:
            source.close()
            target.close()

    threads = [threading.Thread(target=copy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(reports) == [False, False, False, True]
    target = open_database(pg_url)
    try:
        assert read_control_plane(target).counts()["write_keys"] == 2
    finally:
        target.close()


KILLABLE_COPY = """
import sys
from headwater.stores.sql.control_plane import copy_control_plane
from headwater.stores.sql.database import open_database
copy_control_plane(open_database(sys.argv[1]), open_database(sys.argv[2]))
"""


def test_a_copy_killed_half_way_leaves_nothing_and_the_next_finishes(
    embedded: tuple[str, dict[str, str]], pg_url: str
) -> None:
    source_url, _ = embedded
    source = open_database(source_url)
    with source.tx() as cur:  # enough rows that the copy is caught in its transaction
        cur.executemany(
            "INSERT INTO audience_sizes(audience_id, measured_at, source, size) VALUES (?, ?, ?, ?)",
            [("buyers", f"2025-01-01T00:00:{i:09d}Z", "live", i) for i in range(150_000)],
        )
    source.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_COPY, source_url, pg_url], cwd=ROOT, stderr=subprocess.PIPE
    )
    with psycopg.connect(pg_url, autocommit=True) as watch:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = watch.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted",
                (0x4857_0002 & 0xFFFFFFFF,),
            ).fetchone()
            if held and held[0]:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        deadline = time.monotonic() + 30  # the server notices the dead client and rolls back
        while time.monotonic() < deadline:
            busy = watch.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
                (0x4857_0002 & 0xFFFFFFFF,),
            ).fetchone()
            if busy is not None and busy[0] == 0:
                break
            time.sleep(0.05)
    target = open_database(pg_url)
    try:
        assert read_control_plane(target).empty  # not a mix: nothing
        source = open_database(source_url)
        report = copy_control_plane(source, target)
        source.close()
        assert report.copied and report.counts["audience_sizes"] == 150_001
    finally:
        target.close()


def test_adopting_an_embedded_store_of_an_older_schema(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    embedded = sqlite_url((data / "realtime.sqlite3").resolve())
    shipped = list(migrations.SQLITE)
    monkeypatch.setattr(migrations, "SQLITE", [m for m in shipped if m[0] <= 3])
    old = open_database(embedded)  # a store of version 3: write keys, no experiments yet
    assert old.schema_version() == 3
    key = SqlWriteKeys(old).create_key("app").key
    old.close()
    monkeypatch.setattr(migrations, "SQLITE", shipped)
    report = adopt_embedded(data, pg_url)
    assert report is not None and report.counts["write_keys"] == 1
    target = open_database(pg_url)
    try:
        assert [k.key for k in SqlWriteKeys(target).list_keys()] == [key]
    finally:
        target.close()
    assert adopt_embedded(data, pg_url) is None  # the second start: nothing to adopt
    assert adopt_embedded(data, embedded) is None  # the embedded store itself
    assert adopt_embedded(tmp_path / "nothing-here", pg_url) is None


def test_an_empty_embedded_store_is_not_adopted(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    open_database(sqlite_url((data / "realtime.sqlite3").resolve())).close()
    assert adopt_embedded(data, pg_url) is None


def test_the_way_back_replaces_an_older_copy_only_when_asked(
    embedded: tuple[str, dict[str, str]], pg_url: str
) -> None:
    """Grown to PostgreSQL, a key made there; shrinking back to the embedded store (which holds the
    control plane as it was before the move) is refused without --replace, exact with it."""
    source_url, made = embedded
    source, target = open_database(source_url), open_database(pg_url)
    try:
        copy_control_plane(source, target)
        newer = SqlWriteKeys(target).create_key("android").key
        SqlWriteKeys(target).revoke_key("ios")
        with pytest.raises(ControlPlaneConflict) as info:
            copy_control_plane(target, source)
        assert f"write key {newer!r} is only in the source" in str(info.value)
        report = copy_control_plane(target, source, replace=True)
        assert report.copied and f"write key {made['kept']!r} differs" in report.replaced
        assert read_control_plane(source).rows == read_control_plane(target).rows
        keys = {k.key: k.active for k in SqlWriteKeys(source).list_keys(include_revoked=True)}
        assert keys == {made["kept"]: False, made["gone"]: False, newer: True}
    finally:
        source.close()
        target.close()


def test_a_target_grown_past_the_embedded_store_is_left_alone(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    embedded = sqlite_url((data / "realtime.sqlite3").resolve())
    made = fill(embedded)
    assert adopt_embedded(data, pg_url) is not None  # the first start on PostgreSQL
    target = open_database(pg_url)
    SqlWriteKeys(target).create_key("android")  # life goes on there
    SqlWriteKeys(target).revoke_key("ios")
    target.close()
    assert adopt_embedded(data, pg_url) is None  # every later start: nothing said, nothing copied
    other = open_database(embedded)  # a key made in the embedded store after the move
    late = SqlWriteKeys(other).create_key("late").key
    other.close()
    with pytest.raises(ControlPlaneConflict) as info:
        adopt_embedded(data, pg_url)
    assert repr(late[:12] + "...") in str(info.value) and made["kept"][:12] not in str(info.value)


def test_db_copy_from_the_command_line(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    made = fill(sqlite_url((data / "realtime.sqlite3").resolve()))
    done = cli(data, "db", "copy", "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("copied: 2 write keys, 1 experiment, 1 experiment phase")
    assert "verified" in done.stdout and "HEADWATER_DATABASE_URL=" in done.stderr
    again = cli(data, "db", "copy", "--to", pg_url)
    assert again.stdout.startswith("already there:")
    target = open_database(pg_url)
    SqlWriteKeys(target).create_key("android")
    target.close()
    refused = cli(data, "db", "copy", "--to", pg_url, check=False)
    assert refused.returncode == 1 and "is only in the target" in refused.stderr
    assert "--replace" in refused.stderr and "Traceback" not in refused.stderr
    back = cli(
        data,
        "db",
        "copy",
        "--from",
        pg_url,
        "--to",
        sqlite_url((data / "realtime.sqlite3").resolve()),
        "--replace",
        check=False,
    )
    assert back.returncode == 0 and "replaced in the target: write key" in back.stderr, back.stderr
    keys = cli(data, "keys", "list").stdout
    assert made["kept"][:8] in keys and "android" in keys


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "postgresql://nobody@127.0.0.1:1/none"], "--to:"),
        (["--to", "mysql://x/y"], "--to:"),
        (["--from", "postgresql://nobody@127.0.0.1:1/none", "--to", "sqlite:///x.db"], "--from:"),
    ],
)
def test_db_copy_says_which_url_is_wrong(tmp_path: Path, args: list[str], says: str) -> None:
    done = cli(tmp_path / "data", "db", "copy", *args, check=False)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
