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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def lock_file_for(locks_dir: Path, key: str) -> Path:
    """A readable, collision-free file name for any key (URLs included)."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return locks_dir / f"{_UNSAFE.sub('_', key)[:60]}-{digest}.lock"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


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
