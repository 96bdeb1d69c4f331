"""Which lines of the event log and the quarantine are a person's (for log/erase.py).

Scanning 25 GB of log for one person must not parse 50 million lines: each chunk is searched for
the texts the person's ids can be written as (``bytes.find``, a few GB/s), and only the lines
holding one are parsed. The rules:

- an events line is the person's when its top-level ``userId``, ``anonymousId`` or ``previousId``
  equals one of the ids (a string, or a number compared as its JSON text: ``42`` is id "42");
- a quarantine line (possibly broken JSON, with the original event inside a string) is the
  person's when it holds an id as a whole *token*: its JSON-escaped text with no ``[A-Za-z0-9_-]``
  right before or after it (so "u1" never takes "u12"'s lines). This may also erase another
  quarantined line that quotes the id (in a property, a referrer): a rejected line is kept for
  debugging, not as data, and erasing too much is the safe side of a deletion. An events line
  that is not a JSON object (hand-made, damaged) is judged like a quarantine line.

Forms searched: the id as Headwater's writers (msgspec) write it, raw UTF-8 with ``\\"`` and
``\\\\``; with non-ASCII as ``\\uxxxx`` or ``\\uXXXX`` (json.dumps, other writers); with ``/`` as
``\\/``; and in quarantine also escaped once more (an event inside a quarantined body string). An id
with a character other writers escape in yet other ways (control characters, ``<>&`` escaped by Go,
U+2028/2029, lone surrogates) could be written in a form not searched: then every line is parsed
(events) or its escapes decoded before the token search (quarantine), slower but exact.

Junk ids ("", "null", "0", "anonymous", ...: headwater.events.identity) are never matched: they
are no one's, and erasing every line holding "0" would erase other people's events.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from itertools import product

import msgspec

from headwater.events.identity import is_junk

#: Bytes that continue a token: an id next to one of these is part of a longer id.
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
#: Characters some writer escapes in a way the searched forms do not cover.
_UNSEARCHABLE = re.compile("[\x00-\x1f<>&\u2028\u2029\ud800-\udfff]")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[^u])")
PAGE = 4096  # where a write cut short by a kill stops (a multiple of it)
_SHORT = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _Ids(msgspec.Struct, gc=False):
    """The fields of an events line that name its person; the rest is skipped unparsed."""

    userId: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    anonymousId: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    previousId: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_decode_ids = msgspec.json.Decoder(_Ids).decode
_decode_str = msgspec.json.Decoder(str).decode


def _escape(text: str, ascii_only: bool, upper: bool, slash: bool) -> str:
    """``text`` as the inside of a JSON string, in one writer's style."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "/" and slash:
            out.append("\\/")
        elif code >= 0x7F and ascii_only:
            units = [code] if code <= 0xFFFF else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
            out.extend(("\\u%04X" if upper else "\\u%04x") % unit for unit in units)
        else:
            out.append(ch)
    return "".join(out)


def forms(ident: str) -> set[bytes] | None:
    """The texts ``ident`` is written as inside a JSON string; None when it can be written in
    forms not enumerated (see the module)."""
    if _UNSEARCHABLE.search(ident):
        return None
    return {_escape(ident, *style).encode() for style in product((False, True), repeat=3)}


def _unescape(text: str) -> str:
    """JSON string escapes decoded (anywhere in the text: it may be no valid JSON)."""

    def one(found: re.Match[str]) -> str:
        esc = found.group(1)
        return chr(int(esc[1:], 16)) if len(esc) == 5 else _SHORT.get(esc, esc)

    decoded = _ESCAPE.sub(one, text)
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")  # pairs joined


class Matcher:
    """The person's ids, and how to find their lines in a chunk of a log file."""

    def __init__(self, ids: Collection[str]) -> None:
        self.ids = frozenset(i for i in ids if isinstance(i, str) and not is_junk(i))
        self.scan_all = False  # an id with forms not searched: every line is judged
        event_needles: set[bytes] = set()
        token_needles: set[bytes] = set()
        for ident in self.ids:
            found = forms(ident)
            if found is None:
                self.scan_all = True
                continue
            for form in found:
                # a number is written bare, a string quoted: the quotes spare most false hits
                event_needles.add(form if _NUMBER.fullmatch(ident) else b'"' + form + b'"')
                token_needles.add(form)
                token_needles.add(_escape(form.decode(), False, False, False).encode())
        self.event_needles = tuple(sorted(event_needles))
        self.token_needles = tuple(sorted(token_needles))
        pattern = "|".join(re.escape(i) for i in sorted(self.ids))
        self._token_re = re.compile(f"(?<![A-Za-z0-9_-])(?:{pattern})(?![A-Za-z0-9_-])") if pattern else None

    def __bool__(self) -> bool:
        return bool(self.ids)

    def spans(self, data: bytes | bytearray, end: int, kind: str) -> list[tuple[int, int]]:
        """(start, stop) of the person's lines in ``data[:end]`` (complete lines: ``end`` follows a
        newline; ``stop`` is the offset of a line's newline), in order."""
        if not self.ids:
            return []
        if self.scan_all:
            candidates: Iterator[tuple[int, int]] = _every_line(data, end)
        else:
            candidates = iter(sorted(self._candidates(data, end, kind)))
        out = []
        for start, stop in candidates:
            line = bytes(data[start:stop])
            if line[:1] != b" " and self.is_persons(line, kind):
                out.append((start, stop))
        return out

    def _candidates(self, data: bytes | bytearray, end: int, kind: str) -> set[tuple[int, int]]:
        """The lines holding a searched text (most chunks: none, after one find per text)."""
        found: set[tuple[int, int]] = set()
        for needle in self.event_needles if kind == "events" else self.token_needles:
            at = data.find(needle, 0, end)
            while at >= 0:
                start = data.rfind(b"\n", 0, at) + 1
                stop = data.find(b"\n", at, end)
                found.add((start, stop))
                at = data.find(needle, stop, end)
        return found

    def is_persons(self, line: bytes, kind: str) -> bool:
        """Whether one line (without its newline) is the person's."""
        if kind == "events":
            try:
                head = _decode_ids(line)
            except msgspec.DecodeError:  # not a JSON object: judged as quarantined text
                return self._has_token(line)
            return any(_id_text(raw) in self.ids for raw in (head.userId, head.anonymousId, head.previousId))
        return self._has_token(line)

    def _has_token(self, line: bytes) -> bool:
        if self.scan_all:  # the escapes decoded, twice (an event quoted in a quarantined body)
            assert self._token_re is not None
            text = line.decode("utf-8", "surrogateescape")
            for _ in range(3):
                if self._token_re.search(text):
                    return True
                text = _unescape(text)
            return False
        for needle in self.token_needles:
            at = line.find(needle)
            while at >= 0:
                before, after = line[at - 1 : at], line[at + len(needle) : at + len(needle) + 1]
                if (not before or before[0] not in _WORD) and (not after or after[0] not in _WORD):
                    return True
                at = line.find(needle, at + 1)
        return False


def _id_text(raw: msgspec.Raw) -> str | None:
    """A top-level id field's value: a string, or a number's JSON text; None otherwise."""
    data = bytes(raw)
    if not data:
        return None
    if data[:1] == b'"':
        return _decode_str(data)
    if data[:1] in b"-0123456789":
        return data.decode()
    return None


def _every_line(data: bytes | bytearray, end: int) -> Iterator[tuple[int, int]]:
    start = 0
    while start < end:
        stop = data.find(b"\n", start, end)
        yield start, stop
        start = stop + 1


def unfinished_blanks(data: bytes | bytearray, end: int, offset: int) -> list[tuple[int, int]]:
    """Lines blanked only in part, in ``data[:end]`` read at file ``offset``: a kill -9 can stop a
    write between two pages of the file (the kernel copies page by page and checks for a fatal
    signal in between), leaving a line that starts with spaces, so readers skip it, but holds the
    rest of its bytes. No writer starts a line with a space: such a line is an erasure to finish.
    Only page boundaries are looked at (one byte test each), not every line."""
    out = []
    for at in range(-offset % PAGE or PAGE, end, PAGE):
        if data[at - 1] == 32 and data[at] not in (32, 10):  # spaces up to the boundary, not after
            start = data.rfind(b"\n", 0, at) + 1
            if data[start] == 32:
                out.append((start, data.find(b"\n", at, end)))
    return out
