"""The features' own tables (experiments, audiences and enrich keys, hourly stats) behave the same
on SQLite and a real PostgreSQL: one contract, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.stores.sql.audiences import AudienceCatalog
from headwater.stores.sql.experiments import ExperimentCatalog


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rt.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_url")


def definition(status: str = "running", phase: str = "0") -> dict[str, object]:
    return {
        "key": "checkout-button",
        "name": "Checkout button",
        "variations": [{"key": "control"}, {"key": "green"}],
        "weights": [0.5, 0.5],
        "status": status,
        "phase": phase,
    }


def test_experiment_catalog(url: str) -> None:
    cat = ExperimentCatalog(url)
    try:
        created = cat.create(definition(status="draft"))
        assert created.status == "draft" and cat.phases("checkout-button") == []
        cat.update("checkout-button", definition())
        assert cat.get("checkout-button") is not None
        assert [p.phase for p in cat.phases("checkout-button")] == ["0"]
        # a new phase closes the old one and opens its own
        cat.update("checkout-button", definition(phase="1"))
        phases = {p.phase: p for p in cat.phases("checkout-button")}
        assert phases["0"].stopped_at is not None and phases["1"].stopped_at is None
        assert [e.definition["key"] for e in cat.all()] == ["checkout-button"]
        with pytest.raises(Exception, match="checkout-button"):
            cat.create(definition())
    finally:
        cat.close()


def test_audience_catalog_keys_settings_and_sizes(url: str) -> None:
    cat = AudienceCatalog(url)
    try:
        stored, created = cat.put_audience({"id": "buyers", "name": "Buyers", "rule": {"event": "Order"}})
        assert created and stored.id == "buyers"
        _, created = cat.put_audience({"id": "buyers", "name": "Buyers 2", "rule": {"event": "Order"}})
        assert not created
        got = cat.get_audience("buyers")
        assert got is not None and got.definition["name"] == "Buyers 2"
        with pytest.raises(KeyError):
            cat.put_audience({"id": "buyers", "rule": {}}, create_only=True)
        cat.record_sizes({"buyers": 42}, "nightly", at=datetime(2026, 11, 25, tzinfo=UTC).isoformat())
        assert [p.size for p in cat.sizes("buyers")] == [42]
        key = cat.create_key("dsp")
        listed = cat.list_keys()  # the hash and the hint: the key itself is shown once, at creation
        assert [(k.digest, k.hint, k.key) for k in listed] == [(key.digest, key.key[:10] + "…", "")]
        cat.revoke_key("dsp")
        assert cat.list_keys() == [] and len(cat.list_keys(include_revoked=True)) == 1
        cat.set_setting("provider", "example.com")
        assert cat.settings()["provider"] == "example.com"
        assert cat.delete_audience("buyers") and cat.get_audience("buyers") is None
    finally:
        cat.close()
