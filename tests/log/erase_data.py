"""A log of several people over days and writers, in the collector's shape, for erasure tests: which
line of which file is whose, to check an erasure byte for byte."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

DAYS = (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3))
WRITERS = ("w1", "w2")
#: each person's ids: a user id and anonymous ids (one only ever seen as an alias's previousId)
PEOPLE = {
    "alice": ("alice-7", "anon-a1", "anon-a2"),
    "bob": ("bob-3", "anon-b1", "anon-b2"),
}
ALICE = PEOPLE["alice"]


def iso(day: date, second: int) -> str:
    return f"{day.isoformat()}T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000Z"


def event(
    day: date,
    second: int,
    mid: str,
    user: Any = None,
    anon: Any = None,
    previous: Any = None,
    etype: str = "track",
) -> dict[str, Any]:
    """A logged event as the collector writes it (``_hw`` last)."""
    out: dict[str, Any] = {"type": etype, "messageId": mid}
    if etype == "track":
        out["event"] = "Clicked"
    if user is not None:
        out["userId"] = user
    if anon is not None:
        out["anonymousId"] = anon
    if previous is not None:
        out["previousId"] = previous
    out["timestamp"] = out["receivedAt"] = iso(day, second)
    out["properties"] = {"tool_id": "editor", "n": second}
    out["context"] = {"ip": "203.0.113.0", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"}
    out["_hw"] = {"source": "test", "bot": False, "event_type": "Clicked", "tool_id": "editor"}
    return out


@dataclass
class Log:
    """The files written, and whose each line is (None: nobody erased in the tests)."""

    root: Path
    lines: dict[Path, list[tuple[bytes, str | None]]] = field(default_factory=dict)

    def add(self, path: Path, line: bytes, owner: str | None) -> None:
        self.lines.setdefault(path, []).append((line, owner))
        with open(path, "ab") as fh:
            fh.write(line + b"\n")

    def of(self, owner: str) -> list[bytes]:
        return [line for lines in self.lines.values() for line, who in lines if who == owner]

    def files_of(self, owner: str) -> set[Path]:
        return {path for path, lines in self.lines.items() if any(who == owner for _, who in lines)}


def build_log(log_dir: Path, per_file: int = 60, seed: int = 3) -> Log:
    """Events files (every day, every writer) and quarantine files (every day, writer w1) holding
    alice's, bob's and other people's lines in random order."""
    rng = random.Random(seed)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = Log(log_dir)
    n = 0
    for day in DAYS:
        for writer in WRITERS:
            path = log_dir / f"events-{day:%Y%m%d}.{writer}.jsonl"
            for i in range(per_file):
                n += 1
                who = rng.choice(["alice", "bob", None, None, None])
                if who is None:
                    ev = event(day, i * 60, f"m-{n:06d}", user=f"carol-{n}", anon=f"anon-c{n}")
                else:
                    user, anon, other = PEOPLE[who]
                    kind = rng.randrange(4)
                    if kind == 0:
                        ev = event(day, i * 60, f"m-{n:06d}", user=user, anon=anon)
                    elif kind == 1:  # before identify: the anonymous id only
                        ev = event(day, i * 60, f"m-{n:06d}", anon=anon)
                    elif kind == 2:  # an alias: the other anonymous id as previousId
                        ev = event(day, i * 60, f"m-{n:06d}", user=user, previous=other, etype="alias")
                    else:
                        ev = event(day, i * 60, f"m-{n:06d}", user=user)
                log.add(path, msgspec.json.encode(ev), who)
        path = log_dir / f"quarantine-{day:%Y%m%d}.w1.jsonl"
        for i, who in enumerate(["alice", "bob", None, "alice", None]):
            user = f"carol-q{i}" if who is None else PEOPLE[who][i % 3]
            raw = {"type": "track", "userId": user, "event": ""}
            if i % 2:  # an unreadable body, kept whole: the event is inside a string
                record = {"reason": "not JSON", "code": "bad_json", "body": msgspec.json.encode(raw).decode()}
            else:
                record = {"reason": "event is empty", "code": "invalid", "index": i, "event": raw}
            record["receivedAt"] = iso(day, i)
            log.add(path, msgspec.json.encode(record), who)
    return log


def file_bytes(log_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(log_dir.iterdir()) if p.suffix == ".jsonl"}
