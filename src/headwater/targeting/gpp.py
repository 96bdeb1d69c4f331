"""IAB GPP string: the header, and the sections that can opt a user out of targeting.

Read: 2 (tcfeuv2, a TCF v2 string), 6 (uspv1, a US privacy string), 7 (usnat) and 8 (usca), whose
core segments carry SaleOptOut / SharingOptOut (and, for usnat, TargetedAdvertisingOptOut), plus the
optional GPC sub-segment. Any other applicable section cannot be judged here and the consent gate
treats it as no consent (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from headwater.targeting.bits import BitReader, BitsError

TCF_EU_V2, USP_V1, US_NAT, US_CA = 2, 6, 7, 8
OPTED_OUT = 1  # GPP opt-out fields: 0 not applicable, 1 opted out, 2 did not opt out


class GPPError(ValueError):
    """The GPP string or one of its sections cannot be decoded."""


@dataclass(frozen=True, slots=True)
class GPPString:
    sections: dict[int, str]  # section id -> the encoded section, in header order


@dataclass(frozen=True, slots=True)
class USOptOuts:
    sale: bool
    sharing: bool
    targeted_advertising: bool
    gpc: bool

    @property
    def any(self) -> bool:
        return self.sale or self.sharing or self.targeted_advertising or self.gpc


def _section_ids(reader: BitReader) -> list[int]:
    ids: list[int] = []
    last = 0
    for _ in range(reader.uint(12)):
        if reader.flag():  # a range: start offset from the last id, then its length
            start = last + reader.fibonacci()
            end = start + reader.fibonacci()
            ids.extend(range(start, end + 1))
            last = end
        else:
            last += reader.fibonacci()
            ids.append(last)
    return ids


def decode(gpp: str) -> GPPString:
    parts = gpp.strip().split("~")
    try:
        reader = BitReader(parts[0])
        kind, version = reader.uint(6), reader.uint(6)
        if kind != 3:
            raise GPPError(f"header type {kind}, expected 3")
        if version != 1:
            raise GPPError(f"header version {version}, only version 1 is read")
        ids = _section_ids(reader)
    except BitsError as exc:
        raise GPPError(f"header: {exc}") from exc
    if len(ids) != len(parts) - 1:
        raise GPPError(f"header lists {len(ids)} sections, the string has {len(parts) - 1}")
    return GPPString(sections=dict(zip(ids, parts[1:], strict=True)))


def _gpc(segments: list[str]) -> bool:
    for segment in segments[1:]:
        reader = BitReader(segment)
        if reader.uint(2) == 1:  # subsection type 1: GPC
            return reader.flag()
    return False


def us_opt_outs(section_id: int, section: str) -> USOptOuts:
    """Opt-outs of a usnat (7) or usca (8) section; GPPError for anything else or a bad section."""
    segments = section.split(".")
    try:
        reader = BitReader(segments[0])
        if section_id == US_NAT:
            reader.uint(6 + 2 * 6)  # version, then six notice fields
            sale, sharing, targeted = reader.uint(2), reader.uint(2), reader.uint(2)
        elif section_id == US_CA:
            reader.uint(6 + 2 * 3)  # version, then three notice fields
            sale, sharing, targeted = reader.uint(2), reader.uint(2), 0
        else:
            raise GPPError(f"section {section_id} is not decoded here")
        gpc = _gpc(segments)
    except BitsError as exc:
        raise GPPError(f"section {section_id}: {exc}") from exc
    return USOptOuts(sale == OPTED_OUT, sharing == OPTED_OUT, targeted == OPTED_OUT, gpc)
