"""The integer person path (hashes of resolved names) against the name path, on the same data."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from headwater.lake.params import make_range
from headwater.lake.scope import Scope
from headwater.metrics.active import active_counts
from tests.batch.logdata import ev
from tests.metrics.dataset import PARIS, active_events, build


@pytest.mark.parametrize("etl_days", [2, 4])
def test_hashed_people_count_like_names(tmp_path: Path, etl_days: int) -> None:
    # an identify arriving in today's log re-attributes an anonymous visitor loaded in the lake
    extra = [ev("2026-03-31T10:00:00.000Z", type="identify", user="u6", anon="a6")]
    build(tmp_path, [*active_events(), *extra], etl_days=etl_days)
    rng = make_range("2026-03-20", "2026-04-02", None, PARIS)
    with Scope(tmp_path, rng) as scope:
        assert scope.hashed_people()
        for first, last in ((None, date(2026, 4, 2)), (date(2026, 3, 27), date(2026, 3, 30))):
            per_day = "SELECT day, count(DISTINCT person) FROM ({}) GROUP BY 1 ORDER BY 1"
            names = scope.sql(per_day.format(scope.user_days(first, last)))
            hashed = scope.sql(per_day.format(scope.person_days(first, last)))
            assert hashed == names and names
        wau = active_counts(scope, 7)
    assert wau[date(2026, 3, 31)] == 10  # a6 is u6 now: still one person
    assert wau[date(2026, 3, 30)] == 10


def test_names_that_share_a_hash_fall_back_to_names(tmp_path: Path) -> None:
    build(tmp_path, active_events(), etl_days=4)
    shutil.rmtree(tmp_path / "lake" / "person_days")  # a lake from before the compact rollup
    status = tmp_path / "lake" / "identity" / "names.json"
    status.write_text('{"names": 12, "hashes": 11}')  # as if two names had collided
    rng = make_range("2026-03-27", "2026-03-30", None, PARIS)
    with Scope(tmp_path, rng) as scope:
        assert not scope.hashed_people()
        assert scope.person_days() == scope.user_days()
        assert active_counts(scope, 7)[date(2026, 3, 30)] == 10


def test_names_that_share_a_hash_do_not_matter_to_dense_ids(tmp_path: Path) -> None:
    build(tmp_path, active_events(), etl_days=4)
    status = tmp_path / "lake" / "identity" / "names.json"
    status.write_text('{"names": 12, "hashes": 11}')
    rng = make_range("2026-03-27", "2026-03-30", None, PARIS)
    with Scope(tmp_path, rng) as scope:
        assert scope.person_day_arrays(None, None) is not None
        assert scope.person_days() != scope.user_days()
        assert active_counts(scope, 7)[date(2026, 3, 30)] == 10
