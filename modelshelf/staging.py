"""The staging folder (``<home>/staging``): the one module that knows its names and lifecycle.

Bytes reach the store only through here (same filesystem as ``blobs/``, so moving a finished
file in is a rename). Three kinds of entries live in it:

Downloads (the transfer engine), grouped by a key, the sha1 of the URL and the expected digest,
so a re-run of the same pull finds them::

    <key>.part    the data, preallocated to full size, written in place with pwrite
    <key>.json    url (redacted), ETag, Last-Modified, size, completed ranges; sha256 when done
    <key>.ok      the finished, verified file, waiting for the caller to move it into the store
    <key>.lock    locked (:mod:`modelshelf.locks`) while a process works on this key

Imports (the store copying or linking a local file in): ``import-<pid>-<random>.part``.
Anything else (a caller's temporary folder) is judged by its age alone.

The state file is replaced atomically (temp + rename) so a crash leaves the old or the new one,
never half of one. What it lags behind the data is fetched twice after a kill: the engine saves
it by bytes landed as well as every half second (``transfer/pieces.py``, checkpoints), from
receiver threads too, so each thread writes its own temp file. Data is not fsync'ed before the
state is written: a kill -9 cannot lose page-cache writes, and after a power cut the sha256
check catches what the disk lost.

:func:`find_stale` is how ``gc`` and ``du`` learn what nobody will resume: a download whose
partial has no usable state (a server that sent no size or ignored Range: nothing to resume
from), import temps of dead processes, and anything untouched for a day. An entry whose key is
locked is in use, whatever it looks like.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from modelshelf.locks import is_locked

STATE_VERSION = 1
STALE_SECONDS = 24 * 3600
IMPORT_PREFIX = "import-"
LOCK_SUFFIX = ".lock"
_DOWNLOAD_KEY = re.compile(r"[0-9a-f]{40}")
# Why gc may delete an entry (StalePartial.reason).
UNRESUMABLE = "cannot be resumed"
DEAD_OWNER = "left by a dead process"
OLD = "older than a day"

Span = tuple[int, int]  # [start, end) of bytes on disk


@dataclass(frozen=True)
class StagingPaths:
    part: Path
    state: Path
    ok: Path
    lock: Path

    @classmethod
    def for_key(cls, staging_dir: Path, url: str, expected_sha256: str | None) -> StagingPaths:
        key = hashlib.sha1(f"{url}\n{expected_sha256 or ''}".encode()).hexdigest()
        return cls.of(staging_dir, key)

    @classmethod
    def of(cls, staging_dir: Path, key: str) -> StagingPaths:
        """The files of the download group ``key`` (as :func:`find_stale` meets it on disk)."""
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
        # One temp file per thread: a receiver and the engine's timer may save at once. Either
        # snapshot is a true one; the older winning only means a few more bytes fetched twice.
        # A download saves every few hundred kB landed (hundreds of times a second across
        # files, each save holding the GIL while it encodes): ``vars`` rather than ``asdict``
        # (a deep copy, 8x the cost; the fields are plain values) and one raw write.
        tmp = f"{path}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, json.dumps(vars(self)).encode())
        finally:
            os.close(fd)
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
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    def bytes_done(self) -> int:
        return sum(end - start for start, end in self.done)


def resumable(paths: StagingPaths) -> bool:
    """Whether a download's partial can be continued: a state with a known size beside it."""
    state = ResumeState.load(paths.state)
    return (state is not None and state.sha256 is None and state.size > 0
            and paths.part.exists())


def import_temp(staging_dir: Path) -> Path:
    """A fresh name for an import's temporary copy; the pid in it lets gc tell a dead owner."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    return staging_dir / f"{IMPORT_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.part"


@dataclass(frozen=True)
class StalePartial:
    path: Path
    size: int
    reason: str  # UNRESUMABLE | DEAD_OWNER | OLD


def find_stale(staging_dir: Path, max_age: float = STALE_SECONDS) -> list[StalePartial]:
    """Entries nobody will resume or claim (see the module docstring), lock files excepted:
    they are never deleted (a process may be about to lock one) and hold only a pid."""
    stale: list[StalePartial] = []
    for key, entries in _groups(staging_dir).items():
        if _group_locked(entries):
            continue
        files = [f for e in entries for f in _files(e) if not f.name.endswith(LOCK_SUFFIX)]
        if not files:
            continue
        reason = _stale_reason(staging_dir, key, files, max_age)
        if reason is not None:
            stale.extend(StalePartial(e, sum(_size(f) for f in _files(e)), reason)
                         for e in entries if not e.name.endswith(LOCK_SUFFIX))
    return stale


def _stale_reason(staging_dir: Path, key: str, files: list[Path], max_age: float) -> str | None:
    owner = _import_owner(key)
    if owner is not None and not _alive(owner):
        return DEAD_OWNER
    if _DOWNLOAD_KEY.fullmatch(key):
        paths = StagingPaths.of(staging_dir, key)
        if paths.part.exists() and not resumable(paths):
            return UNRESUMABLE
    if all(_older_than(f, max_age) for f in files):
        return OLD
    return None


def delete_partial(partial: StalePartial) -> int:
    """Delete a planned partial unless its group was taken up again since; returns bytes freed."""
    group = _groups(partial.path.parent).get(_key(partial.path), [])
    if _group_locked(group) or not os.path.lexists(partial.path):
        return 0
    size = sum(_size(f) for f in _files(partial.path))
    if partial.path.is_dir() and not partial.path.is_symlink():
        shutil.rmtree(partial.path, ignore_errors=True)
    else:
        partial.path.unlink(missing_ok=True)
    return size


def staging_bytes(staging_dir: Path) -> int:
    """Bytes of everything in staging (partials, finished-but-unclaimed files, temps)."""
    if not staging_dir.is_dir():
        return 0
    return sum(_size(p) for p in staging_dir.rglob("*")
               if p.is_file() and not p.name.endswith(LOCK_SUFFIX))


def _import_owner(key: str) -> int | None:
    """The pid that created an import temp file, from its key (None: not an import)."""
    stem = key.removeprefix(IMPORT_PREFIX)
    if stem == key:
        return None
    pid = stem.split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def _groups(staging_dir: Path) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = defaultdict(list)
    if staging_dir.is_dir():
        for entry in sorted(staging_dir.iterdir()):
            groups[_key(entry)].append(entry)
    return groups


def _key(entry: Path) -> str:
    return entry.name.split(".", 1)[0]


def _files(entry: Path) -> list[Path]:
    if entry.is_dir() and not entry.is_symlink():
        return [p for p in entry.rglob("*") if p.is_file()]
    return [entry]


def _group_locked(entries: Iterable[Path]) -> bool:
    return any(is_locked(f) for e in entries for f in _files(e))


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime >= seconds
    except FileNotFoundError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
