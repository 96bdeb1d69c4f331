"""The options of the metrics, parsed once for every engine (the lake, the warehouse): the same
defaults, bounds and 400 messages naming the parameter."""

from __future__ import annotations

from headwater.lake.params import MetricError
from headwater.metrics.periods import check_period

#: retention: a return counts on the period itself, or on it or any later one
MODES = ("on", "on_or_after")
#: retention: cohorts by the first period active, or every period active
COHORTS = ("first", "recurring")
DEFAULT_WINDOW_DAYS = 14


def retention_options(period: str | None, mode: str | None, cohort: str | None) -> tuple[str, str, str]:
    """(period, mode, cohort) with their defaults (day, on, first), or a 400 naming the parameter."""
    period = check_period(period, "day")
    mode = mode or "on"
    cohort = cohort or "first"
    if mode not in MODES:
        raise MetricError("bad_parameter", f"parameter 'mode' must be one of {', '.join(MODES)}: {mode!r}")
    if cohort not in COHORTS:
        raise MetricError(
            "bad_parameter", f"parameter 'cohort' must be one of {', '.join(COHORTS)}: {cohort!r}"
        )
    return period, mode, cohort


def parse_steps(steps: str | list[str] | None) -> list[str]:
    """A funnel's step names: comma-separated, at least two, distinct."""
    names = steps if isinstance(steps, list) else (steps or "").split(",")
    names = [s.strip() for s in names if s.strip()]
    if len(names) < 2:
        raise MetricError(
            "bad_parameter", "parameter 'steps' needs at least two event names, comma-separated"
        )
    if len(set(names)) != len(names):
        raise MetricError("bad_parameter", "parameter 'steps' may not repeat an event name")
    return names


def parse_window(window_days: int | str | None) -> int:
    """A funnel's conversion window in days: 1 to 365, 14 by default."""
    try:
        window = int(window_days) if window_days not in (None, "") else DEFAULT_WINDOW_DAYS
    except (TypeError, ValueError):
        raise MetricError(
            "bad_parameter", f"parameter 'window_days' is not a number: {window_days!r}"
        ) from None
    if not 1 <= window <= 365:
        raise MetricError("bad_parameter", "parameter 'window_days' must be between 1 and 365")
    return window
