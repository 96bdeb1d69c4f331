"""Accounts in the realtime store (migration 7, SQLite or PostgreSQL): users, invitations, sessions,
API tokens and the audit log.

Only hashes of secrets are stored: Argon2id for passwords (accounts/secrets.py), SHA-256 for the
random tokens of invitations, sessions and API tokens. Times are fixed-width UTC text.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from headwater.accounts.roles import Permission, check_role
from headwater.accounts.secrets import digest, hint, new_token
from headwater.stores.sql.database import SqlDatabase

_EMAIL = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,189}$")
USER_COLUMNS = "id, email, name, role, password_hash, created_at, disabled_at"


def _stamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AccountError(ValueError):
    """A refused account change; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    name: str
    role: str
    password_hash: str | None
    created_at: str
    disabled_at: str | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def public(self) -> dict[str, Any]:
        """As the API and the CLI show it (never the password hash)."""
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "disabled_at": self.disabled_at,
            "invited": self.password_hash is None,
        }


@dataclass(frozen=True, slots=True)
class ApiToken:
    hint: str
    user_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    def public(self) -> dict[str, Any]:
        return {
            "hint": self.hint,
            "user_id": self.user_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address (name@domain)")
    return email


class SqlAccounts:
    """Users, invitations, sessions, API tokens and the audit log on one SqlDatabase."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q(sql), args)
            return list(cur.fetchall())

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self.db.tx() as cur:
            cur.execute(self.db.q(sql), args)
            return int(cur.rowcount or 0)

    # -- users ---------------------------------------------------------------------------------
    def users(self) -> list[User]:
        return [User(*r) for r in self._all(f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id")]

    def user(self, id_or_email: str) -> User | None:
        rows = self._all(
            f"SELECT {USER_COLUMNS} FROM users WHERE id = {{p}} OR email = {{p}}",
            (id_or_email, id_or_email.strip().lower()),
        )
        return User(*rows[0]) if rows else None

    def require_user(self, id_or_email: str) -> User:
        found = self.user(id_or_email)
        if found is None:
            raise AccountError(f"no user {id_or_email!r}: `headwater users list` shows them")
        return found

    def invite(self, email: str, role: str, name: str = "", days: int = 7) -> tuple[User, str]:
        """A new user without a password, and the one-time token that lets them set one."""
        email, role = normal_email(email), check_role(role)
        if self.user(email) is not None:
            raise AccountError(f"a user with email {email!r} exists already")
        user = User("u_" + secrets.token_hex(8), email, name.strip()[:200], role, None, _stamp(), None)
        token = new_token("hwi_")
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    f"INSERT INTO users({USER_COLUMNS}) VALUES ({{p}},{{p}},{{p}},{{p}},{{p}},{{p}},{{p}})"
                ),
                (user.id, user.email, user.name, user.role, None, user.created_at, None),
            )
            self._insert_invitation(cur, user.id, token, days)
        return user, token

    def _insert_invitation(self, cur: Any, user_id: str, token: str, days: int) -> None:
        now = datetime.now(UTC)
        cur.execute(
            self.db.q(
                "INSERT INTO invitations(token_hash, user_id, created_at, expires_at)"
                " VALUES ({p},{p},{p},{p})"
            ),
            (digest(token), user_id, _stamp(now), _stamp(now + timedelta(days=days))),
        )

    def reinvite(self, id_or_email: str, days: int = 7) -> str:
        """A new one-time token for an existing user (a forgotten password); older ones stop working."""
        user = self.require_user(id_or_email)
        token = new_token("hwi_")
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM invitations WHERE user_id = {p}"), (user.id,))
            self._insert_invitation(cur, user.id, token, days)
        return token

    def invitation(self, token: str) -> User | None:
        """The user a valid (unused, unexpired) invitation token is for."""
        rows = self._all(
            "SELECT user_id FROM invitations WHERE token_hash = {p} AND used_at IS NULL AND expires_at > {p}",
            (digest(token), _stamp()),
        )
        user = self.user(rows[0][0]) if rows else None
        return user if user is not None and user.active else None

    def accept(self, token: str, password_hash: str) -> User:
        """Set the password of an invitation's user and use the invitation up (once, atomically)."""
        user = self.invitation(token)
        if user is None:
            raise AccountError("this invitation is unknown, used or expired: ask for a new one")
        with self.db.tx() as cur:
            cur.execute(
                self.db.q("UPDATE invitations SET used_at = {p} WHERE token_hash = {p} AND used_at IS NULL"),
                (_stamp(), digest(token)),
            )
            if not cur.rowcount:
                raise AccountError("this invitation was used already: ask for a new one")
            cur.execute(
                self.db.q("UPDATE users SET password_hash = {p} WHERE id = {p}"), (password_hash, user.id)
            )
            cur.execute(self.db.q("DELETE FROM sessions WHERE user_id = {p}"), (user.id,))
        return user

    def set_role(self, id_or_email: str, role: str) -> User:
        user, role = self.require_user(id_or_email), check_role(role)
        if user.role == "owner" and role != "owner" and self._owners() <= 1:
            raise AccountError("this is the last owner: make another user owner first")
        self._run("UPDATE users SET role = {p} WHERE id = {p}", (role, user.id))
        return self.require_user(user.id)

    def disable(self, id_or_email: str) -> User:
        """Disable a user: their sessions end and their API tokens stop working at once."""
        user = self.require_user(id_or_email)
        if user.role == "owner" and user.active and self._owners() <= 1:
            raise AccountError("this is the last owner: make another user owner first")
        with self.db.tx() as cur:
            cur.execute(self.db.q("UPDATE users SET disabled_at = {p} WHERE id = {p}"), (_stamp(), user.id))
            cur.execute(self.db.q("DELETE FROM sessions WHERE user_id = {p}"), (user.id,))
            cur.execute(self.db.q("DELETE FROM invitations WHERE user_id = {p}"), (user.id,))
        return self.require_user(user.id)

    def enable(self, id_or_email: str) -> User:
        user = self.require_user(id_or_email)
        self._run("UPDATE users SET disabled_at = NULL WHERE id = {p}", (user.id,))
        return self.require_user(user.id)

    def _owners(self) -> int:
        rows = self._all("SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL")
        return int(rows[0][0])

    # -- sessions ------------------------------------------------------------------------------
    def create_session(self, user_id: str, seconds: int) -> tuple[str, str]:
        """(session id for the cookie, CSRF token for the page)."""
        session, csrf = new_token("hws_"), secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM sessions WHERE expires_at <= {p}"), (_stamp(now),))
            cur.execute(
                self.db.q(
                    "INSERT INTO sessions(id_hash, user_id, csrf, created_at, expires_at)"
                    " VALUES ({p},{p},{p},{p},{p})"
                ),
                (digest(session), user_id, csrf, _stamp(now), _stamp(now + timedelta(seconds=seconds))),
            )
        return session, csrf

    def session(self, session: str) -> tuple[str, str] | None:
        """(user id, CSRF token) of a live session."""
        rows = self._all(
            "SELECT user_id, csrf FROM sessions WHERE id_hash = {p} AND expires_at > {p}",
            (digest(session), _stamp()),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def end_session(self, session: str) -> None:
        self._run("DELETE FROM sessions WHERE id_hash = {p}", (digest(session),))

    # -- API tokens ----------------------------------------------------------------------------
    def create_token(self, user_id: str, name: str, scopes: frozenset[Permission]) -> str:
        """A new API token (returned once; only its hash is kept)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise AccountError("a token needs a name of 1 to 100 characters (what it is for)")
        token = new_token("hwt_")
        ordered = " ".join(s for s in ("read", "experiments", "audiences", "admin", "metrics") if s in scopes)
        self._run(
            "INSERT INTO api_tokens(token_hash, hint, user_id, name, scopes, created_at)"
            " VALUES ({p},{p},{p},{p},{p},{p})",
            (digest(token), hint(token), user_id, name, ordered, _stamp()),
        )
        return token

    def token(self, token: str) -> tuple[ApiToken, str] | None:
        """(the token, its hash) when it is live."""
        rows = self._all(
            "SELECT hint, user_id, name, scopes, created_at, last_used_at, revoked_at, token_hash"
            " FROM api_tokens WHERE token_hash = {p} AND revoked_at IS NULL",
            (digest(token),),
        )
        if not rows:
            return None
        r = rows[0]
        return ApiToken(r[0], r[1], r[2], tuple(r[3].split()), r[4], r[5], r[6]), r[7]

    def touch_token(self, token_hash: str) -> None:
        self._run("UPDATE api_tokens SET last_used_at = {p} WHERE token_hash = {p}", (_stamp(), token_hash))

    def tokens(self, user_id: str | None = None, include_revoked: bool = False) -> list[ApiToken]:
        where = ["1 = 1"] + ([] if include_revoked else ["revoked_at IS NULL"])
        args: tuple[Any, ...] = ()
        if user_id is not None:
            where.append("user_id = {p}")
            args = (user_id,)
        rows = self._all(
            "SELECT hint, user_id, name, scopes, created_at, last_used_at, revoked_at FROM api_tokens"
            f" WHERE {' AND '.join(where)} ORDER BY created_at",
            args,
        )
        return [ApiToken(r[0], r[1], r[2], tuple(r[3].split()), r[4], r[5], r[6]) for r in rows]

    def revoke_token(self, which: str, user_id: str | None = None) -> list[ApiToken]:
        """Revoke live tokens given the token itself, its hint (``hwt_AbCdEf…``, the … optional) or
        its name (of one user, or of anyone)."""
        mine = " AND user_id = {p}" if user_id is not None else ""
        match = "revoked_at IS NULL AND (token_hash = {p} OR hint = {p} OR hint = {p} OR name = {p})" + mine
        args: tuple[Any, ...] = (digest(which), which, which + "…", which) + (
            (user_id,) if user_id is not None else ()
        )
        rows = self._all(
            "SELECT hint, user_id, name, scopes, created_at, last_used_at, revoked_at FROM api_tokens"
            f" WHERE {match}",
            args,
        )
        if not rows:
            raise AccountError(f"no live API token {which!r}: `headwater tokens list` shows them")
        self._run(f"UPDATE api_tokens SET revoked_at = {{p}} WHERE {match}", (_stamp(), *args))
        return [ApiToken(r[0], r[1], r[2], tuple(r[3].split()), r[4], r[5], _stamp()) for r in rows]

    # -- the audit log -------------------------------------------------------------------------
    def record(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        """One change: who, what (``experiment.stop``, ``POST /api/v1/audiences``), to what."""
        self._run(
            "INSERT INTO audit_log(at, actor, action, target, detail) VALUES ({p},{p},{p},{p},{p})",
            (_stamp(), actor[:200], action[:200], target[:500], json.dumps(detail or {}, sort_keys=True)),
        )

    def audit(self, limit: int = 100, actor: str | None = None) -> list[dict[str, Any]]:
        """The latest changes first."""
        where, args = ("WHERE actor = {p}", (actor,)) if actor else ("", ())
        rows = self._all(
            f"SELECT id, at, actor, action, target, detail FROM audit_log {where}"
            f" ORDER BY id DESC LIMIT {max(1, min(int(limit), 10_000))}",
            args,
        )
        return [
            {
                "id": int(r[0]),
                "at": r[1],
                "actor": r[2],
                "action": r[3],
                "target": r[4],
                "detail": json.loads(r[5]),
            }
            for r in rows
        ]
