"""Import a file or folder already on disk (``file:PATH`` or a plain path).

A folder becomes a multi-file model with paths relative to it, minus what is never part of a
model: dotfiles and dot-folders (``.git``, ``.cache``, editor droppings) and ``__pycache__``.
Symlinked folders are not followed (no loops, no surprise imports from elsewhere); symlinked
files are imported as the file they point to. Hashing happens in the store, once.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelshelf.config import Settings
from modelshelf.errors import NotFoundError
from modelshelf.sources.base import Ref, RemoteFile, Resolution, ResolveOptions

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
            found.append(RemoteFile(path=path.relative_to(root).as_posix(), local_path=path,
                                    size=path.stat().st_size))
    return found


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    path = ref.local_path
    if path is None or not path.exists():
        raise NotFoundError(f"{ref.raw}: no such file or folder: {path}")
    if path.is_dir():
        files = folder_files(path)
        if not files:
            raise NotFoundError(f"{ref.raw}: the folder {path} holds no files to import")
        return Resolution(ref=ref.raw, source="local", name=path.name, files=tuple(files),
                          source_url=path.as_uri(), is_repo=True)
    remote = RemoteFile(path=path.name, local_path=path, size=path.stat().st_size)
    return Resolution(ref=ref.raw, source="local", name=path.stem or path.name, files=(remote,),
                      source_url=path.as_uri())
