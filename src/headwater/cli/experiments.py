"""`headwater experiments create|list|show|start|stop|load|results`: the admin API from the shell.

Writes go straight to the realtime store; a running server serves them within a second.
``--json`` prints the API's JSON. Exit codes: 0 done, 1 not found / lake error, 2 bad input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, err, fail, settings_of
from headwater.cli.users import record

T = TypeVar("T")
experiments_app = typer.Typer(help="A/B tests: definitions, start/stop, results.", no_args_is_help=True)
KeyArg = Annotated[str, typer.Argument(help="The experiment key.")]


@contextmanager
def _catalog(data_dir: Path | None) -> Iterator[Any]:
    from headwater.stores.sql.experiments import ExperimentCatalog
    from headwater.stores.sql.ports import StoreUnavailableError

    settings = settings_of(data_dir=data_dir)
    try:
        catalog = ExperimentCatalog(settings.effective_database_url)
    except StoreUnavailableError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        yield catalog
    finally:
        catalog.close()


def _run(fn: Callable[[], T]) -> T:
    from headwater.experiments import admin

    try:
        return fn()
    except admin.ExperimentInvalid as exc:
        for p in exc.problems:
            err.print(f"[red]error:[/] {p.field}: {p.message}")
        raise typer.Exit(2) from None
    except admin.ExperimentNotFoundError as exc:
        err.print(f"[red]error:[/] no experiment with key {exc.args[0]!r}")
        raise typer.Exit(1) from None
    except admin.ExperimentExistsError as exc:
        err.print(f"[red]error:[/] an experiment {exc.args[0]!r} exists already (use `load` to replace it)")
        raise typer.Exit(2) from None


def _not_found(key: str) -> NoReturn:
    err.print(f"[red]error:[/] no experiment with key {key!r}")
    raise typer.Exit(1)


def _print(stored: Any, catalog: Any, as_json: bool) -> None:
    from headwater.experiments.admin import describe

    out = describe(stored, catalog)
    if as_json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['key']}  {out['status']}  phase {out['phase']}  ({out['name']})")


@experiments_app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="A TOML, YAML or JSON file with one experiment.")],
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an experiment from a file (refused if the key exists)."""
    from headwater.experiments import admin
    from headwater.experiments.loading import read_definitions

    definition = _run(lambda: read_definitions(file))
    if isinstance(definition, dict) and isinstance(definition.get("experiments"), list):
        # a file of several experiments ([[experiments]] in TOML, as docs/experiments.md shows them)
        err.print(
            f"[red]error:[/] {file} holds a list of experiments ('experiments'): create takes one."
            f" Load them all with: headwater experiments load {file}"
        )
        raise typer.Exit(2)
    with _catalog(data_dir) as catalog:
        stored = _run(lambda: admin.create(catalog, definition))
        _print(stored, catalog, as_json)
    record(data_dir, "experiment.create", stored.key)


@experiments_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="A TOML, YAML or JSON file: one experiment or a list.")],
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or replace every experiment of a file (nothing written unless all are valid)."""
    from headwater.experiments import admin

    with _catalog(data_dir) as catalog:
        done = _run(lambda: admin.load_file(catalog, file))
    for key, action in done:
        record(data_dir, f"experiment.{action}", key)
    if as_json:
        print(json.dumps({"loaded": [{"key": k, "action": a} for k, a in done]}, indent=2))
        return
    for key, action in done:
        print(f"{action} {key}")


@experiments_app.command("list")
def list_(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """List the experiments."""
    from headwater.experiments.admin import describe

    with _catalog(data_dir) as catalog:
        items = [describe(s) for s in catalog.all()]
    if as_json:
        print(json.dumps({"experiments": items}, indent=2))
        return
    table = Table("key", "name", "status", "phase", "updated")
    for e in items:
        table.add_row(e["key"], e["name"], e["status"], e["phase"], e["updated_at"])
    Console(soft_wrap=True).print(table)


@experiments_app.command("show")
def show(key: KeyArg, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Show one experiment, its definition and phases (JSON either way)."""
    from headwater.experiments import admin

    del as_json

    with _catalog(data_dir) as catalog:
        stored = catalog.get(key)
        if stored is None:
            _not_found(key)
        print(json.dumps(admin.describe(stored, catalog), indent=2))


@experiments_app.command("start")
def start(
    key: KeyArg,
    new_phase: Annotated[bool, typer.Option("--new-phase", help="Start a new phase: re-randomize.")] = False,
    seed: Annotated[str | None, typer.Option(help="Hash seed of the (new) phase.")] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Start (or resume) an experiment; --new-phase re-randomizes everybody."""
    from headwater.experiments import admin

    with _catalog(data_dir) as catalog:
        _print(_run(lambda: admin.start(catalog, key, new_phase, seed)), catalog, as_json)
    record(data_dir, "experiment.start", key, {"new_phase": new_phase})


@experiments_app.command("stop")
def stop(key: KeyArg, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Stop an experiment: everyone gets the control, results stay readable."""
    from headwater.experiments import admin

    with _catalog(data_dir) as catalog:
        _print(_run(lambda: admin.stop(catalog, key)), catalog, as_json)
    record(data_dir, "experiment.stop", key)


@experiments_app.command("results")
def results(
    key: KeyArg,
    alpha: Annotated[float, typer.Option(help="1 - confidence level.")] = 0.05,
    sequential: Annotated[bool, typer.Option("--sequential", help="Always-valid intervals too.")] = False,
    correction: Annotated[str, typer.Option(help="holm, bh or none (across metrics).")] = "holm",
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Results over the lake and today's log (the JSON of GET /api/v1/experiments/KEY/results)."""
    from headwater.experiments.stored_results import (
        InvalidResultsOption,
        parse_results_options,
        stored_results,
    )
    from headwater.lake.layout import LakeError

    settings = settings_of(data_dir=data_dir)
    try:
        options = parse_results_options(str(alpha), "true" if sequential else "false", correction)
    except InvalidResultsOption as exc:
        fail(f"--{exc.param}: {exc}")
    try:
        with _catalog(data_dir) as catalog:
            found = stored_results(catalog, key, settings.data_dir, settings.timezone, options)
    except LakeError as exc:
        fail(str(exc), code=1)
    if found is None:
        _not_found(key)
    out = found
    if as_json:
        print(json.dumps(out, indent=2))
        return
    exposed = out["exposure"]["users"]
    users = (
        f"{sum(exposed.values()):,} (" + ", ".join(f"{v}: {n:,}" for v, n in exposed.items()) + ")"
        if isinstance(exposed, dict)
        else exposed
    )
    srm = out["srm"]["p_value"]
    srm_text = "—" if srm is None else _p_value(srm)
    print(f"{key} phase {out['phase']}: exposed users {users}  SRM p = {srm_text}")
    for m in out["metrics"]:
        means = ", ".join(f"{v['variation']} {_mean(v['mean'])} (n={v['users']:,})" for v in m["variants"])
        print(f"  {m['role']} {m['key']} ({m['kind']}): {means}")
        for c in m["comparisons"]:
            rel = c["frequentist"][0]
            print(
                f"    {c['variation']} vs control: relative lift {rel['expected']:+.2%} "
                f"CI [{rel['ci'][0]:+.2%}, {rel['ci'][1]:+.2%}] p = {_p_value(rel['p_value'])}; "
                f"chance to win {c['bayesian'][0]['chance_to_win']:.1%}"
            )
    for w in out["warnings"]:
        print(f"  warning: {w}")


def register(app: typer.Typer) -> None:
    app.add_typer(experiments_app, name="experiments")


def _p_value(p: float) -> str:
    """Three decimals, the precision a reader acts on; below that only "< 0.001"."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _mean(x: float) -> str:
    """Fixed decimals by magnitude, so a column of means lines up and never prints 0.09677."""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.4f}"
