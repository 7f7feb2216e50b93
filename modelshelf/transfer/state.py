"""What survives a killed download: the partial file, a small JSON state file, and a lock.

Files in ``staging_dir`` share one key, the sha1 of the URL and the expected digest, so a re-run
of the same pull finds them::

    <key>.part    the data, preallocated to full size, written in place with pwrite
    <key>.json    url (redacted), ETag, Last-Modified, size, completed ranges; sha256 when done
    <key>.ok      the finished, verified file, waiting for the caller to move it into the store
    <key>.lock    flock'ed while a process works on this key (a second process waits)

The state file is replaced atomically (temp + rename) so a crash leaves the old or the new one,
never half of one. It may lag the data by up to one save interval; that only means a few
ranges are fetched twice. Data is not fsync'ed before the state is written: a kill -9 cannot lose
page-cache writes, and after a power cut the sha256 check catches what the disk lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from modelshelf.transfer.ranges import Span

STATE_VERSION = 1


@dataclass(frozen=True)
class StagingPaths:
    part: Path
    state: Path
    ok: Path
    lock: Path

    @classmethod
    def for_key(cls, staging_dir: Path, url: str, expected_sha256: str | None) -> StagingPaths:
        key = hashlib.sha1(f"{url}\n{expected_sha256 or ''}".encode()).hexdigest()
        return cls(*(staging_dir / f"{key}.{ext}" for ext in ("part", "json", "ok", "lock")))

    def discard(self) -> None:
        """Forget a partial (not the lock: a waiting process may hold it open)."""
        for path in (self.part, self.state, self.ok):
            path.unlink(missing_ok=True)


@dataclass
class ResumeState:
    url: str  # redacted: signed URLs never land on disk
    size: int
    etag: str | None = None
    last_modified: str | None = None
    done: list[Span] = field(default_factory=list)
    sha256: str | None = None  # set once the file is complete and verified
    filename: str | None = None
    version: int = STATE_VERSION

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> ResumeState | None:
        """The saved state, or None when missing or unreadable (then the partial is useless)."""
        try:
            raw = json.loads(path.read_text())
            if raw.get("version") != STATE_VERSION:
                return None
            raw["done"] = [(int(a), int(b)) for a, b in raw.get("done", [])]
            return cls(**raw)
        except (OSError, ValueError, TypeError):
            return None

    def bytes_done(self) -> int:
        return sum(end - start for start, end in self.done)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; a second process blocks here until the first ends.

    The lock file is never deleted while in use, so both processes lock the same inode.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
