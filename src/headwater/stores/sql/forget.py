"""How the realtime store names a person, for :meth:`RealtimeStore.forget` (GDPR deletion): the
actor keys its tables hold (a userId or aliased id as itself, an anonymous id as ``anon:<id>``, NUL
stored as U+FFFD), and the whole-token test of the raw text it keeps (rejected log fragments,
the warehouse's rejected rows). Shared by both dialects (realtime_sqlite, realtime_postgres).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from headwater.events.identity import ANON_PREFIX, person_ids

#: every table with a person's id in the realtime store's database, as forget() reports them
FORGET_TABLES = ("daily_users", "user_sessions", "identities", "tail_quarantine", "warehouse_rejects")
#: the columns holding an actor key or a link end: every row naming one of the person's keys goes
PERSON_COLUMNS = (
    ("daily_users", "user_id"),
    ("user_sessions", "user_id"),
    ("identities", "source"),
    ("identities", "user_id"),
)
#: the tables whose rejected raw text is searched for the ids, with their primary key
TEXT_TABLES: tuple[tuple[str, str, tuple[str, str, str]], ...] = (
    ("tail_quarantine", "fragment", ("tailer", "file", "file_offset")),
    ("warehouse_rejects", "line", ("kind", "hour", "id")),
)
#: the characters of a token (as privacy/warehouse_erase.py reads them): an id inside a longer run
#: of these is another id ('u1' is not in 'u10'), next to anything else it is the id
_TOKEN_CHARS = "A-Za-z0-9_-"


def stored(value: str) -> str:
    """An id as the tables hold it: NUL (valid in JSON, not in PostgreSQL text) as U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


#: the ids, an actor key ``anon:<id>`` read as its id, junk ids left out (events/identity.py): they
#: are nobody's, the fold never stores them, and a fragment holding one is not about this person
plain_ids = person_ids


def actor_keys(plain: Iterable[str]) -> list[str]:
    """Every key the tables may name these ids by (daily_users and user_sessions by actor key,
    identities by link end): the id itself and ``anon:<id>``."""
    return sorted({stored(k) for i in plain for k in (i, ANON_PREFIX + i)})


class TokenMatcher:
    """Whether raw text holds one of the ids as a whole token, written as-is or JSON-escaped (a log
    line escapes quotes, backslashes, control characters, maybe non-ASCII and ``/``).

    An id as short as ``42`` also matches another fragment holding the token 42: an erasure errs
    on the side of removing a rejected line (kept only to diagnose bad input), never keeping one."""

    def __init__(self, plain: Iterable[str]) -> None:
        forms: set[str] = set()
        for i in plain:
            for escaped in (i, json.dumps(i)[1:-1], json.dumps(i, ensure_ascii=False)[1:-1]):
                forms.update((escaped, escaped.replace("/", "\\/"), stored(escaped)))
        self.needles = sorted(f for f in forms if f)
        self._patterns = [
            re.compile(rf"(?<![{_TOKEN_CHARS}]){re.escape(f)}(?![{_TOKEN_CHARS}])") for f in self.needles
        ]

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self._patterns)
