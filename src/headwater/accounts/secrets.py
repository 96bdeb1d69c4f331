"""The secrets of accounts: Argon2id password hashes, and random tokens kept only as SHA-256.

Passwords are hashed with argon2-cffi's defaults (Argon2id, RFC 9106's low-memory profile), the
well-kept binding of the reference implementation: a stolen database costs an attacker that much
memory and time per guess. Tokens (sessions, invitations, API tokens) are 32 random bytes: nobody
guesses them, so a fast SHA-256 is enough to keep a stolen database from being a list of live
credentials, and it lets a request find its token by an index lookup.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # a longer one is refused before hashing (argon2 would take it, slowly)

_hasher = PasswordHasher()
#: verified against when the email is unknown, so a wrong email takes as long as a wrong password
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class PasswordPolicyError(ValueError):
    """A password refused by the policy; the message says what is needed."""


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordPolicyError(f"a password has at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches the stored hash (constant work when there is none)."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """A fresh random token, e.g. ``hwt_...`` (API token), ``hws_...`` (session)."""
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The form a token is stored in (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hint(token: str) -> str:
    """What is shown of a token after its creation: its first characters."""
    return token[:10] + "…"
