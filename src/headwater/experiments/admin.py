"""Managing definitions in the realtime store: what the admin API and the CLI share.

Every write validates the whole definition first (`parse_experiment`, every bad field named), so the
store only ever holds definitions the server can serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headwater.experiments.lifecycle import merged, started, stopped
from headwater.experiments.loading import parse_definitions, read_definitions
from headwater.experiments.model import Experiment
from headwater.experiments.validation import ExperimentInvalid, Problem, parse_experiment
from headwater.stores.sql.experiments import (
    ExperimentCatalog,
    ExperimentExistsError,
    ExperimentNotFoundError,
    StoredExperiment,
)

__all__ = [
    "ExperimentExistsError",
    "ExperimentInvalid",
    "ExperimentNotFoundError",
    "create",
    "describe",
    "load_file",
    "start",
    "stop",
    "update",
]


def checked(data: Any) -> tuple[Experiment, dict[str, Any]]:
    """The parsed experiment and the definition to store (phase as a string)."""
    if not isinstance(data, Mapping):
        raise ExperimentInvalid([Problem("experiment", "the body must be a JSON object")])
    experiment = parse_experiment(data)
    definition = dict(data)
    if "phase" in definition:
        definition["phase"] = str(definition["phase"])
    return experiment, definition


def create(catalog: ExperimentCatalog, data: Any) -> StoredExperiment:
    _, definition = checked(data)
    return catalog.create(definition)


def _existing(catalog: ExperimentCatalog, key: str) -> StoredExperiment:
    found = catalog.get(key)
    if found is None:
        raise ExperimentNotFoundError(key)
    return found


def update(catalog: ExperimentCatalog, key: str, data: Any, partial: bool = False) -> StoredExperiment:
    """Replace (PUT) or patch (PATCH) a definition; the key cannot change."""
    old = _existing(catalog, key)
    if not isinstance(data, Mapping):
        raise ExperimentInvalid([Problem("experiment", "the body must be a JSON object")])
    new = merged(old.definition, data) if partial else dict(data)
    new.setdefault("key", key)
    if new["key"] != key:
        raise ExperimentInvalid([Problem("key", f"cannot change the key ({key!r}) of an experiment")])
    _, definition = checked(new)
    return catalog.update(key, definition)


def start(
    catalog: ExperimentCatalog, key: str, new_phase: bool = False, seed: str | None = None
) -> StoredExperiment:
    old = _existing(catalog, key)
    _, definition = checked(started(old.definition, new_phase, seed))
    return catalog.update(key, definition)


def stop(catalog: ExperimentCatalog, key: str) -> StoredExperiment:
    old = _existing(catalog, key)
    _, definition = checked(stopped(old.definition))
    return catalog.update(key, definition)


def load_file(catalog: ExperimentCatalog, path: Path) -> list[tuple[str, str]]:
    """Create or replace every experiment of a TOML/YAML/JSON file: [(key, "created" | "updated")].

    Nothing is written unless every definition in the file is valid."""
    data = read_definitions(path)
    items = data["experiments"] if isinstance(data, Mapping) and "experiments" in data else [data]
    parse_definitions(data, source=path.name)  # all problems of the file at once, before any write
    done: list[tuple[str, str]] = []
    for item in items:
        _, definition = checked(item)
        key = str(definition["key"])
        if catalog.get(key) is None:
            catalog.create(definition)
            done.append((key, "created"))
        else:
            catalog.update(key, definition)
            done.append((key, "updated"))
    return done


def describe(stored: StoredExperiment, catalog: ExperimentCatalog | None = None) -> dict[str, Any]:
    """The JSON of an experiment in the API and the CLI."""
    out: dict[str, Any] = {
        "key": stored.key,
        "name": stored.definition.get("name") or stored.key,
        "status": stored.status,
        "phase": stored.phase,
        "definition": stored.definition,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }
    if catalog is not None:
        out["phases"] = [
            {"phase": p.phase, "seed": p.seed, "started_at": p.started_at, "stopped_at": p.stopped_at}
            for p in catalog.phases(stored.key)
        ]
    return out
