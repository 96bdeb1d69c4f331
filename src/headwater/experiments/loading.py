"""Experiment definitions from TOML, YAML or JSON files (chosen by extension).

A file holds one experiment (its fields at the top level) or several (`[[experiments]]` in TOML, an
`experiments:` list in YAML or JSON). Every problem names the file and the field.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headwater.experiments.model import Experiment
from headwater.experiments.validation import ExperimentInvalid, Problem, parse_experiment


def read_definitions(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".yaml", ".yml"):
            try:
                import yaml  # type: ignore[import-untyped,unused-ignore]  # PyYAML, from uvicorn[standard]
            except ImportError as e:  # pragma: no cover - depends on the environment
                raise ExperimentInvalid(
                    [Problem(str(path), "reading YAML needs PyYAML: pip install pyyaml")]
                ) from e
            return yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as e:
        raise ExperimentInvalid([Problem(str(path), f"not valid {suffix[1:].upper()}: {e}")]) from e
    except Exception as e:  # yaml.YAMLError without importing yaml at module level
        raise ExperimentInvalid([Problem(str(path), f"not valid YAML: {e}")]) from e
    raise ExperimentInvalid([Problem(str(path), "unknown file type: use .toml, .yaml, .yml or .json")])


def parse_definitions(data: Any, *, source: str = "") -> list[Experiment]:
    """One or many experiments; raises ExperimentInvalid listing every problem of every experiment."""
    prefix = f"{source}: " if source else ""
    if isinstance(data, Mapping) and "experiments" in data:
        items = data["experiments"]
        if not isinstance(items, list) or set(data) != {"experiments"}:
            raise ExperimentInvalid([Problem(f"{prefix}experiments", "must be the only key, holding a list")])
        where = [f"{prefix}experiments[{i}]." for i in range(len(items))]
    else:
        items, where = [data], [prefix]
    experiments: list[Experiment] = []
    problems: list[Problem] = []
    for item, at in zip(items, where, strict=True):
        try:
            experiments.append(parse_experiment(item, where=at))
        except ExperimentInvalid as e:
            problems.extend(e.problems)
    keys = [e.key for e in experiments]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(Problem(f"{prefix}experiments", f"duplicate experiment key {key!r}"))
    if problems:
        raise ExperimentInvalid(problems)
    return experiments


def load_experiments(path: str | Path) -> list[Experiment]:
    p = Path(path)
    return parse_definitions(read_definitions(p), source=str(p.name))
