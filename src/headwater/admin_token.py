"""The admin token: from settings, else from <data_dir>/admin_token, else a new one saved there."""

from __future__ import annotations

import os
import secrets

from headwater.config import Settings


def ensure_admin_token(settings: Settings) -> tuple[str, bool]:
    """(token, created_now)."""
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return settings.admin_token.get_secret_value(), False
    path = settings.data_dir / "admin_token"
    if path.exists():
        return path.read_text().strip(), False
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, True
