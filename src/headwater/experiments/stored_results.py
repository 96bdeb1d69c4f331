"""The results of a stored experiment, the one way the API, the CLI and the dashboard read them:
the definition and the current phase from the catalog (the phase's start bounds the data), then
:func:`headwater.experiments.results.experiment_results`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, get_args

from headwater.experiments.results import ResultsOptions, experiment_results
from headwater.experiments.stats.corrections import Correction
from headwater.experiments.validation import parse_experiment
from headwater.stores.sql.experiments import ExperimentCatalog

CORRECTIONS: dict[str, Correction] = {"holm": "holm", "bh": "benjamini-hochberg"}
CORRECTIONS.update({name: name for name in get_args(Correction)})


class InvalidResultsOption(ValueError):
    """A results option out of range; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def parse_results_options(
    alpha: str | None, sequential: str | None, correction: str | None
) -> ResultsOptions:
    """The options as the API's query parameters (and the CLI's flags) give them."""
    try:
        a = float(alpha) if alpha else 0.05
    except ValueError:
        a = -1.0
    if not 0 < a < 1:
        raise InvalidResultsOption("alpha", "'alpha' must be a number between 0 and 1")
    if sequential not in (None, "", "true", "false", "1", "0"):
        raise InvalidResultsOption("sequential", "'sequential' must be true or false")
    name = (correction or "holm").lower()
    if name != "none" and name not in CORRECTIONS:
        raise InvalidResultsOption("correction", "'correction' must be holm, bh or none")
    return ResultsOptions(a, sequential in ("true", "1"), None if name == "none" else CORRECTIONS[name])


def stored_results(
    catalog: ExperimentCatalog, key: str, data_dir: Path, tz: str, options: ResultsOptions | None = None
) -> dict[str, Any] | None:
    """The results JSON of experiment ``key``'s current phase; None when there is no such experiment."""
    stored = catalog.get(key)
    if stored is None:
        return None
    phases = catalog.phases(key)
    since = next((date.fromisoformat(p.started_at[:10]) for p in phases if p.phase == stored.phase), None)
    return experiment_results(data_dir, tz, parse_experiment(stored.definition), since, options)
