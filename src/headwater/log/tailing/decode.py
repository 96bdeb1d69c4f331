"""Log lines -> records of a tailer's record type, a whole batch in one call where it can."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from headwater.log.merged_read import PendingLine
from headwater.log.tailing.batch import R


def decode_lines(
    lines: list[PendingLine], record_type: type[R]
) -> tuple[list[R], list[int], list[tuple[int, str]]]:
    """(records, the line index of each record, (line index, reason) of each rejected line)."""
    return decode_data([ln.data for ln in lines], record_type)


_DECODERS: dict[object, tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]] = {}


#: (records, the line index of each record, (line index, reason) of each rejected line)
Decoded = tuple[list[R], list[int], list[tuple[int, str]]]


def decode_data(data: list[bytes], record_type: type[R]) -> Decoded[R]:
    """Lines' bytes -> (records, the line index of each record, (line index, reason) of each rejected
    line). The whole batch is decoded as one JSON array in one call; only when that fails (a bad
    line, or an erased one) is it decoded again without the erased lines (log/erase.py: all spaces,
    no event and no reject), then line by line, to tell the bad lines from the good ones."""
    decoders = _DECODERS.get(record_type)
    if decoders is None:
        decoders = _DECODERS[record_type] = (
            msgspec.json.Decoder(list[record_type]),  # type: ignore[valid-type]
            msgspec.json.Decoder(record_type),
        )
    many, one = decoders
    if not data:
        return [], [], []
    try:
        records: list[R] = many.decode(
            b",".join([b"[" + data[0], *data[1:-1], data[-1] + b"]"])
            if len(data) > 1
            else b"[" + data[0] + b"]"
        )
        if len(records) == len(data):
            return records, list(range(len(data))), []
    except msgspec.DecodeError:
        pass
    kept = [i for i, raw in enumerate(data) if raw[:1] != b" "]  # an erased line starts with a space
    if kept and len(kept) < len(data):
        found, at, bad = decode_data([data[i] for i in kept], record_type)
        return found, [kept[i] for i in at], [(kept[i], why) for i, why in bad]
    records, indexes = [], []
    reasons: list[tuple[int, str]] = []
    for i, raw in enumerate(data):
        if raw[:1] == b" ":
            continue
        try:
            records.append(one.decode(raw))
            indexes.append(i)
        except msgspec.ValidationError as exc:
            reasons.append((i, f"unexpected shape: {exc}"))
        except msgspec.DecodeError as exc:
            reasons.append((i, f"not valid JSON: {exc}"))
    return records, indexes, reasons


def records_between(
    log_dir: Path,
    start: Mapping[str, int],
    end: Mapping[str, int],
    record_type: type[R],
    max_lines: int = 20_000,
) -> Iterator[list[R]]:
    """The records of the log from checkpoint ``start`` up to checkpoint ``end``, in merge order,
    batch by batch (a tailer rebuilding its in-memory state up to the stored checkpoint). Lines
    that do not decode are left out, as the tailer left them out."""
    from headwater.log.merged_read import read_merged

    cp = dict(start)
    while True:
        merged = read_merged(log_dir, cp, max_lines, limit=end)
        if not merged.data:
            return
        yield decode_data(merged.data, record_type)[0]
        cp = merged.checkpoint
