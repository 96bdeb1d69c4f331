"""Giving the memory a batch freed back to the operating system."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

#: After a batch of at least this many lines, the memory it freed goes back to the OS: at once when
#: the tailer has caught up, else after every TRIM_EVERY such batches (trimming after each batch
#: of a sustained load cost 4 % of the background process's CPU, in the trim and in page faults).
TRIM_AFTER_LINES = 1000
TRIM_EVERY = 8

try:
    _malloc_trim: Callable[[int], int] | None = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc
    _malloc_trim = None


def release_memory() -> None:
    """Hand the memory a batch freed back to the OS.

    glibc keeps freed memory in each thread's arena for reuse, so every tailer thread kept its
    largest batch's worth resident; malloc_trim(0) returns the free pages of every arena, in well
    under a millisecond after a batch of thousands of lines.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)
