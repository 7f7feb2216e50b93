"""The one inter-process lock of modelshelf: ``flock`` on a lock file, waited for by polling.

Every lock in the project goes through :func:`file_lock` (the store's per-reference and registry
locks, the transfer engine's per-download lock), so they behave alike:

- ``flock`` locks belong to an open file description: two threads of one process that each
  open the file exclude each other just as two processes do, and the kernel drops the lock when
  a process dies (even by ``kill -9``), so no stale lock is ever left to clean up.
- Waiting polls (``LOCK_NB`` and a short sleep) instead of blocking in ``flock``: a thread
  blocked in the kernel cannot be interrupted, so Ctrl-C would not land until the other
  process finished an hour-long download. ``while_waiting`` may raise to give up (a pull
  cancelled from another thread); a message says who we wait for.
- Re-entrant per thread: a caller that must do more under a lock than the callee does (the
  pull checks the store before a download and commits the blob after it, under the download's
  own lock) takes it first, and the callee's acquisition of the same file is free. Without
  that, the two nested locks of one download deadlocked or had to be two different locks.
- Lock files are never deleted: unlinking one that another process is about to lock would
  split the lock in two. They hold the holder's pid, for the waiting message only.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_USERINFO = re.compile(r"://[^/@]*@")
POLL_SECONDS = 0.05
_log = logging.getLogger("modelshelf")
_held = threading.local()  # .paths: {absolute lock path: depth} held by this thread


def lock_file_for(locks_dir: Path, key: str) -> Path:
    """A readable, collision-free file name for any key (URLs included).

    The readable part leaves out a URL's query and its ``user:password@``: signed links and
    basic-auth URLs carry secrets there, and file names are as visible as file contents. The
    digest of the whole key keeps names unique.
    """
    digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    readable = _USERINFO.sub("://", key.split("?", 1)[0])
    return locks_dir / f"{_UNSAFE.sub('_', readable)[:60]}-{digest}.lock"


@contextmanager
def file_lock(path: Path, while_waiting: Callable[[], None] | None = None, *,
              what: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    ``while_waiting`` is called every poll while another holder keeps us waiting and may raise
    to stop waiting. ``what`` names the locked thing in the one message logged (logger
    ``modelshelf``, level WARNING) when we have to wait for another process.
    """
    key = str(path.absolute())
    depth: dict[str, int] = _held.__dict__.setdefault("paths", {})
    if key in depth:  # this thread holds it already: nothing to wait for
        depth[key] += 1
        try:
            yield
        finally:
            depth[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, while_waiting, what)
        depth[key] = 1
        try:
            yield
        finally:
            del depth[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, path: Path, while_waiting: Callable[[], None] | None,
             what: str | None) -> None:
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not told and what is not None:
                holder = _holder(path)
                _log.warning("waiting for another modelshelf process%s working on %s",
                             f" (pid {holder})" if holder else "", what)
                told = True
            if while_waiting is not None:
                while_waiting()
            time.sleep(POLL_SECONDS)  # Ctrl-C lands here in the main thread
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def is_locked(path: Path) -> bool:
    """Whether some open file description holds a ``flock`` on ``path`` right now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
