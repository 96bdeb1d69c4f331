"""The exposure event logged for each assignment served: Segment's `Experiment Viewed`.

Properties follow Segment's spec (experiment_id, experiment_name, variation_id, variation_name) plus
the phase, so results can keep only the current phase's exposures, and the bucketing attribute and
its value, so the sticky buckets can be rebuilt from the log (sticky_restore.py). Exposures are
deduplicated per user, experiment and phase (`dedup_key`).
"""

from __future__ import annotations

from typing import Any

from headwater.experiments.assignment import Result
from headwater.experiments.model import Experiment

EXPOSURE_EVENT = "Experiment Viewed"


def exposure_properties(exp: Experiment, result: Result) -> dict[str, Any]:
    return {
        "experiment_id": exp.key,
        "experiment_name": exp.display_name,
        "variation_id": result.key,
        "variation_name": result.name,
        "experiment_phase": exp.phase,
        "hash_attribute": result.hash_attribute,
        "hash_value": result.hash_value,
    }


def dedup_key(result: Result) -> str:
    """One exposure per user (hash attribute + value), experiment and phase."""
    return f"{result.experiment_key}__{result.phase}|{result.hash_attribute}||{result.hash_value}"
