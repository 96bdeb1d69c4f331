"""/api/v1/me, /api/v1/users, /api/v1/tokens and /api/v1/audit: accounts over HTTP (the CLI's
``headwater users|tokens|audit`` do the same on the store directly).

The route table says who may call each (http/routes.py: users and the audit log need ``admin``);
every change is written to the audit log by http/app.py, with the target named here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.accounts.roles import RoleError, check_role, may_grant, parse_scopes
from headwater.http.auth import note_audit, principal
from headwater.http.errors import HttpError
from headwater.http.schemas import NewToken, NewUser, UserChange
from headwater.stores.sql.accounts import AccountError, SqlAccounts


def _accounts(request: Request) -> SqlAccounts:
    accounts: SqlAccounts | None = request.app.state.runtime.accounts
    if accounts is None:
        raise HttpError(503, "unavailable", "accounts are not available in this process")
    return accounts


async def _body(request: Request, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(await request.body(), type=kind)
    except msgspec.ValidationError as exc:
        raise HttpError(400, "invalid_body", f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None


def _refused(exc: Exception) -> HttpError:
    return HttpError(400, "invalid_request", str(exc))


async def me(request: Request) -> Response:
    """Who this credential acts as, and what it may do"""
    who = principal(request)
    assert who is not None  # the route's guard let it in
    return JSONResponse(
        {
            "user_id": who.user_id,
            "email": who.email,
            "role": who.role,
            "via": who.via,
            "permissions": sorted(who.permissions),
        }
    )


async def users(request: Request) -> Response:
    """Every user (GET); invite one (POST: the answer holds the invitation link, shown once)"""
    accounts = _accounts(request)
    if request.method == "GET":
        found = await asyncio.to_thread(accounts.users)
        return JSONResponse({"users": [u.public() for u in found]})
    body: NewUser = await _body(request, NewUser)
    who = principal(request)
    try:
        role = check_role(body.role)
    except RoleError as exc:
        raise _refused(exc) from None
    if who is None or not may_grant(who.role, role):
        raise HttpError(403, "forbidden", f"a {who.role if who else '?'} may not make a {role}")
    try:
        user, token = await asyncio.to_thread(accounts.invite, body.email, role, body.name)
    except AccountError as exc:
        raise HttpError(409 if "exists" in str(exc) else 400, "invalid_request", str(exc)) from None
    note_audit(request, user.email, role=role)
    link = f"/dashboard/invite?invitation={token}"
    return JSONResponse({"user": user.public(), "invitation": token, "link": link}, status_code=201)


async def user(request: Request) -> Response:
    """One user (GET); change their role, disable or enable them, or renew their invitation (PATCH)"""
    accounts = _accounts(request)
    found = await asyncio.to_thread(accounts.user, request.path_params["user"])
    if found is None:
        raise HttpError(404, "unknown_user", f"no user {request.path_params['user']!r}")
    if request.method == "GET":
        return JSONResponse({"user": found.public()})
    change: UserChange = await _body(request, UserChange)
    who = principal(request)
    assert who is not None
    answer: dict[str, Any] = {}
    try:
        if change.role is not None:
            role = check_role(change.role)
            if not (may_grant(who.role, role) and may_grant(who.role, found.role)):
                raise HttpError(403, "forbidden", f"a {who.role} may not change a {found.role} into a {role}")
            found = await asyncio.to_thread(accounts.set_role, found.id, role)
        if change.disabled is not None:
            if not may_grant(who.role, found.role):
                raise HttpError(403, "forbidden", f"a {who.role} may not disable a {found.role}")
            action = accounts.disable if change.disabled else accounts.enable
            found = await asyncio.to_thread(action, found.id)
        if change.reinvite:
            token = await asyncio.to_thread(accounts.reinvite, found.id)
            answer = {"invitation": token, "link": f"/dashboard/invite?invitation={token}"}
    except (AccountError, RoleError) as exc:
        raise _refused(exc) from None
    note_audit(request, found.email, **msgspec.to_builtins(change))
    return JSONResponse({"user": found.public(), **answer})


async def tokens(request: Request) -> Response:
    """Your API tokens (GET; ?all=true: everyone's, for an admin); make one (POST: shown once)"""
    accounts = _accounts(request)
    who = principal(request)
    assert who is not None
    if request.method == "GET":
        everyone = request.query_params.get("all", "false").lower() in ("1", "true")
        if everyone and not who.may("admin"):
            raise HttpError(403, "forbidden", "only an owner or admin may list everyone's tokens")
        found = await asyncio.to_thread(accounts.tokens, None if everyone else who.user_id)
        return JSONResponse({"tokens": [t.public() for t in found]})
    body: NewToken = await _body(request, NewToken)
    try:
        scopes = parse_scopes(body.scopes)
    except RoleError as exc:
        raise _refused(exc) from None
    beyond = sorted(scopes - who.permissions)
    if beyond:
        what = ", ".join(beyond)
        raise HttpError(403, "forbidden", f"you may not give a token what you may not do: {what}")
    try:
        token = await asyncio.to_thread(accounts.create_token, who.user_id, body.name, scopes)
    except AccountError as exc:
        raise _refused(exc) from None
    note_audit(request, body.name, scopes=sorted(scopes))
    return JSONResponse({"token": token, "name": body.name, "scopes": sorted(scopes)}, status_code=201)


async def token(request: Request) -> Response:
    """Revoke an API token by its hint or name (yours; an admin's: anyone's)"""
    accounts = _accounts(request)
    who = principal(request)
    assert who is not None
    which = request.path_params["token"]
    try:
        revoked = await asyncio.to_thread(
            accounts.revoke_token, which, None if who.may("admin") else who.user_id
        )
    except AccountError as exc:
        raise HttpError(404, "unknown_token", str(exc)) from None
    note_audit(request, which, revoked=[t.hint for t in revoked])
    return JSONResponse({"revoked": [t.public() for t in revoked]})


async def audit(request: Request) -> Response:
    """The audit log, latest first: who changed what, when"""
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise HttpError(400, "invalid_parameter", "limit must be a whole number from 1 to 10000")
    actor = request.query_params.get("actor") or None
    entries = await asyncio.to_thread(_accounts(request).audit, int(raw), actor)
    return JSONResponse({"entries": entries})
