"""`headwater keys create|list|revoke`: the sources' write keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from headwater.cli.common import DataDir, JsonOpt, database, err, fail, settings_of
from headwater.cli.users import record

keys_app = typer.Typer(help="Write keys: one per source (app, site, server).", no_args_is_help=True)
SecretFile = Annotated[
    str | None,
    typer.Option(
        "--webhook-secret-file",
        "--secret-file",
        help="File holding the shared secret pasted into Segment's webhook destination ('-': standard"
        " input). Never on the command line, where other users can read it.",
    ),
]
WebhookToken = Annotated[
    bool,
    typer.Option(
        "--webhook-token",
        "--token",
        help="Make a per-source token for the X-Webhook-Token header (printed once).",
    ),
]
MIN_SECRET = 16


def read_secret(path: str) -> str:
    """A secret from a file, or standard input for '-' (one line, surrounding whitespace dropped)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        fail(f"cannot read the secret file {path!r}: {exc.strerror}")
    secret = text.strip()
    if len(secret) < MIN_SECRET:
        fail(f"the secret in {path!r} has {len(secret)} characters: use at least {MIN_SECRET}")
    return secret


def _configure_webhook(data_dir: Any, name: str, key: str, secret: str | None, token: bool) -> None:
    from headwater.stores.sql.webhooks import SqlWebhookSources

    db = database(settings_of(data_dir=data_dir))
    try:
        stored, made = SqlWebhookSources(db).configure(name, key, secret, token)
    finally:
        db.close()
    record(data_dir, "webhook.configure", name, {"secret": secret is not None, "token": token})
    err.print(
        f"Segment webhook of {name!r}: POST {stored.public()['url']} (secret: {stored.public()['secret']})"
    )
    if made:
        err.print("Its token (add the header X-Webhook-Token in Segment; it is not shown again):")
        print(made)


def _keys(data_dir: Any) -> Any:
    from headwater.stores.sql.keys import SqlWriteKeys

    return SqlWriteKeys(database(settings_of(data_dir=data_dir)))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Source name, e.g. 'ios-app' or 'website'.")],
    origin: Annotated[
        list[str] | None, typer.Option("--origin", help="Restrict browser origins (repeatable).")
    ] = None,
    webhook_secret_file: SecretFile = None,
    webhook_token: WebhookToken = False,
    data_dir: DataDir = None,
) -> None:
    """Create a write key for a source. The key is the last line of output."""
    if not name.strip():
        fail("the source name may not be empty")
    secret = read_secret(webhook_secret_file) if webhook_secret_file else None
    keys = _keys(data_dir)
    try:
        wk = keys.create_key(name.strip(), tuple(o.rstrip("/") for o in origin or ()))
    finally:
        keys.db.close()
    if secret is not None or webhook_token:
        _configure_webhook(data_dir, wk.name, wk.key, secret, webhook_token)
    record(data_dir, "write_key.create", wk.name, {"origins": list(wk.allowed_origins)})
    err.print(f"Created write key for source {wk.name!r}. Send it as the HTTP Basic user or 'writeKey'.")
    print(wk.key)


@keys_app.command("list")
def keys_list(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
) -> None:
    """List write keys."""
    from headwater.stores.sql.webhooks import SqlWebhookSources

    keys = _keys(data_dir)
    try:
        found = keys.list_keys(include_revoked=include_revoked)
        hooks = {h.write_key: h.public() for h in SqlWebhookSources(keys.db).all()}
    finally:
        keys.db.close()
    rows = [
        {
            "key": k.key,
            "name": k.name,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            "allowed_origins": list(k.allowed_origins),
            "webhook": hooks.get(k.key),
        }
        for k in found
    ]
    if as_json:
        print(json.dumps({"keys": rows}, indent=2))
        return
    # aligned columns, nothing cut off whatever the terminal's width (a long line wraps): the keys are
    # copied from here
    header = ("NAME", "KEY", "CREATED", "REVOKED", "ORIGINS", "SEGMENT WEBHOOK")
    lines = [header] + [
        (
            r["name"],
            r["key"],
            r["created_at"][:16].replace("T", " "),
            (r["revoked_at"] or "-")[:16].replace("T", " "),
            " ".join(r["allowed_origins"]) or "any",
            _hook(r["webhook"]) or "-",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _hook(hook: dict[str, Any] | None) -> str:
    if hook is None:
        return ""
    parts = [f"secret {hook['secret']}" if hook["secret"] else "", "token" if hook["token"] else ""]
    return " + ".join(p for p in parts if p)


@keys_app.command("revoke")
def keys_revoke(
    key_or_name: Annotated[str, typer.Argument(help="The key, or a source name (revokes all its keys).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a write key: requests with it get 401 within a second."""
    from headwater.stores.sql.ports import KeyNotFoundError

    keys = _keys(data_dir)
    try:
        revoked = keys.revoke_key(key_or_name)
    except KeyNotFoundError as exc:
        fail(f"{exc}. See `headwater keys list`.", code=1)
    finally:
        keys.db.close()
    for k in revoked:
        record(data_dir, "write_key.revoke", k.name, {"key": k.key})
        print(f"revoked {k.key} ({k.name})")


@keys_app.command("webhook")
def keys_webhook(
    name: Annotated[str, typer.Argument(help="The source's name (it needs an active write key).")],
    secret_file: SecretFile = None,
    token: WebhookToken = False,
    remove: Annotated[bool, typer.Option("--remove", help="Stop accepting this source's webhook.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Let Segment send a source's events: POST /v1/webhooks/segment/NAME (docs/segment.md)."""
    from headwater.stores.sql.webhooks import SqlWebhookSources

    if remove:
        db = database(settings_of(data_dir=data_dir))
        try:
            removed = SqlWebhookSources(db).remove(name)
        finally:
            db.close()
        if not removed:
            fail(f"source {name!r} has no webhook", code=1)
        record(data_dir, "webhook.remove", name)
        print(f"removed the webhook of {name}")
        return
    if secret_file is None and not token:
        fail("give --secret-file PATH (the secret pasted into Segment), --token, or both")
    secret = read_secret(secret_file) if secret_file else None
    keys = _keys(data_dir)
    try:
        active = [k for k in keys.list_keys() if k.name == name]
    finally:
        keys.db.close()
    if not active:
        fail(f"no active write key named {name!r}: `headwater keys create {name}` first", code=1)
    _configure_webhook(data_dir, name, active[-1].key, secret, token)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
