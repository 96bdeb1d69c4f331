"""SQL of a filter's condition, with the audience rules' ops (targeting/audiences.py):

- on an event property (a JSON value, typed as the audience rules compare): ``eq`` a string matches a
  JSON string, a number a JSON number (7 and 7.0 alike), a boolean a boolean, null a JSON null;
  ``neq`` is its negation (a missing property is not equal); ``in`` is any of its values; ``gt`` and
  ``lt`` compare JSON numbers; ``contains`` is a substring of a JSON string or an element of a JSON
  array; ``exists`` (true) is present and not null, ``exists`` false the opposite.
- on a person trait or a derived dimension (text): the same ops over the text, a number or boolean
  given compared with its JSON text (7 with "7", true with "true"), ``gt`` and ``lt`` over the text
  read as a number.

Every condition is true or false, never NULL: ``NOT`` of it is the opposite rows, exactly.
"""

from __future__ import annotations

from typing import Any

from headwater.insights.request import Filter
from headwater.lake.sql import quote

NUMERIC_JSON = "('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"


def number(value: float | int) -> str:
    """A DOUBLE literal."""
    return f"CAST({quote(repr(float(value)))} AS DOUBLE)"


def text_of(value: Any) -> str:
    """The JSON text of a scalar (a string itself): what ``->>`` reads of the same JSON value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


def condition(flt: Filter, column: str, is_json: bool) -> str:
    """The filter over ``column``: a JSON value (an event property) or a text (the rest)."""
    expr = _json(flt, column) if is_json else _text(flt, column)
    return f"coalesce({expr}, false)"


def json_numeric(column: str) -> str:
    """The JSON value in ``column`` as a DOUBLE when it is a JSON number, else NULL."""
    return f"CASE WHEN json_type({column}) IN {NUMERIC_JSON} THEN TRY_CAST({column} AS DOUBLE) END"


def json_skipped(column: str) -> str:
    """Whether the JSON value in ``column`` is there, not null and not a number."""
    return f"coalesce(json_type({column}) NOT IN {NUMERIC_JSON} AND json_type({column}) <> 'NULL', false)"


def _json_eq(column: str, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"(json_type({column}) IN {NUMERIC_JSON} AND TRY_CAST({column} AS DOUBLE) = {number(value)})"
    # a string, a boolean or null: the JSON text DuckDB writes of the value, compared with the text it
    # wrote of the property (one writer, so one spelling of every string: no parse of each value)
    if value is None:
        literal = "'null'"
    elif isinstance(value, bool):
        literal = quote(text_of(value))
    else:
        literal = f"to_json(CAST({quote(value)} AS VARCHAR))"
    return f"(CAST({column} AS VARCHAR) = {literal})"


def _json(flt: Filter, col: str) -> str:
    kind = f"json_type({col})"
    if flt.op == "exists":
        present = f"({col} IS NOT NULL AND {kind} <> 'NULL')"
        return present if flt.value else f"NOT coalesce({present}, false)"
    if flt.op == "eq":
        return _json_eq(col, flt.value)
    if flt.op == "neq":
        return f"NOT coalesce({_json_eq(col, flt.value)}, false)"
    if flt.op == "in":
        if not flt.value:
            return "false"
        return "(" + " OR ".join(f"coalesce({_json_eq(col, v)}, false)" for v in flt.value) + ")"
    if flt.op in ("gt", "lt"):
        sign = ">" if flt.op == "gt" else "<"
        return f"({kind} IN {NUMERIC_JSON} AND TRY_CAST({col} AS DOUBLE) {sign} {number(flt.value)})"
    # contains: a substring of a string, or an element of an array
    element = (
        f"list_bool_or(list_transform(json_extract({col}, '$[*]'), lambda x: {_json_eq('x', flt.value)}))"
    )
    in_array = f"({kind} = 'ARRAY' AND coalesce({element}, false))"
    if isinstance(flt.value, str):
        return f"(({kind} = 'VARCHAR' AND contains(({col}->>'$'), {quote(flt.value)})) OR {in_array})"
    return in_array


def _text_eq(column: str, value: Any) -> str:
    if value is None:
        return f"({column} IS NULL)"
    return f"({column} = {quote(text_of(value))})"


def _text(flt: Filter, col: str) -> str:
    if flt.op == "exists":
        return f"({col} IS NOT NULL)" if flt.value else f"({col} IS NULL)"
    if flt.op == "eq":
        return _text_eq(col, flt.value)
    if flt.op == "neq":
        return f"NOT coalesce({_text_eq(col, flt.value)}, false)"
    if flt.op == "in":
        texts = sorted({text_of(v) for v in flt.value if v is not None})
        parts = [f"{col} IN ({', '.join(quote(t) for t in texts)})"] if texts else []
        if None in flt.value:
            parts.append(f"{col} IS NULL")
        return "(" + " OR ".join(parts) + ")" if parts else "false"
    if flt.op in ("gt", "lt"):
        sign = ">" if flt.op == "gt" else "<"
        return f"(TRY_CAST({col} AS DOUBLE) {sign} {number(flt.value)})"
    return f"contains({col}, {quote(str(flt.value))})"
