"""`headwater cohorts ...`: saved groups of people for the insights' filters and breakdowns
(docs/insights.md, "Cohorts"); the same definitions and members as /api/v1/cohorts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from headwater.cli.common import DataDir, JsonOpt, err, settings_of

cohorts_app = typer.Typer(
    help="Cohorts: saved groups of people, by a rule or a list, for insights (docs/insights.md).",
    no_args_is_help=True,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def _catalog(data_dir: Path | None) -> Any:
    from headwater.stores.sql.cohorts import CohortCatalog
    from headwater.stores.sql.ports import StoreUnavailableError

    try:
        return CohortCatalog(settings_of(data_dir=data_dir).effective_database_url)
    except StoreUnavailableError as exc:
        raise _fail(str(exc), 2) from None


def _read(source: str) -> Any:
    if source == "-":
        text = sys.stdin.read()
    elif source.lstrip().startswith("{"):
        text = source
    else:
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise _fail(
                f"cannot read {source}: {exc.strerror} (give a file, - for standard input, or the JSON)"
            ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _fail(f"not valid JSON: {exc}") from None


@cohorts_app.command("create")
def create(
    source: Annotated[str, typer.Argument(help="A JSON file, - for standard input, or the JSON itself.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace a cohort of the same id.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a cohort: {"id", "name", "rule": <an audience rule>} or {"id", "name", "members": [ids]}."""
    from headwater.insights.cohort_spec import CohortError, parse_cohort

    obj = _read(source)
    try:
        cohort = parse_cohort(obj)
    except CohortError as exc:
        raise _fail(f"invalid cohort: {exc}") from None
    with _catalog(data_dir) as catalog:
        try:
            _, created = catalog.put(obj, create_only=not replace)
        except KeyError:
            raise _fail(f"cohort {cohort.id!r} exists: add --replace to replace it") from None
    print(f"{'created' if created else 'replaced'} cohort {cohort.id} ({cohort.kind})")


@cohorts_app.command("list")
def list_(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Every cohort, with when its members were last computed."""
    from headwater.insights.cohorts import stored_members

    settings = settings_of(data_dir=data_dir)
    with _catalog(data_dir) as catalog:
        stored = catalog.list()
    rows = []
    for s in stored:
        kept = stored_members(settings.data_dir, s.id)
        kind = "static" if s.definition.get("members") is not None else "rule"
        rows.append({"id": s.id, "name": s.definition.get("name", s.id), "kind": kind,
                     "computed": None if kept is None else kept.describe()})  # fmt: skip
    if as_json:
        print(json.dumps({"cohorts": rows}, indent=2))
        return
    if not rows:
        print("no cohorts yet: headwater cohorts create FILE (see docs/insights.md, Cohorts)")
        return
    for row in rows:
        computed = row["computed"]
        state = (
            f"{computed['members']:,} members at {computed['computed_at']}"
            if computed
            else "not computed yet"
        )
        print(f"{row['id']:<24} {row['kind']:<7} {state}  {row['name']}")


@cohorts_app.command("show")
def show(cohort_id: str, data_dir: DataDir = None) -> None:
    """A cohort's definition (JSON)."""
    with _catalog(data_dir) as catalog:
        stored = catalog.get(cohort_id)
    if stored is None:
        raise _fail(f"no cohort {cohort_id!r} (headwater cohorts list)")
    print(json.dumps(stored.definition, indent=2, ensure_ascii=False))


@cohorts_app.command("delete")
def delete(cohort_id: str, data_dir: DataDir = None) -> None:
    """Delete a cohort and its computed members."""
    from headwater.insights.cohorts import cohorts_dir

    settings = settings_of(data_dir=data_dir)
    with _catalog(data_dir) as catalog:
        if not catalog.delete(cohort_id):
            raise _fail(f"no cohort {cohort_id!r} (headwater cohorts list)")
    (cohorts_dir(settings.data_dir) / f"{cohort_id}.parquet").unlink(missing_ok=True)
    print(f"deleted cohort {cohort_id}")


def _members(cohort_id: str, data_dir: Path | None, recompute: bool) -> Any:
    from headwater.insights.cohorts import Cohorts, compute_members
    from headwater.lake.layout import LakeError
    from headwater.lake.params import MetricError

    settings = settings_of(data_dir=data_dir, existing=True)
    cohorts = Cohorts(settings.data_dir, settings.effective_database_url)
    try:
        if recompute:
            with _catalog(data_dir) as catalog:
                return compute_members(
                    settings.data_dir, cohorts.definition(catalog, cohort_id, "argument COHORT")
                )
        return cohorts.resolve({cohort_id: "argument COHORT"})[cohort_id]
    except MetricError as exc:
        raise _fail(exc.message, 2) from None
    except LakeError as exc:
        raise _fail(str(exc)) from None


@cohorts_app.command("compute")
def compute(cohort_id: str, data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Compute a cohort's members now (the server computes the cohorts in use every night)."""
    members = _members(cohort_id, data_dir, recompute=True)
    out = {"id": cohort_id, **members.describe(), "seconds": round(members.seconds, 3)}
    if as_json:
        print(json.dumps(out, indent=2))
        return
    print(f"cohort {cohort_id}: {members.count:,} members (computed in {members.seconds:.1f} s)")


@cohorts_app.command("members")
def members(
    cohort_id: str,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many people.")] = 1000,
    data_dir: DataDir = None,
) -> None:
    """A cohort's members, one person per line (computed first when needed)."""
    import pyarrow.parquet as pq

    found = _members(cohort_id, data_dir, recompute=False)
    for person in pq.read_table(found.path, columns=["person"]).column("person").to_pylist()[:limit]:
        print(person)


def register(app: typer.Typer) -> None:
    app.add_typer(cohorts_app, name="cohorts")
