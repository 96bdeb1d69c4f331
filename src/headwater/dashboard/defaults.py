"""The dashboard's default view, in one place: the page (through data attributes of index.html), the
warm-up that computes it ahead (warmup.py) and the demo whose traffic it shows (commands/demo.py)."""

from __future__ import annotations

DEFAULT_DAYS = 30
PREFERENCE_TRAIT = "plan"
#: Segment's spec names for a SaaS sign-up; any event names can be typed instead
FUNNEL_STEPS = ("Signed Up", "Project Created", "Teammate Invited")
FUNNEL_WINDOW_DAYS = 14
#: the range presets of a saved dashboard (static/js/pages/board.js: "7 d", "30 d", "90 d"), each the
#: N days up to today in the project time zone; the warm-up computes the pinned insights over them
BOARD_PRESET_DAYS = (7, 30, 90)
