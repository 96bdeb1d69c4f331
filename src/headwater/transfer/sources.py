"""Reading an import's input: a file, every file of a directory, or standard input.

Gzip is recognised by its magic bytes, never by the name, and may hold several members (``cat a.gz
b.gz``). The text is cut into chunks of whole lines, each with the position reached after it (the
decompressed byte offset and the line count), which is what an import records to resume. A plain
file's chunks are given by place (its workers read them from the page cache): the importing
process only reads it into one reused buffer to find the cuts and count the lines. A gzip
stream that ends inside a member is truncated: every complete line before the cut is returned,
then :class:`TruncatedInput` names the file and the line reached.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
#: Raw bytes read at a time.
READ_BYTES = 1 << 20
#: Text handed to a worker at a time (whole lines): ~6,000 Segment messages.
CHUNK_BYTES = 4 << 20


class InputError(Exception):
    """The input cannot be read (further): the message says which file, where and what to do."""


class TruncatedInput(InputError):
    """A gzip archive ends inside a member: everything before the cut was read."""


@dataclass(frozen=True, slots=True)
class Chunk:
    data: bytes | None  # whole lines (the last one may lack its newline only at the end of the
    #                     input); None: a plain file's, to be read at end_offset - size
    first_line: int  # 1-based number of its first line
    lines: int  # how many lines it holds
    end_offset: int  # decompressed bytes of the input up to the end of this chunk
    raw_read: int  # raw (maybe compressed) bytes read so far, for the progress bar
    size: int  # bytes of the chunk


def list_inputs(arg: str) -> list[Path | None]:
    """The files an argument names: ``-`` is standard input (None), a directory every regular file
    under it (recursively, sorted by path, hidden names skipped), else the file itself."""
    if arg == "-":
        return [None]
    path = Path(arg)
    if path.is_dir():
        found = [
            p
            for p in sorted(path.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        if not found:
            raise InputError(f"{arg}: the directory holds no file to import")
        return list(found)
    if not path.exists():
        raise InputError(f"{arg}: no such file or directory")
    if not path.is_file():
        raise InputError(f"{arg}: not a regular file (give a file, a directory, or - for standard input)")
    return [path]


def hash_file(path: Path, marks: set[int] | None = None) -> tuple[str, dict[int, str]]:
    """SHA-256 of the file, and of its first ``n`` bytes for each ``n`` in ``marks`` (the sizes of
    earlier, truncated copies: is this file their continuation?)."""
    digest = hashlib.sha256()
    at = 0
    prefixes: dict[int, str] = {}
    todo = sorted(marks or ())
    with open(path, "rb") as fh:
        while True:
            want = READ_BYTES
            if todo and todo[0] - at < want:
                want = todo[0] - at
            block = fh.read(want) if want else b""
            if want and not block:
                break
            digest.update(block)
            at += len(block)
            while todo and todo[0] == at:
                prefixes[todo.pop(0)] = digest.copy().hexdigest()
    return digest.hexdigest(), prefixes


class InputReader:
    """Decompressed blocks of one input, and how many raw bytes were read."""

    def __init__(self, name: str, fh: BinaryIO) -> None:
        self.name = name
        self._fh = fh
        self._file = fh if isinstance(fh, io.BufferedReader) else None  # for readinto()
        head = fh.peek(2)[:2] if hasattr(fh, "peek") else b""
        self.compressed = head == GZIP_MAGIC
        self.raw_read = 0
        self._gen: Iterator[bytes] = self._blocks()
        self._pushback: list[bytes] = []
        self._failed: TruncatedInput | None = None

    @classmethod
    def open(cls, path: Path | None) -> InputReader:
        if path is None:
            return cls("<stdin>", sys.stdin.buffer)
        try:
            fh = open(path, "rb", buffering=READ_BYTES)  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        return cls(str(path), fh)

    def close(self) -> None:
        if self._fh is not sys.stdin.buffer:
            self._fh.close()

    def first_line(self) -> bytes:
        """The first line (newline included; at most 1 MiB), left to be read again by blocks()."""
        buf = b"".join(self._pushback)
        while b"\n" not in buf and len(buf) < 1 << 20 and self._failed is None:
            try:
                block = next(self._gen)
            except StopIteration:
                break
            except TruncatedInput as exc:
                self._failed = exc
                break
            self._pushback.append(block)
            buf += block
        cut = buf.find(b"\n")
        return buf if cut < 0 else buf[: cut + 1]

    @property
    def plain(self) -> bool:
        """An uncompressed file (not standard input): seekable, and read again by place."""
        return not self.compressed and self._fh is not sys.stdin.buffer

    def seek(self, offset: int) -> bool:
        """Move a plain (uncompressed, seekable) file to ``offset``; False when the caller must skip."""
        if not self.plain:
            return False
        self._fh.seek(offset)
        self.raw_read = offset
        self._pushback, self._failed, self._gen = [], None, self._blocks()
        return True

    def readinto(self, view: memoryview) -> int:
        """A plain file's next bytes into ``view`` (after :meth:`seek`); 0 at the end."""
        assert self._file is not None
        n = self._file.readinto(view)
        self.raw_read += n
        return n

    def blocks(self) -> Iterator[bytes]:
        """Decompressed data to the end; TruncatedInput after the last readable byte of a cut gzip."""
        while self._pushback:
            yield self._pushback.pop(0)
        if self._failed is not None:
            raise self._failed
        yield from self._gen

    def _blocks(self) -> Iterator[bytes]:
        if not self.compressed:
            while block := self._fh.read(READ_BYTES):
                self.raw_read += len(block)
                yield block
            return
        inflater = zlib.decompressobj(wbits=31)
        in_member = False
        while True:
            raw = self._fh.read(READ_BYTES)
            if not raw:
                break
            self.raw_read += len(raw)
            while raw:
                try:
                    out = inflater.decompress(raw)
                except zlib.error as exc:
                    raise TruncatedInput(f"corrupt gzip data ({exc})") from None
                in_member = True
                if out:
                    yield out
                if not inflater.eof:
                    break
                raw = inflater.unused_data  # the next member of a multi-member file
                inflater = zlib.decompressobj(wbits=31)
                in_member = False
        if in_member:
            tail = inflater.flush()
            if tail:
                yield tail
            raise TruncatedInput("the gzip archive is truncated (it ends inside a compressed member)")


def chunks(
    reader: InputReader, start: int = 0, first_line: int = 1, csv: bool = False, size: int = CHUNK_BYTES
) -> Iterator[Chunk]:
    """Whole lines from decompressed offset ``start`` (line ``first_line``), in chunks of about
    ``size`` bytes. With ``csv`` a chunk never ends inside a quoted field (a newline in quotes
    belongs to its record). A truncated input yields its complete lines, then raises. A plain
    file's chunks come without their data (:attr:`Chunk.data` None)."""
    if reader.seek(start):
        yield from _plain_chunks(reader, start, first_line, csv, size)
        return
    skip = start
    offset = start
    line = first_line
    parts: list[bytes] = []  # read since the last cut (joined once per chunk, not per block)
    held = 0
    carry = b""
    truncated: TruncatedInput | None = None
    blocks = reader.blocks()
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            break
        except TruncatedInput as exc:
            truncated = exc
            break
        if skip:
            if len(block) <= skip:
                skip -= len(block)
                continue
            block, skip = block[skip:], 0
        parts.append(block)
        held += len(block)
        if held < size:
            continue
        carry = b"".join(parts)
        cut = _cut(carry, csv)
        if cut <= 0:
            parts, held = [carry], len(carry)
            continue  # one record longer than a chunk: read on
        data, carry = carry[:cut], carry[cut:]
        parts, held = [carry], len(carry)
        count = data.count(b"\n")
        offset += len(data)
        yield Chunk(data, line, count, offset, reader.raw_read, len(data))
        line += count
    carry = b"".join(parts)
    if truncated is not None:
        cut = _cut(carry, csv)  # the cut-off last line is not imported
        if cut > 0:
            count = carry[:cut].count(b"\n")
            yield Chunk(carry[:cut], line, count, offset + cut, reader.raw_read, cut)
            line += count
        raise TruncatedInput(f"{reader.name}: {truncated}; complete lines were read up to line {line - 1}")
    if carry:
        count = carry.count(b"\n") + (0 if carry.endswith(b"\n") else 1)
        yield Chunk(carry, line, count, offset + len(carry), reader.raw_read, len(carry))


def _plain_chunks(reader: InputReader, start: int, line: int, csv: bool, size: int) -> Iterator[Chunk]:
    """:func:`chunks` of a plain file (read from ``start``), cut where that function cuts: the
    bytes go into one buffer, reused, and are only searched and counted."""
    buf = bytearray(size + READ_BYTES)
    held = 0
    offset = start
    while True:
        if held + READ_BYTES > len(buf):  # one record longer than a chunk: read on
            buf.extend(bytes(len(buf)))
        n = reader.readinto(memoryview(buf)[held : held + READ_BYTES])
        if not n:
            break
        held += n
        if held < size:
            continue
        cut = _cut(buf, csv, held)
        if cut <= 0:
            continue
        count = buf.count(b"\n", 0, cut)
        offset += cut
        yield Chunk(None, line, count, offset, reader.raw_read, cut)
        line += count
        buf[: held - cut] = buf[cut:held]
        held -= cut
    if held:
        count = buf.count(b"\n", 0, held) + (0 if buf[held - 1] == 10 else 1)
        yield Chunk(None, line, count, offset + held, reader.raw_read, held)


def _cut(data: bytes | bytearray, csv: bool, end: int | None = None) -> int:
    """The end of the last whole line (or CSV record) in ``data[:end]``; 0 when none ends there."""
    end = len(data) if end is None else end
    cut = data.rfind(b"\n", 0, end)
    if csv:  # a newline is a record's end only outside quotes (an even count of them before it)
        while cut >= 0 and data.count(b'"', 0, cut) % 2:
            cut = data.rfind(b"\n", 0, cut)
    return cut + 1


def file_size(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None
