"""What every worker reads from the catalog, cached: compiled audiences, enrich settings, API keys.

Re-read at most every ``refresh_seconds`` (and the audiences only when their version changed), so
a definition, a setting or a key changed through the API or the CLI reaches every worker within a
second, without a query per request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from headwater.stores.sql.audiences import AudienceCatalog
from headwater.targeting.audience_spec import parse_audience
from headwater.targeting.audiences import Audience, AudienceError
from headwater.targeting.consent import ConsentPolicy
from headwater.targeting.membership import CompiledAudiences
from headwater.targeting.pipeline import EnrichSettings

log = logging.getLogger("headwater.audiences")

#: Settings of the enrich endpoint (`headwater audiences settings`), with their defaults.
SETTING_DEFAULTS: dict[str, str] = {
    "provider": "headwater.local",  # the `name` of our user.data entries
    "gdpr_unknown_applies": "true",
    "block_invalid_us_privacy": "true",
    "lookup_timeout_ms": "3",
}


def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def check_setting(name: str, value: str) -> str:
    """The normalized value; ValueError naming the setting when it is unknown or malformed."""
    if name not in SETTING_DEFAULTS:
        raise ValueError(f"unknown setting {name!r}: one of {', '.join(SETTING_DEFAULTS)}")
    if name in ("gdpr_unknown_applies", "block_invalid_us_privacy"):
        if value.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError(f"setting {name!r} must be true or false")
        return "true" if _flag(value) else "false"
    if name == "lookup_timeout_ms":
        try:
            ms = float(value)
        except ValueError:
            raise ValueError("setting 'lookup_timeout_ms' must be a number of milliseconds") from None
        if not 0.1 <= ms <= 1000:
            raise ValueError("setting 'lookup_timeout_ms' must be between 0.1 and 1000")
        return str(ms)
    if not value.strip() or " " in value.strip():
        raise ValueError("setting 'provider' must be a domain name")
    return value.strip()


def enrich_settings(values: dict[str, str]) -> EnrichSettings:
    merged = {**SETTING_DEFAULTS, **values}
    return EnrichSettings(
        provider=merged["provider"],
        policy=ConsentPolicy(
            gdpr_unknown_applies=_flag(merged["gdpr_unknown_applies"]),
            block_invalid_us_privacy=_flag(merged["block_invalid_us_privacy"]),
        ),
        lookup_timeout_seconds=float(merged["lookup_timeout_ms"]) / 1000,
    )


def parse_stored(definitions: list[dict[str, object]]) -> list[Audience]:
    out = []
    for definition in definitions:
        try:
            out.append(parse_audience(definition, check_id=False))
        except AudienceError as exc:  # stored before a stricter parser: skipped, said once per load
            log.warning("stored audience %r is invalid and ignored: %s", definition.get("id"), exc)
    return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    compiled: CompiledAudiences
    settings: EnrichSettings
    keys: frozenset[str]  # hex SHA-256 of each active enrich key (the keys are not stored)


class Definitions:
    def __init__(self, catalog: AudienceCatalog, refresh_seconds: float = 1.0) -> None:
        self.catalog = catalog
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._version = ""
        self._checked = 0.0
        self._snapshot = Snapshot(CompiledAudiences(()), enrich_settings({}), frozenset())
        self.last_error: str | None = None
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> Snapshot:
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < self.refresh_seconds:
                return self._snapshot
            self._checked = now
            try:
                version = self.catalog.version()
                compiled = self._snapshot.compiled
                if force or version != self._version:
                    stored = self.catalog.list_audiences()
                    compiled = CompiledAudiences(parse_stored([s.definition for s in stored]))
                    self._version = version
                keys = frozenset(k.digest for k in self.catalog.list_keys())
                settings = enrich_settings(self.catalog.settings())
            except Exception as exc:  # the database is down: keep serving the last snapshot
                self.last_error = str(exc)
                return self._snapshot
            self.last_error = None
            self._snapshot = Snapshot(compiled, settings, keys)
            return self._snapshot

    def current(self) -> Snapshot:
        """The snapshot, refreshed when older than refresh_seconds (cheap otherwise)."""
        if time.monotonic() - self._checked < self.refresh_seconds:
            return self._snapshot
        return self.refresh()
