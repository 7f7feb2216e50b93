"""Find the model units under a folder: single files, and whole model folders (diffusers,
transformers), which count as one model and are not descended into.

Symbolic links to folders are followed, but every folder is entered at most once (keyed by device
and inode), so a link loop or two links to the same tree cannot make a scan run forever or report
a file twice. Hidden entries below the root (``.git``, our own ``.x.tmp`` link temps) are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from operator import add, attrgetter
from pathlib import Path
from typing import NamedTuple

# Marker files that make a folder a candidate model folder; ``detect_format`` has the last word.
FOLDER_MARKERS = frozenset({"model_index.json", "config.json"})
FOLDER_FORMATS = frozenset({"diffusers", "transformers"})
_NAME = attrgetter("name")
# List folders through a descriptor where ``scandir`` takes one (not on Windows).
_BY_FD = os.scandir in os.supports_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


class Unit(NamedTuple):
    """One thing to identify: a file, or a model folder.

    A NamedTuple rather than a frozen dataclass: a scan makes one per file, and a rescan of an
    unchanged tree does little else (a tuple is built in a fifth of the time).
    """

    path: str  # str, not Path: a rescan touches thousands of these and needs nothing else
    is_dir: bool
    stat: os.stat_result


class Listing(NamedTuple):
    """The plain files of one folder (model folders and subfolders aside), sorted by name: the
    unit the scan cache summarises, so an unchanged folder costs one look-up, not one per file.
    """

    folder: str
    # Their ``path`` may be the bare name (listed through a folder descriptor): see ``paths``.
    files: list[os.DirEntry[str]]
    stats: list[os.stat_result]  # of each file, in the same order

    def paths(self, entries: Iterable[os.DirEntry[str]] | None = None) -> Iterator[str]:
        """The full paths of ``entries`` (default: every file), built in C."""
        prefix = self.folder if self.folder.endswith(os.sep) else self.folder + os.sep
        # ``operator.add`` rather than ``prefix.__add__``: a method-wrapper call costs more
        return map(add, repeat(prefix), map(_NAME, self.files if entries is None else entries))

    def units(self) -> list[Unit]:
        """Each file as a :class:`Unit` (to be read, or looked up one by one)."""
        return [Unit(path, False, st) for path, st in
                zip(self.paths(), self.stats, strict=True)]


def walk_listings(
    root: str, detect_folder: Callable[[Path], str], skip: frozenset[str] = frozenset()
) -> Iterator[Unit | Listing]:
    """Model folders (and a root that is a file) as :class:`Unit`; every other folder as the
    :class:`Listing` of its files: a folder's files first (by name), then its subfolders."""
    root_stat = os.stat(root)
    if not os.path.isdir(root):
        yield Unit(root, False, root_stat)
        return
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen or folder in skip:
                continue
            seen.add((st.st_dev, st.st_ino))
            fd = os.open(folder, _DIR_FLAGS) if _BY_FD else None
        except OSError:
            continue  # unreadable or vanished: nothing of ours to report there
        try:
            found = _list(folder, fd)
        finally:
            if fd is not None:
                os.close(fd)
        if found is None:
            continue
        entries, subdirs, files, stats = found
        if not FOLDER_MARKERS.isdisjoint(map(_NAME, entries)) and \
                detect_folder(Path(folder)) in FOLDER_FORMATS:
            yield Unit(folder, True, st)
            continue
        if files:
            yield Listing(folder, files, stats)
        prefix = folder if folder.endswith(os.sep) else folder + os.sep
        stack.extend(prefix + name for name in reversed(subdirs))


def _list(folder: str, fd: int | None) -> tuple[list[os.DirEntry[str]], list[str],
                                                 list[os.DirEntry[str]],
                                                 list[os.stat_result]] | None:
    """(every entry sorted by name, subfolder names, plain files, their ``stat``), or None
    when the folder can't be read.

    Listed through the folder's descriptor where the platform can: each entry is then
    ``stat``-ed relative to it (``fstatat``) rather than by its full path, which the kernel
    resolves component by component — a tenth of a rescan saved at five levels deep, more
    deeper. So ``stat`` is called here, while the descriptor is open.
    """
    try:
        entries = sorted(os.scandir(folder if fd is None else fd), key=_NAME)
    except OSError:
        return None
    subdirs: list[str] = []
    files: list[os.DirEntry[str]] = []
    stats: list[os.stat_result] = []
    for entry in entries:
        if entry.name[0] == ".":
            continue
        try:  # a file first: most entries are, and then one question settles it
            if entry.is_file():
                stats.append(entry.stat())
                files.append(entry)
            elif entry.is_dir():
                subdirs.append(entry.name)
        except OSError:
            continue  # dangling symlink, symlink loop (ELOOP), raced deletion
    return entries, subdirs, files, stats

