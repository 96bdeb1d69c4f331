"""`headwater users|tokens|audit`: accounts, API tokens and the audit log, on the store directly
(the same as /api/v1/users, /api/v1/tokens and /api/v1/audit; docs/security.md)."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.common import DataDir, JsonOpt, database, err, fail, settings_of

users_app = typer.Typer(help="Users of the dashboard and the API, with their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: per user, with scopes (shown once).", no_args_is_help=True)

RoleOpt = Annotated[
    str, typer.Option("--role", help="owner, admin, analyst (metrics, experiments, audiences) or viewer.")
]
BaseUrl = Annotated[
    str,
    typer.Option(
        "--url", help="The dashboard's address as your team reaches it (default: where this server listens)."
    ),
]


def actor() -> str:
    """How the audit log names a change made from the command line."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


@contextmanager
def accounts(data_dir: Any) -> Iterator[Any]:
    from headwater.stores.sql.accounts import SqlAccounts

    db = database(settings_of(data_dir=data_dir))
    try:
        yield SqlAccounts(db)
    finally:
        db.close()


def record(data_dir: Any, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Write a change made from the command line to the audit log."""
    with accounts(data_dir) as store:
        store.record(actor(), action, target, detail)


def _refuse(exc: Exception) -> None:
    fail(str(exc), code=1)


def _print_invitation(email: str, token: str, url: str, data_dir: Any) -> None:
    if not url:  # where this server listens (HEADWATER_HOST, HEADWATER_PORT)
        settings = settings_of(data_dir=data_dir)
        url = f"http://{settings.host}:{settings.port}"
    err.print(f"Send this link to {email} (it works once, for 7 days; it is not shown again):")
    print(f"{url.rstrip('/')}/dashboard/invite?invitation={token}")


@users_app.command("invite")
def users_invite(
    email: Annotated[str, typer.Argument(help="The new user's email (their sign-in name).")],
    role: RoleOpt = "viewer",
    name: Annotated[str, typer.Option("--name", help="Their name, as shown in the dashboard.")] = "",
    url: BaseUrl = "",
    data_dir: DataDir = None,
) -> None:
    """Invite a user: prints the link where they choose their password."""
    from headwater.accounts.roles import RoleError
    from headwater.stores.sql.accounts import AccountError

    with accounts(data_dir) as store:
        try:
            user, token = store.invite(email, role, name)
        except (AccountError, RoleError) as exc:
            _refuse(exc)
        store.record(actor(), "user.invite", user.email, {"role": user.role})
    _print_invitation(user.email, token, url, data_dir)


@users_app.command("list")
def users_list(data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """List users and their roles."""
    with accounts(data_dir) as store:
        rows = [u.public() for u in store.users()]
    if as_json:
        print(json.dumps({"users": rows}, indent=2))
        return
    if not rows:
        err.print("No users yet: `headwater users invite EMAIL --role admin` makes the first one.")
        return
    table = Table("email", "name", "role", "created", "state")
    for r in rows:
        state = "disabled" if r["disabled_at"] else "invited" if r["invited"] else "active"
        table.add_row(r["email"], r["name"], r["role"], r["created_at"][:19], state)
    Console().print(table)


@users_app.command("role")
def users_role(
    email: Annotated[str, typer.Argument(help="The user's email or id.")],
    role: Annotated[str, typer.Argument(help="owner, admin, analyst or viewer.")],
    data_dir: DataDir = None,
) -> None:
    """Change a user's role (their sessions and tokens follow at once)."""
    from headwater.accounts.roles import RoleError
    from headwater.stores.sql.accounts import AccountError

    with accounts(data_dir) as store:
        try:
            user = store.set_role(email, role)
        except (AccountError, RoleError) as exc:
            _refuse(exc)
        store.record(actor(), "user.role", user.email, {"role": user.role})
    print(f"{user.email} is now {user.role}")


EmailArg = Annotated[str, typer.Argument(help="The user's email or id.")]


def _switch(data_dir: Any, email: str, on: bool) -> None:
    from headwater.stores.sql.accounts import AccountError

    verb = "enable" if on else "disable"
    with accounts(data_dir) as store:
        try:
            user = store.enable(email) if on else store.disable(email)
        except AccountError as exc:
            _refuse(exc)
        store.record(actor(), f"user.{verb}", user.email)
    print(f"{verb}d {user.email}")


@users_app.command("disable")
def users_disable(email: EmailArg, data_dir: DataDir = None) -> None:
    """Disable a user: their sessions end and their API tokens stop working."""
    _switch(data_dir, email, on=False)


@users_app.command("enable")
def users_enable(email: EmailArg, data_dir: DataDir = None) -> None:
    """Enable a disabled user again."""
    _switch(data_dir, email, on=True)


@users_app.command("reset")
def users_reset(
    email: Annotated[str, typer.Argument(help="The user's email or id.")],
    url: BaseUrl = "",
    data_dir: DataDir = None,
) -> None:
    """A new invitation link for a user who forgot their password (earlier links stop working)."""
    from headwater.stores.sql.accounts import AccountError

    with accounts(data_dir) as store:
        try:
            token = store.reinvite(email)
        except AccountError as exc:
            _refuse(exc)
        store.record(actor(), "user.reset", email.strip().lower())
    _print_invitation(email, token, url, data_dir)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[
        str, typer.Option("--user", help="Whose token: a user's email (it can do at most what they can).")
    ],
    name: Annotated[str, typer.Option("--name", help="What it is for, e.g. 'grafana'.")],
    scope: Annotated[
        str, typer.Option("--scope", help="Comma-separated: read, experiments, audiences, admin, metrics.")
    ] = "read",
    data_dir: DataDir = None,
) -> None:
    """Make an API token (send it as 'Authorization: Bearer ...'). The token is the last line."""
    from headwater.accounts.roles import RoleError, parse_scopes, permissions_of
    from headwater.stores.sql.accounts import AccountError

    with accounts(data_dir) as store:
        try:
            owner = store.require_user(user)
            scopes = parse_scopes(scope)
            beyond = sorted(scopes - permissions_of(owner.role))
            if beyond:
                what = ", ".join(beyond)
                raise RoleError(f"the role {owner.role} may not do {what}: give the token less")
            token = store.create_token(owner.id, name, scopes)
        except (AccountError, RoleError) as exc:
            _refuse(exc)
        store.record(actor(), "token.create", name, {"user": owner.email, "scopes": sorted(scopes)})
    err.print(f"API token {name!r} for {owner.email} ({', '.join(sorted(scopes))}); it is not shown again:")
    print(token)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """List API tokens (their hints: a token is shown only when it is made)."""
    from headwater.stores.sql.accounts import AccountError

    with accounts(data_dir) as store:
        try:
            owner = store.require_user(user).id if user else None
        except AccountError as exc:
            _refuse(exc)
        emails = {u.id: u.email for u in store.users()}
        rows = [
            t.public() | {"user": emails.get(t.user_id, t.user_id)}
            for t in store.tokens(owner, include_revoked)
        ]
    if as_json:
        print(json.dumps({"tokens": rows}, indent=2))
        return
    table = Table("token", "name", "user", "scopes", "created", "last used", "revoked")
    for r in rows:
        table.add_row(
            r["hint"], r["name"], r["user"], " ".join(r["scopes"]), r["created_at"][:19],
            (r["last_used_at"] or "")[:19], (r["revoked_at"] or "")[:19],
        )  # fmt: skip
    Console().print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[str, typer.Argument(help="The token, its hint (hwt_AbCdEf…) or its name.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke API tokens: requests with them get 401 at once."""
    from headwater.stores.sql.accounts import AccountError

    with accounts(data_dir) as store:
        try:
            revoked = store.revoke_token(token)
        except AccountError as exc:
            _refuse(exc)
        store.record(actor(), "token.revoke", token[:10], {"revoked": [t.hint for t in revoked]})
    for t in revoked:
        print(f"revoked {t.hint} ({t.name})")


def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many entries.")] = 50,
    who: Annotated[str | None, typer.Option("--actor", help="Only this actor's changes.")] = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """The audit log, latest first: who changed keys, experiments, audiences, accounts, when."""
    with accounts(data_dir) as store:
        entries = store.audit(limit, who)
    if as_json:
        print(json.dumps({"entries": entries}, indent=2))
        return
    if not entries:
        err.print("The audit log is empty: changes to keys, experiments, audiences and accounts land here.")
        return
    # the target (a request id, an email) on one line at any width, to copy; the rest folds onto
    # more lines in a narrow terminal, never cut with an ellipsis
    table = Table()
    table.add_column("at", overflow="fold", min_width=10)
    table.add_column("actor", overflow="fold", min_width=8)
    table.add_column("action", overflow="fold", min_width=10)
    table.add_column("target", no_wrap=True)
    table.add_column("detail", overflow="fold", min_width=10, ratio=1)
    for e in entries:
        at = e["at"][:19].replace("T", " ")
        table.add_row(at, e["actor"], e["action"], e["target"], json.dumps(e["detail"]))
    Console().print(table)


admin_token_app = typer.Typer(help="The admin token: the owner's bootstrap credential.", no_args_is_help=True)


@admin_token_app.command("reset")
def admin_token_reset(data_dir: DataDir = None) -> None:
    """Make a new admin token (printed once; only its hash is kept). The old one stops working at once."""
    from headwater.admin_token import reset_admin_token

    settings = settings_of(data_dir=data_dir)
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        fail("HEADWATER_ADMIN_TOKEN is set: the servers use it, not the file. Change it where it is set.")
    token = reset_admin_token(settings)
    record(data_dir, "admin_token.reset", "admin-token")
    err.print("New admin token (it is not shown again; only its hash is kept):")
    print(token)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.command("audit")(audit)
    app.add_typer(admin_token_app, name="admin-token")
