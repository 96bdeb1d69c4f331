"""`headwater privacy delete|suppress|unsuppress|status|run|export`: a person's data, deleted,
suppressed or exported (docs/privacy.md). The same requests as POST /api/v1/regulations."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from headwater.cli.common import DataDir, JsonOpt, database, err, fail, settings_of

privacy_app = typer.Typer(
    help="Delete, suppress or export one person's data (GDPR / CCPA requests; docs/privacy.md).",
    no_args_is_help=True,
)
Subject = Annotated[str, typer.Argument(help="The person's userId (or anonymousId with --anonymous).")]
Anonymous = Annotated[bool, typer.Option("--anonymous", help="SUBJECT is an anonymousId, not a userId.")]
WAIT_SECONDS = 3600.0


def _subject(value: str, anonymous: bool) -> dict[str, str]:
    if not value:
        fail("SUBJECT is empty: give the person's userId (or --anonymous and their anonymousId)")
    return {"anonymousId" if anonymous else "userId": value}


def _file(kind: str, value: str, anonymous: bool, data_dir: Any) -> tuple[Any, Any, dict[str, Any]]:
    from headwater.privacy.requests import RequestError, file_request

    settings = settings_of(data_dir=data_dir)
    db = database(settings)
    try:
        answer = file_request(db, kind, _subject(value, anonymous), "cli")
    except RequestError as exc:
        fail(str(exc))
    from headwater.stores.sql.accounts import SqlAccounts

    # audited by the request's id, never the person's (as the API's route guard records it)
    SqlAccounts(db).record(
        _actor(), f"regulation.{kind.lower()}", answer["id"], {"type": kind, "origin": "cli"}
    )
    return settings, db, answer


def _print(entry: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(entry, sort_keys=True))
        return
    from headwater.privacy.deletion import STEPS

    print(f"{entry['id']}  {entry['type']}  {entry['status']}")
    order = {step: i for i, step in enumerate(STEPS)}  # the steps in the order they run
    progress = (entry.get("progress") or {}).items()
    for step, state in sorted(progress, key=lambda item: (order.get(item[0], len(order)), item[0])):
        if isinstance(state, dict):
            shown = ", ".join(f"{k}={v}" for k, v in state.items() if k != "status")
            print(f"  {step:<12} {state.get('status', ''):<10} {shown}")
        else:
            print(f"  {step:<12} {state}")


def suppress(
    subject: Subject, anonymous: Anonymous = False, data_dir: DataDir = None, as_json: JsonOpt = False
) -> None:
    """Stop collecting the person's events (every linked id), at once; nothing stored is deleted."""
    _, db, answer = _file("SUPPRESS_ONLY", subject, anonymous, data_dir)
    db.close()
    _print(answer, as_json)


def unsuppress(
    subject: Subject, anonymous: Anonymous = False, data_dir: DataDir = None, as_json: JsonOpt = False
) -> None:
    """Collect the person's events again (lifts every suppression that covers one of their ids)."""
    _, db, answer = _file("UNSUPPRESS", subject, anonymous, data_dir)
    db.close()
    _print(answer, as_json)


def delete(
    subject: Subject,
    anonymous: Anonymous = False,
    keep_collecting: Annotated[
        bool, typer.Option("--keep-collecting", help="DELETE_ONLY: delete what is stored, do not suppress.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until the deletion has finished.")
    ] = True,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete everything stored of the person, in every store, and (unless --keep-collecting)
    suppress them. A running server runs the deletion (this command waits for it); else it runs here."""
    kind = "DELETE_ONLY" if keep_collecting else "SUPPRESS_WITH_DELETE"
    settings, db, answer = _file(kind, subject, anonymous, data_dir)
    try:
        if wait:
            answer = _run_or_wait(settings, db, answer["id"])
    finally:
        db.close()
    _print(answer, as_json)
    if answer["status"] not in ("FINISHED", "INITIALIZED", "RUNNING"):
        raise typer.Exit(1)


def run(
    regulation: Annotated[
        str | None, typer.Argument(help="A regulation id (default: every unfinished one).")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Run (or resume) deletions here: one by id (FAILED and PARTIAL_SUCCESS ones too), or every one
    filed and not finished. Refused while a server runs them."""
    from headwater.stores.sql.webhooks import SqlRegulations

    settings = settings_of(data_dir=data_dir)
    db = database(settings)
    try:
        regs = SqlRegulations(db)
        if regulation is not None:
            found = regs.get(regulation)
            if found is None:
                fail(f"no regulation {regulation!r}", hint="`headwater privacy status` lists them.")
            if found["status"] in ("FAILED", "PARTIAL_SUCCESS"):
                regs.update(regulation, "RUNNING", _reset_failed(found["progress"]))
            todo = [regulation]
        else:
            todo = [r["id"] for r in regs.unfinished()]
        if not todo:
            err.print("nothing to run: every deletion has finished")
        for rid in todo:
            _print(_run_here(settings, db, rid), as_json)
    finally:
        db.close()


def _reset_failed(progress: dict[str, Any]) -> dict[str, Any]:
    out = dict(progress)
    for step, state in progress.items():
        if isinstance(state, dict) and state.get("status") == "FAILED":
            out[step] = {"status": "RETRY", "attempts": 0}
    return out


def _run_or_wait(settings: Any, db: Any, rid: str) -> dict[str, Any]:
    from headwater.privacy.runner import privacy_lock
    from headwater.stores.sql.webhooks import SqlRegulations

    lock = privacy_lock(settings)
    if lock.try_acquire():
        lock.release()
        return _run_here(settings, db, rid)
    err.print(f"a server runs deletions here (pid {lock.holder()}): waiting for {rid} to finish ...")
    regs, deadline = SqlRegulations(db), time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        entry = regs.get(rid)
        if entry is not None and entry["status"] not in ("INITIALIZED", "RUNNING"):
            return entry
        time.sleep(0.5)
    return regs.get(rid) or {"id": rid, "type": "?", "status": "RUNNING"}


def _run_here(settings: Any, db: Any, rid: str) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from headwater.privacy.deletion import Deletion
    from headwater.privacy.runner import privacy_lock

    lock = privacy_lock(settings)
    if not lock.try_acquire():
        fail(
            f"a server (pid {lock.holder()}) runs the deletions of this data directory",
            hint=f"it runs {rid} too: `headwater privacy status {rid}` shows how far it is.",
        )
    try:
        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            tasks: dict[str, Any] = {}

            def report(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=max(total, 1))
                bar.update(tasks[step], completed=done, total=max(total, 1))

            return Deletion(settings, db, progress=report).run(rid)
    finally:
        lock.release()


def status(
    regulation: Annotated[str | None, typer.Argument(help="A regulation id (default: list them).")] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """Requests filed, latest first, or one with its progress in every store."""
    from headwater.stores.sql.webhooks import SqlRegulations, public

    settings = settings_of(data_dir=data_dir)
    db = database(settings)
    try:
        regs = SqlRegulations(db)
        if regulation is not None:
            found = regs.get(regulation)
            if found is None:
                fail(f"no regulation {regulation!r}", hint="`headwater privacy status` lists them.")
            _print(public(found), as_json)
            return
        entries = [public(r) for r in regs.all()]
    finally:
        db.close()
    if as_json:
        print(json.dumps({"regulations": entries}, sort_keys=True))
    elif not entries:
        err.print("no privacy requests yet: `headwater privacy delete USER_ID` files one")
    for entry in [] if as_json else entries:
        print(f"{entry['id']}  {entry['type']:<20} {entry['status']:<15} {entry['created_at']}")


def export(
    subject: Subject,
    anonymous: Anonymous = False,
    output: Annotated[str, typer.Option("--output", "-o", help="A file, or - for standard output.")] = "-",
    data_dir: DataDir = None,
) -> None:
    """Everything stored of the person (events, identities, sessions, assignments, audiences) as
    NDJSON, from every store: the answer to an access request, filed as an ACCESS regulation."""
    from headwater.privacy.access import file_access, keep_hashes, live_in_process, person_records
    from headwater.privacy.requests import RequestError
    from headwater.stores.sql.accounts import SqlAccounts

    settings = settings_of(data_dir=data_dir)
    db = database(settings)
    try:
        try:
            rid, ids = file_access(settings, db, _subject(subject, anonymous), "cli")
        except RequestError as exc:
            fail(str(exc))
        SqlAccounts(db).record(_actor(), "regulation.access", rid, {"type": "ACCESS", "origin": "cli"})
        with_live = not live_in_process(settings)
        if not with_live:
            err.print(
                "the live store is memory:// (inside the server's process): this export has no experiment"
                " assignments or audiences; the running server's"
                f" GET /api/v1/regulations/{rid}/export has them"
            )
        count = _write_export(output, person_records(settings, ids, with_live=with_live))
        if count == 0:  # nothing of them is stored: the request must not be the one record of them
            keep_hashes(db, rid)
    finally:
        db.close()
    err.print(f"{count} records of {len(ids)} linked ids (access request {rid})")


def _write_export(output: str, records: Iterator[dict[str, Any]]) -> int:
    out = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")  # noqa: SIM115
    count = 0
    try:
        for record in records:
            out.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    return count


def _actor() -> str:
    from headwater.cli.users import actor

    return actor()


def register(app: typer.Typer) -> None:
    for command in (delete, suppress, unsuppress, status, run, export):
        privacy_app.command(command.__name__)(command)
    app.add_typer(privacy_app, name="privacy")
