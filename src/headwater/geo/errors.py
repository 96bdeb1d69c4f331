"""The geo package's error (apart, so the database modules and the package import it alike)."""

from __future__ import annotations


class GeoDatabaseError(Exception):
    """The configured database cannot be used; the message says what to fix, in one line."""
