"""Content-addressed blobs: ``blobs/sha256/<2 hex>/<64 hex>``, one file per digest, read-only.

Bytes only ever enter through ``staging/`` (same filesystem as ``blobs/``) and are then linked
into place with ``link(2)``, which fails rather than overwrites if the digest is already there.
So a blob path either does not exist or holds the complete, final bytes, whatever crashes, and
two processes committing the same digest at once end with one blob.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from modelshelf.errors import HashMismatch
from modelshelf.hashing import CHUNK, parse_sha256, sha256_file
from modelshelf.staging import import_temp
from modelshelf.store.linking import NO_HARDLINK, place_link
from modelshelf.store.records import FileRecord

ImportMode = Literal["copy", "link", "move"]
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_COPY_CHUNK = 4 * CHUNK


class BlobStore:
    """The blobs folder plus the staging folder that feeds it."""

    def __init__(self, blobs_dir: Path, staging_dir: Path) -> None:
        self.root = blobs_dir / "sha256"
        self.staging_dir = staging_dir

    def path(self, sha256: str) -> Path:
        digest = parse_sha256(sha256)
        return self.root / digest[:2] / digest

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def __iter__(self) -> Iterator[Path]:
        """Every blob file on disk (whatever the registry says)."""
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if len(shard.name) == 2 and shard.is_dir():
                yield from (p for p in sorted(shard.iterdir())
                            if len(p.name) == 64 and p.name.startswith(shard.name))

    def commit(self, staged: Path, sha256: str, *, repair: bool = False) -> Path:
        """Move a complete staged file in as the blob for ``sha256``; drop it if that exists.

        The caller vouches for the digest (the transfer engine computed it while streaming);
        re-hashing here would read a multi-GB file a second time. An existing blob is trusted
        and kept too, unless ``repair`` (``pull --force``): then it is re-hashed and replaced
        only if its bytes were damaged on disk. A healthy blob keeps its inode, so hard links
        to it (views, the Hub cache, ``link flat`` folders) keep sharing its bytes.
        """
        blob = self.path(sha256)
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged, READ_ONLY)  # also refreshes ctime: gc's grace period starts now
        try:
            os.link(staged, blob)
        except OSError as exc:
            if not isinstance(exc, FileExistsError) and exc.errno not in NO_HARDLINK:
                raise
            # The digest is stored already, or this filesystem has no hard links: a rename
            # (same filesystem) is atomic, so readers never see a gap. A concurrent commit of
            # the same digest may replace the blob with identical bytes, which is harmless.
            if not blob.exists() or (repair and sha256_file(blob) != sha256):
                os.replace(staged, blob)
                return blob
            _refresh(blob)
        staged.unlink(missing_ok=True)
        return blob

    def delete(self, sha256: str) -> int:
        """Remove one blob; returns the bytes freed: 0 if it was already gone, or if a hard link
        outside the store (an app folder made by ``link flat``) still holds the bytes."""
        blob = self.path(sha256)
        try:
            st = blob.stat()
            blob.unlink()
        except FileNotFoundError:
            return 0
        return st.st_size if st.st_nlink == 1 else 0

    def import_file(self, src: Path, mode: ImportMode = "copy",
                    expected_sha256: str | None = None, *, repair: bool = False) -> FileRecord:
        """Bring a local file in: copy it, hard-link it, or move it and leave a link behind.

        ``link`` shares the user's inode with the blob (no copy; the file becomes read-only)
        and falls back to copying across filesystems. ``move`` (``scan --adopt``) ends with
        ``src`` being a symbolic link to the blob; at every instant the bytes exist at ``src``
        or in the store, so a crash mid-way loses nothing. ``repair``: as for :meth:`commit`.

        Why ``move`` leaves a symlink, not a hard link: a hard link *is* the blob, one inode
        with one set of permission bits, so the user's file would turn read-only (blobs are, so
        that nothing writes into bytes the registry vouches for), or, left writable, an edit in
        place would silently change every model sharing the blob. A symlink has no bits of its
        own: ``ls -l`` shows it as the link it is, reading works as before, and a write fails
        loudly instead of corrupting the store. The blob keeps the file's read bits (a private
        ``0600`` file becomes a ``0400`` blob, never a world-readable one). A file with other
        hard links is copied, not linked: taking its inode would change those other names too
        (perhaps outside the folder being adopted).
        """
        expected = parse_sha256(expected_sha256) if expected_sha256 else None
        src = Path(src)
        ours = self._blob_behind(src) if mode == "move" else None
        if ours is not None and expected in (None, ours.name):  # adopted before: nothing to do
            return FileRecord(src.name, ours.name, ours.stat().st_size)
        before = os.stat(src)
        staged = self._temp()
        share = mode == "link" or (mode == "move" and before.st_nlink == 1)
        linked = share and _try_link(src, staged)
        try:
            digest = sha256_file(staged) if linked else _copy_hashing(src, staged)
            if expected and digest != expected:
                raise HashMismatch(f"{src}: sha256 is {digest}, expected {expected}")
            size = staged.stat().st_size
            blob = self.commit(staged, digest, repair=repair)
        finally:
            staged.unlink(missing_ok=True)
        if mode == "move":
            after = blob.stat()
            if (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino):
                os.chmod(blob, (before.st_mode & READ_ONLY) | stat.S_IRUSR)  # the user's inode
            place_link(blob, src, relative_symlink=False, symlink=True)
        return FileRecord(src.name, digest, size)

    def _blob_behind(self, src: Path) -> Path | None:
        """The blob a symlink ``src`` points at, if it points at one of ours."""
        if not src.is_symlink():
            return None
        target = src.resolve()
        return target if target.parent.parent == self.root.resolve() and target.is_file() \
            else None

    def _temp(self) -> Path:
        return import_temp(self.staging_dir)


def _try_link(src: Path, staged: Path) -> bool:
    try:
        os.link(src, staged)
    except OSError as exc:
        if exc.errno in NO_HARDLINK:
            return False
        raise
    return True


def _copy_hashing(src: Path, dest: Path) -> str:
    """Copy and hash in one pass: a model is read from disk once, not twice."""
    digest = hashlib.sha256()
    buf = bytearray(_COPY_CHUNK)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as fin, open(dest, "xb") as fout:
        while n := fin.readinto(buf):
            digest.update(view[:n])
            fout.write(view[:n])
        os.fsync(fout.fileno())
    return digest.hexdigest()


def _refresh(blob: Path) -> None:
    """Mark an existing blob as just wanted again, so gc's grace period protects it."""
    # Failing is harmless (e.g. a blob owned by another user): once registered it is safe anyway.
    with contextlib.suppress(OSError):
        os.utime(blob)
