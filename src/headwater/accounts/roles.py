"""Roles, permissions and API-token scopes: what each may do (pure; no store, no framework).

A permission names a kind of act:

- ``read``: every metric, result, list and the dashboard;
- ``experiments``: create, change, start and stop experiments;
- ``audiences``: create, change, delete and recompute audiences;
- ``admin``: write keys, enrich keys, accounts, API tokens, the audit log, regulations;
- ``metrics``: the Prometheus endpoint only (a token for a scraper needs nothing else).

A role is a set of permissions. An API token carries scopes (permissions) chosen at creation; what it
may do is its scopes within its user's role, so a token never outgrows its user, and a user whose
role shrinks takes every token of theirs down with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

Permission = Literal["read", "experiments", "audiences", "admin", "metrics"]
PERMISSIONS: Final[tuple[Permission, ...]] = ("read", "experiments", "audiences", "admin", "metrics")

ROLES: Final[dict[str, frozenset[Permission]]] = {
    "owner": frozenset(PERMISSIONS),
    "admin": frozenset(PERMISSIONS),
    "analyst": frozenset({"read", "experiments", "audiences", "metrics"}),
    "viewer": frozenset({"read", "metrics"}),
}

#: the account of the admin token (HEADWATER_ADMIN_TOKEN or <data_dir>/admin_token): the owner's
#: bootstrap credential, which works before any user exists
ADMIN_TOKEN_USER: Final = "admin-token"


class RoleError(ValueError):
    """An unknown role or scope; the message lists the known ones."""


def check_role(role: str) -> str:
    if role not in ROLES:
        raise RoleError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def parse_scopes(text: str | Sequence[str]) -> frozenset[Permission]:
    """Scopes from 'read,metrics' (commas or spaces) or a list; refuses unknown ones and none."""
    words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    unknown = [w for w in words if w not in PERMISSIONS]
    if unknown:
        raise RoleError(f"unknown scope {unknown[0]!r}: use some of {', '.join(PERMISSIONS)}")
    if not words:
        raise RoleError(f"a token needs at least one scope: some of {', '.join(PERMISSIONS)}")
    return frozenset(w for w in PERMISSIONS if w in words)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a user (by id and email) with what they may do here."""

    user_id: str
    email: str
    role: str
    permissions: frozenset[Permission]
    via: Literal["admin_token", "session", "api_token", "metrics_token"]
    csrf: str = ""  # the session's CSRF token (sessions only)

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        if self.via == "admin_token":
            return ADMIN_TOKEN_USER
        return self.email + (" (token)" if self.via == "api_token" else "")

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions


def admin_token_principal() -> Principal:
    return Principal(ADMIN_TOKEN_USER, ADMIN_TOKEN_USER, "owner", ROLES["owner"], "admin_token")


def may_grant(granter_role: str, role: str) -> bool:
    """Owners make anyone; admins make anyone but owners; others make nobody."""
    if granter_role == "owner":
        return True
    return granter_role == "admin" and role != "owner"


def permissions_of(role: str, scopes: tuple[str, ...] | None = None) -> frozenset[Permission]:
    """A role's permissions, narrowed to a token's scopes when there are any."""
    granted = ROLES.get(role, frozenset())
    return granted if scopes is None else frozenset(p for p in granted if p in scopes)
