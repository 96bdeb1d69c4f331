"""Status changes of a definition (plain data, GrowthBook field names): start, stop, a new phase.

A new phase re-randomizes: its sticky buckets are keyed by the new phase, so nobody keeps an old
assignment, and the seed changes with it (unless one is given), so the new split is independent of
the old one (the same seed would hash everybody into the same variation again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def next_phase(phase: str) -> str:
    """ "0" -> "1"; a non-numeric phase gets a numeric suffix ("spring" -> "spring.1")."""
    if phase.isdigit():
        return str(int(phase) + 1)
    head, _, tail = phase.rpartition(".")
    return f"{head}.{int(tail) + 1}" if head and tail.isdigit() else f"{phase}.1"


def started(
    definition: Mapping[str, Any], new_phase: bool = False, seed: str | None = None
) -> dict[str, Any]:
    """Running; with ``new_phase`` (or a stopped experiment restarted with a seed), the next phase."""
    out = dict(definition)
    out["status"] = "running"
    if new_phase:
        phase = next_phase(str(out.get("phase", "0")))
        out["phase"] = phase
        out["seed"] = seed or f"{out['key']}:{phase}"
    elif seed is not None:
        out["seed"] = seed
    return out


def stopped(definition: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(definition)
    out["status"] = "stopped"
    return out


def merged(definition: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A partial update: top-level fields replaced, ``null`` removes a field (back to its default)."""
    out = dict(definition)
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out
