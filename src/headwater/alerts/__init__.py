"""Alerts on saved trend insights (docs/dashboard.md, "Alerts"): ``rules`` (pure: a definition
checked, a value and its condition into a state, when to notify, what the webhook receives),
``webhook`` (the POST, with a short timeout) and ``checks`` (a check run now, and the background
service that runs the checks that are due)."""
