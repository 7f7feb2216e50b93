"""The partial file on disk: free-space check, preallocation, positioned writes.

Workers write their pieces in place with ``pwrite`` (no seek, no shared file position, no lock),
into a file preallocated to its full size, so memory never grows with the file and a full disk
shows up before the transfer rather than at 90%.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from modelshelf.config import format_size
from modelshelf.errors import DownloadError, InsufficientSpace

_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_NO_FALLOCATE = frozenset({errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


class PartialFile:
    """An open partial file; ``what`` names the download in error messages."""

    def __init__(self, path: Path, what: str, *, truncate: bool, resumable: bool = True) -> None:
        self.path = path
        self.what = what
        self.resumable = resumable  # whether a rerun can continue it (says the disk-full message)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if truncate else 0), 0o644)

    def close(self) -> None:
        os.close(self.fd)

    def preallocate(self, size: int) -> None:
        """Reserve the blocks up front: ENOSPC now rather than later, and no fragmentation."""
        if size <= 0:
            return
        try:
            os.posix_fallocate(self.fd, 0, size)
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise self._full() from None
            if exc.errno not in _NO_FALLOCATE:
                raise
            os.ftruncate(self.fd, size)  # a file system without fallocate: sparse is fine

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    def write_at(self, view: memoryview, offset: int) -> None:
        """All of ``view`` at ``offset``; a full disk is InsufficientSpace, never retried."""
        try:
            while view:
                n = os.pwrite(self.fd, view, offset)
                view, offset = view[n:], offset + n
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise self._full() from None
            raise DownloadError(f"{self.path}: cannot write: {exc.strerror}") from None

    def _full(self) -> InsufficientSpace:
        free = shutil.disk_usage(self.path.parent).free
        then = ("free some space and run again to resume" if self.resumable else
                "the server allows no resuming (no size or no ranges), so the partial download "
                "is deleted; free some space and run again to start over")
        return InsufficientSpace(f"{self.path.parent}: the disk is full ({format_size(free)} free) "
                                 f"while downloading {self.what}; {then}")


def free_space_margin(size: int) -> int:
    """Free space to keep beyond a file of ``size`` bytes: an eighth of it, at least 1 MiB and at
    most 64 MiB. Room for the registry, views and temp files, without refusing a small file on a
    nearly full disk that can take it (a fixed 64 MiB refused 66 KB with 6 MB free)."""
    return min(64 * 2**20, max(2**20, size // 8))


def check_free_space(folder: Path, size: int, what: str, *, present: int = 0,
                     margin: int | None = None) -> None:
    """Raise InsufficientSpace unless the rest of a ``size``-byte file (``present`` bytes of it
    are on disk already) plus ``margin`` (default :func:`free_space_margin`) fits under ``folder``."""
    needed = size + (free_space_margin(size) if margin is None else margin) - present
    free = shutil.disk_usage(folder).free
    if needed > 0 and free < needed:
        raise InsufficientSpace(f"{folder}: not enough free space for {what}: need "
                                f"{format_size(needed)} (file plus margin), {format_size(free)} free")

