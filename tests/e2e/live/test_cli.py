"""`headwater live ...` prints the API's JSON from the configured Redis; memory:// is refused."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from headwater.live.fold import LiveEvent
from headwater.live.target import LIVE_TAILER, LiveTarget
from headwater.log.tailing.tailer import Tailer
from tests.helpers import cli
from tests.live.logdata import append, line, log_path
from tests.live.test_tailer import NOW
from tests.redis_services import counters_at, drop_namespace, unique_namespace


def test_live_commands_read_the_redis_store(tmp_path: Path, shared_redis: str) -> None:
    ns = unique_namespace()
    url = f"{shared_redis}?namespace={ns}"
    log_dir = tmp_path / "data" / "log"
    append(log_path(log_dir, NOW), *[line(f"u{i}", NOW, "editor") for i in range(4)])
    store = counters_at(url)
    Tailer(LIVE_TAILER, log_dir, LiveTarget(store, log_dir), LiveEvent).run(
        threading.Event(), until_caught_up=True, max_failures=2
    )
    env = {"HEADWATER_REDIS_URL": url}
    try:
        today = json.loads(cli(tmp_path / "data", "live", "today", env=env).stdout)
        assert today["events"] == 4 and today["tools"][0]["tool_id"] == "editor"
        active = json.loads(cli(tmp_path / "data", "live", "active-users", "--window", "1h", env=env).stdout)
        assert active["active_users"] == 4
        hour = json.loads(
            cli(tmp_path / "data", "live", "hourly", "--hour", f"{NOW:%Y-%m-%dT%H}", env=env).stdout
        )
        assert hour["events"] == 4
        bad = cli(tmp_path / "data", "live", "active-users", "--window", "2d", env=env, check=False)
        assert bad.returncode == 2 and "--window" in bad.stderr
        cli(tmp_path / "data", "live", "reset", "--yes", env=env)
        assert store.load_checkpoint(LIVE_TAILER) is None
    finally:
        store.close()
        drop_namespace(url, ns)


def test_live_commands_need_redis(tmp_path: Path) -> None:
    out = cli(tmp_path / "data", "live", "today", check=False)
    assert out.returncode == 2 and "HEADWATER_REDIS_URL" in out.stderr
    down = cli(
        tmp_path / "data",
        "live",
        "today",
        env={"HEADWATER_REDIS_URL": "redis://:pw1@127.0.0.1:1"},
        check=False,
    )
    assert down.returncode == 1 and "unavailable" in down.stderr and "pw1" not in down.stderr
