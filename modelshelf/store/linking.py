"""Make a path show a blob's bytes: a hard link where the filesystem allows, else a symlink.

Hard links are what apps see best (ordinary files, no dangling targets, same inode as the blob
so no second copy). They are impossible across filesystems (EXDEV), on some FUSE/network mounts
(EPERM, ENOTSUP) and past a filesystem's link-count limit (EMLINK); those cases fall back to a
symbolic link, which costs nothing but breaks if the store moves.

Small files written beside them (ledgers, sidecars, snapshots) go in the same way, built under a
:func:`temp_name` and renamed over: :func:`write_atomic`.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from pathlib import Path
from typing import Literal

LinkKind = Literal["hardlink", "symlink"]
_NAME_MAX = 255  # bytes in one file name on every filesystem we meet
# errno values meaning "no hard link here", as opposed to real failures (ENOENT, ENOSPC, ...).
NO_HARDLINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP,
                         errno.EOPNOTSUPP, errno.EACCES})


def place_link(target: Path, link: Path, *, relative_symlink: bool = True,
               symlink: bool = False) -> LinkKind:
    """Atomically make ``link`` show ``target`` (replacing whatever ``link`` was); say how.

    A hard link where the filesystem allows, unless ``symlink`` asks for a symbolic link. The
    link is made under a temporary name beside ``link`` and renamed over it, so readers see
    either the old entry or the new one, never a missing file.
    """
    link.parent.mkdir(parents=True, exist_ok=True)
    temp = link.with_name(temp_name(link.name))
    kind: LinkKind = "symlink" if symlink else _hard_link(target, temp)
    if kind == "symlink":
        pointer = os.path.relpath(target, link.parent) if relative_symlink else target.absolute()
        os.symlink(pointer, temp)
    try:
        os.replace(temp, link)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return kind


def temp_name(name: str) -> str:
    """A hidden, unique name to build ``name`` under before renaming it into place, cut to fit
    the 255 bytes a file name may have (``name`` itself may be near that limit)."""
    room = _NAME_MAX - len(".") - len(".12345678.tmp")
    short = os.fsencode(name)[:room].decode("utf-8", "ignore") if len(os.fsencode(name)) > room \
        else name
    return f".{short}.{secrets.token_hex(4)}.tmp"


def write_atomic(path: Path, data: bytes, *, like: Path | None = None) -> None:
    """Make ``path`` hold ``data`` by writing a temp file beside it and renaming it over: a
    killed process leaves the old file or the new one, never half of one. ``like``: give the
    new file that file's permission bits (a user's file we rewrite keeps its mode)."""
    temp = path.with_name(temp_name(path.name))
    try:
        temp.write_bytes(data)
        if like is not None:
            shutil.copymode(like, temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _hard_link(target: Path, temp: Path) -> LinkKind:
    """``"hardlink"`` if one was made, ``"symlink"`` where none can be made here."""
    try:
        os.link(target, temp)
    except OSError as exc:
        if exc.errno not in NO_HARDLINK:
            raise
        return "symlink"
    return "hardlink"


def shows(link: Path, target: Path) -> bool:
    """Whether ``link`` already shows ``target`` (same inode, or a symlink resolving to it)."""
    try:
        return os.path.samefile(link, target)
    except OSError:
        return False


def prune_empty_dirs(start: Path, stop: Path) -> None:
    """Remove ``start`` and its parents while they are empty, never ``stop`` or above."""
    current = start
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
