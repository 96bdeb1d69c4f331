"""A decision record: one JSON line per enrichment decision, and how decisions are sampled.

The enrichment decides per bid request (consent, the user and the segments are the request's, and
``user.data`` is request-level), so there is one record per request, not per imp:

``{"id": "<request id>:<writer>:<epoch us>", "request_id": ..., "timestamp": "2026-03-27T10:15:02.123456Z",
"user_found": true, "segments": "782,hw-loyal", "segment_count": 2, "consent": "allowed",
"reason": "enriched", "latency_us": 41, "writer": "host-0"}``

Pure: no I/O. The request path keeps a :data:`Pending` tuple; the log's thread formats it here.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Sequence
from datetime import date

import msgspec

from headwater.targeting.consent import ConsentDecision
from headwater.targeting.enrich import Segment
from headwater.targeting.pipeline import ENRICHED

ALLOWED = "allowed"  # a privacy signal applied (GDPR, US privacy, GPP) and allowed enrichment
DENIED = "denied"  # a consent gate refused: the reason is its code (coppa, gdpr_no_consent, ...)
NOT_APPLICABLE = "not_applicable"  # no privacy signal applied to the request (or none was asked)

#: The record's fields in file order, with their DuckDB types (the lake file's columns).
COLUMNS: dict[str, str] = {
    "id": "VARCHAR",
    "request_id": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "user_found": "BOOLEAN",
    "segments": "VARCHAR",
    "segment_count": "INTEGER",
    "consent": "VARCHAR",
    "reason": "VARCHAR",
    "latency_us": "BIGINT",
    "writer": "VARCHAR",
}

#: What the request path keeps of a decision: (epoch microseconds, request id, reason, consent
#: decision, segments found, seconds the enrichment took).
Pending = tuple[int, str, str, ConsentDecision | None, Sequence[Segment] | None, float]

_SCALE = 1 << 32
_encode = msgspec.json.Encoder().encode


def consent_outcome(decision: ConsentDecision | None) -> str:
    """allowed | denied | not_applicable, from the consent gate's decision."""
    if decision is None:
        return NOT_APPLICABLE
    if not decision.allowed:
        return DENIED
    return ALLOWED if decision.applies else NOT_APPLICABLE


def sample_threshold(sample: float) -> int:
    """The hash bound of a sample share: a request is kept when its hash is below it."""
    return int(min(max(sample, 0.0), 1.0) * _SCALE)


def keeps_all(threshold: int) -> bool:
    return threshold >= _SCALE


def sampled(request_id: str, threshold: int) -> bool:
    """Whether a request is in the sample: CRC-32 of its id, so every worker and every run agrees."""
    return threshold >= _SCALE or zlib.crc32(request_id.encode("utf-8", "surrogatepass")) < threshold


def json_text(text: str) -> str:
    """``text`` as the inside of a JSON string: as it is, unless it holds a quote, a backslash or a
    control character (rare in ids), which msgspec escapes."""
    return text if _plain(text) else _encode(text)[1:-1].decode()


def _plain(text: str) -> bool:
    return '"' not in text and "\\" not in text and text.isprintable()


#: (reason, id of the consent decision, the segment ids sent or whether the user was found)
_MiddleKey = tuple[str, int, tuple[str, ...] | bool]
#: at most this many distinct middles are cached (outcomes x consents x segment combinations)
MIDDLES = 4096


class Formatter:
    """Pending decisions -> JSON lines by UTC day, for one writer.

    The log formats on the event loop, so this is the CPU the decision log costs a worker: one
    f-string per decision; the fields that repeat from one decision to the next (user found,
    segments sent, consent, reason) come from a cache keyed by the outcome, the (shared) consent
    decision and the segment ids; the current second's text is computed once.
    """

    def __init__(self, writer: str) -> None:
        self.writer = writer
        self._writer_text = json_text(writer)
        self._second = -1
        self._prefix = ""
        self._day = date(1970, 1, 1)
        self._middles: dict[_MiddleKey, str] = {}  # the fields from user_found to reason
        self._consents: dict[int, ConsentDecision | None] = {}  # keeps the ids of the keys theirs

    def _clock(self, second: int) -> None:
        tm = time.gmtime(second)
        self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
        self._day = date(tm.tm_year, tm.tm_mon, tm.tm_mday)
        self._second = second

    def _middle(self, key: _MiddleKey, consent: ConsentDecision | None, found: bool) -> str:
        """The fields from user_found to reason, as JSON (without the braces), cached."""
        reason, _, sent = key
        ids = list(dict.fromkeys(sent)) if isinstance(sent, tuple) else []
        text = (
            f'"user_found":{"true" if found else "false"},'
            f'"segments":"{json_text(",".join(ids))}","segment_count":{len(ids)},'
            f'"consent":"{consent_outcome(consent)}","reason":"{json_text(reason)}"'
        )
        if len(self._middles) < MIDDLES:
            self._middles[key] = text
            self._consents[id(consent)] = consent  # the key's id stays this decision's
        return text

    def line(self, pending: Pending) -> tuple[date, str]:
        """The UTC day and the JSON line (with its newline) of one decision."""
        ((day, text),) = self.lines([pending]).items()
        return day, text[0].decode()

    def lines(self, pending: Iterable[Pending]) -> dict[date, tuple[bytes, int]]:
        """JSON lines by UTC day of the decisions' time: (UTF-8 bytes, number of lines)."""
        by_day: dict[date, list[str]] = {}
        between = f":{self._writer_text}:"  # of the id: request id, writer, time
        end = f',"writer":"{self._writer_text}"}}\n'
        middles = self._middles
        current, prefix = self._second, self._prefix
        day: date | None = None
        out: list[str] = []
        for at_us, request_id, reason, consent, segments, seconds in pending:
            second, micros = divmod(at_us, 1_000_000)
            if second != current or day is None:
                self._clock(second)
                current, prefix = second, self._prefix
                if self._day != day:
                    day = self._day
                    out = by_day.setdefault(day, [])
            if segments and reason == ENRICHED:
                key: _MiddleKey = (reason, id(consent), tuple([s.id for s in segments]))
            else:
                key = (reason, id(consent), segments is not None)
            middle = middles.get(key) or self._middle(key, consent, segments is not None)
            rid = request_id
            if '"' in rid or "\\" in rid or not rid.isprintable():
                rid = json_text(rid)
            out.append(
                f'{{"id":"{rid}{between}{at_us}","request_id":"{rid}","timestamp":"{prefix}.{micros:06d}Z",'
                f'{middle},"latency_us":{round(seconds * 1_000_000)}{end}'
            )
        return {day: ("".join(lines).encode(), len(lines)) for day, lines in by_day.items()}
