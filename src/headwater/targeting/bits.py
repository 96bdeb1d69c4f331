"""Bit reading over base64url segments, shared by the TCF and GPP decoders."""

from __future__ import annotations

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}


class BitsError(ValueError):
    """A segment is not base64url, or is shorter than the fields read from it."""


class BitReader:
    """Reads big-endian unsigned fields from a base64url string (6 bits a character, no padding)."""

    __slots__ = ("_bits", "_size", "pos")

    def __init__(self, segment: str) -> None:
        value = 0
        for char in segment.rstrip("="):
            six = _VALUE.get(char)
            if six is None:
                raise BitsError(f"character {char!r} is not base64url")
            value = (value << 6) | six
        self._size = 6 * len(segment.rstrip("="))
        self._bits = value
        self.pos = 0

    @property
    def size(self) -> int:
        return self._size

    def uint(self, width: int) -> int:
        if self.pos + width > self._size:
            raise BitsError(f"needs {self.pos + width} bits, the segment has {self._size}")
        shift = self._size - self.pos - width
        self.pos += width
        return (self._bits >> shift) & ((1 << width) - 1)

    def flag(self) -> bool:
        return self.uint(1) == 1

    def bitfield(self, width: int) -> frozenset[int]:
        """The 1-based positions of the set bits among the next `width` bits."""
        field = self.uint(width)
        return frozenset(i + 1 for i in range(width) if field >> (width - 1 - i) & 1)

    def fibonacci(self) -> int:
        """A Fibonacci-coded integer (GPP): digits weigh 1, 2, 3, 5, ...; ends with two 1 bits."""
        total, weights, previous = 0, [1, 2], 0
        index = 0
        while True:
            bit = self.uint(1)
            if bit and previous:
                return total
            if index >= len(weights):
                weights.append(weights[-1] + weights[-2])
            if bit:
                total += weights[index]
            previous = bit
            index += 1
