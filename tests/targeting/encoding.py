"""Test-side encoders of GPP / TCF bit fields, to build strings with chosen values."""

from __future__ import annotations

from headwater.targeting.bits import _ALPHABET


def b64(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(_ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def uint(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def fibonacci(value: int) -> str:
    weights = [1, 2]
    while weights[-1] <= value:
        weights.append(weights[-1] + weights[-2])
    digits = ["0"] * len(weights)
    for index in range(len(weights) - 1, -1, -1):
        if weights[index] <= value:
            digits[index] = "1"
            value -= weights[index]
    return "".join(digits).rstrip("0") + "1"


def gpp_header(section_ids: list[int]) -> str:
    bits, last = uint(3, 6) + uint(1, 6) + uint(len(section_ids), 12), 0
    for sid in section_ids:
        bits += "0" + fibonacci(sid - last)
        last = sid
    return b64(bits)


def usnat(sale: int = 2, sharing: int = 2, targeted: int = 2, gpc: bool | None = None) -> str:
    bits = uint(1, 6) + uint(1, 2) * 6 + uint(sale, 2) + uint(sharing, 2) + uint(targeted, 2)
    bits += "00" * (12 + 2) + uint(0, 2) + uint(2, 2) + uint(0, 2) + uint(0, 2)
    section = b64(bits)
    return section if gpc is None else section + "." + b64("01" + ("1" if gpc else "0"))


def tcf_core(purposes: set[int], version: int = 2) -> str:
    bits = uint(version, 6) + uint(16_000_000_000, 36) * 2 + uint(10, 12) + uint(1, 12) + uint(1, 6)
    bits += uint(4, 6) + uint(13, 6) + uint(100, 12) + uint(4, 6) + "00" + uint(0, 12)
    bits += "".join("1" if p in purposes else "0" for p in range(1, 25)) + "0" * 24 + "0"
    bits += uint(3, 6) + uint(4, 6) + uint(0, 16) + "0" + uint(0, 16) + "0" + uint(0, 12)
    return b64(bits)
