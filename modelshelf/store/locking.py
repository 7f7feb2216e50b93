"""Inter-process locks on files under ``locks/``.

``flock`` locks belong to an open file description, so two threads of one process that each
open the lock file exclude each other just like two processes do, and the kernel drops the lock
when a process dies (even by ``kill -9``): no stale lock files to clean up. Lock files are never
deleted, because unlinking a lock file another process is waiting on would split the lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_USERINFO = re.compile(r"://[^/@]*@")
_POLL_SECONDS = 0.05


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
def file_lock(path: Path, while_waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    ``while_waiting`` is called now and then while another holder keeps us waiting; it raises
    to give up (a thread blocked in ``flock`` cannot be interrupted, e.g. by Ctrl-C, and a
    pull waiting on another process's hour-long download must still stop when asked).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if while_waiting is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            _poll(fd, while_waiting)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _poll(fd: int, while_waiting: Callable[[], None]) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            while_waiting()
            time.sleep(_POLL_SECONDS)


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
