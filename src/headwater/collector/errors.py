"""An HTTP error answered to a client: status, stable code, message naming what to fix."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class HttpError(Exception):
    status: int
    code: str
    message: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"
