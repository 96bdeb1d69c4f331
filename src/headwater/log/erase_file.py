"""One log file's share of an erasure (log/erase.py): read in big chunks of complete lines, the
person's lines overwritten in place by spaces; and the worker process that does it for a big
erasure (``python -m headwater.log.erase_file``), one core each.

A line is erased by ``os.pwrite`` of as many spaces as it has bytes, on a descriptor opened
O_WRONLY (not O_APPEND: the write lands where the line is, while the live writer appends at the
end), its newline kept, then ``fdatasync``: sizes and offsets never change, so tailers'
checkpoints stay valid. Before each write the line is read again and compared: a line that
changed meanwhile (a writer rolling back a failed write truncates the file) is left alone, never
overwritten by spaces past the end. Only complete lines are read: a line being written (no newline
yet) is not touched.

On a copy-on-write file system (btrfs, ZFS) the old blocks may survive until reused; on ext4 and
xfs the write lands on the line's own blocks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from headwater.log.erase_match import Matcher, unfinished_blanks

CHUNK_BYTES = 32 << 20  # per read: big enough that a find over it costs far more than the call
#: Seconds to sleep before each line's write: lets a test kill -9 an erasure in the middle.
PAUSE_ENV = "HEADWATER_ERASE_TEST_PAUSE"


def is_erased(line: bytes) -> bool:
    """Whether a log line (without its newline) was erased: it starts with a space. Writers start
    every line with ``{``; an erasure cut short by a kill leaves spaces at the start too."""
    return line[:1] == b" "


class ChunkReader:
    """Reads files in chunks of complete lines into one buffer, reused from file to file: a fresh
    buffer per file cost more in page faults than searching it."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def chunks(self, fd: int) -> Iterator[tuple[int, bytearray, int]]:
        """(file offset, buffer, end) of the file's complete lines, chunk by chunk: ``buffer[:end]``
        ends with a newline. The buffer is reused: use it before asking for the next chunk. Lines
        appended while reading are read too, up to the last complete one."""
        want = min(CHUNK_BYTES, os.fstat(fd).st_size + (64 << 10))
        if len(self.buf) < want:
            self.buf = bytearray(want)
        buf = self.buf
        offset = 0
        while True:
            got = os.preadv(fd, [buf], offset)
            end = buf.rfind(b"\n", 0, got) + 1
            if end == 0:
                if got < len(buf):  # the end of the file, or a line still being written
                    return
                buf = bytearray(2 * len(buf))  # a line longer than a chunk
                continue
            yield offset, buf, end
            offset += end
            buf = self.buf


def erase_file(
    path: Path,
    kind: str,
    matcher: Matcher,
    on_bytes: Callable[[int], None] | None = None,
    reader: ChunkReader | None = None,
) -> tuple[int, int]:
    """Blank the person's lines of one file, and lines an interrupted run left half blank:
    (bytes scanned, lines erased). A file with no such line is never opened for writing."""
    pause = float(os.environ.get(PAUSE_ENV) or 0)
    scanned = erased = 0
    try:
        rfd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # deleted meanwhile (retention)
        return 0, 0
    wfd = -1
    try:
        for offset, data, end in (reader or ChunkReader()).chunks(rfd):
            spans = matcher.spans(data, end, kind)
            unfinished = unfinished_blanks(data, end, offset)
            if unfinished:
                spans = sorted({*spans, *unfinished})
            for start, stop in spans:
                at, size = offset + start, stop - start
                if os.pread(rfd, size, at) != data[start:stop]:
                    continue  # changed since read: not the line judged
                if wfd < 0:
                    wfd = os.open(path, os.O_WRONLY)
                if pause:
                    time.sleep(pause)
                _pwrite_all(wfd, b" " * size, at)
                erased += 1
            scanned += end
            if on_bytes is not None:
                on_bytes(end)
        if wfd >= 0:
            os.fdatasync(wfd)
    finally:
        if wfd >= 0:
            os.close(wfd)
        os.close(rfd)
    return scanned, erased


def _pwrite_all(fd: int, data: bytes, at: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, at)
        view, at = view[done:], at + done


def matched_lines(path: Path, kind: str, matcher: Matcher, reader: ChunkReader) -> Iterator[bytes]:
    """The person's lines of one file (without their newlines), in file order."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        for _, data, end in reader.chunks(fd):
            found = [bytes(data[start:stop]) for start, stop in matcher.spans(data, end, kind)]
            yield from found
    finally:
        os.close(fd)


# -- the worker process -------------------------------------------------------------------------
class Job(msgspec.Struct):
    path: str
    kind: str


class Answer(msgspec.Struct, omit_defaults=True):
    """A worker's line per chunk read (``bytes``) and per job done (``done``, with the counts)."""

    bytes: int = 0
    done: bool = False
    scanned: int = 0
    erased: int = 0
    error: str | None = None


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """A worker's loop: a first line with the ids (a JSON array), then a job per line (a JSON
    :class:`Job`), each answered by Answer lines, until the end of the input."""
    encode = msgspec.json.Encoder().encode
    matcher = Matcher(msgspec.json.decode(stdin.readline(), type=list[str]))
    reader = ChunkReader()

    def tell(answer: Answer) -> None:
        stdout.write(encode(answer) + b"\n")
        stdout.flush()

    def told(done: int) -> None:
        tell(Answer(bytes=done))

    for line in stdin:
        job = msgspec.json.decode(line, type=Job)
        try:
            scanned, erased = erase_file(Path(job.path), job.kind, matcher, told, reader)
        except Exception as exc:  # answered: the caller raises it, with the worker's words
            tell(Answer(done=True, error=f"{job.path}: {type(exc).__name__}: {exc}"))
        else:
            tell(Answer(done=True, scanned=scanned, erased=erased))


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the erasure was stopped
        serve(sys.stdin.buffer, sys.stdout.buffer)
