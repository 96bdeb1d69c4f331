"""CSV rows as Segment messages: the column map, the header's checks, one row to one message.

A map says which column fills which field: ``userId=user,event=name,timestamp=ts,properties.plan=plan``
(field=column), or the same as a TOML or JSON file. Without a map, a column named like a message
field fills it and every other column becomes ``properties.<column>``. Problems with the header
(a mapped column missing, one column only: the wrong delimiter) end the import with one line;
problems with a row (too few cells, a bad date) put that row in the quarantine, naming its line
and the field.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.events.errors import EventError

#: Top-level message fields a column may fill; nested ones go under these objects.
FIELDS = frozenset(
    {
        "type",
        "event",
        "userId",
        "anonymousId",
        "messageId",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "receivedAt",
        "previousId",
        "groupId",
        "name",
        "category",
    }
)
OBJECTS = frozenset({"properties", "traits", "context", "integrations"})
DELIMITERS = (",", ";", "\t", "|")


class MapError(ValueError):
    """A column map or a CSV header that cannot work: one line saying what to change."""


def parse_map(spec: str | None) -> dict[str, str] | None:
    """field -> column from ``a=b,c=d`` or from a .toml / .json file (nested tables flattened)."""
    if spec is None or not spec.strip():
        return None
    path = Path(spec)
    if path.suffix.lower() in (".toml", ".json") and path.is_file():
        try:
            raw = (
                tomllib.loads(path.read_text())
                if path.suffix.lower() == ".toml"
                else json.loads(path.read_text())
            )
        except (OSError, ValueError) as exc:
            raise MapError(f"--map {spec}: cannot be read: {exc}") from None
        if not isinstance(raw, dict):
            raise MapError(f"--map {spec}: expected a table of field = column")
        pairs = list(_flatten(raw, ""))
    else:
        pairs = []
        for item in spec.split(","):
            field, sep, column = item.partition("=")
            if not sep or not field.strip() or not column.strip():
                raise MapError(f"--map: {item.strip()!r} is not field=column (e.g. userId=user_id)")
            pairs.append((field.strip(), column.strip()))
    mapping: dict[str, str] = {}
    for field, column in pairs:
        check_field(field)
        if field in mapping:
            raise MapError(f"--map: field {field!r} is mapped twice")
        mapping[field] = column
    return mapping


def _flatten(table: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            out.append((f"{prefix}{key}", value))
        else:
            raise MapError(f"--map: the column of {prefix}{key} must be a string, got {value!r}")
    return out


def check_field(field: str) -> None:
    head, dot, rest = field.partition(".")
    if (not dot and head in FIELDS) or (dot and head in OBJECTS and rest and "" not in rest.split(".")):
        return
    raise MapError(
        f"--map: unknown field {field!r}: use one of {', '.join(sorted(FIELDS))},"
        " or properties.NAME, traits.NAME, context.NAME"
    )


def guess_delimiter(header_line: str) -> str:
    """The candidate delimiter found most often in the header line (',' when none is)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def shown(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which cell of a row fills which field (paths split on dots), bound to one header."""

    positions: tuple[int, ...]
    paths: tuple[tuple[str, ...], ...]
    columns: tuple[str, ...]  # the column of each position, for messages
    width: int
    ignored: tuple[str, ...]

    @classmethod
    def bind(cls, header: list[str], mapping: dict[str, str] | None, delimiter: str, name: str) -> ColumnMap:
        header = [h.strip() for h in header]
        if len(header) == 1 and (len(mapping or {}) > 1 or any(d in header[0] for d in DELIMITERS)):
            other = guess_delimiter(header[0])
            hint = (
                f": it looks {shown(other)}-separated, pass --delimiter {shown(other)}"
                if other != delimiter
                else ""
            )
            raise MapError(
                f"{name} line 1: only one column found ({header[0][:60]!r}) with delimiter "
                f"{shown(delimiter)}{hint}"
            )
        index = {h: i for i, h in enumerate(header)}
        if mapping is None:
            mapping = {
                (h if h in FIELDS or h.partition(".")[0] in OBJECTS else f"properties.{h}"): h
                for h in header
                if h
            }
        pairs = []
        for field, column in mapping.items():
            if column not in index:
                raise MapError(
                    f"{name} line 1: column {column!r} (mapped to field {field!r}) is not in the header;"
                    f" the columns are: {', '.join(header)[:300]} (fix --map)"
                )
            pairs.append((index[column], tuple(field.split(".")), column))
        used = {column for column in mapping.values()}
        return cls(
            positions=tuple(p for p, _, _ in pairs),
            paths=tuple(f for _, f, _ in pairs),
            columns=tuple(c for _, _, c in pairs),
            width=len(header),
            ignored=tuple(h for h in header if h not in used),
        )

    def event(self, cells: list[str]) -> dict[str, Any]:
        """The message of one row (empty cells leave their field out; type defaults to track)."""
        if len(cells) != self.width:
            if len(cells) > self.width:
                raise EventError(
                    "bad_row", f"the row has {len(cells)} cells, the header {self.width} columns"
                )
            for pos, path, column in zip(self.positions, self.paths, self.columns, strict=True):
                if pos >= len(cells):
                    raise EventError(
                        "missing_column",
                        f"field '{'.'.join(path)}' (column '{column}') is missing: the row has"
                        f" {len(cells)} of {self.width} columns",
                    )
        ev: dict[str, Any] = {}
        for pos, path in zip(self.positions, self.paths, strict=True):
            value = cells[pos]
            if value == "":
                continue
            if len(path) == 1:
                ev[path[0]] = value
                continue
            node = ev
            for key in path[:-1]:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = node[key] = {}
                node = child
            node[path[-1]] = value
        if "type" not in ev:
            ev["type"] = "track"
        return ev

    def name_column(self, message: str) -> str:
        """An error message naming a field, with the CSV column that filled it."""
        for path, column in zip(self.paths, self.columns, strict=True):
            field = ".".join(path)
            if f"field '{field}'" in message and f"column '{column}'" not in message:
                return f"{message} (column '{column}')"
        return message
