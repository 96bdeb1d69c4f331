"""IAB TCF v2 consent string: a small decoder of the core segment.

No maintained TCF v2 library installs here (the PyPI candidates are unmaintained and pull a
C-extension fork of bitarray), so this reads the core segment itself, at the offsets of the
TCF v2 "Consent string and vendor list formats" specification. Only the core segment is read:
the purpose consents decide enrichment; vendor sections and publisher restrictions are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from headwater.targeting.bits import BitReader, BitsError

CORE_BITS = 213  # version .. publisherCC; the vendor sections follow
REQUIRED_PURPOSES = frozenset({3, 4})  # 3: create a personalised ads profile; 4: select personalised ads


class TCFError(ValueError):
    """The string is not a decodable TCF v2 consent string."""


@dataclass(frozen=True, slots=True)
class TCString:
    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_optins: frozenset[int]
    purpose_consents: frozenset[int]
    purpose_legitimate_interests: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str

    def grants(self, purposes: frozenset[int] = REQUIRED_PURPOSES) -> bool:
        return purposes <= self.purpose_consents


def _letters(reader: BitReader) -> str:
    return chr(ord("A") + reader.uint(6)) + chr(ord("A") + reader.uint(6))


def _time(deciseconds: int) -> datetime:
    return datetime.fromtimestamp(deciseconds / 10, tz=UTC)


def decode(consent: str) -> TCString:
    """Decode the core segment (before the first '.') of a TCF v2 string, or raise TCFError."""
    core = consent.strip().split(".", 1)[0]
    if not core:
        raise TCFError("empty consent string")
    try:
        reader = BitReader(core)
        if reader.size < CORE_BITS:
            raise TCFError(f"core segment has {reader.size} bits, needs {CORE_BITS}")
        version = reader.uint(6)
        if version != 2:
            raise TCFError(f"TCF version {version}, only version 2 is read")
        return TCString(
            version=version,
            created=_time(reader.uint(36)),
            last_updated=_time(reader.uint(36)),
            cmp_id=reader.uint(12),
            cmp_version=reader.uint(12),
            consent_screen=reader.uint(6),
            consent_language=_letters(reader),
            vendor_list_version=reader.uint(12),
            policy_version=reader.uint(6),
            is_service_specific=reader.flag(),
            use_non_standard_texts=reader.flag(),
            special_feature_optins=reader.bitfield(12),
            purpose_consents=reader.bitfield(24),
            purpose_legitimate_interests=reader.bitfield(24),
            purpose_one_treatment=reader.flag(),
            publisher_cc=_letters(reader),
        )
    except BitsError as exc:
        raise TCFError(str(exc)) from exc
