"""From a thread that writes an export to an async HTTP response, with backpressure.

The export runs in a thread of its own (DuckDB, file reads, encoding) and writes into a
:class:`PipeWriter`, a file-like object that cuts what it is given into chunks of ``CHUNK_BYTES``
and hands each to the event loop through a :class:`ChunkPipe`. The pipe holds at most
``MAX_CHUNKS`` chunks: when the client reads slower than the export writes, the thread waits for
room, so memory stays bounded whatever the size of the export. When the client goes away, the
response closes the pipe and the thread's next write raises :class:`ExportCancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

CHUNK_BYTES = 512 * 1024
MAX_CHUNKS = 8  # at most 4 MB between the export and the socket
_WAIT = 0.25  # seconds between looks at whether the reader went away while the pipe is full


class ExportCancelled(Exception):
    """The reader of the pipe went away (the client disconnected)."""


class ChunkPipe:
    """A bounded queue of byte chunks from one thread to the event loop, then an end or an error."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_chunks: int = MAX_CHUNKS) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.room = threading.Semaphore(max_chunks)
        self.closed = threading.Event()

    # -- the thread's side ----------------------------------------------------------------------
    def put(self, chunk: bytes) -> None:
        """Hand a chunk over, waiting while the pipe is full; ExportCancelled once it is closed."""
        while not self.room.acquire(timeout=_WAIT):
            if self.closed.is_set():
                raise ExportCancelled
        self._send("data", chunk)

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        """The end of the stream (never waits: the end is not a chunk)."""
        if error is not None:
            self._send("error", error)
        else:
            self._send("end", result)

    def _send(self, kind: str, value: Any) -> None:
        if self.closed.is_set():
            raise ExportCancelled
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is closed: the server is stopping
            self.closed.set()
            raise ExportCancelled from None

    # -- the event loop's side ------------------------------------------------------------------
    async def get(self) -> tuple[str, Any]:
        """The next item: ("data", bytes), ("end", result) or ("error", exception)."""
        kind, value = await self.queue.get()
        if kind == "data":
            self.room.release()
        return kind, value

    async def stream(self, first: tuple[str, Any]) -> AsyncIterator[bytes]:
        """The chunks from ``first`` on; an error after the first byte ends the stream abruptly (the
        client sees a truncated response, not a complete one); closing it stops the thread."""
        try:
            kind, value = first
            while kind == "data":
                yield value
                kind, value = await self.get()
            if kind == "error":
                raise value
        finally:
            self.close()

    def close(self) -> None:
        self.closed.set()


class PipeWriter:
    """A write-only binary file over a ChunkPipe (what the export's writers write to)."""

    def __init__(self, pipe: ChunkPipe, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.pipe = pipe
        self.chunk_bytes = chunk_bytes
        self.buffer = bytearray()
        self.closed = False

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        if self.buffer:  # complete the chunk begun by an earlier write
            room = self.chunk_bytes - len(self.buffer)
            self.buffer += view[:room]
            view = view[room:]
            if len(self.buffer) < self.chunk_bytes:
                return len(data)
            self.pipe.put(bytes(self.buffer))
            self.buffer = bytearray()
        while len(view) >= self.chunk_bytes:  # whole chunks straight from the data
            self.pipe.put(view[: self.chunk_bytes].tobytes())
            view = view[self.chunk_bytes :]
        self.buffer += view
        return len(data)

    def flush(self) -> None:
        """Chunks are handed over as they fill: a flush does not cut a small one."""

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self.buffer:
            self.pipe.put(bytes(self.buffer))
            self.buffer.clear()
        self.closed = True


def run_in_thread(pipe: ChunkPipe, work: Callable[[PipeWriter], Any], name: str = "export") -> None:
    """Start ``work(writer)`` in a daemon thread; its result (or exception) ends the pipe."""

    def main() -> None:
        writer = PipeWriter(pipe)
        try:
            result = work(writer)
            writer.close()
        except ExportCancelled:
            return
        except BaseException as exc:  # handed to the response: it decides what the client sees
            with contextlib.suppress(ExportCancelled):
                pipe.finish(error=exc)
            return
        with contextlib.suppress(ExportCancelled):
            pipe.finish(result)

    threading.Thread(target=main, name=name, daemon=True).start()
