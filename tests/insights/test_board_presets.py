"""A saved dashboard's range presets are computed ahead: the warm-up (dashboard/warmup.py) runs each
pinned insight over its own range and over the "7 d", "30 d" and "90 d" presets as board.js asks
them, so that a click on a preset is answered from the cache; a range nobody asked before is
computed when asked."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from headwater.dashboard.caches import caches_for
from headwater.dashboard.defaults import BOARD_PRESET_DAYS
from headwater.dashboard.warmup import board_ranges, pinned_insights
from headwater.lake.params import today_in
from tests.http.asgi import ADMIN, Running, run
from tests.insights.test_saved_api import PATHS, TREND, WEB, save

BOARD_JS = Path(__file__).resolve().parents[2] / "src/headwater/dashboard/static/js/pages/board.js"


def test_the_presets_are_the_pages() -> None:
    buttons = re.findall(r'button\("(\d+) d", preset\((\d+)\)\)', BOARD_JS.read_text())
    assert all(label == days for label, days in buttons)
    assert tuple(int(days) for _, days in buttons) == BOARD_PRESET_DAYS
    today = today_in("Asia/Seoul")
    assert board_ranges("Asia/Seoul") == [
        ((today - timedelta(days=n - 1)).isoformat(), today.isoformat()) for n in BOARD_PRESET_DAYS
    ]


def test_a_preset_click_is_answered_from_what_the_warm_up_computed(
    lake: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    shutil.copytree(lake[0], tmp_path / "data")

    async def scenario(hw: Running) -> None:
        c = hw.client
        pinned = [await save(hw, n, k, q) for n, k, q in (("t", "trend", TREND), ("p", "paths", PATHS))]
        unpinned = await save(hw, "w", "web", WEB)
        tiles = [{"insight": i["id"]} for i in pinned]
        made = await c.post("/api/v1/dashboards", json={"name": "Board", "tiles": tiles}, headers=ADMIN)
        assert made.status_code == 201, made.text
        settings = hw.settings
        answers = caches_for(settings.data_dir, settings.timezone).insights
        jobs = pinned_insights(settings, caches_for(settings.data_dir, settings.timezone))
        assert len(jobs) == len(pinned) * (1 + len(BOARD_PRESET_DAYS))  # own ranges and presets
        before = answers.misses
        for job in jobs:
            assert job() is not None
        assert answers.misses - before == len(jobs)

        # the board's own ranges, then each preset as board.js sends it: no query computed
        computed = answers.misses
        for insight in pinned:
            url = f"/api/v1/insights/saved/{insight['id']}/result"
            own = await c.get(url, headers=ADMIN)
            assert own.status_code == 200, own.text
            for start, end in board_ranges(settings.timezone):
                got = await c.get(url, params={"start": start, "end": end}, headers=ADMIN)
                assert got.status_code == 200, got.text
                assert got.json()["start"] == start
        assert answers.misses == computed

        # a range not a preset, and an insight on no dashboard: computed when asked
        url = f"/api/v1/insights/saved/{pinned[0]['id']}/result"
        today = date.fromisoformat(board_ranges(settings.timezone)[0][1])
        odd = {"start": (today - timedelta(days=12)).isoformat(), "end": today.isoformat()}
        assert (await c.get(url, params=odd, headers=ADMIN)).status_code == 200
        assert (
            await c.get(f"/api/v1/insights/saved/{unpinned['id']}/result", headers=ADMIN)
        ).status_code == 200
        assert answers.misses == computed + 2

    run(tmp_path, scenario)
