"""Worker processes for a big export: each scans pieces of log files (transfer/export_scan.py) on a
core of its own while the exporting thread keeps the ids, chooses the copies and writes.

A worker is ``python -m headwater.transfer.export_workers``: it reads jobs on its standard input and
answers each, in order, on its standard output. A frame is a 4-byte little-endian length and a
msgpack body; an answer's body is followed by its payload (the piece's NDJSON, CSV or Arrow bytes),
written and read as it is (no pickling, one copy each way). Plain processes, not multiprocessing:
nothing of the parent is forked (it may be the threaded server) nor re-imported (its main module
may be anything), and a worker imports only msgspec and the scanner.

Jobs go to the workers in turn and their answers are read in the same order, so the pieces come back
in file order; the caller keeps at most a few jobs per worker in flight (memory stays bounded).
"""

from __future__ import annotations

import contextlib
import os
import queue
import struct
import subprocess
import sys
import threading
from typing import IO

import msgspec

from headwater.transfer.export_scan import ScanJob, Scanned, scan

_LENGTH = struct.Struct("<I")


class _Answer(msgspec.Struct, array_like=True):
    ids: list[str]
    lengths: bytes  # int64 per line, native order
    skipped: int
    size: int  # bytes of payload that follow
    error: str | None = None
    missing: str | None = None  # a file that is gone (FileNotFoundError)


class WorkerError(Exception):
    """A worker failed (the message says how); ``missing`` names a log file deleted meanwhile."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing


def _frame(body: bytes) -> bytes:
    return _LENGTH.pack(len(body)) + body


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise WorkerError("an export worker stopped (see the server's or the command's errors)")
    return data


class WorkerPool:
    """``processes`` workers; :meth:`submit` a job, then :meth:`result` returns the answers in the
    order the jobs were submitted."""

    def __init__(self, processes: int) -> None:
        env = dict(os.environ)
        self.procs: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(processes):
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "headwater.transfer.export_workers"],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        env=env,
                    )
                )
        except BaseException:
            self.close()
            raise
        self.sent = 0
        self.read = 0
        self.encode = msgspec.msgpack.Encoder().encode
        # A thread per worker reads its answers as they come: a worker never waits, its output pipe
        # full, for the exporting thread to come to its answer (which made them take turns). They
        # are at most two ahead: the caller keeps two jobs per worker in flight.
        self.answers: list[queue.SimpleQueue[tuple[_Answer, bytes] | WorkerError]] = []
        self.readers: list[threading.Thread] = []
        for proc in self.procs:
            answers: queue.SimpleQueue[tuple[_Answer, bytes] | WorkerError] = queue.SimpleQueue()
            reader = threading.Thread(target=_read_answers, args=(proc, answers), daemon=True)
            reader.start()
            self.answers.append(answers)
            self.readers.append(reader)

    def __len__(self) -> int:
        return len(self.procs)

    def submit(self, job: ScanJob) -> None:
        proc = self.procs[self.sent % len(self.procs)]
        assert proc.stdin is not None
        try:
            proc.stdin.write(_frame(self.encode(job)))
            proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerError("an export worker stopped (see the server's or the command's errors)") from None
        self.sent += 1

    def result(self) -> Scanned:
        got = self.answers[self.read % len(self.procs)].get()
        self.read += 1
        if isinstance(got, WorkerError):
            raise got
        answer, payload = got
        if answer.error is not None:
            raise WorkerError(answer.error, answer.missing)
        import numpy as np

        lengths = np.frombuffer(answer.lengths, np.int64).tolist() if answer.lengths else []
        return Scanned(ids=answer.ids, lengths=lengths, payload=payload, skipped=answer.skipped)

    def close(self) -> None:
        """Stop the workers: the end of their input (a worker ends its piece, its reader takes the
        answer, then the end of its output)."""
        for proc in self.procs:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for reader in getattr(self, "readers", []):
            reader.join(timeout=10)
        for proc in self.procs:
            if proc.stdout is not None:
                proc.stdout.close()


def _read_answers(
    proc: subprocess.Popen[bytes], answers: queue.SimpleQueue[tuple[_Answer, bytes] | WorkerError]
) -> None:
    """A worker's answers, read into ``answers`` until its output ends (then a WorkerError)."""
    out = proc.stdout
    assert out is not None
    decode = msgspec.msgpack.Decoder(_Answer).decode
    try:
        while True:
            head = out.read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                break
            (n,) = _LENGTH.unpack(head)
            answer = decode(_read_exactly(out, n))
            answers.put((answer, _read_exactly(out, answer.size) if answer.size else b""))
    except (OSError, ValueError, msgspec.DecodeError, WorkerError):
        pass
    answers.put(WorkerError("an export worker stopped (see the server's or the command's errors)"))


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """A worker's loop: answer every job until the end of the input."""
    decode = msgspec.msgpack.Decoder(ScanJob).decode
    encode = msgspec.msgpack.Encoder().encode
    while True:
        head = stdin.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (n,) = _LENGTH.unpack(head)
        try:
            done = scan(decode(stdin.read(n)))
            lengths = struct.pack(f"={len(done.lengths)}q", *done.lengths)
            answer = _Answer(done.ids, lengths, done.skipped, len(done.payload))
            payload = done.payload
        except FileNotFoundError as exc:
            answer, payload = (
                _Answer([], b"", 0, 0, f"file not found: {exc.filename}", str(exc.filename)),
                b"",
            )
        except Exception as exc:  # answered: the caller raises it, with the worker's words
            answer, payload = _Answer([], b"", 0, 0, f"{type(exc).__name__}: {exc}"), b""
        stdout.write(_frame(encode(answer)))
        if payload:
            stdout.write(payload)
        stdout.flush()


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the export was stopped
        serve(sys.stdin.buffer, sys.stdout.buffer)
