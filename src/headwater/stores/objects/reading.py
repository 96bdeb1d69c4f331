"""A file object that counts what is read from it, for upload progress bars."""

from __future__ import annotations

from typing import BinaryIO

from headwater.stores.objects.ports import Progress


class CountingReader:
    """Wraps a binary file; every read reports the bytes read so far to ``progress``."""

    def __init__(self, fh: BinaryIO, progress: Progress | None) -> None:
        self._fh = fh
        self._progress = progress
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.done = self._fh.tell()
        if self._progress is not None:
            self._progress(self.done)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def __getattr__(self, name: str) -> object:
        return getattr(self._fh, name)
