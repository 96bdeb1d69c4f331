"""Erasing a person from the event log and the quarantine, in place (a GDPR deletion, issue 17).

Each of the person's lines is overwritten by spaces of the same length, its newline kept
(log/erase_file.py). Nothing moves: file sizes and every offset stay the same, so every tailer's
checkpoint (file -> byte offset, in other processes) stays valid, a tailer behind simply skips the
blank line, the live writer keeps appending to the same file, and the bytes are overwritten on
disk rather than left in free blocks by a rewritten copy. Every reader of the log skips blank
lines silently (:func:`is_erased`): they are no event, no reject, counted nowhere.

Safe to interrupt and to run again: a kill -9 leaves each line whole or starting with spaces
(skipped by readers, and finished by the next run); a run finds nothing left to do after a
complete one. Lines appended while it runs are read too, but the person's new events should have
been stopped before the log (suppression, DESIGN 10) when the deletion was filed.

Which lines are the person's, and how they are found fast, is log/erase_match.py's business. A big
erasure runs in worker processes, a core each (``python -m headwater.log.erase_file``: nothing of
the caller, maybe the threaded server, is forked).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import msgspec

from headwater.log.erase_file import Answer, ChunkReader, Job, erase_file, is_erased, matched_lines
from headwater.log.erase_match import Matcher
from headwater.log.files import LogKind, list_log_files

__all__ = ["LogEraseError", "LogEraseReport", "erase_from_log", "is_erased", "person_lines"]

PARALLEL_BYTES = 256 << 20  # less log than this is erased in the calling thread
MAX_PROCESSES = 4
_KINDS = ("events", "quarantine", "decisions")

Progress = Callable[[int, int], None]


class LogEraseError(RuntimeError):
    """An erasure could not finish (a worker failed); running it again resumes it."""


@dataclass
class LogEraseReport:
    files_scanned: int = 0
    files_changed: int = 0
    lines_erased: int = 0
    bytes_scanned: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Tally:
    """The report and the progress, added to by several threads."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.report = LogEraseReport()
        self.total = total
        self.done = 0
        self.progress = progress
        self.lock = threading.Lock()

    def add_bytes(self, n: int) -> None:
        with self.lock:
            self.done += n
            if self.progress is not None:
                self.progress(self.done, max(self.total, self.done))

    def file_done(self, scanned: int, erased: int) -> None:
        with self.lock:
            report = self.report
            report.files_scanned += 1
            report.files_changed += erased > 0
            report.lines_erased += erased
            report.bytes_scanned += scanned


def _files(log_dir: Path, kinds: Sequence[str]) -> list[tuple[Path, str, int]]:
    """(path, kind, size) of every file of the kinds."""
    out = []
    for kind in kinds:
        if kind not in _KINDS:
            raise ValueError(f"not a kind of log file: {kind!r} (one of {', '.join(_KINDS)})")
        for lf in list_log_files(log_dir, cast(LogKind, kind)):
            with contextlib.suppress(FileNotFoundError):
                out.append((lf.path, kind, lf.path.stat().st_size))
    return out


def erase_from_log(
    log_dir: Path,
    ids: Collection[str],
    kinds: Sequence[str] = ("events", "quarantine"),
    progress: Callable[[int, int], None] | None = None,
) -> LogEraseReport:
    """Blank every line of the person (any of ``ids``) in the log files of ``kinds``;
    ``progress(bytes_done, bytes_total)`` is called as the files are read."""
    started = time.monotonic()
    matcher = Matcher(ids)
    files = _files(log_dir, kinds) if matcher else []
    tally = _Tally(sum(size for _, _, size in files), progress)
    processes = min(MAX_PROCESSES, len(os.sched_getaffinity(0)), len(files))
    if processes > 1 and tally.total >= PARALLEL_BYTES:
        _in_workers(sorted(files, key=lambda f: -f[2]), matcher.ids, processes, tally)
    else:
        reader = ChunkReader()
        for path, kind, _ in files:
            tally.file_done(*erase_file(path, kind, matcher, tally.add_bytes, reader))
    tally.report.seconds = round(time.monotonic() - started, 3)
    return tally.report


def _in_workers(
    files: list[tuple[Path, str, int]], ids: Collection[str], processes: int, tally: _Tally
) -> None:
    """Erase the files in ``processes`` worker processes, each driven by a thread of this one that
    hands it the next file when it is done with one (the biggest first: they end together)."""
    pending = deque((path, kind) for path, kind, _ in files)
    lock = threading.Lock()
    errors: list[BaseException] = []
    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder(Answer).decode

    def drive() -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headwater.log.erase_file"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(encode(sorted(ids)) + b"\n")
            while not errors:
                with lock:
                    if not pending:
                        break
                    path, kind = pending.popleft()
                proc.stdin.write(encode(Job(str(path), kind)) + b"\n")
                proc.stdin.flush()
                while True:
                    line = proc.stdout.readline()
                    if not line:
                        raise LogEraseError("a log erase worker stopped (see the errors above)")
                    answer = decode(line)
                    if not answer.done:
                        tally.add_bytes(answer.bytes)
                        continue
                    if answer.error is not None:
                        raise LogEraseError(answer.error)
                    tally.file_done(answer.scanned, answer.erased)
                    break
        except BaseException as exc:
            errors.append(exc)
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    threads = [threading.Thread(target=drive, name=f"log-erase-{i}") for i in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def person_lines(
    log_dir: Path, ids: Collection[str], kinds: Sequence[str] = ("events",)
) -> Iterator[tuple[str, bytes]]:
    """(file name, line without its newline) of each of the person's lines, file by file in the
    log's order (an access request's export); the same rules as :func:`erase_from_log`."""
    matcher = Matcher(ids)
    if not matcher:
        return
    reader = ChunkReader()
    for path, kind, _ in _files(log_dir, kinds):
        for line in matched_lines(path, kind, matcher, reader):
            yield path.name, line
