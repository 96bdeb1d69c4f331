"""The admin token, the owner's bootstrap credential (docs/security.md).

From the setting ``admin_token`` (HEADWATER_ADMIN_TOKEN, e.g. from a secret manager), else made at
first start, printed once and kept only as its SHA-256 in ``<data_dir>/admin_token``
(``sha256:<hex>``, 0600). A file of an earlier version holding the token itself is rewritten as its
hash at the next start. ``headwater admin-token reset`` makes a new one (printed once).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from headwater.atomic_file import write_atomic
from headwater.config import Settings

PREFIX = "sha256:"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches(given: str, token_digest: str) -> bool:
    """Whether ``given`` is the token whose SHA-256 is ``token_digest`` (constant time)."""
    return bool(given) and hmac.compare_digest(digest(given), token_digest)


def _path(settings: Settings) -> Path:
    return settings.data_dir / "admin_token"


def _save(path: Path, token: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, (PREFIX + digest(token) + "\n").encode())
    os.chmod(path, 0o600)


def ensure_admin_token(settings: Settings) -> tuple[str, str | None]:
    """(the SHA-256 the server compares with, the token itself when it was made just now)."""
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return digest(settings.admin_token.get_secret_value()), None
    path = _path(settings)
    if path.exists():
        text = path.read_text().strip()
        if text.startswith(PREFIX):
            return text[len(PREFIX) :], None
        _save(path, text)  # an earlier version kept the token itself
        return digest(text), None
    token = secrets.token_urlsafe(32)
    _save(path, token)
    return digest(token), token


class AdminToken:
    """The admin token a server accepts: the setting's, else the file's, re-read when the file
    changes (``headwater admin-token reset`` takes effect at once, in every process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._digest, self.created = ensure_admin_token(settings)
        self._fixed = settings.admin_token is not None and bool(settings.admin_token.get_secret_value())
        self._stamp = self._mtime()

    def _mtime(self) -> int:
        try:
            return _path(self.settings).stat().st_mtime_ns
        except OSError:
            return 0

    def matches(self, given: str) -> bool:
        if not self._fixed and (stamp := self._mtime()) != self._stamp:
            self._stamp = stamp
            self._digest = ensure_admin_token(self.settings)[0]
        return matches(given, self._digest)


def reset_admin_token(settings: Settings) -> str:
    """A new admin token, kept as its hash; the old one stops working at once."""
    token = secrets.token_urlsafe(32)
    _save(_path(settings), token)
    return token
