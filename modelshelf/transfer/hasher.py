"""sha256 of a file that is still being written, on its own thread.

The hasher follows the gap-free completed prefix of the partial, reading it back with a fixed
256 KiB buffer (the bytes were just written, so they come from the page cache). hashlib releases
the GIL, so hashing runs on another core while the workers receive; when the last range lands
only the last few pieces remain to hash. On resume the already-present prefix is hashed first,
which is the one unavoidable re-read.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from modelshelf.hashing import CHUNK

_POLL = 0.02
_NEVER_BEHIND = 2**62


class PrefixHasher:
    """``start()``, then ``finish(size)`` returns the hex digest of bytes ``[0, size)``."""

    def __init__(self, path: Path, frontier: Callable[[], int]) -> None:
        self._path = path
        self._frontier = frontier
        self._digest = hashlib.sha256()
        self._hashed = 0
        self._until: int | None = None
        self._wake = threading.Event()
        self._cancelled = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="modelshelf-sha256", daemon=True)

    @property
    def hashed(self) -> int:
        return self._hashed

    def reached(self) -> int:
        """How far the hash has got, for pacing the receivers (``Scheduler.pace``); past any
        end once the thread is gone (failed or cancelled), so nobody waits on it for ever."""
        return self._hashed if self._thread.is_alive() else _NEVER_BEHIND

    def start(self) -> PrefixHasher:
        self._thread.start()
        return self

    def finish(self, size: int) -> str:
        """Hash up to ``size`` (everything must be written by now) and return the digest."""
        self._until = size
        self._wake.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def cancel(self) -> None:
        self._cancelled = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except OSError as exc:
            self._error = exc
            return
        target = 0
        try:
            while not self._cancelled:
                until = self._until
                if until is not None:
                    target = until
                elif self._hashed >= target:  # ask the scheduler only once caught up
                    target = self._frontier()
                if self._hashed >= target:
                    if until is not None:
                        return
                    self._wake.wait(_POLL)
                    self._wake.clear()
                    continue
                n = os.preadv(fd, [view[: min(CHUNK, target - self._hashed)]], self._hashed)
                if n <= 0:
                    raise OSError(f"{self._path}: file ended at {self._hashed} bytes while hashing")
                self._digest.update(view[:n])
                self._hashed += n
        except BaseException as exc:  # reported by finish(), never lost in a thread
            self._error = exc
        finally:
            os.close(fd)
