"""An id of the person that only the lake's identity map knows (an old device the realtime store
never linked, or no longer holds) is deleted and, for SUPPRESS_WITH_DELETE, suppressed too, under
the same regulation: an UNSUPPRESS of the person lifts it with the rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.batch.etl import run_daily
from headwater.stores.sql.database import SqlDatabase
from headwater.stores.sql.privacy import SqlPrivacy
from tests.batch.logdata import ev, write_log
from tests.helpers import cli
from tests.privacy.proof import ids_in_files

PERSON, OLD_DEVICE, OTHER = "lake-person-8", "lake-old-device-8", "lake-other-8"


def suppressed(data: Path) -> set[str]:
    database = SqlDatabase(f"sqlite:///{(data / 'realtime.sqlite3').resolve()}")
    try:
        privacy = SqlPrivacy(database)
        hashes = privacy.suppressed()
        return {i for i in (PERSON, OLD_DEVICE, OTHER) if privacy.hashed(i) in hashes}
    finally:
        database.close()


def test_an_id_only_the_lake_links_is_suppressed_and_lifted_with_the_person(tmp_path: Path) -> None:
    data = tmp_path / "data"
    day = datetime.now(UTC).date() - timedelta(days=2)
    stamp = f"{day:%Y-%m-%d}T09:00:00.000Z"
    events = [
        ev(stamp, anon=OLD_DEVICE, event="Opened"),
        ev(stamp, user=PERSON, anon=OLD_DEVICE, type="identify"),
        ev(stamp, user=OTHER, event="Opened"),
    ]
    for loaded in write_log(data, events):
        run_daily(data, loaded, "UTC")
    # no server ran: the realtime store links nothing, the lake's identity map links the device
    entry = json.loads(cli(data, "privacy", "delete", PERSON, "--json").stdout)
    assert entry["status"] == "FINISHED" and entry["progress"]["deletion"]["ids"] == 2, entry
    assert ids_in_files(data, [PERSON, OLD_DEVICE]) == {}
    assert suppressed(data) == {PERSON, OLD_DEVICE}
    cli(data, "privacy", "unsuppress", PERSON)
    assert suppressed(data) == set()
    audited = json.loads(cli(data, "audit", "--json").stdout)
    actions = {(e["action"], e["target"]) for e in audited["entries"]}
    assert ("regulation.suppress_with_delete", entry["id"]) in actions, audited
    assert "regulation.unsuppress" in {a for a, _ in actions}, audited
    assert ids_in_files(data, [PERSON, OLD_DEVICE]) == {}  # the audit names requests, not people


def test_an_access_request_naming_an_id_only_the_lake_links_keeps_hashes_after_the_deletion(
    tmp_path: Path,
) -> None:
    """An ACCESS request filed by the userId (its subject kept in clear for the export), then a
    deletion by the old device: the lake links them, so the request is the deleted person's and
    keeps only hashes from then on."""
    from headwater.privacy.requests import file_request
    from headwater.stores.sql.database import open_database

    data = tmp_path / "data"
    day = datetime.now(UTC).date() - timedelta(days=2)
    stamp = f"{day:%Y-%m-%d}T09:00:00.000Z"
    events = [ev(stamp, user=PERSON, anon=OLD_DEVICE, type="identify"), ev(stamp, user=OTHER, event="Opened")]
    for loaded in write_log(data, events):
        run_daily(data, loaded, "UTC")
    database = open_database(f"sqlite:///{(data / 'realtime.sqlite3').resolve()}")
    try:
        access = file_request(database, "ACCESS", {"userId": PERSON}, "api")
        assert access["status"] == "FINISHED", access
    finally:
        database.close()
    assert ids_in_files(data, [PERSON])  # the request holds it, for its export
    cli(data, "privacy", "delete", "--anonymous", OLD_DEVICE)
    assert ids_in_files(data, [PERSON, OLD_DEVICE]) == {}
    shown = json.loads(cli(data, "privacy", "status", access["id"], "--json").stdout)
    assert shown["subject"]["userId"].startswith("hmac:"), shown
