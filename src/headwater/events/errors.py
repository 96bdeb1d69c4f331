"""Why an event was refused: a stable code and a message that names the field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventError(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return self.message
