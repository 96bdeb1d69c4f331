"""The accounts' lines of the route table (http/routes.py): who am I, users, API tokens, the audit
log, and accepting an invitation."""

from __future__ import annotations

from headwater.http import dashboard, schemas, webhook
from headwater.http.api import accounts, sources
from headwater.http.endpoint import Param, Route

_USER = Param("user", "path", description="a user's id or email")
_SOURCE = Param("source", "path", {"type": "string", "minLength": 1, "maxLength": 200}, "a source's name")
_REGULATION = Param("regulation_id", "path", {"type": "string", "maxLength": 100}, "a regulation's id")
_TOKEN = Param("token", "path", description="an API token's hint (hwt_AbCdEf…), name, or the token itself")

#: a Segment webhook source: the route Segment posts to, its settings, and the regulations it files
SOURCE_ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/webhooks/segment/{source}",
        ("POST",),
        webhook.segment_webhook,
        "webhook",
        params=(_SOURCE,),
        body=schemas.SegmentMessage | list[schemas.SegmentMessage],
        statuses=(400, 401, 404, 408, 413, 503),
        max_body=webhook.MAX_BODY,
    ),
    Route(
        "/api/v1/sources/{source}/webhook",
        ("GET", "PUT", "DELETE"),
        sources.webhook,
        reads="admin",
        params=(_SOURCE,),
        body=schemas.WebhookSettings,
        statuses=(204, 400, 403, 404, 408, 413, 415),
    ),
    Route(
        "/api/v1/regulations",
        ("GET", "POST"),
        sources.regulations,
        reads="admin",
        body=schemas.RegulationRequest,
        statuses=(400, 403, 408, 413, 415),
    ),
    Route(
        "/api/v1/regulations/{regulation_id}",
        ("GET",),
        sources.regulation,
        reads="admin",
        params=(_REGULATION,),
        statuses=(403, 404),
    ),
    Route(
        "/api/v1/regulations/{regulation_id}/export",
        ("GET",),
        sources.regulation_export,
        reads="admin",
        params=(_REGULATION,),
        statuses=(403, 404, 410),
    ),
)

ACCOUNT_ROUTES: tuple[Route, ...] = (
    Route("/api/v1/me", ("GET",), accounts.me, statuses=()),
    Route(
        "/api/v1/users",
        ("GET", "POST"),
        accounts.users,
        reads="admin",
        body=schemas.NewUser,
        statuses=(400, 403, 408, 409, 413, 415),
    ),
    Route(
        "/api/v1/users/{user}",
        ("GET", "PATCH"),
        accounts.user,
        reads="admin",
        params=(_USER,),
        body=schemas.UserChange,
        statuses=(400, 403, 404, 408, 413, 415),
    ),
    Route(
        "/api/v1/tokens",
        ("GET", "POST"),
        accounts.tokens,
        writes="read",  # anyone signed in makes tokens for themselves, within what they may do
        params=(Param("all", "query", {"type": "boolean"}, "everyone's tokens (owners and admins)"),),
        body=schemas.NewToken,
        statuses=(400, 403, 408, 413, 415),
    ),
    Route(
        "/api/v1/tokens/{token}",
        ("DELETE",),
        accounts.token,
        writes="read",  # your own; an admin's: anyone's
        params=(_TOKEN,),
        statuses=(403, 404),
    ),
    Route(
        "/api/v1/audit",
        ("GET",),
        accounts.audit,
        reads="admin",
        params=(
            Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10000}),
            Param("actor", "query", description="only this actor's changes (an email, or admin-token)"),
        ),
        statuses=(400, 403),
    ),
    Route(
        "/dashboard/invite",
        ("GET", "POST"),
        dashboard.invite,
        "none",
        params=(Param("invitation", "query", description="the invitation's token (GET)"),),
        body=schemas.InvitationForm,
        statuses=(303, 400, 403, 404, 408, 413),
        content=("application/x-www-form-urlencoded",),
        max_body=dashboard.MAX_FORM_BYTES,
    ),
)
