"""Compute the dashboard's default view ahead of the first load, in the background.

Started when someone opens the login form or the page: by the time the token is typed, the
default view's metrics are in the cache. The queries mirror the page's defaults (static/js/app.js
and the panels): the last 30 complete days in the project time zone, the previous 30 days for
the headline's changes, the `plan` trait and the sign-up funnel.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from headwater.dashboard.metric_batch import Query, cache_for, groups, run_group
from headwater.metrics.params import today_in

log = logging.getLogger("headwater.dashboard")

DEFAULT_DAYS = 30
PREFERENCE_TRAIT = "plan"
FUNNEL_STEPS = "Signed Up,Project Created,Teammate Invited"
FUNNEL_WINDOW_DAYS = "14"

_warming: set[Path] = set()
_lock = threading.Lock()


def retention_period(days: int) -> str:
    return "day" if days <= 31 else "week" if days <= 186 else "month"


def default_queries(tz: str) -> list[Query]:
    end = today_in(tz) - timedelta(days=1)
    start = end - timedelta(days=DEFAULT_DAYS - 1)
    prev_end = start - timedelta(days=1)
    prev_start = start - timedelta(days=DEFAULT_DAYS)
    s, e, ps, pe = (d.isoformat() for d in (start, end, prev_start, prev_end))
    return [
        Query("stickiness", s, e, tz),
        Query("stickiness", pe, pe, tz),
        Query("wau", pe, e, tz),
        Query("sessions", ps, e, tz),
        Query("lifecycle", ps, e, tz),
        Query("features", s, e, tz),
        Query("preferences", s, e, tz, (("trait", PREFERENCE_TRAIT),)),
        Query("retention", s, e, tz, (("period", retention_period(DEFAULT_DAYS)),)),
        Query("funnel", s, e, tz, (("steps", FUNNEL_STEPS), ("window_days", FUNNEL_WINDOW_DAYS))),
    ]


def _warm(data_dir: Path, tz: str) -> None:
    try:
        cache = cache_for(data_dir, tz)
        parts = groups(default_queries(tz))
        with ThreadPoolExecutor(len(parts), thread_name_prefix="dashboard-warmup") as pool:
            list(pool.map(lambda part: run_group(cache, part), parts))
    except Exception:  # a warm-up is an optimisation: the page computes what is missing
        log.exception("dashboard warm-up failed")
    finally:
        with _lock:
            _warming.discard(data_dir)


def warm_default_view(data_dir: Path, tz: str) -> None:
    """Start computing the default view unless it is being computed already."""
    with _lock:
        if data_dir in _warming:
            return
        _warming.add(data_dir)
    threading.Thread(target=_warm, args=(data_dir, tz), name="dashboard-warmup", daemon=True).start()
