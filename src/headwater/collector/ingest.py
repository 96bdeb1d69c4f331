"""From a decoded payload to lines in the log: normalize each event, write the good ones to the
event log and the bad ones to quarantine, both durably, before anything is acknowledged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from headwater.events.errors import EventError
from headwater.events.ip import apply_ip_policy
from headwater.events.normalize import Normalizer, RequestInfo
from headwater.log.writer import LogWriter
from headwater.ops import metrics

if TYPE_CHECKING:
    from headwater.collector.suppression import Suppression

_encoder = msgspec.json.Encoder()
_encode = _encoder.encode


@dataclass(slots=True)
class Rejection:
    index: int
    code: str
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "error": self.error}


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


class Ingestor:
    def __init__(
        self, normalizer: Normalizer, events: LogWriter, quarantine: LogWriter, max_event_bytes: int
    ) -> None:
        self.normalizer = normalizer
        self.events = events
        self.quarantine = quarantine
        self.max_event_bytes = max_event_bytes
        # suppressed people (collector/suppression.py): their events are answered like any other,
        # counted, and not stored
        self.suppression: Suppression | None = None
        self._accepted: dict[str, Any] = {}

    async def ingest(
        self, raw_events: list[Any], req: RequestInfo, shared_context: Any = None
    ) -> IngestResult:
        result = IngestResult()
        suppressed = 0
        good: list[bytes] = []
        bad: list[bytes] = []
        normalize = self.normalizer.normalize
        limit = self.max_event_bytes
        merge = isinstance(shared_context, dict) and bool(shared_context)
        suppression = self.suppression if self.suppression is not None and self.suppression.hashes else None
        for index, raw in enumerate(raw_events):
            # a suppressed person's message, valid or not, is never stored (not in the quarantine
            # either) and is answered as anyone's would be (an invalid one rejected, naming its
            # field): the answer does not tell that they are suppressed. Any id it names (an alias's
            # previousId too) makes it theirs.
            theirs = suppression is not None and isinstance(raw, dict) and suppression.hit(raw)
            try:
                if merge and isinstance(raw, dict):
                    own = raw.get("context")
                    raw = {
                        **raw,
                        "context": {**shared_context, **own} if isinstance(own, dict) else shared_context,
                    }
                ev = normalize(raw, req)
                line = _encode(ev)
                if len(line) > limit and len(_encode(raw)) > limit:
                    raise EventError("event_too_large", f"the event is over the {limit} byte limit")
            except EventError as exc:
                result.rejected.append(Rejection(index, exc.code, exc.message))
                if not theirs:
                    bad.append(self._quarantine_line(raw, index, exc, req))
                continue
            except (TypeError, ValueError, OverflowError) as exc:  # e.g. an integer msgspec cannot encode
                err = EventError("unencodable", f"the event cannot be stored: {exc}")
                result.rejected.append(Rejection(index, err.code, err.message))
                if not theirs:
                    bad.append(self._quarantine_line(raw, index, err, req))
                continue
            if theirs:
                suppressed += 1
                continue
            good.append(line)
            if ev["_hw"].get("flags"):
                result.warnings.append({"index": index, "flags": ev["_hw"]["flags"]})
        result.accepted = len(good)
        if suppressed:
            metrics.EVENTS_SUPPRESSED.labels(req.source).inc(suppressed)
        day = req.received_at.date()
        writes = []
        if good:
            good.append(b"")
            writes.append(self.events.append(day, b"\n".join(good)))
        if bad:
            bad.append(b"")
            writes.append(self.quarantine.append(day, b"\n".join(bad)))
        if len(writes) == 1:
            await writes[0]
        elif writes:
            outcomes = await asyncio.gather(*writes, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        self._count(req.source, result)
        result.accepted += suppressed  # answered like any other
        return result

    async def quarantine_body(self, body: bytes, code: str, message: str, req: RequestInfo) -> None:
        """Keep a whole unreadable body (authenticated requests only) with the reason."""
        record: dict[str, Any] = {
            "reason": message,
            "code": code,
            "receivedAt": req.received_text,
            "source": req.source,
        }
        try:
            record["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            record["body_latin1"] = body.decode("latin-1")
        await self.quarantine.append(req.received_at.date(), _encode(record) + b"\n")
        metrics.EVENTS_REJECTED.labels(req.source, code).inc()

    def _quarantine_line(self, raw: Any, index: int, exc: EventError, req: RequestInfo) -> bytes:
        record = {
            "reason": exc.message,
            "code": exc.code,
            "index": index,
            "receivedAt": req.received_text,
            "source": req.source,
            "ip": apply_ip_policy(req.ip, self.normalizer.ip_policy) if req.ip else None,
            "event": raw,
        }
        try:
            return _encode(record)
        except (TypeError, ValueError, OverflowError):
            record["event"] = repr(raw)[: self.max_event_bytes]
            return _encode(record)

    def _count(self, source: str, result: IngestResult) -> None:
        if result.accepted:
            counter = self._accepted.get(source)
            if counter is None:
                counter = self._accepted[source] = metrics.EVENTS_ACCEPTED.labels(source)
            counter.inc(result.accepted)
        for rej in result.rejected:
            metrics.EVENTS_REJECTED.labels(source, rej.code).inc()
