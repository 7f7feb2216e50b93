"""Where header bytes come from: a local file, a byte string, or anything with ``read_at``.

Readers never ``open()`` files themselves; they ask a :class:`RandomAccess` for byte ranges, so the
same code inspects a local file (``pread``) and a remote one (an HTTP Range reader written by the
transfer layer). Every read goes through :class:`Budget`, which refuses ranges outside the file
and stops a hostile header from making us read (or download) more than a fixed amount.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Protocol, runtime_checkable

from modelshelf.errors import FormatError

# A header worth reading fits in far less; anything beyond is an attack or not a header.
DEFAULT_READ_BUDGET = 512 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


@runtime_checkable
class RandomAccess(Protocol):
    """A sized byte source readable at any offset (local file, bytes, HTTP Range reader)."""

    size: int

    def read_at(self, offset: int, length: int) -> bytes: ...


class FileSource:
    """A local file read with ``os.pread``: no shared position, safe to share across threads.

    Only regular files: a FIFO would block ``open`` (and ``read``) until a writer comes, and a
    device has no size to check headers against. ``O_NONBLOCK`` makes opening a FIFO return at
    once (it changes nothing for regular files), so the ``fstat`` below can refuse it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, _OPEN_FLAGS)
        st = os.fstat(self._fd)
        if not stat.S_ISREG(st.st_mode):
            self.close()
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "a folder, not a file", str(path))
            raise FormatError(f"{path}: not a regular file (a pipe, socket or device)")
        self.size = st.st_size

    def read_at(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BytesSource:
    """An in-memory file, for tests and for headers already fetched."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self.size = len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]


class Budget:
    """Bounded, checked reads over a :class:`RandomAccess` on behalf of one named file.

    ``read(offset, n)`` returns exactly ``n`` bytes or raises :class:`FormatError` naming the file:
    a range past the end means the header lies about the file (or the file is truncated).
    """

    def __init__(self, source: RandomAccess, name: str, limit: int = DEFAULT_READ_BUDGET) -> None:
        self.source = source
        self.name = name
        self.size = int(source.size)
        self.remaining = limit

    def error(self, reason: str) -> FormatError:
        return FormatError(f"{self.name}: {reason}" if self.name else reason)

    def read(self, offset: int, length: int, what: str = "data") -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.error(
                f"{what} at bytes {offset}..{offset + length} lies past the end of the file "
                f"({self.size} bytes): truncated or corrupt"
            )
        if length > self.remaining:
            raise self.error(f"{what} needs {length} bytes, more than a header may take")
        self.remaining -= length
        data = self.source.read_at(offset, length)
        if len(data) != length:
            raise self.error(f"{what}: short read at byte {offset} (file changed or truncated)")
        return data

    def peek(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the file); never raises."""
        length = max(0, min(length, self.size - offset, self.remaining))
        if length == 0:
            return b""
        self.remaining -= length
        return self.source.read_at(offset, length)
