"""Store URLs: their scheme, and their text with the password hidden (for messages and `config`)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def scheme_of(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:
        return ""


def mask_url(url: str) -> str:
    """Hide the password of a URL, keep everything else."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:****@{netloc}"))
