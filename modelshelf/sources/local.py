"""Import a file or folder already on disk (``file:PATH`` or a plain path).

A folder becomes a multi-file model with paths relative to it, minus what is never part of a
model: dotfiles and dot-folders (``.git``, ``.cache``, editor droppings) and ``__pycache__``.
Symlinked folders are not followed (no loops, no surprise imports from elsewhere); symlinked
files are imported as the file they point to. Hashing happens in the store, once.

Local files change in place (a LoRA re-exported to the same path), so the resolution's
``revision`` is a fingerprint of every file's path, size and mtime: a re-pull compares it with
the registered one and imports again only when something changed, without hashing to find out.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from modelshelf.config import Settings
from modelshelf.errors import EntryNotFound, NotFoundError
from modelshelf.naming import name_from, path_from
from modelshelf.sources.base import Ref, RemoteFile, Resolution, ResolveOptions, SourceName

_SKIPPED_DIRS = frozenset({"__pycache__"})


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRS


def folder_files(root: Path) -> list[RemoteFile]:
    """Every regular file under ``root`` in a stable (sorted) order."""
    found: list[RemoteFile] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in sorted(files):
            path = Path(folder) / name
            if _skipped(name) or not path.is_file():
                continue
            found.append(RemoteFile(path=path_from(path.relative_to(root).as_posix()),
                                    local_path=path, size=path.stat().st_size))
    return found


def selected(files: Sequence[RemoteFile], ref: Ref, options: ResolveOptions) -> list[RemoteFile]:
    """The folder's files that ``--include`` and ``--exclude`` keep."""
    chosen = [f for f in files if options.keeps(f.path)]
    if not chosen:
        raise EntryNotFound(f"{ref.raw}: no file in the folder matches {options.pattern_flags()}")
    return chosen


def fingerprint(files: Sequence[RemoteFile]) -> str:
    """``stat:<hex>`` over each file's path, size and mtime: changes when any file does."""
    digest = hashlib.sha1()
    for f in files:
        assert f.local_path is not None
        st = f.local_path.stat()
        digest.update(f"{f.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return f"stat:{digest.hexdigest()[:16]}"


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    path = ref.local_path
    if path is None or not path.exists():
        raise NotFoundError(f"{ref.raw}: no such file or folder: {path}")
    if path.is_dir():
        files = folder_files(path)
        if not files:
            raise NotFoundError(f"{ref.raw}: the folder {path} holds no files to import")
        files = selected(files, ref, options)
        return Resolution(ref=ref.raw, source=SourceName.LOCAL, name=name_from(path.name),
                          files=tuple(files), revision=fingerprint(files),
                          source_url=path.as_uri(), is_repo=True)
    remote = RemoteFile(path=path_from(path.name), local_path=path, size=path.stat().st_size)
    return Resolution(ref=ref.raw, source=SourceName.LOCAL, name=name_from(path.stem or path.name),
                      files=(remote,), revision=fingerprint([remote]), source_url=path.as_uri())
