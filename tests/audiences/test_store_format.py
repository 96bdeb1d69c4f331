"""A live store holding audience keys of the older layout (a set per user, a sorted set per user and
condition) is rebuilt from the log by the audiences tailer: the old keys go, the new ones come."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from headwater.audiences.definitions import Definitions
from headwater.audiences.state import AudienceState
from headwater.audiences.tailer import AUDIENCES_TAILER, AudienceEvent, AudienceTarget
from headwater.log.tailing.tailer import Tailer
from headwater.stores.live import open_live
from headwater.stores.live.ports import StoreOptions
from headwater.stores.sql.audiences import AudienceCatalog
from tests.live.logdata import append, line, log_path
from tests.redis_services import drop_namespace, shared_redis, unique_namespace

__all__ = ["shared_redis"]
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def url(shared_redis: str) -> Iterator[str]:
    namespace = unique_namespace()
    yield f"{shared_redis}?namespace={namespace}"
    drop_namespace(f"{shared_redis}?namespace={namespace}", namespace)


def test_an_older_layout_is_rebuilt_from_the_log(url: str, tmp_path: Path) -> None:
    namespace = url.rsplit("=", 1)[1]
    raw = redis.Redis.from_url(url.split("?")[0], decode_responses=True)
    raw.sadd(f"{namespace}:aud:{{u1}}", "stale")  # what an older version left
    raw.zadd(f"{namespace}:aev:{{u1}}:c0", {"m-old": 1})
    live = open_live(url)
    counters = live.counters(StoreOptions())
    counters.init_checkpoint(AUDIENCES_TAILER, {"events-20200101.w.jsonl": 10}, "old-epoch")
    catalog = AudienceCatalog(f"sqlite:///{tmp_path / 'realtime.sqlite3'}")
    catalog.put_audience({"id": "clickers", "name": "Clickers", "rule": {"event": "Clicked"}})
    append(log_path(tmp_path / "log", NOW), line("u1", NOW), line("u2", NOW, event="Opened"))
    state = AudienceState(live.id_map(StoreOptions()), live.membership(StoreOptions()))
    target = AudienceTarget(state, counters, Definitions(catalog))
    try:
        Tailer(AUDIENCES_TAILER, tmp_path / "log", target, AudienceEvent).run(
            threading.Event(), until_caught_up=True, max_failures=2
        )
        assert raw.exists(f"{namespace}:aud:{{u1}}", f"{namespace}:aev:{{u1}}:c0") == 0
        assert state.membership.memberships(["u1", "u2"]) == {"u1": {"clickers"}, "u2": set()}
        assert state.membership.format_current()
        cp = counters.load_checkpoint(AUDIENCES_TAILER)
        assert cp is not None and cp.epoch != "old-epoch" and "events-20200101.w.jsonl" not in cp.offsets
    finally:
        counters.close()
        catalog.close()
        raw.close()
